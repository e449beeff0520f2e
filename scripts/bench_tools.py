"""Benchmarks of dcom's tools: Verilog generation, RTL simulation, synthesis, the test suite.

Prints one table per part and writes ``bench_tools.json`` / ``.md`` into ``--out``:

* **generate**: time and size of ``dcom generate`` (:func:`dcom.hw.generate.generate`) per
  cluster array, ``8 x 8`` multipliers a cluster; the top file stays small because every
  cluster is one module instantiated ``R C`` times.
* **simulate**: Verilator and Icarus on the same small Lanczos program (the ``lanczos_program``
  cocotb bench of :mod:`dcom.tb.top`, via :func:`dcom.tb.cosim.run_cocotb`), in clock cycles
  simulated per second of the run. The bench also runs the ISA simulator and reads back the
  results through the host port, as every regression does, so this is the regression's speed.
  Builds are cached (``DCOM_BUILD_DIR``); ``--fresh-build`` measures them from scratch.
* **synthesize**: the cluster's synthesis and the whole ``dcom synth`` report
  (:func:`dcom.synth.evaluate.evaluate`).
* **test suite** (``--suite``): ``pytest`` over ``tests/``, which takes long.

Usage::

    python scripts/bench_tools.py [--scales 1x1,2x2,4x4,8x8,16x16] [--synth-grid 8x8]
                                  [--skip-synth] [--suite] [--fresh-build] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from dcom.config import DcomConfig, parse_dims
from dcom.report import Table, write_report
from dcom.tb.top import LANCZOS_CASES

#: The simulated Lanczos run: the smallest case of the RTL regression, so that its build is
#: the regression's cached one.
SIM_CONFIG, SIM_CASE = LANCZOS_CASES["1x1-4x4-tall"]
SIM_SEED = 1
SIMULATORS = ("verilator", "icarus")
REPO = Path(__file__).resolve().parent.parent


def say(line: str) -> None:
    print(line, flush=True)


def bench_generate(scales: list[tuple[int, int]], work: Path) -> Table:
    """Generation time and Verilog size for each ``R x C`` array of 8x8 clusters."""
    from dcom.hw.generate import TOP_MODULE, generate

    rows = []
    for r, c in scales:
        config = DcomConfig(cluster_rows=r, cluster_cols=c,
                            expansion=min(DcomConfig().expansion, r * c))
        say(f"generate {r}x{c} ...")
        manifest = generate(config, work / f"rtl-{r}x{c}", quiet=True)
        top = next(m for m in manifest["modules"] if m["module"] == TOP_MODULE)
        rows.append([f"{r}x{c}", manifest["seconds"], len(manifest["modules"]),
                     top["bytes"] / 1e3, manifest["total_bytes"] / 1e3])
        say(f"  {manifest['seconds']} s, {manifest['total_bytes'] / 1e6:.2f} MB")
    return Table("Verilog generation (dcom generate), 8x8 FP16 multipliers a cluster",
                 ["clusters", "seconds", "modules", "top module kB", "all files kB"], rows)


def _testcase_figures(results_xml: Path) -> tuple[float, float]:
    """``(wall seconds, simulated ns)`` of the one test case in a cocotb results file."""
    case = next(ET.parse(results_xml).getroot().iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    return float(case.get("time")), float(props["sim_time_duration"])


def bench_simulate(fresh_build: bool) -> Table:
    """The same Lanczos program on Verilator and Icarus."""
    from dcom.simulators import available
    from dcom.tb.cosim import run_cocotb
    from dcom.tb.top import CLOCK_PERIOD_NS, top_design

    design = top_design(SIM_CONFIG)
    rows = []
    cache = os.environ.get("DCOM_BUILD_DIR")
    with tempfile.TemporaryDirectory() as scratch:
        if fresh_build:
            os.environ["DCOM_BUILD_DIR"] = str(Path(scratch) / "build")
        for sim in SIMULATORS:
            simulator, reason = available(sim)
            if simulator is None:
                rows.append([sim, "-", "-", "-", "-", f"skipped: {reason}"])
                continue
            say(f"simulate on {sim} ...")
            cycles_file = Path(scratch) / f"{sim}.json"
            start = time.monotonic()
            result = run_cocotb(design, "dcom.tb.top", sim, testcase="lanczos_program",
                                seed=SIM_SEED, run_name=f"bench-{sim}",
                                env={"DCOM_CONFIG": json.dumps(SIM_CONFIG.to_dict()),
                                     "DCOM_LANCZOS": json.dumps({**SIM_CASE, "seed": SIM_SEED}),
                                     "DCOM_CYCLES_OUT": str(cycles_file)})
            total = time.monotonic() - start
            wall, sim_ns = _testcase_figures(result.results_xml)
            simulated = round(sim_ns / CLOCK_PERIOD_NS)
            (record,) = json.loads(cycles_file.read_text())
            program = record["counters"]["cycles"]
            rows.append([sim, total - wall, wall, simulated, program, simulated / wall])
            say(f"  {simulated:,} cycles in {wall:.1f} s: {simulated / wall:,.0f} cycles/s")
    if fresh_build:
        if cache is None:
            del os.environ["DCOM_BUILD_DIR"]
        else:
            os.environ["DCOM_BUILD_DIR"] = cache
    return Table(
        "RTL simulation speed: one Lanczos run",
        ["simulator", "build + start s", "test s", "cycles simulated", "program cycles",
         "cycles/s"], rows,
        notes=f"{SIM_CONFIG.describe()}; {SIM_CASE['rows']}x{SIM_CASE['cols']} matrix, "
              f"k = {SIM_CASE['steps']}. Cycles simulated include the host writing the banks "
              f"and the program and reading the results back; 'test s' includes the ISA "
              f"simulator and the comparisons the bench makes. Build "
              f"{'from scratch' if fresh_build else 'from the cache where present'}.")


def bench_synthesize(grid: tuple[int, int], work: Path) -> Table:
    """The cluster's synthesis and the whole synthesis report."""
    from dcom.synth.evaluate import evaluate

    config = DcomConfig(grid_rows=grid[0], grid_cols=grid[1])
    columns = ["step", "seconds"]
    say(f"synthesize a {grid[0]}x{grid[1]} cluster and write the report ...")
    report = evaluate(config, work / "synth", progress=lambda line: say(f"  {line}"))
    rows = [[f"{design.name} {name}", seconds] for design in (report.cluster, report.top)
            for name, seconds in design.seconds.items()]
    rows.append(["whole report (dcom synth)", report.seconds])
    return Table(f"dcom synth, {config.describe()}", columns, rows)


def bench_suite(pytest_args: list[str]) -> Table:
    """Wall time of the test suite."""
    say(f"pytest {' '.join(pytest_args)} ...")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *pytest_args], cwd=REPO)
    seconds = time.monotonic() - start
    return Table("Test suite", ["command", "exit status", "seconds"],
                 [[f"pytest -q {' '.join(pytest_args)}", done.returncode, seconds]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1x1,2x2,4x4,8x8,16x16",
                        help="cluster arrays to generate, comma-separated (default up to 16x16)")
    parser.add_argument("--synth-grid", default="8x8", metavar="PxQ",
                        help="multiplier grid of the synthesized cluster (default 8x8)")
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--skip-simulate", action="store_true")
    parser.add_argument("--skip-synth", action="store_true")
    parser.add_argument("--fresh-build", action="store_true",
                        help="build the simulators from scratch instead of using the cache")
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    parser.add_argument("--pytest-args", default="-n 2",
                        help="arguments for the suite's pytest (default '-n 2')")
    parser.add_argument("--out", type=Path, default=Path("out/bench"), metavar="DIR")
    args = parser.parse_args(argv)
    scales = [parse_dims(s, "--scales") for s in args.scales.split(",") if s]
    tables = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        if not args.skip_generate:
            tables.append(bench_generate(scales, work))
        if not args.skip_simulate:
            tables.append(bench_simulate(args.fresh_build))
        if not args.skip_synth:
            tables.append(bench_synthesize(parse_dims(args.synth_grid, "--synth-grid"), work))
        if args.suite:
            tables.append(bench_suite(args.pytest_args.split()))
    data = {t.title: {"columns": list(t.columns), "rows": [list(r) for r in t.rows],
                      "notes": t.notes} for t in tables}
    files = write_report(args.out, "bench_tools", "dcom tool benchmarks", data, tables)
    for table in tables:
        say("\n" + table.markdown())
    say(f"wrote {files.json} and {files.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

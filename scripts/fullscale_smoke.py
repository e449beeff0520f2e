"""Full-scale smoke run: a compiled Lanczos program on the 16 x 16 x 8 x 8 instance in Verilator.

Builds the paper's design point with Verilator (once; the build is cached under the dcom build
folder), runs the top-level Lanczos bench on an activation-like matrix, checks every stored word
of U and V and every alpha and beta against the ISA simulator and every cycle counter against
the cycle model, and prints the build time, the simulated cycles and the wall time. Not part of the test suite: it takes several minutes.

    python scripts/fullscale_smoke.py [--rows 512] [--cols 512] [--steps 8] [--cflags=-O1]
                                      [--build-jobs N] [--host-port]

The banks are written and read straight into the SRAM models (bulk access, no simulated
cycles) unless ``--host-port`` asks for the host port, one word a cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from dcom.config import DcomConfig
from dcom.isa import Status
from dcom.sw.compiler import compile_lanczos
from dcom.sw.cycles import program_cycles
from dcom.tb.cosim import run_cocotb, simulator_build_dir, write_verilog
from dcom.tb.top import top_design


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cflags", default="-O1",
                        help="C++ flags of the Verilator model (default -O1: at this size it "
                             "builds in about 3 minutes and runs 5x faster than -O0)")
    parser.add_argument("--build-jobs", type=int, default=None,
                        help="parallel C++ compile jobs (default the CPU count, at most 4)")
    parser.add_argument("--host-port", action="store_true",
                        help="load and read the banks through the host port")
    args = parser.parse_args()
    os.environ["DCOM_VERILATOR_CFLAGS"] = args.cflags
    if args.build_jobs is not None:
        os.environ["DCOM_BUILD_JOBS"] = str(args.build_jobs)
    config = DcomConfig()
    design = top_design(config)

    start = time.monotonic()
    files, _ = write_verilog(design)
    emitted = time.monotonic() - start
    built_before = (simulator_build_dir(design, "verilator") / "dcom-build.done").exists()
    print(f"{config.describe()}: Verilog {sum(f.stat().st_size for f in files) / 1e6:.2f} MB "
          f"in {emitted:.0f} s; Verilator build {'cached' if built_before else 'starting'}",
          flush=True)

    cycles_file = Path(tempfile.mkdtemp(prefix="dcom-smoke-")) / "cycles.json"
    case = {"rows": args.rows, "cols": args.cols, "steps": args.steps, "seed": args.seed,
            "bulk": not args.host_port}
    start = time.monotonic()
    result = run_cocotb(design, "dcom.tb.top", "verilator", testcase="lanczos_program",
                        seed=args.seed, run_name="fullscale-smoke",
                        env={"DCOM_CONFIG": json.dumps(config.to_dict()),
                             "DCOM_LANCZOS": json.dumps(case),
                             "DCOM_CYCLES_OUT": str(cycles_file)})
    total = time.monotonic() - start
    simulated = _test_seconds(result.results_xml)
    (record,) = json.loads(cycles_file.read_text())
    counters = record["counters"]
    cycles = counters["cycles"]
    print(f"Lanczos {args.rows}x{args.cols}, k={args.steps}: bit-exact against the ISA simulator")
    print(f"  Verilator build: {total - simulated:.0f} s{' (cached)' if built_before else ''}")
    print(f"  simulated: {cycles} cycles in {simulated:.0f} s wall "
          f"({cycles / simulated:.0f} cycles/s, host I/O included)")
    print("  per class: " + ", ".join(f"{k[7:]}={v}" for k, v in counters.items()
                                       if k.startswith("cycles_")))
    program = compile_lanczos(config, args.rows, args.cols, args.steps).program
    status = Status[record["status"]]
    stop = (status, record["stop_pc"]) if status in (Status.BREAKDOWN, Status.OVERFLOW) else None
    model = program_cycles(config, program, stop=stop).counters()
    if model != counters:
        raise SystemExit("the cycle model differs from the RTL's counters: " + ", ".join(
            f"{name} model {model[name]} RTL {counters[name]}" for name in model
            if model[name] != counters.get(name)))
    print("  cycle model: every counter equal to the RTL's")


def _test_seconds(results_xml: Path) -> float:
    import xml.etree.ElementTree as ET
    return sum(float(case.get("time", 0)) for case in ET.parse(results_xml).iter("testcase"))


if __name__ == "__main__":
    main()

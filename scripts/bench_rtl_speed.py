"""How fast the RTL runs a Lanczos program: simulated cycles per second of wall time, on
Verilator and Icarus, for a user's matrix through ``dcom.tb.decompose.rtl_lanczos``.

The simulator is built once per configuration and cached; the build is timed apart (a first
run) from the runs that follow. The rate counts the program's cycles (the RTL's own counter)
over the wall time from the program's start to its stop; the host's loading of the banks
before it is timed apart.

Usage: python scripts/bench_rtl_speed.py [--sim verilator,icarus] [--rows 64 --cols 48]
       [--steps 8] [--clusters 1x1 --grid 4x4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dcom.config import DcomConfig, parse_dims
from dcom.tb.decompose import RTL_SIMULATORS, rtl_lanczos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", default=",".join(RTL_SIMULATORS))
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--cols", type=int, default=48)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--clusters", default="1x1", metavar="RxC")
    parser.add_argument("--grid", default="4x4", metavar="PxQ")
    args = parser.parse_args()
    rows, cols = parse_dims(args.clusters, "--clusters")
    grid_rows, grid_cols = parse_dims(args.grid, "--grid")
    config = DcomConfig(cluster_rows=rows, cluster_cols=cols, grid_rows=grid_rows,
                        grid_cols=grid_cols, expansion=1, buffer_depth=1024, bank_depth=4096,
                        broadcast_depth=64, program_depth=512)
    a = np.random.default_rng(0).standard_normal((args.rows, args.cols))
    print(f"{args.rows} x {args.cols}, k = {args.steps} on {config.describe()}")
    for sim in args.sim.split(","):
        start = time.monotonic()
        rtl_lanczos(a, 1, args.steps, config=config, sim=sim)
        first = time.monotonic() - start
        start = time.monotonic()
        *_, run = rtl_lanczos(a, 1, args.steps, config=config, sim=sim, return_run=True)
        total = time.monotonic() - start
        cycles = run.counters["cycles"]
        print(f"  {sim:<9} {cycles:,} cycles in {run.program_seconds:.2f} s: "
              f"{cycles / run.program_seconds:,.0f} cycles/s; loading the banks "
              f"{run.load_seconds:.2f} s; whole call {total:.1f} s; first "
              f"call, with the build if not cached, {first:.1f} s)", flush=True)


if __name__ == "__main__":
    main()

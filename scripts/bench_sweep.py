"""Benchmark of ``dcom sweep`` on Dask: an 8-point sweep (performance model and cluster
synthesis) on 1 and on 2 local workers, and the projected time of a 48-point sweep with
whole-instance synthesis on N workers.

The 8 points are 4x4 clusters, f = 4, of 2x2 and 4x4 multiplier grids, FP32 and FP16
accumulation, 512- and 1024-word buffers: 8 distinct clusters, so every point synthesizes its
own. Each worker count runs in a fresh output folder (no point is cached).

Projection: a 48-point sweep (e.g. clusters 8x8, 16x16 x grids 4x4, 8x8 x f = 4, 8, 16 x FP32,
FP16) with ``--synth full`` takes ``ceil(48 / N)`` rounds of one point each on N workers, one
worker a machine like this one (a whole-instance synthesis already runs two threads: the
instance's synthesis beside the cluster's power measurement). The time of a point is
``--full-synth-s``, by default the README's measured ``dcom synth`` of the paper's 16 x 16
instance on this 2-core machine (12 min 18 s, systolic comparison included): an upper bound for
the smaller points. The Dask overhead per point measured here is added.

Usage::

    python scripts/bench_sweep.py [--workers 1,2] [--full-synth-s 738] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from dcom.farm import farm_client
from dcom.sw.perf import Workload
from dcom.sweep import Stages, SweepSpec, sweep

SPEC = SweepSpec({"clusters": ("4x4",), "expansion": (4,), "grid": ("2x2", "4x4"),
                  "acc_format": ("fp32", "fp16"), "buffer_depth": (512, 1024)},
                 Workload(batch=4, seq=128, hidden=128, rank=4), Stages(synth="cluster"))
#: The README's whole ``dcom synth --compare systolic`` of the 16 x 16 instance: 12 min 18 s.
README_FULL_SYNTH_S = 12 * 60 + 18
PROJECTED_POINTS = 48
PROJECTED_WORKERS = (1, 2, 8, 32)


def run(workers: int, out: Path) -> dict:
    """One sweep of :data:`SPEC` on a fresh local cluster of ``workers`` workers."""
    started = time.monotonic()
    with farm_client(workers=workers) as client:
        ready = time.monotonic()
        result = sweep(SPEC, client, out, progress=lambda line: print(line, flush=True))
    wall = time.monotonic() - started
    if result.failed or result.computed != 8:
        raise SystemExit(f"bench_sweep: {result.failed} points failed, {result.computed} "
                         f"computed; see {result.files['markdown']}")
    points = [r["seconds"]["total"] for r in result.records]
    return {"workers": workers, "wall_s": wall, "startup_s": ready - started,
            "sweep_s": result.seconds, "point_s": points, "sum_point_s": sum(points),
            "synth_s": [r["seconds"]["synth"] for r in result.records]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    parser.add_argument("--full-synth-s", type=float, default=README_FULL_SYNTH_S,
                        help="seconds of one whole-instance point for the projection (default "
                             f"{README_FULL_SYNTH_S}, the README's dcom synth of 16 x 16)")
    parser.add_argument("--out", type=Path, help="keep the sweeps here (default a temporary "
                                                  "folder)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="dcom-bench-sweep-") as scratch:
        base = args.out or Path(scratch)
        runs = [run(n, base / f"workers-{n}") for n in counts]
    print(f"\n8-point sweep (performance model + cluster synthesis), {SPEC.workload.describe()}")
    print(f"{'workers':>7} {'wall s':>8} {'cluster start s':>15} {'sum of points s':>15} "
          f"{'mean point s':>12} {'speedup':>8}")
    for r in runs:
        print(f"{r['workers']:>7} {r['wall_s']:>8.1f} {r['startup_s']:>15.1f} "
              f"{r['sum_point_s']:>15.1f} {r['sum_point_s'] / 8:>12.1f} "
              f"{runs[0]['wall_s'] / r['wall_s']:>8.2f}")
    one = runs[0]
    # What Dask adds to a point on one worker: the sweep's time beyond its points' own.
    overhead = max(0.0, (one["sweep_s"] - one["sum_point_s"]) / 8) if one["workers"] == 1 else 0.0
    print(f"\nDask overhead a point (1 worker): {overhead:.2f} s")
    print(f"\nProjected {PROJECTED_POINTS}-point sweep with --synth full, "
          f"{args.full_synth_s:.0f} s a point, one worker a 2-core machine:")
    print(f"{'workers':>7} {'rounds':>6} {'hours':>7}")
    projection = []
    for n in PROJECTED_WORKERS:
        rounds = math.ceil(PROJECTED_POINTS / n)
        seconds = rounds * (args.full_synth_s + overhead)
        projection.append({"workers": n, "rounds": rounds, "seconds": seconds})
        print(f"{n:>7} {rounds:>6} {seconds / 3600:>7.2f}")
    print(json.dumps({"runs": runs, "overhead_s": overhead, "projection": projection},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

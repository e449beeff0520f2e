"""The whole instance's power at gate level at two small scales: how much of it the top level
(banks, program and broadcast memories, buses, reduction network, controller, scalar unit)
draws, the part the full array's estimate (clusters x R C) has only as leakage.

Each scale runs ``dcom synth`` (cluster and whole instance, no comparison) on a 2 x 2 grid of
multipliers, 64-word buffers, and measures the whole instance on a compiled Lanczos run
(``dcom.synth.workloads.top_workload``). Prints one line per scale and writes the reports
under ``--out``.

Usage::

    python scripts/bench_top_power.py [--clusters 2x2,4x4] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dcom.config import DcomConfig
from dcom.synth.evaluate import (TOP_GLUE_CATEGORY, TOP_MEMORY_CATEGORY, evaluate,
                                 top_level_share)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", default="2x2,4x4",
                        help="cluster arrays, comma-separated (default 2x2,4x4)")
    parser.add_argument("--out", type=Path, default=None, help="report folders (default: temp)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="dcom-top-power-"))
    print("clusters | multipliers | cycles | whole instance (mW) | gated (mW) | top level % "
          "| top memories (mW) | top logic (mW) | seconds")
    for text in args.clusters.split(","):
        rows, cols = (int(x) for x in text.lower().split("x"))
        config = DcomConfig(cluster_rows=rows, cluster_cols=cols, grid_rows=2, grid_cols=2,
                            buffer_depth=64, expansion=2)
        start = time.monotonic()
        report = evaluate(config, out / text, tiles=2, measure_top=True,
                          progress=lambda line: None)
        power = report.top.power.power
        total = power.total().total_uw / 1000
        print(f"{text} | {config.n_clusters * 4} | {power.cycles} | {total:,.2f} | "
              f"{power.gated().total().total_uw / 1000:,.2f} | "
              f"{100 * top_level_share(power):.1f} | "
              f"{power.categories[TOP_MEMORY_CATEGORY].total_uw / 1000:,.3f} | "
              f"{power.categories[TOP_GLUE_CATEGORY].total_uw / 1000:,.3f} | "
              f"{time.monotonic() - start:.0f}", flush=True)
    print(f"reports: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The whole instance's power at gate level at small scales, and the top level's model
checked against it.

Each scale (``RxC`` clusters, or ``RxC:PxQ`` for a grid of ``P x Q`` multipliers per cluster
instead of 2 x 2) runs ``dcom synth`` (cluster and whole instance, no comparison) with
64-word buffers, and measures the whole instance on a compiled Lanczos run (``dcom.synth.workloads.top_workload``): how much of it the top level
(banks, program and broadcast memories, buses, reduction network, controller, scalar unit)
draws. Then it fits the top level's model (:mod:`dcom.synth.toplevel`) on all the scales
(the constants ``TOP_LEVEL_MODEL`` holds) and checks each scale against the model fitted on
the others. Prints one line per scale and per check, writes the reports under ``--out``.

Usage::

    python scripts/bench_top_power.py [--clusters 2x2,2x4,4x4,2x2:4x4] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dcom.config import DcomConfig
from dcom.synth.evaluate import (TOP_GLUE_CATEGORY, TOP_MEMORY_CATEGORY, evaluate,
                                 top_activity, top_level_share)
from dcom.synth.toplevel import TopLevelModel, TopSample

TILES = 2


def _ratios(check: dict) -> str:
    """The whole top level's model / measurement, ungated and gated."""
    top = check["top level"]
    return (f"{top['model_uw'] / top['measured_uw']:.4f} | "
            f"{top['gated_model_uw'] / top['gated_measured_uw']:.4f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", default="2x2,2x4,4x4",
                        help="cluster arrays RxC or RxC:PxQ (P x Q multipliers a cluster, "
                             "default 2x2), comma-separated (default 2x2,2x4,4x4)")
    parser.add_argument("--out", type=Path, default=None, help="report folders (default: temp)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="dcom-top-power-"))
    print("clusters | multipliers | cycles | whole instance (mW) | gated (mW) | top level % "
          "| top memories (mW) | top logic (mW) | top level: TOP_LEVEL_MODEL / measured | gated "
          "| seconds")
    measured = []
    for text in args.clusters.split(","):
        clusters, _, grid = text.lower().partition(":")
        rows, cols = (int(x) for x in clusters.split("x"))
        grid_rows, grid_cols = (int(x) for x in (grid or "2x2").split("x"))
        config = DcomConfig(cluster_rows=rows, cluster_cols=cols, grid_rows=grid_rows,
                            grid_cols=grid_cols, buffer_depth=64, expansion=2)
        start = time.monotonic()
        report = evaluate(config, out / text.replace(":", "-grid-"), tiles=TILES,
                          measure_top=True, progress=lambda line: None)
        power = report.top.power.power
        total = power.total().total_uw / 1000
        print(f"{text} | {config.n_clusters * config.macs_per_cluster} | {power.cycles} | "
              f"{total:,.2f} | "
              f"{power.gated().total().total_uw / 1000:,.2f} | "
              f"{100 * top_level_share(power):.1f} | "
              f"{power.categories[TOP_MEMORY_CATEGORY].total_uw / 1000:,.3f} | "
              f"{power.categories[TOP_GLUE_CATEGORY].total_uw / 1000:,.3f} | "
              f"{_ratios(report.top_level_check())} | "
              f"{time.monotonic() - start:.0f}", flush=True)
        sample = TopSample(top_activity(config, TILES), power.categories[TOP_GLUE_CATEGORY],
                           power.gating[TOP_GLUE_CATEGORY])
        measured.append((text, report, sample))
    print(f"reports: {out}")
    if len({s.activity.clusters for _, _, s in measured}) < 2:
        return 0
    clock = measured[0][1].config.clock_mhz
    model = TopLevelModel.fit([s for _, _, s in measured], clock)
    print(f"model fitted on all: {model}")
    print("checked | fitted on | memories model/measured | logic model/measured | "
          "top level model/measured | gated top level model/measured")
    for k, (text, report, _) in enumerate(measured):
        others = [s for j, (_, _, s) in enumerate(measured) if j != k]
        if len({s.activity.clusters for s in others}) < 2:
            continue
        check = report.top_level_check(TopLevelModel.fit(others, clock))
        ratio = {c: v["model_uw"] / v["measured_uw"] for c, v in check.items()}
        print(f"{text} | {', '.join(t for j, (t, _, _) in enumerate(measured) if j != k)} | "
              f"{ratio[TOP_MEMORY_CATEGORY]:.4f} | {ratio[TOP_GLUE_CATEGORY]:.4f} | "
              f"{_ratios(check)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How far the full array's systolic estimate can be trusted: the estimate scaled from a small
measured array against the big array measured, at sizes where both can be simulated.

For each pair, the small array is the cluster-scale systolic array of a configuration
(``P x Q`` PEs), the big one its full-scale array (``R P x C Q`` PEs, one buffer of the whole
capacity); both are synthesized and measured at gate level on a Lanczos step, the big one on
``R x C`` times the small one's block (``dcom.synth.scaling``). Prints one table per pair and
writes ``systolic_scaling.json``/``.md`` under ``--out``.

Usage::

    python scripts/check_systolic_scaling.py [--pairs 2x2:2x2,4x4:2x2,2x2:4x4,8x8:2x2] [--out DIR]

A pair ``GxG:CxC`` is a grid of multipliers per cluster and an array of clusters.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dcom.config import DcomConfig, parse_dims
from dcom.synth.scaling import check_systolic_scaling, write_scaling_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="2x2:2x2,4x4:2x2,2x2:4x4,8x8:2x2",
                        help="GRIDxGRID:CLUSTERSxCLUSTERS, comma-separated "
                             "(default 2x2:2x2,4x4:2x2,2x2:4x4,8x8:2x2)")
    parser.add_argument("--buffer-depth", type=int, default=16,
                        help="words per cluster buffer (default 16)")
    parser.add_argument("--tiles", type=int, default=2, help="step size (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: temp)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="dcom-systolic-scaling-"))
    checks = []
    for pair in args.pairs.split(","):
        grid, clusters = pair.split(":")
        (p, q), (r, c) = parse_dims(grid, "--pairs"), parse_dims(clusters, "--pairs")
        config = DcomConfig(grid_rows=p, grid_cols=q, cluster_rows=r, cluster_cols=c,
                            buffer_depth=args.buffer_depth, expansion=1)
        start = time.monotonic()
        check = check_systolic_scaling(config, out / pair.replace(":", "_"), tiles=args.tiles,
                                       progress=lambda line: None)
        checks.append(check)
        print(check.table().markdown())
        print(f"({time.monotonic() - start:.0f} s)\n", flush=True)
    print(f"report: {write_scaling_report(checks, out).markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time ``dcom synth`` on the paper's design point (16 x 16 clusters of 8 x 8, 2048-word buffers).

Prints the time of the cluster's synthesis (Verilog generation and Yosys), of its power
measurement, of the systolic array's (with ``--compare``), of the whole instance's synthesis
(in parallel with them) and of the whole report, with the headline figures. The numbers depend on the machine and on what else runs on it.

Usage: python scripts/bench_synth.py [--compare] [--tiles N] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dcom.config import DcomConfig
from dcom.synth.evaluate import evaluate, summary_lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", action="store_true",
                        help="include the systolic array comparison")
    parser.add_argument("--tiles", type=int, default=4, help="power workload size (default 4)")
    parser.add_argument("--out", type=Path, help="report folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.monotonic()
        report = evaluate(DcomConfig(), args.out or Path(scratch), tiles=args.tiles,
                          compare=("systolic",) if args.compare else ())
        total = time.monotonic() - start
    rows = []
    for design in (report.cluster, report.systolic, report.top):
        if design is not None:
            rows += [(f"{design.name}: {step}", seconds)
                     for step, seconds in design.seconds.items()]
    rows.append(("whole report", total))
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.1f} s")
    lines = summary_lines(report)
    print("\n".join(lines if args.out else lines[:-1]))   # a temporary report is gone
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

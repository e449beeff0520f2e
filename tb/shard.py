"""``dcom regress`` on a Dask cluster: the tests split into shards, one Dask task each, their
JUnit XML merged into one file.

:func:`shard_regress` collects the tests on the client (pytest ``--collect-only`` with this
module as a plugin, which writes the node ids), groups them per test file or per test, and
submits one :func:`run_shard` per group to the cluster of :mod:`dcom.farm`; every task runs
pytest on its node ids with ``--junitxml`` and returns the XML, which :func:`merge_junit` joins.
The workers need the same dcom (and test suite) at the same path as the client: a local
cluster has it; for a remote one, install dcom alike on every node or share the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dcom.config import ConfigError, DcomConfig
from dcom.farm import add_farm_options, farm_from_args
from dcom.simulators import SIMULATORS, available
from dcom.tb.regress import (CONFIG_ENV, CONFIGURED_MARKER, SUITE_MARKER, TESTS_DIR,
                             summarize_junit)

__all__ = ["SHARD_BY", "ShardReport", "collect", "shard", "run_shard", "merge_junit",
           "shard_regress", "add_shard_options", "regress_on_farm"]

#: How tests are grouped into tasks: one per test file, or one per test.
SHARD_BY = ("file", "test")
#: Environment variable naming the file :func:`pytest_collection_finish` writes node ids to.
COLLECT_ENV = "DCOM_SHARD_COLLECT"
#: Build settings of the client passed on to every shard (a remote worker lacks them).
FORWARDED_ENV = ("DCOM_VERILATOR_CFLAGS", "DCOM_BUILD_JOBS")
#: Lines of a shard's pytest output kept for the report.
LOG_TAIL_LINES = 30


def pytest_collection_finish(session):
    """pytest hook, active under ``-p dcom.tb.shard``: write the collected node ids as JSON to
    the file :data:`COLLECT_ENV` names."""
    target = os.environ.get(COLLECT_ENV)
    if target:
        Path(target).write_text(json.dumps([item.nodeid for item in session.items]),
                                encoding="utf-8")


def _root() -> Path:
    """The folder pytest runs in, and node ids are relative to: the test suite's parent."""
    return TESTS_DIR.parent.resolve()


def _common_options(sim: str, seed: int | None, waves: bool) -> list[str]:
    # No pytest cache: an installed test suite lives in site-packages, no place to write one.
    options = ["-p", "no:cacheprovider", f"--rootdir={_root()}", "--sim", sim]
    if seed is not None:
        options += ["--seed", str(seed)]
    if waves:
        options.append("--waves")
    return options


def collect(select: str | None = None, sim: str = "all", marker: str | None = SUITE_MARKER,
            paths=None, seed: int | None = None) -> list[str]:
    """The node ids pytest selects, relative to the test suite's parent folder.

    Parameters
    ----------
    select : str, optional
        pytest ``-k`` expression.
    sim : str
        ``--sim`` of the suite (its tests are parametrized by simulator).
    marker : str or None
        pytest ``-m`` expression (None: every test).
    paths : sequence of path, optional
        Test files or folders (default the whole suite).

    Raises
    ------
    RuntimeError
        If pytest fails to collect, with its output.
    """
    with tempfile.TemporaryDirectory(prefix="dcom-collect-") as scratch:
        target = Path(scratch) / "ids.json"
        cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "dcom.tb.shard",
               *_common_options(sim, seed, False),
               *(str(Path(p).resolve()) for p in (paths or [TESTS_DIR]))]
        if marker:
            cmd += ["-m", marker]
        if select:
            cmd += ["-k", select]
        done = subprocess.run(cmd, cwd=_root(), capture_output=True, text=True,
                              env=dict(os.environ, **{COLLECT_ENV: str(target)}), check=False)
        # Exit status 5: nothing selected, an empty shard list rather than an error.
        if done.returncode not in (0, 5) or not target.exists():
            raise RuntimeError(f"pytest could not collect the tests (exit status "
                               f"{done.returncode}):\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
        return json.loads(target.read_text(encoding="utf-8"))


def shard(node_ids: list[str], by: str = "file") -> dict[str, list[str]]:
    """Group node ids into shards named by their file (``by="file"``) or id (``"test"``).

    Raises
    ------
    ConfigError
        If ``by`` is not one of :data:`SHARD_BY`.
    """
    if by not in SHARD_BY:
        raise ConfigError("by", by, ", ".join(SHARD_BY))
    shards: dict[str, list[str]] = {}
    for node in node_ids:
        shards.setdefault(node.split("::")[0] if by == "file" else node, []).append(node)
    return shards


def run_shard(task: dict) -> dict:
    """Run pytest on one shard's node ids; the Dask task of :func:`shard_regress`.

    Parameters
    ----------
    task : dict
        ``name``, ``nodes``, ``options`` (pytest options), ``root`` (the folder to run in)
        and ``env`` (variables to set).

    Returns
    -------
    dict
        ``name``, ``tests``, ``exit_status``, ``xml`` (the JUnit XML text, or None when pytest
        wrote none), ``log_tail``, ``seconds`` and ``host``.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dcom-shard-") as scratch:
        junit = Path(scratch) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", *task["nodes"], *task["options"],
               f"--junitxml={junit}", "-o", "junit_family=xunit2"]
        done = subprocess.run(cmd, cwd=task["root"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False,
                              env=dict(os.environ, **task["env"]))
        xml = junit.read_text(encoding="utf-8") if junit.exists() else None
    return {"name": task["name"], "tests": len(task["nodes"]), "exit_status": done.returncode,
            "xml": xml, "log_tail": "\n".join(done.stdout.splitlines()[-LOG_TAIL_LINES:]),
            "seconds": time.monotonic() - started, "host": socket.gethostname()}


def _lost_suite(name: str, message: str, detail: str) -> ET.Element:
    """A test suite of one erroring test case, for a shard that produced no JUnit XML."""
    suite = ET.Element("testsuite", name=f"shard {name}", tests="1", errors="1", failures="0",
                       skipped="0", time="0")
    case = ET.SubElement(suite, "testcase", classname="dcom.tb.shard", name=name)
    ET.SubElement(case, "error", message=message).text = detail
    return suite


def merge_junit(results: list[dict], path) -> Path:
    """Join the shards' JUnit XML (:func:`run_shard` results) into one ``<testsuites>`` file
    with the totals; a shard without XML counts as one erroring test case."""
    root = ET.Element("testsuites", name="dcom regress (sharded)")
    totals, seconds = Counter(), 0.0
    for result in results:
        if result["xml"] is None:
            suites = [_lost_suite(result["name"], f"no JUnit XML (exit status "
                                                  f"{result['exit_status']})", result["log_tail"])]
        else:
            parsed = ET.fromstring(result["xml"])
            suites = [parsed] if parsed.tag == "testsuite" else list(parsed.iter("testsuite"))
        for suite in suites:
            root.append(suite)
            for name in ("tests", "failures", "errors", "skipped"):
                totals[name] += int(suite.get(name, 0))
            seconds += float(suite.get("time", 0))
    for name in ("tests", "failures", "errors", "skipped"):
        root.set(name, str(totals[name]))
    root.set("time", f"{seconds:.3f}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


@dataclass
class ShardReport:
    """What :func:`shard_regress` ran.

    Attributes
    ----------
    status : int
        0 when every shard's pytest passed, 1 when one did not, 5 when no test was selected.
    junit : Path
        The merged JUnit XML.
    counts : dict
        Passed, failed and skipped tests per simulator (:func:`dcom.tb.regress.summarize_junit`).
    shards : list of dict
        Each shard's :func:`run_shard` result, without its XML.
    """

    status: int
    junit: Path
    counts: dict
    shards: list = field(default_factory=list)


def shard_regress(client, select: str | None = None, sim: str = "all", junit=None, *,
                  marker: str | None = SUITE_MARKER, paths=None, by: str = "file",
                  seed: int | None = None, waves: bool = False, config: DcomConfig | None = None,
                  progress=print) -> ShardReport:
    """Run the regression tests as Dask tasks on ``client``'s cluster and merge their JUnit XML.

    Parameters
    ----------
    client : distributed.Client
    select : str, optional
        pytest ``-k`` expression.
    sim : str
        ``verilator``, ``icarus`` or ``all`` (as ``dcom regress --sim``).
    junit : path, optional
        The merged JUnit XML (default a new temporary file).
    marker : str or None
        pytest ``-m`` expression (default the cocotb suite; with ``config``, the tests that
        take a configuration).
    paths : sequence of path, optional
        Test files or folders within the suite (default all of it).
    by : str
        One of :data:`SHARD_BY`.
    seed : int, optional
    waves : bool
    config : DcomConfig, optional
        Run the configured tests on this instance (as ``dcom regress --clusters ...``).
    progress : callable or None
        Receives a line per finished shard and the summary.

    Raises
    ------
    ConfigError
        For an unknown ``by`` or a simulator asked for by name that is not installed.
    RuntimeError
        If pytest cannot collect the tests.
    """
    say = progress or (lambda line: None)
    if sim not in (*SIMULATORS, "all"):
        raise ConfigError("--sim", sim, ", ".join((*SIMULATORS, "all")))
    if sim != "all" and available(sim)[0] is None:
        raise ConfigError("--sim", sim, f"an installed simulator ({available(sim)[1]})")
    if config is not None and marker == SUITE_MARKER:
        marker = CONFIGURED_MARKER
    junit = Path(junit) if junit else Path(tempfile.mkdtemp(prefix="dcom-regress-")) / "junit.xml"
    shards = shard(collect(select, sim, marker, paths, seed), by)
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if config is not None:
        env[CONFIG_ENV] = json.dumps(config.to_dict())
    options = _common_options(sim, seed, waves)
    say(f"dcom regress: {sum(map(len, shards.values()))} tests in {len(shards)} shards (by "
        f"{by}) on {len(client.nthreads())} Dask workers at {client.scheduler.address}")
    from distributed import as_completed

    futures = [client.submit(run_shard, {"name": name, "nodes": nodes, "options": options,
                                         "root": str(_root()), "env": env},
                             key=f"dcom-shard-{uuid.uuid4().hex[:12]}", pure=False)
               for name, nodes in shards.items()]
    results = []
    try:
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            results.append(result)
            say(f"  [{done}/{len(futures)}] {result['name']}: {result['tests']} tests, pytest "
                f"exit status {result['exit_status']} ({result['seconds']:.1f} s on "
                f"{result['host']})")
    except BaseException:
        client.cancel(futures)
        raise
    results.sort(key=lambda r: list(shards).index(r["name"]))
    merge_junit(results, junit)
    counts = summarize_junit(junit)
    status = 5 if not shards else int(any(r["exit_status"] != 0 for r in results))
    say(f"\n{'simulator':<10} {'ran':>5} {'passed':>7} {'failed':>7} {'skipped':>8}")
    for name, c in sorted(counts.items()):
        say(f"{name:<10} {c['passed'] + c['failed']:>5} {c['passed']:>7} {c['failed']:>7} "
            f"{c['skipped']:>8}")
    say(f"JUnit XML (merged): {junit}")
    return ShardReport(status, junit, counts,
                       [{k: v for k, v in r.items() if k != "xml"} for r in results])


def add_shard_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of a sharded ``dcom regress`` to its parser: the Dask cluster's
    (:func:`dcom.farm.add_farm_options`, local workers as ``--dask-workers``) and
    ``--shard-by``."""
    add_farm_options(parser, "--dask-workers")
    parser.add_argument("--shard-by", choices=SHARD_BY, default="file",
                        help="with a Dask cluster, one task per test file or per test "
                             "(default file)")


def regress_on_farm(args: argparse.Namespace, config: DcomConfig | None = None) -> int:
    """``dcom regress`` with any of ``--dask-workers``, ``--scheduler`` or
    ``--scheduler-file``: :func:`shard_regress` on that cluster; returns its status.

    Raises
    ------
    ConfigError
        With ``-j/--workers`` above 1 (the Dask workers run the shards), or bad farm options.
    """
    if args.workers > 1:
        raise ConfigError("--workers", args.workers,
                          "1 with a Dask cluster (its workers run the shards; use --dask-workers)")
    with farm_from_args(args) as client:
        report = shard_regress(client, select=args.select, sim=args.sim, junit=args.junit,
                               by=args.shard_by, seed=args.seed, waves=args.waves,
                               config=config)
    return report.status

"""``dcom regress``: run the cocotb regressions and summarize them per simulator."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from dcom.config import DcomConfig
from dcom.shipped import shipped_path
from dcom.simulators import SIMULATORS, available

__all__ = ["regress", "summarize_junit", "CONFIG_ENV", "SUITE_MARKER", "CONFIGURED_MARKER"]

#: The marker expression of a suite run: its cocotb tests, or with a configuration given, the
#: tests that take one.
SUITE_MARKER, CONFIGURED_MARKER = "cocotb and not configured", "configured"

TESTS_DIR = shipped_path("tests")


def summarize_junit(xml_path: Path) -> dict[str, Counter]:
    """Count passed, failed and skipped cocotb tests per simulator in a pytest JUnit file.

    The simulator is read from the test's parameter id (``test_x[verilator-...]``).
    """
    counts: dict[str, Counter] = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = case.get("name", "")
        params = name[name.find("[") + 1:-1].split("-") if "[" in name else []
        sim = next((p for p in params if p in SIMULATORS), "none")
        if case.find("skipped") is not None:
            outcome = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        else:
            outcome = "passed"
        counts.setdefault(sim, Counter())[outcome] += 1
    return counts


#: Environment variable that carries the configuration of ``dcom regress --clusters ...`` to
#: the tests, as JSON.
CONFIG_ENV = "DCOM_REGRESS_CONFIG"


def regress(sim: str = "all", seed: int | None = None, workers: int = 1,
            select: str | None = None, junit: Path | None = None, waves: bool = False,
            config: DcomConfig | None = None) -> int:
    """Run every cocotb test (pytest marker ``cocotb``) and print a per-simulator summary.

    With ``config``, run instead the tests that take a chosen configuration (marker
    ``configured``): the cluster bench and a Lanczos program on that instance.

    Returns
    -------
    int
        pytest's exit status (0 when everything that ran passed).

    Raises
    ------
    SystemExit
        If the test suite or pytest is missing, or ``sim`` names a simulator that is not
        installed (with ``"all"``, a missing one is skipped and the summary says so).
    """
    if sim != "all":
        simulator, reason = available(sim)
        if simulator is None:
            raise SystemExit(f"dcom regress: error: --sim {sim}: {reason}")
    if not TESTS_DIR.is_dir():
        raise SystemExit(f"dcom regress: error: the test suite is missing (looked for "
                         f"{TESTS_DIR}); reinstall dcom")
    if importlib.util.find_spec("pytest") is None:
        raise SystemExit("dcom regress: error: pytest is not installed; install dcom with its "
                         "test extra (pip install '.[test]' in the dcom source tree)")
    junit = junit or Path(tempfile.mkdtemp(prefix="dcom-regress-")) / "junit.xml"
    marker = CONFIGURED_MARKER if config is not None else SUITE_MARKER
    # No pytest cache: an installed test suite lives in site-packages, which is no place to
    # write one.
    cmd = [sys.executable, "-m", "pytest", str(TESTS_DIR), "-m", marker, "--sim", sim,
           f"--junitxml={junit}", "-o", "junit_family=xunit2", "-p", "no:cacheprovider"]
    env = dict(os.environ)
    if config is not None:
        env[CONFIG_ENV] = json.dumps(config.to_dict())
        print(f"configuration: {config.describe()}", flush=True)
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if workers > 1:
        cmd += ["-n", str(workers)]
    if select:
        cmd += ["-k", select]
    if waves:
        cmd += ["--waves"]
    print("running:", " ".join(cmd), flush=True)
    status = subprocess.run(cmd, check=False, env=env).returncode
    if junit.exists():
        counts = summarize_junit(junit)
        print(f"\n{'simulator':<10} {'ran':>5} {'passed':>7} {'failed':>7} {'skipped':>8}")
        for name, c in sorted(counts.items()):
            ran = c["passed"] + c["failed"]
            print(f"{name:<10} {ran:>5} {c['passed']:>7} {c['failed']:>7} {c['skipped']:>8}")
        print(f"JUnit XML: {junit}")
    return status

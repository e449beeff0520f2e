"""Shared pytest options and fixtures for dcom's tests.

Options
-------
``--sim verilator|icarus|all``
    Simulators the cocotb tests run on (default: all; a missing one is skipped with the reason,
    but one asked for by name fails the tests that need it).
``--waves``
    Record waveforms in cocotb tests (same as ``DCOM_WAVES=1``).
``--seed N``
    Seed for the randomized cocotb tests (default: a fixed seed per test).
"""

import json
import os
import zlib

import pytest

from dcom.config import DcomConfig
from dcom.simulators import SIMULATORS, available
from dcom.tb.regress import CONFIG_ENV


def pytest_addoption(parser):
    group = parser.getgroup("dcom")
    group.addoption("--sim", choices=(*SIMULATORS, "all"), default="all",
                    help="simulator(s) for cocotb tests (default: all)")
    group.addoption("--waves", action="store_true", help="record waveforms in cocotb tests")
    group.addoption("--seed", type=int, default=None, help="seed for randomized cocotb tests")


#: The suite's markers, registered here rather than in pyproject.toml so that the suite an
#: installed dcom ships (which ``dcom regress`` runs) has them too.
MARKERS = (
    "cocotb: runs a cocotb testbench on an HDL simulator",
    "configured: runs on the configuration dcom regress was given (skipped otherwise)",
    "slow: takes more than a few seconds",
)


#: Test modules whose module-scoped fixture takes minutes: each runs whole on one pytest-xdist
#: worker (and first), so that the fixture is built once.
WHOLE_MODULES = ("test_synth_power.py",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Every test its own unit of work, except the modules of :data:`WHOLE_MODULES`."""
    from xdist.scheduler import LoadScopeScheduling

    class WholeModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return module if os.path.basename(module) in WHOLE_MODULES else nodeid

    return WholeModuleScheduling(config, log)


def pytest_configure(config):
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if config.getoption("--waves"):
        os.environ["DCOM_WAVES"] = "1"


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--sim")
        sims = SIMULATORS if choice == "all" else (choice,)
        metafunc.parametrize("sim", sims, indirect=True)


@pytest.fixture
def sim(request):
    """Name of the simulator this test runs on; skips when it is not installed, unless it was
    asked for by name (``--sim icarus``), when a skip would pass for success."""
    simulator, reason = available(request.param)
    if simulator is None:
        if request.config.getoption("--sim") == request.param:
            pytest.fail(f"--sim {request.param}: {reason}", pytrace=False)
        pytest.skip(reason)
    return request.param


@pytest.fixture
def seed(request):
    """``--seed`` if given, else a seed fixed by the test's name (stable across runs)."""
    given = request.config.getoption("--seed")
    return given if given is not None else zlib.crc32(request.node.name.encode())


@pytest.fixture
def regress_config():
    """The configuration ``dcom regress --clusters ...`` chose; skips when there is none."""
    if CONFIG_ENV not in os.environ:
        pytest.skip("runs on a configuration chosen with dcom regress --clusters/--grid/--config")
    return DcomConfig.from_dict(json.loads(os.environ[CONFIG_ENV]))

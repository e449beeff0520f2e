"""``dcom generate``: the Verilog of a D-com instance, one file per distinct module.

Every repeated block (tile, cluster, multiplier, adder, converter, SRAM) is emitted once as its
own module and instantiated, so the 16 x 16 top level is a small file. The output folder also
receives a manifest (configuration, modules, file hashes), the ISA document and the Verilator
lint waivers; :func:`lint` checks every module once. :func:`generate_unit` writes one unit of
:mod:`dcom.hw.units` instead, with its port table.

An output folder is replaced whole: everything is written into a fresh folder beside it, which
is renamed into its place under a lock (``<folder>.lock``), so that no stale module of an
earlier configuration remains and two runs into one folder cannot mix their files. A folder
that holds anything but an earlier output (recognised by its manifest) is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dcom import __version__
from dcom.config import ConfigError, DcomConfig
from dcom.hw.hierarchy import ModuleLibrary, module_header
from dcom.hw.top import Dcom
from dcom.shipped import shipped_path

__all__ = ["LINT_WAIVERS", "TOP_MODULE", "LintError", "SizeEstimate", "available_memory",
           "emit_verilog", "estimate", "generate", "generate_unit", "lint", "port_stub"]

TOP_MODULE = "dcom_top"
ISA_DOC = shipped_path("docs") / "isa.md"

#: Verilator configuration that waives the warnings ``verilator --lint-only -Wall`` gives on
#: Amaranth's output, each for the reason stated; nothing else is waived.
LINT_WAIVERS = """`verilator_config
// Amaranth writes a module's unshared submodules (named module.child) into its file.
lint_off -rule DECLFILENAME
// Amaranth assigns a default before every case statement, so values the cases leave out
// (an array index beyond its length, an unused enum value) take that default.
lint_off -rule CASEINCOMPLETE
// Amaranth gives registers their reset value as an initial value in the declaration.
lint_off -rule PROCASSINIT
// Amaranth declares a wire for every named intermediate value and field, used or not.
lint_off -rule UNUSEDSIGNAL
// Amaranth mixes operand widths in comparisons, shifts and logic; Verilog's extension and
// truncation rules give exactly the values Amaranth defines.
lint_off -rule WIDTHEXPAND
lint_off -rule WIDTHTRUNC
"""
LINT_FILE = "dcom_lint.vlt"
# A port stub declares its ports and nothing else.
_STUB_WAIVERS = """`verilator_config
lint_off -rule UNUSEDSIGNAL -file "*/stubs/*"
lint_off -rule UNDRIVEN -file "*/stubs/*"
"""


MANIFEST = "manifest.json"
_GENERATOR = f"dcom {__version__}"


def _instance(config: DcomConfig, progress=None) -> ModuleLibrary:
    """Every distinct module of the instance, converted."""
    library = ModuleLibrary(progress=progress)
    library.register(TOP_MODULE, Dcom(config, library))
    return library


def emit_verilog(config: DcomConfig, out_dir: Path, progress=None) -> list[Path]:
    """Write ``<module>.v`` for every distinct module of the instance; return the files.

    Parameters
    ----------
    config : DcomConfig
    out_dir : Path
        Created if missing.
    progress : callable, optional
        Called with a line of text as modules are converted.
    """
    return _instance(config, progress).write(out_dir)


# ---- size estimate -----------------------------------------------------------------------
# The top module's conversion dominates time and memory, and it grows with the tiles: most of
# it is Amaranth's netlist, a Python object per bit of every tile's word-wide buses (W = 16 P Q
# bits). Fitted by least squares to dcom generate (peak resident memory, ru_maxrss) at 2x2,
# 4x4 and 8x8 clusters of 4x4 and of 8x8 multipliers (Amaranth 0.5, Python 3.11):
#
#   clusters          2x2     4x4     8x8     | 16x16 (check, not fitted)
#   8x8 grid  MiB     95      163     345     | 1,200 measured, 1,127 predicted
#   4x4 grid  MiB     70      84      160     |
#   8x8 grid  top     23,565  27,138  34,408 lines; 612, 732, 1,003 kB | 60,428 lines, 2,048 kB
#
# Peak MiB = 53.6 + 0.033 W + tiles (0.68 + 0.0033 W): 4.1 MiB a tile of 8x8 multipliers, so
# 64x64 clusters need about 16 GiB. The top module's lines and bytes barely depend on the grid
# (the buses are single vectors in Verilog); the 8x8 fit is used.
_PEAK_MIB = (53.6, 0.033)            # fixed, per bit of W
_PEAK_MIB_PER_TILE = (0.68, 0.0033)  # fixed, per bit of W
_TOP_LINES = (23_544, 172.4)         # fixed, per tile
_TOP_BYTES = (606_400, 6_281)        # fixed, per tile


@dataclass(frozen=True)
class SizeEstimate:
    """The estimated size of an instance's Verilog and the memory its conversion needs.

    Attributes
    ----------
    tiles : int
        Tile instances in the top module, ``R * C``.
    top_lines, top_bytes : int
        Size of the top module's Verilog.
    peak_bytes : int
        Peak resident memory of the conversion.
    """

    tiles: int
    top_lines: int
    top_bytes: int
    peak_bytes: int

    def describe(self) -> str:
        """One line, e.g. ``256 tiles: top module ~67,678 lines (2.2 MB), peak memory ~1.1 GiB``."""
        return (f"{self.tiles:,} tiles: top module ~{self.top_lines:,} lines "
                f"({self.top_bytes / 1e6:.1f} MB), peak memory ~{self.peak_bytes / 2**30:.1f} GiB")


def estimate(config: DcomConfig) -> SizeEstimate:
    """The size and conversion memory of ``config``'s instance, from the fit above."""
    tiles, word = config.n_clusters, config.word_bits
    peak_mib = (_PEAK_MIB[0] + _PEAK_MIB[1] * word
                + tiles * (_PEAK_MIB_PER_TILE[0] + _PEAK_MIB_PER_TILE[1] * word))
    return SizeEstimate(tiles=tiles, top_lines=round(_TOP_LINES[0] + _TOP_LINES[1] * tiles),
                        top_bytes=round(_TOP_BYTES[0] + _TOP_BYTES[1] * tiles),
                        peak_bytes=round(peak_mib * 2**20))


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of ``/proc/meminfo``
    (page cache that can be dropped included), else the free physical pages; ``None`` where
    neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


# ---- the output folder -------------------------------------------------------------------

def _is_output(folder: Path) -> bool:
    """Whether ``folder`` is an earlier output: its manifest names dcom as the generator."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("generator", "")).startswith("dcom ")


def _check_replaceable(out_dir: Path) -> None:
    """Refuse an ``out_dir`` that generating would destroy: a file, or a folder holding
    anything but an earlier output."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ConfigError("--out", str(out_dir), "a folder, existing or new (this is a file)")
    if any(out_dir.iterdir()) and not _is_output(out_dir):
        raise ConfigError("--out", str(out_dir),
                          f"a new or empty folder, or one dcom generate wrote (it has dcom's "
                          f"{MANIFEST}), which is replaced whole; this folder holds other files")


@contextlib.contextmanager
def _locked(out_dir: Path, say):
    """Hold an exclusive lock on ``<out_dir>.lock`` (kept for later runs: deleting it would
    let a run that waits on it and a new one hold two different locks)."""
    with open(out_dir.parent / f"{out_dir.name}.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another dcom generate into {out_dir} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _replacing(out_dir: Path, say):
    """A fresh folder beside ``out_dir`` to write the output into; when the block completes, it
    replaces ``out_dir`` whole, under the lock. On any error (Ctrl-C included) it is deleted
    and ``out_dir`` stays as it was."""
    target = Path(out_dir).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    # mkdtemp makes the folder private; the output gets the permissions of any new folder.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    try:
        yield staging
        with _locked(target, say):
            # Another run may have written the folder since the first check.
            _check_replaceable(out_dir)
            if target.exists():
                # Renamed aside first: a folder can only be renamed onto an empty one.
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                            dir=target.parent))
                os.replace(target, old)
                try:
                    os.replace(staging, target)
                except OSError:
                    os.replace(old, target)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(out_dir: Path, library: ModuleLibrary, manifest: dict, texts: dict[str, str],
             check_lint: bool, start: float, say) -> dict:
    """Write the library's modules, ``texts`` (file name to text), the lint waivers and the
    manifest, linted if asked, as the new ``out_dir``; return the manifest.

    A lint failure still replaces ``out_dir``, so that the modules can be inspected, with the
    failure in the manifest; then :class:`LintError` is raised.
    """
    failure = None
    with _replacing(out_dir, say) as staging:
        files = library.write(staging)
        for name, text in texts.items():
            (staging / name).write_text(text)
        (staging / LINT_FILE).write_text(LINT_WAIVERS)
        manifest.update({
            "modules": [
                {"module": f.stem, "file": f.name, "bytes": f.stat().st_size,
                 "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                for f in files
            ],
            "total_bytes": sum(f.stat().st_size for f in files),
            "lint": f"verilator --lint-only -Wall {LINT_FILE} <module>.v <submodule port stubs> "
                    f"--top-module <module>, for every module (dcom generate --lint)",
            "seconds": round(time.monotonic() - start, 2),
        })
        if check_lint:
            try:
                seconds = lint(staging, progress=lambda line: say(f"  {line}"))
                manifest["lint_clean"] = {name: round(s, 2) for name, s in seconds.items()}
            except LintError as exc:
                failure = exc
                manifest["lint_failed"] = str(exc).splitlines()[0]
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if failure is not None:
        raise failure
    say(f"wrote {len(files)} modules, {manifest['total_bytes'] / 1e6:.2f} MB, to {out_dir} "
        f"in {manifest['seconds']} s")
    return manifest


def _reporters(quiet: bool, start: float):
    """``say`` for results (stdout) and ``tell`` for progress (stderr, timed), both silent when
    ``quiet``."""
    def say(line):
        if not quiet:
            print(line, flush=True)

    def tell(line):
        if not quiet:
            print(f"  [{time.monotonic() - start:6.1f} s] {line}", file=sys.stderr, flush=True)

    return say, tell


def generate(config: DcomConfig, out_dir: Path, quiet: bool = False,
             check_lint: bool = False, force: bool = False) -> dict:
    """Emit the Verilog, ``manifest.json`` and ``isa.md`` as the folder ``out_dir``; return the
    manifest.

    Parameters
    ----------
    config : DcomConfig
    out_dir : Path
        New, empty, or an earlier output, which is replaced whole (see the module's notes).
    quiet : bool
        Print nothing; otherwise the estimate and the result go to stdout, the progress of the
        conversion to stderr.
    check_lint : bool
        Also :func:`lint` every module and record the result in the manifest.
    force : bool
        Convert even when :func:`estimate` puts the peak memory above :func:`available_memory`.

    Raises
    ------
    ConfigError
        For an ``out_dir`` that holds other files (``--out``), or an instance whose estimated
        memory exceeds the available memory without ``force`` (``--clusters``).
    LintError
        With ``check_lint``, on any finding.
    """
    start = time.monotonic()
    say, tell = _reporters(quiet, start)
    _check_replaceable(out_dir)
    size = estimate(config)
    available = available_memory()
    say(f"dcom generate: {config.describe()}")
    say(f"estimate: {size.describe()}"
        + ("" if available is None else f"; {available / 2**30:.1f} GiB available"))
    if available is not None and size.peak_bytes > available and not force:
        raise ConfigError(
            "--clusters", f"{config.cluster_rows}x{config.cluster_cols}",
            f"arrays whose conversion fits in memory: this one needs about "
            f"{size.peak_bytes / 2**30:.1f} GiB (estimated) and {available / 2**30:.1f} GiB "
            f"are available; --force converts it anyway")
    library = _instance(config, progress=tell)
    manifest = {"generator": _GENERATOR, "top": TOP_MODULE, "config": config.to_dict()}
    return _publish(out_dir, library, manifest, {"isa.md": ISA_DOC.read_text()}, check_lint,
                    start, say)


def generate_unit(name: str, config: DcomConfig, out_dir: Path, stages: int | None = None,
                  quiet: bool = False, check_lint: bool = False) -> dict:
    """Emit one unit of :data:`dcom.hw.units.UNITS` (its module, the submodules it
    instantiates, ``<name>.md`` with its ports and latency, and the manifest) as the folder
    ``out_dir``; return the manifest.

    Parameters
    ----------
    name : str
        The unit, e.g. ``"fp_add"`` or ``"cluster"``.
    config : DcomConfig
        Its formats, grid and pipelining, where the unit has them.
    out_dir : Path
        As for :func:`generate`.
    stages : int, optional
        Pipeline stages of a pipelined unit (default: the configuration's for that unit).
    quiet, check_lint
        As for :func:`generate`.

    Raises
    ------
    ConfigError
        For an unknown unit (``--unit``), a stage count out of range or given to a unit with a
        fixed pipeline (``--stages``), or an ``out_dir`` holding other files (``--out``).
    LintError
        With ``check_lint``, on any finding.
    """
    from dcom.hw.units import port_table, unit, unit_stages

    start = time.monotonic()
    say, tell = _reporters(quiet, start)
    spec = unit(name)
    stages = unit_stages(name, config, stages)
    _check_replaceable(out_dir)
    library = ModuleLibrary(progress=tell)
    block = spec.build(config, stages, library)
    module = spec.module(config, stages)
    say(f"dcom generate: the {name} unit as module {module}")
    library.register(module, block)
    text = library.text(module)
    table = port_table(name, config, stages, block, module, text,
                       [sub for sub in library.names if sub != module])
    manifest = {"generator": _GENERATOR, "top": module, "unit": name, "stages": stages,
                "latency": block.latency, "config": config.to_dict()}
    return _publish(out_dir, library, manifest, {f"{name}.md": table}, check_lint, start, say)


class LintError(RuntimeError):
    """Verilator found something in a generated module; the message quotes it."""


def port_stub(verilog_text: str, module: str) -> str:
    """A module with the ports of ``module`` in ``verilog_text`` (Amaranth's style) and no
    body."""
    header = module_header(verilog_text, module)
    body = verilog_text[header.end():verilog_text.index("endmodule", header.end())]
    ports = [line for line in body.splitlines() if re.match(r"\s*(input|output|inout)\b", line)]
    return header.group(0) + "\n".join(ports) + "\nendmodule\n"


def lint(out_dir: Path, progress=None) -> dict[str, float]:
    """Lint every module of a generated design once: ``verilator --lint-only -Wall`` with the
    design's waivers, the module as top and its submodules as port stubs.

    Verilator elaborates every instance, so a whole 16 x 16 design takes it tens of gigabytes;
    module by module, each is checked once, and the stubs keep every port connection checked
    against the real ports.

    Returns
    -------
    dict
        Seconds per module.

    Raises
    ------
    LintError
        On any warning or error, naming the module.
    """
    from dcom.simulators import find

    verilator = find("verilator")
    out_dir = Path(out_dir)
    texts = {path.stem: path.read_text() for path in sorted(out_dir.glob("*.v"))}
    seconds = {}
    with tempfile.TemporaryDirectory() as scratch:
        stub_dir = Path(scratch) / "stubs"
        stub_dir.mkdir()
        (Path(scratch) / "stubs.vlt").write_text(_STUB_WAIVERS)
        for name, text in texts.items():
            children = [c for c in texts if c != name and re.search(rf"^\s*{c}\s+\S+\s+\(", text,
                                                                      re.MULTILINE)]
            stubs = []
            for child in children:
                stubs.append(stub_dir / f"{child}.v")
                stubs[-1].write_text(port_stub(texts[child], child))
            start = time.monotonic()
            run = subprocess.run(
                [str(verilator.executable), "--lint-only", "-Wall", str(out_dir / LINT_FILE),
                 str(Path(scratch) / "stubs.vlt"), str(out_dir / f"{name}.v"),
                 *map(str, stubs), "--top-module", name],
                capture_output=True, text=True, check=False, env={**os.environ, **verilator.env})
            seconds[name] = time.monotonic() - start
            for stub in stubs:
                stub.unlink()
            if run.returncode != 0 or "%Warning" in run.stderr:
                raise LintError(f"verilator --lint-only -Wall on {name}:\n{run.stderr[:4000]}")
            if progress:
                progress(f"lint {name}: clean in {seconds[name]:.1f} s")
    return seconds

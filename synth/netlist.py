"""The synthesized netlist as a graph: who drives each net, who loads it, in every module.

The flow writes the gate-level netlist twice, as Verilog (to simulate) and as Yosys JSON (to
analyse), with the same net names (``rename -enumerate`` gives every wire a public name). This
module reads the JSON once per module into drivers and loads per net bit, the basis of the
category breakdown (:mod:`dcom.synth.categories`) and of the power model
(:mod:`dcom.synth.power`). Pin directions come from the Liberty files for cells and macros and
from the module ports for submodules, so nothing here knows any cell's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .liberty_reader import LibertyLibrary

__all__ = ["CellInstance", "ModuleNetlist", "read_netlist", "is_blackbox", "instance_paths",
           "STD", "FLOP", "MACRO", "MODULE", "UNKNOWN"]

#: Kinds of cell instances.
STD, FLOP, MACRO, MODULE, UNKNOWN = "std", "flop", "macro", "module", "unknown"


@dataclass
class CellInstance:
    """One cell of a module: a standard cell, a flip-flop, an SRAM macro or a submodule.

    ``inputs`` and ``outputs`` map pin names to the net bits they connect (constants as the
    strings ``"0"``/``"1"``/``"x"``).
    """

    name: str
    type: str
    kind: str
    inputs: dict[str, list] = field(default_factory=dict)
    outputs: dict[str, list] = field(default_factory=dict)


@dataclass
class ModuleNetlist:
    """One module of the netlist with its connectivity.

    Attributes
    ----------
    name : str
    ports : dict
        Port name -> ``(direction, bits)``.
    cells : dict
        Cell name -> :class:`CellInstance`.
    names : dict
        Net bit -> the net names that carry it, as ``(name, index)`` pairs.
    netname_bits : dict
        Net name -> its bits, least significant first.
    driver : dict
        Net bit -> ``(cell name, pin)``; ``(None, port)`` for input ports.
    loads : dict
        Net bit -> list of ``(cell name, pin)``; ``(None, port)`` for output ports.
    """

    name: str
    ports: dict[str, tuple[str, list]]
    cells: dict[str, CellInstance]
    names: dict[int, list[tuple[str, int]]]
    netname_bits: dict[str, list]
    driver: dict[int, tuple[str | None, str]]
    loads: dict[int, list[tuple[str | None, str]]]

    def instances(self, kind: str) -> list[CellInstance]:
        """The cells of one kind."""
        return [c for c in self.cells.values() if c.kind == kind]

    def net_names(self, bit: int) -> list[str]:
        """The names of a net bit, e.g. ``["acc[3]", "_0042_"]``."""
        return [f"{name}[{index}]" for name, index in self.names.get(bit, ())]


def _directions(cell_type: str, library: LibertyLibrary, macros: LibertyLibrary | None,
                modules: dict) -> tuple[str, dict[str, str]]:
    if cell_type in library.cells:
        cell = library.cells[cell_type]
        return (FLOP if cell.sequential else STD), {p.name: p.direction for p in cell.pins.values()}
    if macros is not None and cell_type in macros.cells:
        return MACRO, {p.name: p.direction for p in macros.cells[cell_type].pins.values()}
    if cell_type in modules:
        return MODULE, {n: p["direction"] for n, p in modules[cell_type]["ports"].items()}
    return UNKNOWN, {}


def is_blackbox(module: dict) -> bool:
    """Whether a module of a Yosys JSON netlist is a black box (a macro or a library cell)."""
    value = module.get("attributes", {}).get("blackbox", 0)
    return (int(value, 2) if isinstance(value, str) else int(value)) != 0


def read_netlist(path: str | Path, library: LibertyLibrary,
                 macros: LibertyLibrary | None = None) -> dict[str, ModuleNetlist]:
    """Every non-blackbox module of a Yosys JSON netlist, with drivers and loads per net bit.

    Parameters
    ----------
    path : path
        ``netlist.json`` of a synthesis run.
    library : LibertyLibrary
        The standard cells the netlist is mapped to.
    macros : LibertyLibrary, optional
        The SRAM macros' library.
    """
    data = json.loads(Path(path).read_text())["modules"]
    design = {n: m for n, m in data.items()
              if not is_blackbox(m)}
    result = {}
    for name, module in design.items():
        ports = {p: (v["direction"], v["bits"]) for p, v in module["ports"].items()}
        driver: dict = {}
        loads: dict = {}
        for port, (direction, bits) in ports.items():
            for bit in bits:
                if isinstance(bit, int):
                    (driver.__setitem__(bit, (None, port)) if direction == "input"
                     else loads.setdefault(bit, []).append((None, port)))
        cells = {}
        for cell_name, cell in module.get("cells", {}).items():
            kind, directions = _directions(cell["type"], library, macros, design)
            instance = CellInstance(cell_name, cell["type"], kind)
            for pin, bits in cell["connections"].items():
                if directions.get(pin) == "output":
                    instance.outputs[pin] = bits
                    for bit in bits:
                        if isinstance(bit, int):
                            driver[bit] = (cell_name, pin)
                else:
                    instance.inputs[pin] = bits
                    for bit in bits:
                        if isinstance(bit, int):
                            loads.setdefault(bit, []).append((cell_name, pin))
            cells[cell_name] = instance
        names: dict = {}
        netname_bits = {}
        for net, info in module.get("netnames", {}).items():
            netname_bits[net] = info["bits"]
            for index, bit in enumerate(info["bits"]):
                if isinstance(bit, int):
                    names.setdefault(bit, []).append((net, index))
        result[name] = ModuleNetlist(name, ports, cells, names, netname_bits, driver, loads)
    return result


def instance_paths(modules: dict[str, ModuleNetlist], top: str) -> dict[tuple, str]:
    """Every module instance below ``top``: instance path -> module name (``()`` is the top)."""
    found = {}

    def visit(path: tuple, name: str):
        found[path] = name
        for cell in modules[name].instances(MODULE):
            visit(path + (cell.name,), cell.type)

    visit((), top)
    return found

"""Static timing analysis of a synthesized netlist: setup and hold against one ideal clock.

The analysis reads the Yosys JSON netlist the flow writes and the Liberty files it was mapped
to (the standard cells and the SRAM macros), and times every distinct module once:

* **Delay model**: every ``timing`` group of a cell is an arc; its delay and output slew are
  looked up in the NLDM tables (``cell_rise``/``cell_fall``, ``rise_transition``/
  ``fall_transition``) at the slew arriving at its input and the load on its output, by
  bilinear interpolation (extrapolation beyond the table's points). Rise and fall are not
  tracked separately: for setup a net's arrival and slew are the maximum over rise and fall and
  over its arcs, for hold the minimum (conservative either way).
* **Load** of a net = the Liberty capacitance of every pin it drives + a wire estimate of
  :data:`~dcom.synth.technology.WIRE_CAP_FF_PER_UM` x
  :data:`~dcom.synth.technology.WIRE_UM_PER_FANOUT` per pin (0.2 fF); a submodule's input
  counts with the load inside it (its pins and their wires); an output port of the module
  being timed counts as :attr:`Boundary.load_ff`.
* **Clock**: ideal, one period, no skew, arriving at every clock pin at time 0 with the slew
  :attr:`Boundary.slew_ps`. A flip-flop (or macro) output is launched by its ``rising_edge``
  arc (clock-to-Q); its data inputs are endpoints checked by ``setup_rising``/``hold_rising``.
* **Boundary** (:func:`boundary_conditions`): input ports arrive with the output slew of the
  library's smallest buffer driving a fan-out of four; output ports carry that fan-out of four.

Hierarchy is kept. A module is reduced to its boundary model once: port-to-port arcs (the
longest and shortest combinational delay from every input bit to every output bit it
reaches), per input bit the requirement of the registers it feeds (longest delay to a register
+ setup, shortest delay - hold), per output bit the arrival launched by its registers, and the
input capacitance of each input bit. In a parent, a submodule instance is a cell with those
arcs: its inputs are endpoints with the child's requirement, its outputs are startpoints with
the child's arrival. The child's internal delays are computed once, at the boundary slew and
load; the parent corrects the delay and slew of the arcs into each output to first order for
the load it really drives there.

Each module is a flat graph over its net bits (integer ids) with arcs in NumPy arrays; arcs
are levelized once and propagated a level at a time, so a module of a million cells takes
seconds. Combinational loops are found, reported, and cut (their arcs are not timed). The
method and its limits: ``docs/timing.md``.

Only the register-to-register paths are checked against the clock (``worst negative slack``,
``fmax``); the top module's own ports have no external timing, their delays are reported.
"""

from __future__ import annotations

import json
import math
import re
import time
from array import array
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dcom.report import Histogram, Table, write_report

from . import technology as tech
from .liberty_reader import LibertyCell, LibertyLibrary, LibertyTable
from .netlist import is_blackbox

if TYPE_CHECKING:
    from .flow import SynthesisResult

__all__ = ["TimingError", "Boundary", "boundary_conditions", "PathStep", "TimingPath",
           "ModuleTiming", "DesignTiming", "analyze", "analyze_netlist", "DEFAULT_PATHS",
           "BOUNDARY_FANOUT"]

#: Paths reported by default.
DEFAULT_PATHS = 10
#: Fan-out of the boundary's driver and of an output port's load.
BOUNDARY_FANOUT = 4
#: Wire capacitance per driven pin, fF.
WIRE_FF = tech.WIRE_CAP_FF_PER_UM * tech.WIRE_UM_PER_FANOUT

# Liberty table variables, as the engine uses them.
_SLEW, _LOAD = "input_net_transition", "total_output_net_capacitance"
_DATA_SLEW, _CLOCK_SLEW = "constrained_pin_transition", "related_pin_transition"
_INF = math.inf
# Kinds of arc: a cell's combinational arc, a cell's launch (clock to output), a submodule's
# port-to-port arc, a submodule's launch (its registers to an output).
_COMB, _LAUNCH, _CHILD_ARC, _CHILD_LAUNCH = 0, 1, 2, 3
# Per arc: its nodes, table kind (0 for a submodule's fixed arc), cell, tag (label id * 4 +
# arc kind), a submodule arc's bits (input << 32 | output), fixed delay and slew (largest,
# smallest), and how a submodule arc's delay and slew grow with its load (ps per fF) beyond
# the boundary load it was computed with.
_ARC_FIELDS = ("src", "dst", "kind", "cell", "tag", "aux", "dconst_max", "dconst_min",
               "sconst_max", "sconst_min", "load_slope", "slew_slope")
# Per endpoint: its node, setup and hold check kinds, cell, label (a cell pin's label id, or
# -1 - input bit of a submodule), and a submodule input's setup and hold requirement.
_END_FIELDS = ("node", "setup_kind", "hold_kind", "cell", "label", "setup_const",
               "hold_const")
# Net names Yosys makes up (``rename -enumerate``, ``$``-names of its passes).
_MADE_UP = re.compile(r"_\d+_|.*\$.*")


class TimingError(RuntimeError):
    """The design misses the clock (or cannot be timed); the message names the worst path."""


@dataclass(frozen=True)
class Boundary:
    """Slew and load at the ports of a module timed on its own, and at the clock pins.

    Attributes
    ----------
    driver : str
        The buffer whose fan-out-of-four output slew is used.
    slew_ps : float
        Slew of every input port and of the clock.
    load_ff : float
        Load on every output port: four of the driver's inputs with their wires.
    """

    driver: str
    slew_ps: float
    load_ff: float


def boundary_conditions(library: LibertyLibrary) -> Boundary:
    """The boundary of :func:`analyze_netlist`: the output slew of the library's smallest
    buffer driving four copies of itself (each with its wire), iterated until the slew at its
    input equals the slew at its output.

    A library without a buffer that has transition tables gets a zero slew and a load of four
    wires.
    """
    buffers = [library.cells[name] for name in library.buffer_cells()]
    for cell in buffers:
        out = cell.pins[cell.outputs[0]]
        tables = [t.tables[k] for t in out.timing for k in ("rise_transition", "fall_transition")
                  if k in t.tables]
        if not tables:
            continue
        load = BOUNDARY_FANOUT * (cell.pins[cell.inputs[0]].capacitance_ff + WIRE_FF)
        slew = 0.0
        for _ in range(20):
            slew = max(t.lookup(**{_SLEW: slew, _LOAD: load}) for t in tables)
        return Boundary(cell.name, slew, load)
    return Boundary(buffers[0].name if buffers else "", 0.0, BOUNDARY_FANOUT * WIRE_FF)


class _Tables:
    """Every lookup table in use, stacked into arrays for vectorized bilinear lookups.

    Table 0 is zero everywhere. Each table is a function of two variables (``x``, ``y``); an
    axis with one point is stored as two equal columns so every lookup has a segment.
    """

    def __init__(self):
        self._ids: dict = {}
        self._grids: list = []
        self.add(None, _SLEW, _LOAD)

    def add(self, table: LibertyTable | None, first: str, second: str) -> int:
        """Id of ``table`` as a function of ``first`` and ``second`` (0 for ``None``)."""
        if table is None:
            grid = ((0.0,), (0.0,), [[0.0]])
        else:
            grid = table.grid(first, second)
        key = (grid[0], grid[1], tuple(map(tuple, grid[2])))
        if key not in self._ids:
            self._ids[key] = len(self._grids)
            self._grids.append(grid)
        return self._ids[key]

    def freeze(self) -> None:
        """Build the arrays; call after the last :meth:`add`."""
        def widen(points, values, axis):
            if len(points) > 1:
                return list(points), values
            points = [points[0], points[0] + 1.0]
            if axis == 0:
                return points, [values[0], values[0]]
            return points, [[row[0], row[0]] for row in values]

        grids = []
        for xs, ys, rows in self._grids:
            xs, rows = widen(xs, rows, 0)
            ys, rows = widen(ys, rows, 1)
            grids.append((xs, ys, rows))
        nx = max(len(g[0]) for g in grids)
        ny = max(len(g[1]) for g in grids)
        k = len(grids)
        self.x = np.full((k, nx), np.inf)
        self.y = np.full((k, ny), np.inf)
        self.v = np.zeros((k, nx, ny))
        self.nx = np.array([len(g[0]) for g in grids])
        self.ny = np.array([len(g[1]) for g in grids])
        for t, (xs, ys, rows) in enumerate(grids):
            self.x[t, :len(xs)] = xs
            self.y[t, :len(ys)] = ys
            values = np.array(rows, dtype=float)
            self.v[t, :len(xs), :len(ys)] = values
        self.uniform = bool(np.all(self.nx == 2) and np.all(self.ny == 2))

    def lookup(self, ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values of tables ``ids`` at ``(x, y)``, bilinear inside, linear beyond the points."""
        if self.uniform:
            i = j = 0
        else:
            i = np.minimum((self.x[ids, 1:] <= x[:, None]).sum(1), self.nx[ids] - 2)
            j = np.minimum((self.y[ids, 1:] <= y[:, None]).sum(1), self.ny[ids] - 2)
        x0, x1 = self.x[ids, i], self.x[ids, i + 1]
        y0, y1 = self.y[ids, j], self.y[ids, j + 1]
        v00, v01 = self.v[ids, i, j], self.v[ids, i, j + 1]
        v10, v11 = self.v[ids, i + 1, j], self.v[ids, i + 1, j + 1]
        tx = (x - x0) / (x1 - x0)
        ty = (y - y0) / (y1 - y0)
        return v00 + (v10 - v00) * tx + (v01 - v00) * ty + (v11 - v10 - v01 + v00) * tx * ty


class _Kinds:
    """Arc kinds: per kind the ids of four tables, ``(rise, fall)`` delay or constraint and
    ``(rise, fall)`` transition. Kind 0 is all zero (a submodule's fixed arc)."""

    def __init__(self, tables: _Tables):
        self.tables = tables
        self._ids: dict = {}
        self.rows: list[tuple[int, int, int, int]] = []
        self._row((0, 0, 0, 0))

    def _row(self, row) -> int:
        if row not in self._ids:
            self._ids[row] = len(self.rows)
            self.rows.append(row)
        return self._ids[row]

    def delay(self, tables: dict[str, LibertyTable]) -> int:
        """Kind of a delay arc from its ``cell_*`` and ``*_transition`` tables."""
        def add(name):
            return self.tables.add(tables.get(name), _SLEW, _LOAD)
        rise, fall = add("cell_rise"), add("cell_fall")
        rise_slew, fall_slew = add("rise_transition"), add("fall_transition")
        # A table given for one edge only serves both.
        return self._row((rise or fall, fall or rise, rise_slew or fall_slew,
                          fall_slew or rise_slew))

    def check(self, tables: dict[str, LibertyTable]) -> int:
        """Kind of a setup or hold check from its ``*_constraint`` tables."""
        rise = self.tables.add(tables.get("rise_constraint"), _DATA_SLEW, _CLOCK_SLEW)
        fall = self.tables.add(tables.get("fall_constraint"), _DATA_SLEW, _CLOCK_SLEW)
        return self._row((rise or fall, fall or rise, 0, 0))

    def freeze(self) -> None:
        """Build the arrays; call after the last kind is added."""
        self.tables.freeze()
        self.ids = np.array(self.rows, dtype=np.int64)
        self.symmetric = bool(np.all(self.ids[:, 0] == self.ids[:, 1])
                              and np.all(self.ids[:, 2] == self.ids[:, 3]))

    def evaluate(self, kinds: np.ndarray, x: np.ndarray, y: np.ndarray, column: int,
                 worst) -> np.ndarray:
        """``worst`` (np.maximum or np.minimum) of the rise and fall tables in ``column``
        (0: delay or constraint, 2: transition)."""
        ids = self.ids[kinds]
        rise = self.tables.lookup(ids[:, column], x, y)
        if self.symmetric:
            return rise
        return worst(rise, self.tables.lookup(ids[:, column + 1], x, y))


@dataclass
class _CellPlan:
    """How one cell type enters a module's graph (pins as the netlist names them)."""

    caps: list[tuple[str, float]]
    arcs: list[tuple[str, str, int, int]]
    launches: list[tuple[str, str, int, int]]
    checks: list[tuple[str, int, int, int]]
    clocks: list[str]
    timed: bool
    flop: bool


def _cell_plan(cell: LibertyCell, kinds: _Kinds, labels: "_Labels") -> _CellPlan:
    arcs, launches, setups, holds, clocks = [], [], {}, {}, set(cell.clock_pins)
    for pin in cell.pins.values():
        for timing in pin.timing:
            kind = timing.timing_type
            for related in timing.related_pins:
                if related not in cell.pins:
                    continue
                if kind.startswith(("combinational", "three_state")):
                    arcs.append((related, pin.name, kinds.delay(timing.tables),
                                 labels.get(f"{related} -> {pin.name}")))
                elif kind in ("rising_edge", "falling_edge"):
                    launches.append((related, pin.name, kinds.delay(timing.tables),
                                     labels.get(f"{related} -> {pin.name}")))
                    clocks.add(related)
                elif kind.startswith("setup_"):
                    setups[pin.name, related] = kinds.check(timing.tables)
                    clocks.add(related)
                elif kind.startswith("hold_"):
                    holds[pin.name, related] = kinds.check(timing.tables)
                    clocks.add(related)
    checks = [(data, setups.get((data, clock), 0), holds.get((data, clock), 0),
               labels.get(data)) for data, clock in dict.fromkeys(list(setups) + list(holds))]
    caps = [(p.name, p.capacitance_ff + WIRE_FF) for p in cell.pins.values()
            if p.direction == "input"]
    timed = bool(arcs or launches or not cell.outputs or not cell.inputs)
    return _CellPlan(caps, arcs, launches, checks, sorted(clocks), timed, cell.sequential)


class _Labels:
    """Interned text labels (pin pairs), referenced by id from the arc arrays."""

    def __init__(self):
        self.text: list[str] = []
        self._ids: dict[str, int] = {}

    def get(self, text: str) -> int:
        if text not in self._ids:
            self._ids[text] = len(self.text)
            self.text.append(text)
        return self._ids[text]


@dataclass(frozen=True)
class PathStep:
    """One arc of a timing path.

    Attributes
    ----------
    instance : str
        Hierarchical instance name (``/`` between levels).
    cell : str
        Cell (or macro) type.
    pins : str
        ``from -> to`` pins of the arc.
    net : str
        Hierarchical name of the net the arc drives.
    delay_ps, slew_ps, arrival_ps : float
        The arc's delay, the slew at its output and the arrival there since the clock edge.
    """

    instance: str
    cell: str
    pins: str
    net: str
    delay_ps: float
    slew_ps: float
    arrival_ps: float

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"instance": self.instance, "cell": self.cell, "pins": self.pins,
                "net": self.net, "delay_ps": self.delay_ps, "slew_ps": self.slew_ps,
                "arrival_ps": self.arrival_ps}


@dataclass(frozen=True)
class TimingPath:
    """A register-to-register path: its steps, the endpoint's setup time and the slack.

    Attributes
    ----------
    module : str
        The module whose analysis found it (the path lies in every instance of it).
    instances : int
        How many instances of that module the design has.
    startpoint, endpoint : str
        The register (or macro) that launches the path, and the one whose data pin it ends
        at, with the pin; each with the net its output drives, in parentheses.
    steps : list of PathStep
    setup_ps : float
        The endpoint's setup time.
    slack_ps : float
        ``period - (arrival + setup)``.
    """

    module: str
    instances: int
    startpoint: str
    endpoint: str
    steps: list[PathStep]
    setup_ps: float
    slack_ps: float

    @property
    def arrival_ps(self) -> float:
        """Arrival at the endpoint."""
        return self.steps[-1].arrival_ps if self.steps else 0.0

    @property
    def cells(self) -> int:
        """Cells on the path, the launching register included."""
        return len(self.steps)

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"module": self.module, "instances": self.instances,
                "startpoint": self.startpoint, "endpoint": self.endpoint,
                "arrival_ps": self.arrival_ps, "setup_ps": self.setup_ps,
                "slack_ps": self.slack_ps, "cells": self.cells,
                "steps": [s.to_dict() for s in self.steps]}


@dataclass(frozen=True)
class ModuleTiming:
    """Timing of one distinct module, its submodules composed in.

    Attributes
    ----------
    name : str
    instances : int
        How often the module occurs below the top.
    cells : int
        Cells of the module itself (submodule instances count as one).
    arcs, levels, endpoints : int
        Size of its timing graph: arcs, logic levels (arcs on the deepest chain),
        register endpoints.
    register_path_ps : float or None
        Longest register-to-register path plus setup, inside the module or any submodule
        instance (None when it has none).
    hold_slack_ps : float or None
        Worst hold slack of those paths.
    input_to_register_ps, register_to_output_ps, input_to_output_ps : float or None
        The boundary: longest input-to-register delay plus setup, register-to-output
        arrival and port-to-port delay.
    loops : list of str
        Combinational loops found (and cut).
    seconds : float
        Time to build and analyse the module's graph.
    """

    name: str
    instances: int
    cells: int
    arcs: int
    levels: int
    endpoints: int
    register_path_ps: float | None
    hold_slack_ps: float | None
    input_to_register_ps: float | None
    register_to_output_ps: float | None
    input_to_output_ps: float | None
    loops: list[str]
    seconds: float

    @property
    def fmax_mhz(self) -> float | None:
        """``1 / (register-to-register path + setup)``; None without such a path."""
        return 1e6 / self.register_path_ps if self.register_path_ps else None

    @property
    def standalone_fmax_mhz(self) -> float | None:
        """fmax of the module on its own, its ports taken as registers: 1 / its longest path
        of any kind (register to register + setup, input to register + setup, register to
        output, input to output). Defined for a purely combinational module too."""
        paths = [p for p in (self.register_path_ps, self.input_to_register_ps,
                             self.register_to_output_ps, self.input_to_output_ps)
                 if p is not None]
        return 1e6 / max(paths) if paths else None

    def slack_ps(self, clock_mhz: float) -> float | None:
        """Worst setup slack at ``clock_mhz``."""
        if self.register_path_ps is None:
            return None
        return 1e6 / clock_mhz - self.register_path_ps

    def to_dict(self, clock_mhz: float) -> dict:
        """Plain-data form for JSON reports."""
        return {"instances": self.instances, "cells": self.cells, "arcs": self.arcs,
                "levels": self.levels, "endpoints": self.endpoints,
                "register_path_ps": self.register_path_ps, "fmax_mhz": self.fmax_mhz,
                "standalone_fmax_mhz": self.standalone_fmax_mhz,
                "slack_ps": self.slack_ps(clock_mhz), "hold_slack_ps": self.hold_slack_ps,
                "input_to_register_ps": self.input_to_register_ps,
                "register_to_output_ps": self.register_to_output_ps,
                "input_to_output_ps": self.input_to_output_ps, "loops": self.loops,
                "seconds": self.seconds}


def _finite_max(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else None


def _finite_min(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.min()) if values.size else None


def _reduce_groups(keys: np.ndarray) -> np.ndarray:
    """Start index of every run of equal values in ``keys``."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(keys[1:] != keys[:-1]) + 1))


class _Module:
    """The timing graph of one module and its analysis (see the module docstring).

    Nodes are the module's net bits plus one clock node; arcs are NumPy arrays sorted by the
    level of their destination, then by destination.
    """

    def __init__(self, name: str, data: dict, plans: dict[str, _CellPlan],
                 children: dict[str, "_Module"], kinds: _Kinds, labels: _Labels,
                 boundary: Boundary):
        start = time.monotonic()
        self.name, self.kinds, self.labels, self.boundary = name, kinds, labels, boundary
        # The netlist and the cell plans stay referenced for naming reported paths.
        self.data, self.plans, self._names = data, plans, None
        self.children = children
        self.loops: list[str] = []
        self.unknown: dict[str, int] = {}
        self._build(data, plans)
        types = set(self.cell_types)
        self.below = [c for child, c in children.items() if child in types]
        self._levelize()
        self._forward()
        self._backward()
        self._port_arcs()
        self.seconds = time.monotonic() - start

    # ---- graph construction ------------------------------------------------------------

    def _build(self, data: dict, plans: dict[str, _CellPlan]) -> None:
        """Arcs, endpoints and loads of the module's cells and submodule instances."""
        cells = data.get("cells", {})
        self.cell_names = list(cells)
        self.cell_types = [c["type"] for c in cells.values()]
        # Cell arcs and endpoints grow in compact arrays; submodule instances add NumPy
        # blocks (dicts of the fields of _ARC_FIELDS and _END_FIELDS).
        arcs = {name: array("q") for name in ("src", "dst", "kind", "cell", "tag")}
        ends = {name: array("q") for name in ("node", "setup_kind", "hold_kind", "cell",
                                              "label")}
        loads = (array("q"), array("d"))
        clock_nodes = array("q")
        blocks: list[dict] = []
        end_blocks: list[dict] = []
        for index, cell in enumerate(cells.values()):
            ctype = cell["type"]
            conn = cell["connections"]
            plan = plans.get(ctype)
            if plan is None:
                child = self.children.get(ctype)
                if child is None:
                    self.unknown[ctype] = self.unknown.get(ctype, 0) + 1
                else:
                    self._instance(index, child, conn, blocks, end_blocks, loads, clock_nodes)
                continue
            for pin, cap in plan.caps:
                for bit in conn.get(pin, ()):
                    if bit.__class__ is int:
                        loads[0].append(bit)
                        loads[1].append(cap)
            for pin in plan.clocks:
                for bit in conn.get(pin, ()):
                    if bit.__class__ is int:
                        clock_nodes.append(bit)
            for group, arc_kind in ((plan.arcs, _COMB), (plan.launches, _LAUNCH)):
                for pin_in, pin_out, k, lab in group:
                    # A launch starts at the clock node (-1 until it has a number).
                    for s in (conn.get(pin_in, ()) if arc_kind == _COMB else (-1,)):
                        if s.__class__ is not int:
                            continue
                        for d in conn.get(pin_out, ()):
                            if d.__class__ is int:
                                arcs["src"].append(s)
                                arcs["dst"].append(d)
                                arcs["kind"].append(k)
                                arcs["cell"].append(index)
                                arcs["tag"].append(lab * 4 + arc_kind)
            for pin, setup, hold, lab in plan.checks:
                for bit in conn.get(pin, ()):
                    if bit.__class__ is int:
                        for name, value in (("node", bit), ("setup_kind", setup),
                                            ("hold_kind", hold), ("cell", index),
                                            ("label", lab)):
                            ends[name].append(value)
        self._ports(data.get("ports", {}))
        self._arrays(arcs, blocks, ends, end_blocks, loads, clock_nodes)

    def _ports(self, ports: dict) -> None:
        self.inputs = [(p, i, b) for p, v in ports.items() if v["direction"] == "input"
                       for i, b in enumerate(v["bits"])]
        self.outputs = [(p, i, b) for p, v in ports.items() if v["direction"] == "output"
                        for i, b in enumerate(v["bits"])]
        self.in_ports = [(p, len(v["bits"])) for p, v in ports.items()
                         if v["direction"] == "input"]
        self.out_ports = [(p, len(v["bits"])) for p, v in ports.items()
                          if v["direction"] == "output"]

    def _arrays(self, arcs, blocks, ends, end_blocks, loads, clock_nodes) -> None:
        """The module's NumPy arrays: arcs (cell arcs first), endpoints, loads, clock nets."""
        n_cells = len(arcs["src"])
        for name in _ARC_FIELDS:
            cells = arcs.get(name)
            values = (np.frombuffer(cells, dtype=np.int64) if cells is not None
                      else np.full(n_cells, -1 if name == "aux" else 0,
                                   dtype=np.int64 if name == "aux" else float))
            setattr(self, name, np.concatenate([values] + [b[name] for b in blocks]))
        n_ends = len(ends["node"])
        for name in _END_FIELDS:
            cells = ends.get(name)
            values = (np.frombuffer(cells, dtype=np.int64) if cells is not None
                      else np.zeros(n_ends))
            setattr(self, "e_" + name, np.concatenate([values] + [b[name] for b in end_blocks]))
        load_nodes = np.frombuffer(loads[0], dtype=np.int64)
        clocks = np.frombuffer(clock_nodes, dtype=np.int64)
        self.in_bits, self.out_bits = (
            np.array([b if b.__class__ is int else -1 for _, _, b in ports], dtype=np.int64)
            for ports in (self.inputs, self.outputs))
        # Nodes are the net bits in use, numbered densely (Yosys numbers them densely
        # already; a netlist from elsewhere may not), then the clock node.
        every = [self.src, self.dst, self.e_node, load_nodes, clocks, self.in_bits,
                 self.out_bits]
        self.bit_of = np.unique(np.concatenate(every))
        self.bit_of = self.bit_of[self.bit_of >= 0]
        self.clock = self.bit_of.size
        self.n = self.clock + 1

        def dense(bits):
            return np.where(bits >= 0, np.searchsorted(self.bit_of, bits), self.clock)

        self.src, self.dst, self.e_node = dense(self.src), dense(self.dst), dense(self.e_node)
        self.in_nodes = np.where(self.in_bits >= 0, dense(self.in_bits), -1)
        self.out_nodes = np.where(self.out_bits >= 0, dense(self.out_bits), -1)
        self.pin_load = np.bincount(dense(load_nodes), weights=np.frombuffer(loads[1]),
                                    minlength=self.n)
        self.load = self.pin_load.copy()
        np.add.at(self.load, self.out_nodes[self.out_nodes >= 0], self.boundary.load_ff)
        self.clock_net = np.zeros(self.n, dtype=bool)
        self.clock_net[dense(clocks)] = True

    def _instance(self, index: int, child: "_Module", conn: dict, blocks: list,
                  end_blocks: list, loads: tuple, clock_nodes: array) -> None:
        """Add a submodule instance: its input loads, arcs, launches and endpoints."""
        def nodes(ports):
            return np.array([b if b.__class__ is int else -1
                             for p, w in ports for b in conn.get(p, ["x"] * w)],
                            dtype=np.int64)

        ins, outs = nodes(child.in_ports), nodes(child.out_ports)
        used = ins >= 0
        loads[0].extend(ins[used].tolist())
        loads[1].extend(child.in_cap[used].tolist())
        clock_nodes.extend(ins[used & child.in_clock].tolist())

        def block(src, o, tag, aux, dmax, dmin):
            return {"src": src, "dst": outs[o], "kind": np.zeros(o.size, dtype=np.int64),
                    "cell": np.full(o.size, index), "tag": np.full(o.size, tag),
                    "aux": aux, "dconst_max": dmax, "dconst_min": dmin,
                    "sconst_max": child.out_slew_max[o], "sconst_min": child.out_slew_min[o],
                    "load_slope": child.out_load_slope[o],
                    "slew_slope": child.out_slew_slope[o]}

        s, d = ins[child.arc_in], outs[child.arc_out]
        ok = (s >= 0) & (d >= 0)
        if ok.any():
            o = child.arc_out[ok]
            blocks.append(block(s[ok], o, _CHILD_ARC, child.arc_in[ok] * (1 << 32) + o,
                                child.arc_dmax[ok], child.arc_dmin[ok]))
        o = np.flatnonzero((outs >= 0) & np.isfinite(child.out_arr_max))
        if o.size:
            blocks.append(block(np.full(o.size, -1), o, _CHILD_LAUNCH, o,
                                child.out_arr_max[o], child.out_arr_min[o]))
        i = np.flatnonzero(used & np.isfinite(child.in_setup) & ~child.in_clock)
        if i.size:
            end_blocks.append({"node": ins[i], "setup_kind": np.zeros(i.size, dtype=np.int64),
                               "hold_kind": np.zeros(i.size, dtype=np.int64),
                               "cell": np.full(i.size, index), "label": -1 - i,
                               "setup_const": child.in_setup[i],
                               "hold_const": child.in_hold[i]})

    # ---- levelization ------------------------------------------------------------------

    def _kahn(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longest-path level of every node, and the nodes left on or behind a loop."""
        n = self.n
        order = np.argsort(src, kind="stable")
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=offsets[1:])
        remaining = np.bincount(dst, minlength=n)
        level = np.zeros(n, dtype=np.int64)
        frontier = np.flatnonzero(remaining == 0)
        depth = 0
        while frontier.size:
            starts = offsets[frontier]
            counts = offsets[frontier + 1] - starts
            total = int(counts.sum())
            if total == 0:
                break
            first = np.repeat(starts - np.cumsum(counts) + counts, counts)
            reached = dst[order[first + np.arange(total)]]
            nodes, hits = np.unique(reached, return_counts=True)
            remaining[nodes] -= hits
            depth += 1
            frontier = nodes[remaining[nodes] == 0]
            level[frontier] = depth
        return level, remaining > 0

    def _levelize(self) -> None:
        level, stuck = self._kahn(self.src, self.dst)
        if stuck.any():
            component = self._loops(stuck)
            cut = (component[self.src] >= 0) & (component[self.src] == component[self.dst])
            self._keep(~cut)
            level, stuck = self._kahn(self.src, self.dst)
        order = np.lexsort((self.dst, level[self.dst]))
        self._keep(order)
        lv = level[self.dst]
        self.depth = int(lv.max()) if lv.size else 0
        bounds = np.searchsorted(lv, np.arange(1, self.depth + 2))
        # A node has one level, so every level starts a run of equal destinations.
        groups = _reduce_groups(self.dst)
        cuts = np.searchsorted(groups, bounds)
        self.levels = []
        for lo, hi, g_lo, g_hi in zip(bounds[:-1], bounds[1:], cuts[:-1], cuts[1:]):
            g = groups[g_lo:g_hi] - lo
            self.levels.append((int(lo), int(hi), g, self.dst[lo + g]))

    def _keep(self, selection: np.ndarray) -> None:
        for name in _ARC_FIELDS:
            setattr(self, name, getattr(self, name)[selection])

    def _loops(self, stuck: np.ndarray) -> np.ndarray:
        """Strongly connected components among the nodes Kahn could not order (iterative
        Tarjan); records every loop in :attr:`loops`. Returns the component of each node in
        a loop, -1 elsewhere."""
        inside = stuck[self.src] & stuck[self.dst]
        src, dst, cells = self.src[inside], self.dst[inside], self.cell[inside]
        order = np.argsort(src, kind="stable")
        src, dst, cells = src[order], dst[order], cells[order]
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=self.n), out=offsets[1:])
        succ, off = dst.tolist(), offsets.tolist()
        index = {}
        low = {}
        on_stack = set()
        stack: list[int] = []
        component = np.full(self.n, -1, dtype=np.int64)
        found = 0
        for root in np.flatnonzero(stuck).tolist():
            if root in index:
                continue
            work = [(root, off[root])]
            index[root] = low[root] = len(index)
            stack.append(root)
            on_stack.add(root)
            while work:
                node, edge = work[-1]
                if edge < off[node + 1]:
                    work[-1] = (node, edge + 1)
                    nxt = succ[edge]
                    if nxt not in index:
                        index[nxt] = low[nxt] = len(index)
                        stack.append(nxt)
                        on_stack.add(nxt)
                        work.append((nxt, off[nxt]))
                    elif nxt in on_stack:
                        low[node] = min(low[node], index[nxt])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    self_loop = len(members) == 1 and node in succ[off[node]:off[node + 1]]
                    if len(members) > 1 or self_loop:
                        component[members] = found
                        found += 1
                        self._record_loop(members, src, dst, cells)
        return component

    def _record_loop(self, members, src, dst, cells) -> None:
        nodes = np.array(members)
        on = np.isin(src, nodes) & np.isin(dst, nodes)
        names = sorted({self.cell_names[c] for c in cells[on].tolist()})
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        self.loops.append(f"combinational loop in {self.name} through {len(names)} cell(s): "
                          f"{shown}; its arcs are cut, paths around it are not timed")

    # ---- propagation -------------------------------------------------------------------

    def _forward(self) -> None:
        """Slews, arc delays and register-launched arrivals, a level at a time."""
        n, kinds = self.n, self.kinds
        slew = self.boundary.slew_ps
        self.slew_max = np.full(n, slew)
        self.slew_min = np.full(n, slew)
        self.arr_max = np.full(n, -_INF)
        self.arr_min = np.full(n, _INF)
        self.arr_max[self.clock] = self.arr_min[self.clock] = 0.0
        self.pred = np.full(n, -1, dtype=np.int64)
        self.delay_max = np.zeros(len(self.src))
        self.delay_min = np.zeros(len(self.src))
        for lo, hi, g, nodes in self.levels:
            s, k = self.src[lo:hi], self.kind[lo:hi]
            y = self.load[self.dst[lo:hi]]
            x_max, x_min = self.slew_max[s], self.slew_min[s]
            extra = y - self.boundary.load_ff
            d_fix = self.load_slope[lo:hi] * extra
            s_fix = self.slew_slope[lo:hi] * extra
            d_max = self.dconst_max[lo:hi] + d_fix + kinds.evaluate(k, x_max, y, 0, np.maximum)
            d_min = self.dconst_min[lo:hi] + d_fix + kinds.evaluate(k, x_min, y, 0, np.minimum)
            self.delay_max[lo:hi], self.delay_min[lo:hi] = d_max, d_min
            self.slew_max[nodes] = np.maximum.reduceat(
                self.sconst_max[lo:hi] + s_fix + kinds.evaluate(k, x_max, y, 2, np.maximum), g)
            self.slew_min[nodes] = np.minimum.reduceat(
                self.sconst_min[lo:hi] + s_fix + kinds.evaluate(k, x_min, y, 2, np.minimum), g)
            candidate = self.arr_max[s] + d_max
            best = np.maximum.reduceat(candidate, g)
            self.arr_max[nodes] = best
            group = np.repeat(np.arange(g.size), np.diff(np.append(g, hi - lo)))
            winner = np.where(candidate >= best[group], np.arange(lo, hi), -1)
            self.pred[nodes] = np.maximum.reduceat(winner, g)
            self.arr_min[nodes] = np.minimum.reduceat(self.arr_min[s] + d_min, g)
        self._endpoints()

    def _endpoints(self) -> None:
        e, kinds = self.e_node, self.kinds
        clock = np.full(e.size, self.boundary.slew_ps)
        self.e_setup = self.e_setup_const + kinds.evaluate(
            self.e_setup_kind, self.slew_max[e], clock, 0, np.maximum)
        self.e_hold = self.e_hold_const + kinds.evaluate(
            self.e_hold_kind, self.slew_min[e], clock, 0, np.maximum)
        self.e_path = self.arr_max[e] + self.e_setup
        self.e_hold_slack = self.arr_min[e] - self.e_hold

    def _backward(self) -> None:
        """Per node, the longest delay to a register plus its setup, and the shortest delay
        to a register minus its hold (for the boundary of input ports)."""
        self.req_max = np.full(self.n, -_INF)
        self.req_min = np.full(self.n, _INF)
        np.maximum.at(self.req_max, self.e_node, self.e_setup)
        np.minimum.at(self.req_min, self.e_node, -self.e_hold)
        for lo, hi, _, _ in reversed(self.levels):
            s, d = self.src[lo:hi], self.dst[lo:hi]
            np.maximum.at(self.req_max, s, self.delay_max[lo:hi] + self.req_max[d])
            np.minimum.at(self.req_min, s, self.delay_min[lo:hi] + self.req_min[d])

    def _fixed_forward(self, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longest arrival from ``sources`` (at 0) over the arc delays of the analysis, and
        the winning arc into each node."""
        arr = np.full(self.n, -_INF)
        arr[sources] = 0.0
        pred = np.full(self.n, -1, dtype=np.int64)
        for lo, hi, g, nodes in self.levels:
            candidate = arr[self.src[lo:hi]] + self.delay_max[lo:hi]
            best = np.maximum.reduceat(candidate, g)
            arr[nodes] = best
            group = np.repeat(np.arange(g.size), np.diff(np.append(g, hi - lo)))
            winner = np.where((candidate == best[group]) & np.isfinite(candidate),
                              np.arange(lo, hi), -1)
            pred[nodes] = np.maximum.reduceat(winner, g)
        return arr, pred

    def _port_arcs(self) -> None:
        """The boundary model: port-to-port arcs, input requirements, output arrivals."""
        in_nodes, out_nodes = self.in_nodes, self.out_nodes
        safe_in = np.where(in_nodes >= 0, in_nodes, self.clock)
        safe_out = np.where(out_nodes >= 0, out_nodes, self.clock)
        valid_in, valid_out = in_nodes >= 0, out_nodes >= 0
        self.in_cap = np.where(valid_in, self.pin_load[safe_in], 0.0)
        self.in_clock = valid_in & self.clock_net[safe_in]
        self.in_setup = np.where(valid_in, self.req_max[safe_in], -_INF)
        self.in_hold = np.where(valid_in, -self.req_min[safe_in], -_INF)
        self.out_arr_max = np.where(valid_out, self.arr_max[safe_out], -_INF)
        self.out_arr_min = np.where(valid_out, self.arr_min[safe_out], _INF)
        self.out_slew_max = np.where(valid_out, self.slew_max[safe_out], self.boundary.slew_ps)
        self.out_slew_min = np.where(valid_out, self.slew_min[safe_out], self.boundary.slew_ps)
        self.out_load_slope, self.out_slew_slope = self._load_slopes(safe_out, valid_out)

        # Reachability: forward from the data inputs, backward from the outputs.
        data_in = np.flatnonzero(valid_in & ~self.in_clock)
        ahead = np.zeros(self.n, dtype=bool)
        ahead[in_nodes[data_in]] = True
        for lo, hi, g, nodes in self.levels:
            ahead[nodes] |= np.logical_or.reduceat(ahead[self.src[lo:hi]], g)
        behind = np.zeros(self.n, dtype=bool)
        behind[out_nodes[valid_out]] = True
        for lo, hi, _, _ in reversed(self.levels):
            np.logical_or.at(behind, self.src[lo:hi], behind[self.dst[lo:hi]])
        transit = ahead & behind
        sources = data_in[transit[in_nodes[data_in]]]
        sinks = np.flatnonzero(valid_out & transit[safe_out])
        arcs_in, arcs_out, dmax, dmin = [], [], [], []
        if sources.size and sinks.size:
            keep = transit[self.src] & transit[self.dst]
            local = np.full(self.n, -1, dtype=np.int64)
            members = np.flatnonzero(transit)
            local[members] = np.arange(members.size)
            plan = []
            for lo, hi, _, _ in self.levels:
                idx = np.arange(lo, hi)[keep[lo:hi]]
                if idx.size:
                    g = _reduce_groups(self.dst[idx])
                    plan.append((local[self.src[idx]], local[self.dst[idx[g]]], g,
                                 self.delay_max[idx], self.delay_min[idx]))
            chunk = max(1, min(sources.size, (1 << 22) // members.size))
            for first in range(0, sources.size, chunk):
                block = sources[first:first + chunk]
                results = []
                # One column per input bit: its longest (then shortest) arrival at each node.
                for worst, fill, longest in ((np.maximum, -_INF, True),
                                             (np.minimum, _INF, False)):
                    m = np.full((members.size, block.size), fill)
                    m[local[in_nodes[block]], np.arange(block.size)] = 0.0
                    for s, d, g, d_max, d_min in plan:
                        delays = (d_max if longest else d_min)[:, None]
                        m[d] = worst(m[d], worst.reduceat(m[s] + delays, g, axis=0))
                    results.append(m[local[out_nodes[sinks]]])
                o, i = np.nonzero(np.isfinite(results[0]))
                arcs_in.append(block[i])
                arcs_out.append(sinks[o])
                dmax.append(results[0][o, i])
                dmin.append(results[1][o, i])
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        self.arc_in = np.concatenate(arcs_in) if arcs_in else empty_i
        self.arc_out = np.concatenate(arcs_out) if arcs_out else empty_i
        self.arc_dmax = np.concatenate(dmax) if dmax else empty_f
        self.arc_dmin = np.concatenate(dmin) if dmin else empty_f

    def _load_slopes(self, nodes: np.ndarray, valid: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """How the delay and the slew of the arcs driving ``nodes`` grow with their load (ps
        per fF, the largest over the arcs), at the slews and loads of this analysis."""
        into = np.flatnonzero(np.isin(self.dst, nodes[valid]))
        step = 1e-3
        k, y = self.kind[into], self.load[self.dst[into]]
        x = self.slew_max[self.src[into]]
        slopes = []
        for column, fixed in ((0, self.load_slope), (2, self.slew_slope)):
            low = self.kinds.evaluate(k, x, y, column, np.maximum)
            high = self.kinds.evaluate(k, x, y + step, column, np.maximum)
            per_node = np.zeros(self.n)
            np.maximum.at(per_node, self.dst[into], (high - low) / step + fixed[into])
            slopes.append(np.where(valid, per_node[nodes], 0.0))
        return slopes[0], slopes[1]

    # ---- results -----------------------------------------------------------------------

    def register_path_ps(self) -> float | None:
        """Longest register-to-register path plus setup, submodules included."""
        values = [v for v in [_finite_max(self.e_path)] +
                  [c.register_path_ps() for c in self._instanced_children()] if v is not None]
        return max(values) if values else None

    def hold_slack_ps(self) -> float | None:
        """Worst hold slack, submodules included."""
        own = self.e_hold_slack[np.isfinite(self.arr_min[self.e_node])]
        values = [v for v in [_finite_min(own)] +
                  [c.hold_slack_ps() for c in self._instanced_children()] if v is not None]
        return min(values) if values else None

    def _instanced_children(self) -> list["_Module"]:
        return self.below

    def summary(self, instances: int) -> ModuleTiming:
        """The module's :class:`ModuleTiming`."""
        return ModuleTiming(
            name=self.name, instances=instances, cells=len(self.cell_names),
            arcs=len(self.src), levels=self.depth, endpoints=len(self.e_node),
            register_path_ps=self.register_path_ps(), hold_slack_ps=self.hold_slack_ps(),
            input_to_register_ps=_finite_max(self.in_setup[~self.in_clock]),
            register_to_output_ps=_finite_max(self.out_arr_max),
            input_to_output_ps=_finite_max(self.arc_dmax), loops=list(self.loops),
            seconds=self.seconds)

    # ---- paths -------------------------------------------------------------------------

    def _arc_steps(self, arcs: list[int], prefix: str, offset: float, arrival: np.ndarray,
                   slews: np.ndarray) -> list[PathStep]:
        """Path steps of ``arcs`` (a chain from the clock or an input), submodule arcs
        expanded into the submodule's own cells."""
        steps = []
        for a in arcs:
            cell = int(self.cell[a])
            name, ctype = prefix + self.cell_names[cell], self.cell_types[cell]
            lab, arc_kind = divmod(int(self.tag[a]), 4)
            at = offset + float(arrival[self.dst[a]])
            if arc_kind in (_CHILD_ARC, _CHILD_LAUNCH):
                child = self.children[ctype]
                aux = int(self.aux[a])
                out = aux & ((1 << 32) - 1)
                if arc_kind == _CHILD_LAUNCH:
                    inner = child.launch_steps(int(child.out_nodes[out]), name + "/")
                else:
                    start = offset + float(arrival[self.src[a]])
                    inner = child.input_steps(aux >> 32, name + "/", start,
                                              target=int(child.out_nodes[out]))
                if inner:
                    # The last cell drives this module's load, not the boundary load.
                    last = inner[-1]
                    inner[-1] = replace(last, delay_ps=last.delay_ps + at - last.arrival_ps,
                                        slew_ps=float(slews[self.dst[a]]), arrival_ps=at)
                steps += inner
                continue
            steps.append(PathStep(name, ctype, self.labels.text[lab],
                                  prefix + self.net_name(int(self.bit_of[self.dst[a]])),
                                  float(self.delay_max[a]), float(slews[self.dst[a]]), at))
        return steps

    @staticmethod
    def _chain(pred: np.ndarray, src: np.ndarray, node: int) -> list[int]:
        arcs = []
        while pred[node] >= 0:
            a = int(pred[node])
            arcs.append(a)
            node = int(src[a])
        return arcs[::-1]

    def net_name(self, bit: int) -> str:
        """The most readable name of net ``bit``: a name from the design rather than one
        Yosys made up (``_123_``), the shortest of them."""
        if self._names is None:
            best: dict[int, tuple] = {}
            for name, info in self.data.get("netnames", {}).items():
                made_up = bool(info.get("hide_name")) or _MADE_UP.fullmatch(name) is not None
                bits = info["bits"]
                for i, each in enumerate(bits):
                    if each.__class__ is int:
                        text = f"{name}[{i}]" if len(bits) > 1 else name
                        key = (made_up, len(text), text)
                        if each not in best or key < best[each]:
                            best[each] = key
            self._names = {each: key[2] for each, key in best.items()}
        return self._names.get(bit, f"net {bit}")

    def launch_steps(self, node: int, prefix: str) -> list[PathStep]:
        """Steps of the register-launched path that ends at ``node``."""
        return self._arc_steps(self._chain(self.pred, self.src, node), prefix, 0.0,
                               self.arr_max, self.slew_max)

    def input_steps(self, index: int, prefix: str, offset: float,
                    target: int | None = None) -> list[PathStep]:
        """Steps of the longest path from input bit ``index`` to ``target``, or (without a
        target) to the register that gives the input's requirement, arriving at ``offset``."""
        arr, pred = self._fixed_forward(np.array([self.in_nodes[index]]))
        if target is not None:
            return self._arc_steps(self._chain(pred, self.src, target), prefix, offset, arr,
                                   self.slew_max)
        end = self._required_by(arr)
        steps = self._arc_steps(self._chain(pred, self.src, int(self.e_node[end])), prefix,
                                offset, arr, self.slew_max)
        return steps + self.endpoint_tail(end, prefix, offset + float(arr[self.e_node[end]]))

    def _required_by(self, arrival: np.ndarray) -> int:
        """The endpoint whose arrival (from one input, :meth:`_fixed_forward`) plus setup is
        the longest: the register behind the input's requirement."""
        reached = np.isfinite(arrival[self.e_node])
        return int(np.argmax(np.where(reached, arrival[self.e_node] + self.e_setup, -_INF)))

    def endpoint_tail(self, end: int, prefix: str, arrival: float) -> list[PathStep]:
        """Steps inside a submodule when endpoint ``end`` is one of its inputs."""
        label = int(self.e_label[end])
        if label >= 0:
            return []
        cell = int(self.e_cell[end])
        child = self.children[self.cell_types[cell]]
        return child.input_steps(-1 - label, prefix + self.cell_names[cell] + "/", arrival)

    def endpoint_name(self, end: int, prefix: str) -> tuple[str, float]:
        """The register pin where endpoint ``end`` ends, and its setup time."""
        cell = int(self.e_cell[end])
        name = prefix + self.cell_names[cell]
        label = int(self.e_label[end])
        if label >= 0:
            text = f"{name} {self.labels.text[label]}"
            plan = self.plans[self.cell_types[cell]]
            # A flip-flop is named after the net its output drives.
            bits = self.data["cells"][self.cell_names[cell]]["connections"].get(
                plan.launches[0][1], []) if plan.flop and plan.launches else []
            if bits and bits[0].__class__ is int:
                text += f" ({prefix}{self.net_name(bits[0])})"
            return text, float(self.e_setup[end])
        child = self.children[self.cell_types[cell]]
        arrival, _ = child._fixed_forward(np.array([child.in_nodes[-1 - label]]))
        return child.endpoint_name(child._required_by(arrival), name + "/")

    def path(self, end: int, prefix: str, period: float, instances: int) -> TimingPath:
        """The worst path into endpoint ``end``."""
        steps = self.launch_steps(int(self.e_node[end]), prefix)
        steps += self.endpoint_tail(end, prefix, float(self.arr_max[self.e_node[end]]))
        endpoint, setup = self.endpoint_name(end, prefix)
        start = f"{steps[0].instance} ({steps[0].net})" if steps else "?"
        arrival = steps[-1].arrival_ps if steps else 0.0
        return TimingPath(self.name, instances, start, endpoint, steps, setup,
                          period - arrival - setup)


@dataclass
class DesignTiming:
    """The timing of a synthesized design at one clock.

    Attributes
    ----------
    top : str
    clock_mhz : float
    boundary : Boundary
    modules : dict
        Module name -> :class:`ModuleTiming`, submodules composed in, for every distinct
        module below the top.
    paths : list of TimingPath
        The worst register-to-register paths, worst first, one per startpoint and endpoint.
    slack_values, slack_weights : numpy.ndarray
        Setup slack of every register endpoint of every distinct module, and how many
        instances of it the design has (for the histogram).
    warnings : list of str
    read_seconds, seconds : float
        Time to read the netlist and the libraries, and the whole analysis.
    """

    top: str
    clock_mhz: float
    boundary: Boundary
    modules: dict[str, ModuleTiming]
    paths: list[TimingPath]
    slack_values: np.ndarray
    slack_weights: np.ndarray
    warnings: list[str] = field(default_factory=list)
    read_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def period_ps(self) -> float:
        """The clock period."""
        return 1e6 / self.clock_mhz

    @property
    def register_path_ps(self) -> float | None:
        """Longest register-to-register path plus setup in the design."""
        return self.modules[self.top].register_path_ps

    @property
    def wns_ps(self) -> float | None:
        """Worst setup slack (negative: the clock is missed); None without registers."""
        return self.modules[self.top].slack_ps(self.clock_mhz)

    @property
    def hold_slack_ps(self) -> float | None:
        """Worst hold slack."""
        return self.modules[self.top].hold_slack_ps

    @property
    def fmax_mhz(self) -> float | None:
        """Highest clock the register-to-register paths allow."""
        return self.modules[self.top].fmax_mhz

    @property
    def loops(self) -> list[str]:
        """Combinational loops found in any module."""
        return [loop for m in self.modules.values() for loop in m.loops]

    @property
    def met(self) -> bool:
        """Whether setup and hold are met at :attr:`clock_mhz` and nothing was left untimed
        by a loop."""
        return ((self.wns_ps is None or self.wns_ps >= 0)
                and (self.hold_slack_ps is None or self.hold_slack_ps >= 0)
                and not self.loops)

    def failure(self) -> str:
        """Why the design misses timing ('' when it does not)."""
        if self.met:
            return ""
        parts = []
        if self.wns_ps is not None and self.wns_ps < 0:
            text = (f"{self.top} misses {self.clock_mhz:g} MHz: worst setup slack "
                    f"{self.wns_ps:,.1f} ps")
            if self.paths:
                p = self.paths[0]
                text += (f" on the path from {p.startpoint} to {p.endpoint} ({p.cells} cells, "
                         f"arrival {p.arrival_ps:,.1f} ps + setup {p.setup_ps:,.1f} ps, in "
                         f"module {p.module})")
            parts.append(text + f"; fmax {self.fmax_mhz:,.1f} MHz")
        if self.hold_slack_ps is not None and self.hold_slack_ps < 0:
            parts.append(f"{self.top}: worst hold slack {self.hold_slack_ps:,.1f} ps")
        parts += self.loops
        return "; ".join(parts)

    def require(self) -> None:
        """Raise :class:`TimingError` unless timing is met (the ``--require-timing`` check)."""
        if not self.met:
            raise TimingError(self.failure())

    def summary_line(self) -> str:
        """One line: clock, worst slacks, fmax and whether the clock is met."""
        wns, hold, fmax = self.wns_ps, self.hold_slack_ps, self.fmax_mhz
        text = f"timing at {self.clock_mhz:g} MHz: "
        text += ("no register-to-register paths" if wns is None else
                 f"worst setup slack {wns:,.1f} ps, fmax {fmax:,.1f} MHz")
        if hold is not None:
            text += f", worst hold slack {hold:,.1f} ps"
        if self.paths:
            p = self.paths[0]
            text += f"; critical path {p.startpoint} -> {p.endpoint} ({p.cells} cells)"
        return text + ("" if self.met else " -- NOT MET")

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"top": self.top, "clock_mhz": self.clock_mhz, "period_ps": self.period_ps,
                "met": self.met, "wns_ps": self.wns_ps, "hold_slack_ps": self.hold_slack_ps,
                "register_path_ps": self.register_path_ps, "fmax_mhz": self.fmax_mhz,
                "boundary": {"driver": self.boundary.driver,
                             "slew_ps": self.boundary.slew_ps,
                             "load_ff": self.boundary.load_ff},
                "modules": {n: m.to_dict(self.clock_mhz) for n, m in self.modules.items()},
                "paths": [p.to_dict() for p in self.paths], "warnings": self.warnings,
                "read_seconds": self.read_seconds, "seconds": self.seconds}

    def tables(self, title: str = "") -> list[Table]:
        """Report tables: per module, the worst paths, and each path cell by cell."""
        prefix = f"{title}: " if title else ""
        rows = [[m.name, m.instances, m.cells, m.levels, m.endpoints,
                 _text(m.register_path_ps), _text(m.fmax_mhz), _text(m.slack_ps(self.clock_mhz)),
                 _text(m.hold_slack_ps), _text(m.input_to_register_ps),
                 _text(m.register_to_output_ps), _text(m.input_to_output_ps),
                 _text(m.standalone_fmax_mhz)]
                for m in sorted(self.modules.values(), key=lambda m: (m.name != self.top,
                                                                      m.name))]
        tables = [Table(
            f"{prefix}timing per module at {self.clock_mhz:g} MHz",
            ["module", "instances", "cells", "levels", "endpoints",
             "register path + setup (ps)", "fmax (MHz)", "setup slack (ps)",
             "hold slack (ps)", "input to register + setup (ps)", "register to output (ps)",
             "input to output (ps)", "fmax, ports as registers (MHz)"], rows,
            notes="Each module timed once with its submodules composed in (boundary slew "
                  f"{self.boundary.slew_ps:.1f} ps, output load {self.boundary.load_ff:.2f} "
                  f"fF, from {self.boundary.driver or 'no buffer'} at a fan-out of "
                  f"{BOUNDARY_FANOUT}); '-' where the module has no such path. fmax is that "
                  f"of its register-to-register paths; 'ports as registers' also counts the "
                  f"paths from and to its ports, for modules used between registers.")]
        if self.paths:
            tables.append(Table(
                f"{prefix}worst paths",
                ["#", "startpoint", "endpoint", "cells", "arrival (ps)", "setup (ps)",
                 "slack (ps)", "instances"],
                [[i + 1, p.startpoint, p.endpoint, p.cells, p.arrival_ps, p.setup_ps,
                  p.slack_ps, p.instances] for i, p in enumerate(self.paths)]))
        for i, p in enumerate(self.paths):
            tables.append(Table(
                f"{prefix}path {i + 1}: slack {p.slack_ps:,.1f} ps",
                ["instance", "cell", "pins", "net", "delay (ps)", "slew (ps)", "arrival (ps)"],
                [[s.instance, s.cell, s.pins, s.net, s.delay_ps, s.slew_ps, s.arrival_ps]
                 for s in p.steps],
                notes=f"Module {p.module} ({p.instances} instance(s)); endpoint {p.endpoint}, "
                      f"setup {p.setup_ps:,.1f} ps, required "
                      f"{self.period_ps - p.setup_ps:,.1f} ps."))
        return tables

    def histogram(self, title: str = "Endpoint setup slack") -> Histogram:
        """Histogram of the register endpoints' setup slack, every instance counted."""
        return Histogram(title, self.slack_values.tolist(), self.slack_weights.tolist(),
                         xlabel=f"setup slack at {self.clock_mhz:g} MHz (ps)",
                         ylabel="endpoints (all instances)", marker=0.0)

    def write_report(self, out_dir: str | Path, name: str = "timing"):
        """Write ``<name>.json``, ``.md`` and the slack histogram into ``out_dir``."""
        notes = [self.summary_line() + ".",
                 f"Static timing analysis of {self.top} (`dcom.synth.sta`, docs/timing.md): "
                 f"{self.seconds:.1f} s, of which {self.read_seconds:.1f} s reading the "
                 f"netlist."]
        notes += [f"Warning: {w}" for w in self.warnings]
        return write_report(out_dir, name, f"Timing of {self.top}", self.to_dict(),
                            self.tables(), [self.histogram()], notes)


def _text(value: float | None):
    return "-" if value is None else value


def _instances(modules: dict[str, dict], top: str) -> tuple[dict[str, int], dict[str, str]]:
    """Instance count of every module below ``top`` and the path of its first instance."""
    counts: dict[str, int] = {}
    first: dict[str, str] = {}

    def visit(name: str, times: int, path: str):
        counts[name] = counts.get(name, 0) + times
        first.setdefault(name, path)
        below: dict[str, list[str]] = {}
        for cell_name, cell in modules[name].get("cells", {}).items():
            if cell["type"] in modules:
                below.setdefault(cell["type"], []).append(cell_name)
        for child, names in sorted(below.items()):
            visit(child, times * len(names), path + sorted(names)[0] + "/")

    visit(top, 1, "")
    return counts, first


def _post_order(modules: dict[str, dict], top: str) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str):
        if name in seen:
            return
        seen.add(name)
        for cell in modules[name].get("cells", {}).values():
            if cell["type"] in modules:
                visit(cell["type"])
        order.append(name)

    visit(top)
    return order


def analyze_netlist(netlist: dict | str | Path, top: str, library: LibertyLibrary,
                    macros: LibertyLibrary | None = None, *, clock_mhz: float,
                    paths: int = DEFAULT_PATHS) -> DesignTiming:
    """Time a Yosys JSON netlist against a clock of ``clock_mhz``.

    Parameters
    ----------
    netlist : dict or path
        The netlist (``write_json``), parsed or as a file.
    top : str
        Top module.
    library : LibertyLibrary
        The standard cells the netlist is mapped to
        (:func:`~dcom.synth.liberty_reader.read_liberty`).
    macros : LibertyLibrary, optional
        The SRAM macros' library.
    clock_mhz : float
        The clock the register-to-register paths are checked against.
    paths : int
        How many of the worst paths to report (one per startpoint and endpoint).

    Raises
    ------
    ValueError
        For a clock that is not a positive number, a negative ``paths`` or a ``top`` missing
        from the netlist.
    TimingError
        If the library has no delay tables at all.
    """
    if not isinstance(clock_mhz, (int, float)) or not clock_mhz > 0 or math.isinf(clock_mhz):
        raise ValueError(f"clock_mhz={clock_mhz!r} is not a clock; allowed values: a "
                         f"positive number of MHz")
    if not isinstance(paths, int) or paths < 0:
        raise ValueError(f"paths={paths!r}; allowed values: integers >= 0")
    start = time.monotonic()
    if not isinstance(netlist, dict):
        netlist = json.loads(Path(netlist).read_text())
    modules = {n: m for n, m in netlist["modules"].items() if not is_blackbox(m)}
    if top not in modules:
        raise ValueError(f"top={top!r} is not a module of the netlist; modules: "
                         f"{', '.join(sorted(modules))}")
    read_seconds = time.monotonic() - start
    boundary = boundary_conditions(library)
    tables = _Tables()
    kinds = _Kinds(tables)
    labels = _Labels()
    cells = {**(macros.cells if macros else {}), **library.cells}
    used = {c["type"] for m in modules.values() for c in m.get("cells", {}).values()}
    plans = {name: _cell_plan(cells[name], kinds, labels) for name in sorted(used & set(cells))}
    if not any(p.arcs for p in plans.values()) and any(not cells[n].sequential
                                                       for n in plans if n in library.cells):
        raise TimingError(f"liberty {library.name or library.path} has no delay tables for "
                          f"the cells of the netlist; static timing analysis needs timing "
                          f"groups with cell_rise/cell_fall tables")
    kinds.freeze()
    warnings = []
    untimed = sorted(n for n, p in plans.items() if not p.timed)
    if untimed:
        warnings.append(f"cells without timing arcs (their outputs start no path): "
                        f"{', '.join(untimed)}")
    analysed: dict[str, _Module] = {}
    for name in _post_order(modules, top):
        analysed[name] = _Module(name, modules[name], plans, analysed, kinds, labels, boundary)
    counts, first = _instances(modules, top)
    unknown: dict[str, int] = {}
    for m in analysed.values():
        for t, n in m.unknown.items():
            unknown[t] = unknown.get(t, 0) + n
    if unknown:
        warnings.append("cells neither in the libraries nor design modules, not timed: "
                        + ", ".join(f"{t} ({n})" for t, n in sorted(unknown.items())))
    summaries = {name: m.summary(counts[name]) for name, m in analysed.items()}
    period = 1e6 / clock_mhz
    candidates = []
    values, weights = [], []
    for name, m in analysed.items():
        launched = np.flatnonzero(np.isfinite(m.e_path))
        values.append(period - m.e_path[launched])
        weights.append(np.full(launched.size, counts[name]))
        # Several endpoints (a submodule's input bits) can lead to one register: more
        # candidates than paths, one path kept per startpoint and endpoint.
        worst = launched[np.argsort(-m.e_path[launched], kind="stable")[:4 * paths]]
        candidates += [(-float(m.e_path[e]), name, int(e)) for e in worst]
    candidates.sort()
    worst_paths, seen = [], set()
    for _, name, e in candidates:
        if len(worst_paths) == paths:
            break
        path = analysed[name].path(e, first[name], period, counts[name])
        if (path.startpoint, path.endpoint) not in seen:
            seen.add((path.startpoint, path.endpoint))
            worst_paths.append(path)
    return DesignTiming(top, float(clock_mhz), boundary, summaries, worst_paths,
                        np.concatenate(values), np.concatenate(weights), warnings,
                        read_seconds, time.monotonic() - start)


def analyze(result: "SynthesisResult", clock_mhz: float,
            paths: int = DEFAULT_PATHS) -> DesignTiming:
    """Time the netlist of a synthesis run (:func:`dcom.synth.flow.synthesize`).

    Parameters are those of :func:`analyze_netlist`.
    """
    from .liberty_reader import read_liberty

    library = read_liberty(result.liberty)
    macros = read_liberty(result.macro_views["liberty"]) if result.macro_views else None
    return analyze_netlist(result.netlist_json, result.top, library, macros,
                           clock_mhz=clock_mhz, paths=paths)

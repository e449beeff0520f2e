"""Read the figures dcom needs from any Liberty file.

The synthesis flow accepts a user's own library (``dcom synth --liberty PATH``), so nothing here
knows dcom's cell names: cells are looked up by name as the netlist uses them, and tie cells are
recognised by their Boolean ``function``.

Only what the flow reports is extracted: per cell its area, leakage, pins (direction, function,
capacitance, internal energy per transition, timing arcs) and whether it is sequential; per
library its supply voltage. Yosys stays the authority on whether a file is valid
Liberty; this reader is lenient and skips what it does not need.

Timing arcs (``timing`` groups) are read generically for static timing analysis
(:mod:`dcom.synth.sta`): ``related_pin``, ``timing_type``, ``timing_sense`` and the NLDM tables
(``cell_rise``, ``cell_fall``, ``rise_transition``, ``fall_transition``, ``rise_constraint``,
``fall_constraint``) with their axes named by the ``lu_table_template`` they use, in whatever
order the library gives them. Times are converted to ps (``time_unit``), capacitances to fF
(``capacitive_load_unit``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LibertyGroup", "LibertyTable", "LibertyTiming", "LibertyPin", "LibertyCell",
           "LibertyLibrary", "LibertyParseError", "parse_liberty", "read_liberty",
           "parse_function", "evaluate_function", "TABLE_KINDS", "MAX_TABLE_INPUTS"]


class LibertyParseError(ValueError):
    """The text is not Liberty this reader can follow; the message names the line."""


@dataclass
class LibertyGroup:
    """One Liberty group, ``kind (args) { attributes; subgroups }``."""

    kind: str
    args: list[str]
    attributes: dict[str, str] = field(default_factory=dict)
    groups: list["LibertyGroup"] = field(default_factory=list)

    def subgroups(self, kind: str) -> list["LibertyGroup"]:
        """Direct subgroups of the given kind."""
        return [g for g in self.groups if g.kind == kind]


_TOKEN = re.compile(r"""
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<continuation>\\\r?\n)
  | (?P<newline>\n)
  | (?P<space>[ \t\r\f]+)
  | (?P<punct>[{}();:,])
  | (?P<word>[^\s{}();:,"]+)
""", re.VERBOSE | re.DOTALL)


def _tokens(text: str):
    line = 1
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise LibertyParseError(f"line {line}: unexpected character {text[pos]!r}")
        kind = match.lastgroup
        value = match.group()
        if kind in ("punct", "word"):
            yield value, line
        elif kind == "string":
            yield value[1:-1].replace("\\\n", ""), line
        line += value.count("\n")
        pos = match.end()


def parse_liberty(text: str) -> LibertyGroup:
    """Parse Liberty text into its top group (normally ``library``).

    Raises
    ------
    LibertyParseError
        On unbalanced braces or a statement this reader cannot follow.
    """
    tokens = list(_tokens(text))
    root = LibertyGroup("", [])
    stack = [root]
    i = 0
    while i < len(tokens):
        word, line = tokens[i]
        if word == "}":
            if len(stack) == 1:
                raise LibertyParseError(f"line {line}: '}}' without a matching '{{'")
            stack.pop()
            i += 1
            continue
        if word == ";":
            i += 1
            continue
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else None
        if nxt == ":":
            # Simple attribute: name : value ;  (value may be several words, e.g. 1.0 ns)
            j = i + 2
            value = []
            while j < len(tokens) and tokens[j][0] not in (";", "}") and tokens[j][1] == line:
                value.append(tokens[j][0])
                j += 1
            stack[-1].attributes[word] = " ".join(value)
            i = j
        elif nxt == "(":
            j = i + 2
            args: list[str] = []
            while j < len(tokens) and tokens[j][0] != ")":
                if tokens[j][0] != ",":
                    args.append(tokens[j][0])
                j += 1
            if j >= len(tokens):
                raise LibertyParseError(f"line {line}: '(' after {word!r} is never closed")
            after = tokens[j + 1][0] if j + 1 < len(tokens) else None
            if after == "{":
                group = LibertyGroup(word, args)
                stack[-1].groups.append(group)
                stack.append(group)
                i = j + 2
            else:
                # Complex attribute, e.g. values ("1, 2") or capacitive_load_unit (1, ff).
                stack[-1].attributes[word] = ", ".join(args)
                i = j + 1
        else:
            raise LibertyParseError(f"line {line}: cannot read statement starting at {word!r}")
    if len(stack) != 1:
        raise LibertyParseError(f"group {stack[-1].kind}({', '.join(stack[-1].args)}) "
                                f"is not closed before the end of the file")
    libraries = root.subgroups("library")
    if len(libraries) != 1:
        raise LibertyParseError(f"expected one library group, found {len(libraries)}")
    return libraries[0]


#: The lookup tables of a ``timing`` group that the reader keeps.
TABLE_KINDS = ("cell_rise", "cell_fall", "rise_transition", "fall_transition",
               "rise_constraint", "fall_constraint")


@dataclass(frozen=True)
class LibertyTable:
    """A lookup table of a timing arc (NLDM): values in ps over up to three axes.

    Attributes
    ----------
    variables : tuple of str
        The Liberty variable of each axis, ``index_1`` first, e.g. ``input_net_transition``,
        ``total_output_net_capacitance``, ``related_pin_transition``,
        ``constrained_pin_transition``; empty for a scalar table.
    indices : tuple of tuple of float
        The points of each axis: transitions in ps, capacitances in fF.
    values : tuple of float
        In ps, row-major: ``index_1`` varies slowest.
    """

    variables: tuple[str, ...]
    indices: tuple[tuple[float, ...], ...]
    values: tuple[float, ...]

    def _strides(self) -> list[int]:
        strides, step = [], 1
        for points in reversed(self.indices):
            strides.append(step)
            step *= len(points)
        return strides[::-1]

    def lookup(self, **point: float) -> float:
        """The value at ``point`` (variable name -> value), interpolated linearly along each
        axis and extrapolated beyond the outer points (bilinear for two axes).

        An axis whose variable is not in ``point`` is held at its first index point.
        """
        strides = self._strides()

        def along(axis: int, offset: int) -> float:
            if axis == len(self.indices):
                return self.values[offset]
            points, name = self.indices[axis], self.variables[axis]
            if len(points) == 1 or name not in point:
                return along(axis + 1, offset)
            x = point[name]
            i = max(0, min(len(points) - 2, sum(p <= x for p in points[1:])))
            t = (x - points[i]) / (points[i + 1] - points[i])
            low = along(axis + 1, offset + i * strides[axis])
            high = along(axis + 1, offset + (i + 1) * strides[axis])
            return low + t * (high - low)

        return along(0, 0)

    def grid(self, first: str, second: str
             ) -> tuple[tuple[float, ...], tuple[float, ...], list[list[float]]]:
        """The table as a function of two named variables.

        Returns
        -------
        xs, ys : tuple of float
            The points of ``first`` and ``second``; ``(0.0,)`` for a variable the table does
            not depend on.
        rows : list of list of float
            ``rows[i][j]`` is the value at ``first = xs[i]``, ``second = ys[j]``; any other
            variable of the table is held at its first index point.
        """
        strides = self._strides()
        axes = []
        for name in (first, second):
            if name in self.variables:
                axis = self.variables.index(name)
                axes.append((self.indices[axis], strides[axis]))
            else:
                axes.append(((0.0,), 0))
        (xs, sx), (ys, sy) = axes
        rows = [[self.values[i * sx + j * sy] for j in range(len(ys))] for i in range(len(xs))]
        return tuple(xs), tuple(ys), rows


@dataclass(frozen=True)
class LibertyTiming:
    """One ``timing`` group of a pin: an arc from ``related_pins`` to the pin (a delay), or a
    check of the pin against them (``setup_rising``, ``hold_rising``, ...).

    Attributes
    ----------
    related_pins : tuple of str
    timing_type : str
        ``combinational`` when the group states none.
    timing_sense : str
        ``positive_unate``, ``negative_unate``, ``non_unate`` or ``''``.
    tables : dict
        Table kind (one of :data:`TABLE_KINDS`) -> :class:`LibertyTable`.
    """

    related_pins: tuple[str, ...]
    timing_type: str = "combinational"
    timing_sense: str = ""
    tables: dict[str, LibertyTable] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LibertyPin:
    """A cell pin: direction, capacitance (fF), for outputs its Liberty function, the
    internal energy per transition of the pin (fJ): for an output, per output transition
    (averaged over its arcs, rise and fall, and table entries); for an input such as a clock,
    per transition of that input; and the pin's ``timing`` groups."""

    name: str
    direction: str
    capacitance_ff: float = 0.0
    function: str | None = None
    internal_energy_fj: float = 0.0
    timing: tuple[LibertyTiming, ...] = ()


@dataclass(frozen=True)
class LibertyCell:
    """The figures of one library cell."""

    name: str
    area_um2: float
    leakage_nw: float
    pins: dict[str, LibertyPin]
    sequential: bool
    dont_use: bool
    clock_pins: tuple[str, ...] = ()
    #: ``(clocked_on, next_state)`` of the cell's ``ff`` group, if it is an edge-triggered
    #: flip-flop.
    ff: tuple[str, str] | None = None

    @property
    def inputs(self) -> list[str]:
        """Input pin names, in file order."""
        return [p.name for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        """Output pin names, in file order."""
        return [p.name for p in self.pins.values() if p.direction == "output"]


@dataclass(frozen=True)
class LibertyLibrary:
    """What dcom reads from a Liberty file."""

    name: str
    path: Path | None
    cells: dict[str, LibertyCell]
    voltage: float = 0.0

    def has_delay_tables(self) -> bool:
        """Whether any cell has a timing arc with a delay table (``cell_rise``/``cell_fall``)."""
        return any("cell_rise" in t.tables or "cell_fall" in t.tables
                   for c in self.cells.values() for p in c.pins.values() for t in p.timing)

    def buffer_cells(self) -> list[str]:
        """Names of the usable non-inverting buffers (output function = their one input),
        smallest area first."""
        found = []
        for cell in self.cells.values():
            if cell.dont_use or cell.sequential or len(cell.inputs) != 1 or len(cell.outputs) != 1:
                continue
            function = cell.pins[cell.outputs[0]].function
            if function is not None and parse_function(function) == ("var", cell.inputs[0]):
                found.append(cell)
        return [c.name for c in sorted(found, key=lambda c: (c.area_um2, c.name))]

    def buffer_cell(self) -> str | None:
        """Name of the smallest usable non-inverting buffer, if any."""
        buffers = self.buffer_cells()
        return buffers[0] if buffers else None

    def truth_tables(self) -> dict[str, tuple[int, ...]]:
        """Truth table of every usable single-output combinational cell with 1 to
        :data:`MAX_TABLE_INPUTS` inputs whose function names only its inputs.

        Row ``r`` is the output when input ``k`` (in file order) is bit ``k`` of ``r``.
        """
        tables = {}
        for cell in self.cells.values():
            inputs = cell.inputs
            if (cell.dont_use or cell.sequential or len(cell.outputs) != 1
                    or not 1 <= len(inputs) <= MAX_TABLE_INPUTS):
                continue
            function = cell.pins[cell.outputs[0]].function
            if function is None:
                continue
            try:
                tree = parse_function(function)
                tables[cell.name] = tuple(
                    evaluate_function(tree, {pin: row >> k & 1 for k, pin in enumerate(inputs)})
                    for row in range(1 << len(inputs)))
            except (ValueError, KeyError):
                # Not a function of the inputs alone (a pin of another kind, or unreadable):
                # not a gate the mapper can use.
                continue
        return tables

    def inverter_cells(self) -> list[str]:
        """Names of the usable inverters (one input, the output its negation)."""
        return sorted(name for name, table in self.truth_tables().items() if table == (1, 0))

    def builds_any_function(self, with_inverter: bool = False) -> bool:
        """Whether the gates of :meth:`truth_tables` can build every Boolean function.

        Post's criterion: a set of gates is functionally complete when, for each of the five
        classes closed under composition (0-preserving, 1-preserving, self-dual, monotone,
        affine), one of its gates lies outside the class.

        Parameters
        ----------
        with_inverter : bool
            Count an inverter among the gates even if the library has none.
        """
        tables = list(self.truth_tables().values()) + ([(1, 0)] if with_inverter else [])
        left = set(_POST_CLASSES)
        for table in tables:
            left &= _post_classes(table)
        return not left

    def flip_flop_cells(self) -> list[str]:
        """Names of the usable D flip-flops: an ``ff`` group clocked on one pin (either
        edge) whose next state is one pin (or its negation), as Yosys' ``dfflibmap`` maps
        registers to."""
        found = []
        for cell in self.cells.values():
            if cell.dont_use or cell.ff is None:
                continue
            try:
                simple = all(_is_literal(parse_function(text), cell.inputs) for text in cell.ff)
            except ValueError:
                continue
            if simple:
                found.append(cell.name)
        return sorted(found)

    def missing_cell_kinds(self) -> list[str]:
        """The kinds of cell the synthesis flow maps to that the library lacks, described for
        an error message; empty when it has them all.

        ABC maps logic onto an inverter, a buffer and gates that build any function (it fails
        without them, with no word of why); ``dfflibmap`` maps registers onto a D flip-flop.
        """
        missing = []
        if not self.inverter_cells():
            missing.append("an inverter (one input, function its negation, e.g. \"A'\")")
        if self.buffer_cell() is None:
            missing.append("a buffer (one input, function that input, e.g. \"A\")")
        if not self.builds_any_function(with_inverter=True):
            missing.append("gates that with the inverter build any function (a NAND, NOR, AND "
                           "or OR gate, e.g. \"(A*B)'\")")
        if not self.flip_flop_cells():
            missing.append("a D flip-flop (an ff group with clocked_on and next_state each a "
                           "pin, e.g. clocked_on : \"CK\"; next_state : \"D\")")
        return missing

    def tie_cell(self, value: int) -> tuple[str, str] | None:
        """``(cell, output pin)`` of a usable cell that drives constant ``value``, if any."""
        wanted = str(value)
        for cell in self.cells.values():
            if cell.dont_use or cell.inputs or len(cell.outputs) != 1:
                continue
            pin = cell.pins[cell.outputs[0]]
            if pin.function is not None and pin.function.strip() == wanted:
                return cell.name, pin.name
        return None


#: Most inputs of a gate whose truth table :meth:`LibertyLibrary.truth_tables` computes.
MAX_TABLE_INPUTS = 6

_POST_CLASSES = ("preserves 0", "preserves 1", "self-dual", "monotone", "affine")


def _post_classes(table: tuple[int, ...]) -> set[str]:
    """The classes of Post's criterion that the function with this truth table belongs to."""
    rows = len(table)
    inputs = rows.bit_length() - 1
    unit = [1 << k for k in range(inputs)]
    classes = set()
    if table[0] == 0:
        classes.add("preserves 0")
    if table[-1] == 1:
        classes.add("preserves 1")
    if all(table[rows - 1 - r] != table[r] for r in range(rows)):
        classes.add("self-dual")
    if all(table[r] <= table[r | bit] for r in range(rows) for bit in unit):
        classes.add("monotone")
    # Affine: the constant term XOR the inputs whose single flip changes the output at 0.
    linear = [bit for bit in unit if table[bit] != table[0]]
    if all(table[r] == table[0] ^ (bin(r & sum(linear)).count("1") & 1) for r in range(rows)):
        classes.add("affine")
    return classes


def _is_literal(tree, pins: list[str]) -> bool:
    """Whether a :func:`parse_function` tree is one of ``pins``, or its negation."""
    if tree[0] == "not":
        tree = tree[1]
    return tree[0] == "var" and tree[1] in pins


_UNIT_SCALE_TO_NW = {"pw": 1e-3, "nw": 1.0, "uw": 1e3, "mw": 1e6, "w": 1e9}
_CAP_SCALE_TO_FF = {"ff": 1.0, "pf": 1e3, "nf": 1e6}


def _number(text: str | None, default: float = 0.0) -> float:
    if text is None or text == "":
        return default
    try:
        return float(text)
    except ValueError:
        return default


def _unit_scale(library: LibertyGroup, attribute: str, default: str,
                scales: dict[str, float]) -> float:
    """A unit attribute such as ``"10pW"`` as a factor to the unit ``scales`` maps to 1."""
    unit = library.attributes.get(attribute, default).replace(" ", "").lower()
    match = re.fullmatch(r"([0-9.]*)([a-z]+)", unit)
    if not match or match[2] not in scales:
        return 1.0
    return _number(match[1], 1.0) * scales[match[2]]


def _leakage_scale(library: LibertyGroup) -> float:
    return _unit_scale(library, "leakage_power_unit", "1nW", _UNIT_SCALE_TO_NW)


def _cap_scale(library: LibertyGroup) -> float:
    unit = library.attributes.get("capacitive_load_unit", "1, ff").replace(" ", "").lower()
    value, _, name = unit.partition(",")
    return _number(value, 1.0) * _CAP_SCALE_TO_FF.get(name, 1.0)


def _cell_leakage(cell: LibertyGroup) -> float:
    if "cell_leakage_power" in cell.attributes:
        return _number(cell.attributes["cell_leakage_power"])
    # Libraries that give only state-dependent leakage: report the plain average.
    values = [_number(g.attributes.get("value")) for g in cell.subgroups("leakage_power")]
    return sum(values) / len(values) if values else 0.0


_VOLTAGE_SCALE_TO_V = {"v": 1.0, "mv": 1e-3}


def _voltage_scale(library: LibertyGroup) -> float:
    return _unit_scale(library, "voltage_unit", "1V", _VOLTAGE_SCALE_TO_V)


def _voltage(library: LibertyGroup) -> float:
    """Supply voltage: ``nom_voltage``, else that of the default operating conditions."""
    if "nom_voltage" in library.attributes:
        return _number(library.attributes["nom_voltage"])
    for conditions in library.subgroups("operating_conditions"):
        if "voltage" in conditions.attributes:
            return _number(conditions.attributes["voltage"])
    return 0.0


def _table_mean(group: LibertyGroup) -> float:
    values = _numbers(group.attributes.get("values", ""))
    return sum(values) / len(values) if values else 0.0


def _internal_energy(pin: LibertyGroup) -> float:
    """Mean internal energy per transition of a pin, in the library's energy unit.

    Each ``internal_power`` group (one per arc) contributes the mean of its rise and fall
    tables (a ``power`` table serves both); table entries are averaged, since a netlist
    without placement has no slews or loads to look them up with.
    """
    arcs = []
    for arc in pin.subgroups("internal_power"):
        tables = {g.kind: _table_mean(g) for g in arc.groups}
        if "rise_power" in tables or "fall_power" in tables:
            arcs.append((tables.get("rise_power", 0.0) + tables.get("fall_power", 0.0)) / 2)
        elif "power" in tables:
            arcs.append(tables["power"])
    return sum(arcs) / len(arcs) if arcs else 0.0


def _clock_pins(cell: LibertyGroup) -> tuple[str, ...]:
    """Pins named in the ``clocked_on`` (or latch ``enable``) of a sequential cell, and pins
    marked ``clock : true`` (a macro's clocks)."""
    names = []
    for group in cell.subgroups("ff") + cell.subgroups("ff_bank") + cell.subgroups("latch"):
        function = group.attributes.get("clocked_on") or group.attributes.get("enable")
        if function:
            names += re.findall(r"[A-Za-z_][A-Za-z0-9_]*", function)
    for group in cell.groups:
        if group.kind in ("pin", "bus") and group.attributes.get("clock", "").lower() == "true":
            names += group.args
    return tuple(dict.fromkeys(names))


def _ff_functions(cell: LibertyGroup) -> tuple[str, str] | None:
    """``(clocked_on, next_state)`` of a cell's ``ff`` group, if it has one with both."""
    for group in cell.subgroups("ff"):
        clocked_on, next_state = (group.attributes.get("clocked_on"),
                                  group.attributes.get("next_state"))
        if clocked_on and next_state:
            return clocked_on, next_state
    return None


_TIME_SCALE_TO_PS = {"fs": 1e-3, "ps": 1.0, "ns": 1e3, "us": 1e6}
_Templates = dict[str, tuple[tuple[str, ...], tuple[tuple[float, ...] | None, ...]]]


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.split(r"[,\s]+", text) if v]


def _templates(library: LibertyGroup) -> _Templates:
    """``lu_table_template`` name -> (variables, default index points or None per axis)."""
    templates: _Templates = {"scalar": ((), ())}
    for group in library.subgroups("lu_table_template"):
        variables, indices = [], []
        for axis in (1, 2, 3):
            variable = group.attributes.get(f"variable_{axis}")
            if variable is None:
                break
            variables.append(variable)
            text = group.attributes.get(f"index_{axis}")
            indices.append(tuple(_numbers(text)) if text is not None else None)
        templates[group.args[0] if group.args else ""] = (tuple(variables), tuple(indices))
    return templates


def _table(group: LibertyGroup, templates: _Templates, time_scale: float, cap_scale: float,
           where: str) -> LibertyTable:
    template = group.args[0] if group.args else "scalar"
    if template not in templates:
        raise LibertyParseError(f"{where}: table {group.kind} uses template {template!r}, "
                                f"which the library does not define")
    variables, defaults = templates[template]
    indices = []
    for axis, (variable, default) in enumerate(zip(variables, defaults), start=1):
        text = group.attributes.get(f"index_{axis}")
        points = _numbers(text) if text is not None else default
        if not points:
            raise LibertyParseError(f"{where}: table {group.kind} has no index_{axis} "
                                    f"(and template {template!r} gives none)")
        scale = (time_scale if "transition" in variable
                 else cap_scale if "capacitance" in variable else 1.0)
        indices.append(tuple(p * scale for p in points))
    values = [v * time_scale for v in _numbers(group.attributes.get("values", ""))]
    expected = math.prod(len(points) for points in indices)
    if len(values) != expected:
        raise LibertyParseError(f"{where}: table {group.kind} has {len(values)} values, "
                                f"expected {expected} for its index points")
    return LibertyTable(tuple(variables), tuple(indices), tuple(values))


def _timing(pin: LibertyGroup, templates: _Templates, time_scale: float, cap_scale: float,
            where: str) -> tuple[LibertyTiming, ...]:
    arcs = []
    for group in pin.subgroups("timing"):
        tables = {g.kind: _table(g, templates, time_scale, cap_scale, where)
                  for g in group.groups if g.kind in TABLE_KINDS}
        arcs.append(LibertyTiming(
            related_pins=tuple(group.attributes.get("related_pin", "").split()),
            timing_type=group.attributes.get("timing_type", "combinational"),
            timing_sense=group.attributes.get("timing_sense", ""), tables=tables))
    return tuple(arcs)


def _pins(cell: LibertyGroup, cap_scale: float, energy_scale: float, templates: _Templates,
          time_scale: float) -> dict[str, LibertyPin]:
    pins: dict[str, LibertyPin] = {}
    for group in cell.groups:
        if group.kind not in ("pin", "bus", "bundle"):
            continue
        for name in group.args:
            pins[name] = LibertyPin(
                name=name, direction=group.attributes.get("direction", ""),
                capacitance_ff=_number(group.attributes.get("capacitance")) * cap_scale,
                function=group.attributes.get("function"),
                internal_energy_fj=_internal_energy(group) * energy_scale,
                timing=_timing(group, templates, time_scale, cap_scale,
                               f"cell {cell.args[0] if cell.args else '?'} pin {name}"))
    return pins


def read_liberty(path: str | Path) -> LibertyLibrary:
    """Read a Liberty file's cells (area, leakage in nW, pins with their timing arcs in ps
    and fF).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    LibertyParseError
        If the file cannot be followed (see :func:`parse_liberty`).
    """
    path = Path(path)
    library = parse_liberty(path.read_text(errors="replace"))
    leakage_scale = _leakage_scale(library)
    cap_scale = _cap_scale(library)
    voltage_scale = _voltage_scale(library)
    # Liberty's default time unit is 1 ns.
    time_scale = _unit_scale(library, "time_unit", "1ns", _TIME_SCALE_TO_PS)
    templates = _templates(library)
    # Liberty states internal energy in capacitance x voltage^2 units (fF x V^2 = fJ).
    energy_scale = cap_scale * voltage_scale ** 2
    cells = {}
    for group in library.subgroups("cell"):
        name = group.args[0]
        cells[name] = LibertyCell(
            name=name,
            area_um2=_number(group.attributes.get("area")),
            leakage_nw=_cell_leakage(group) * leakage_scale,
            pins=_pins(group, cap_scale, energy_scale, templates, time_scale),
            sequential=bool(group.subgroups("ff") or group.subgroups("latch")
                            or group.subgroups("ff_bank") or group.subgroups("statetable")),
            clock_pins=_clock_pins(group),
            ff=_ff_functions(group),
            dont_use=group.attributes.get("dont_use", "false").lower() == "true")
    return LibertyLibrary(name=library.args[0] if library.args else "", path=path, cells=cells,
                          voltage=_voltage(library) * voltage_scale)


# Liberty Boolean functions: ! and postfix ' negate, & * and juxtaposition are AND, + | are OR,
# ^ is XOR; precedence (high to low): negation, AND, XOR, OR.

_FUNCTION_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_\[\]\.]*)|([01])|(.))")


def parse_function(text: str):
    """Parse a Liberty ``function`` into a small tree.

    Returns
    -------
    tuple
        ``("var", name)``, ``("const", 0|1)``, ``("not", x)`` or ``(op, x, y)`` with ``op`` one
        of ``"and"``, ``"xor"``, ``"or"``.

    Raises
    ------
    ValueError
        If the text is not a Liberty Boolean expression.
    """
    tokens = []
    for match in _FUNCTION_TOKEN.finditer(text.strip()):
        name, const, op = match.groups()
        if name:
            tokens.append(("var", name))
        elif const:
            tokens.append(("const", int(const)))
        elif op and not op.isspace():
            tokens.append(("op", op))
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def primary():
        token = peek()
        if token is None:
            raise ValueError(f"function {text!r} ends too early")
        take()
        if token == ("op", "!"):
            node = ("not", primary())
        elif token == ("op", "("):
            node = disjunction()
            if take() != ("op", ")"):
                raise ValueError(f"function {text!r}: missing ')'")
        elif token[0] in ("var", "const"):
            node = token
        else:
            raise ValueError(f"function {text!r}: unexpected {token[1]!r}")
        while peek() == ("op", "'"):
            take()
            node = ("not", node)
        return node

    def conjunction():
        node = primary()
        while True:
            token = peek()
            if token in (("op", "&"), ("op", "*")):
                take()
                node = ("and", node, primary())
            elif token is not None and (token[0] != "op" or token in (("op", "!"), ("op", "("))):
                node = ("and", node, primary())   # juxtaposition is AND
            else:
                return node

    def exclusive():
        node = conjunction()
        while peek() == ("op", "^"):
            take()
            node = ("xor", node, conjunction())
        return node

    def disjunction():
        node = exclusive()
        while peek() in (("op", "+"), ("op", "|")):
            take()
            node = ("or", node, exclusive())
        return node

    tree = disjunction()
    if pos != len(tokens):
        raise ValueError(f"function {text!r}: unexpected {tokens[pos][1]!r}")
    return tree


def evaluate_function(tree, values: dict[str, int]) -> int:
    """Value (0 or 1) of a :func:`parse_function` tree for the given input values."""
    kind = tree[0]
    if kind == "var":
        return values[tree[1]]
    if kind == "const":
        return tree[1]
    if kind == "not":
        return 1 - evaluate_function(tree[1], values)
    a, b = evaluate_function(tree[1], values), evaluate_function(tree[2], values)
    return {"and": a & b, "or": a | b, "xor": a ^ b}[kind]

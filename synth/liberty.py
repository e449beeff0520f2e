"""Write dcom's "15nm-style" Liberty library.

The figures come from :mod:`dcom.synth.cells` and :mod:`dcom.synth.technology` (sources in
``docs/liberty.md``). Timing is deliberately simple: a 2 x 2 NLDM table per arc from logical
effort with an estimated delay unit, which ABC maps by and :mod:`dcom.synth.sta` times
netlists with (figures of the right order, not a characterized corner). Power is what the
reports use: ``cell_leakage_power`` (nW), pin ``capacitance`` (fF) and ``internal_power``
per arc in fJ per output transition (the unit that follows from fF and V).

The same small writer formats the SRAM macro library of :mod:`dcom.synth.sram`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from . import technology as tech
from .cells import CELLS, Cell, CellOutput, variables
from .liberty_reader import evaluate_function, parse_function

__all__ = ["LIBRARY_NAME", "write_liberty", "liberty_text", "library_text", "group", "render",
           "scalar", "delay_tables", "constraint_groups", "cell_table_markdown"]

LIBRARY_NAME = "dcom15"

# Index points of every delay table: input transition (ps) x output load (fF).
TRANSITIONS_PS = (5.0, 50.0)
LOADS_FF = (0.5, 8.0)
DELAY_TEMPLATE = "delay_2x2"


def group(kind: str, args: str, *items) -> list:
    """A Liberty group; ``items`` are attribute strings (``"area : 1.0"``) or groups."""
    return [f"{kind} ({args})", list(items)]


def render(node, indent: int = 0) -> str:
    """Liberty text of a :func:`group` tree."""
    head, items = node
    pad = "  " * indent
    lines = [f"{pad}{head} {{"]
    for item in items:
        if isinstance(item, list):
            lines.append(render(item, indent + 1))
        else:
            lines.append(f"{pad}  {item} ;")
    lines.append(f"{pad}}}")
    return "\n".join(lines)


def scalar(kind: str, value: float) -> list:
    """A single-value table (Liberty's predefined ``scalar`` template)."""
    return group(kind, "scalar", f'values ("{value:.4f}")')


def _table(kind: str, values) -> list:
    rows = ", ".join('"' + ", ".join(f"{v:.4f}" for v in row) + '"' for row in values)
    return group(kind, DELAY_TEMPLATE,
                 f'index_1 ("{", ".join(str(t) for t in TRANSITIONS_PS)}")',
                 f'index_2 ("{", ".join(str(c) for c in LOADS_FF)}")',
                 f"values ({rows})")


def delay_tables(parasitic: float, drive: float) -> list[list]:
    """The four NLDM tables of an arc (delay and transition, rise and fall, equal): the
    logical-effort delay ``tau (p + C_load / (s C_unit))`` plus a slope term ``0.1 x input
    transition``, and the output transition ``2 tau (1 + C_load / (s C_unit))``.

    Parameters
    ----------
    parasitic : float
        Parasitic delay ``p`` in units of tau.
    drive : float
        Size ``s`` of the output stage relative to the minimum inverter.
    """
    def delay(slew, load):
        return tech.TAU_PS * (parasitic + load / (drive * tech.UNIT_INPUT_CAP_FF)) + 0.1 * slew

    def transition(_slew, load):
        return 2 * tech.TAU_PS * (1 + load / (drive * tech.UNIT_INPUT_CAP_FF))

    tables = []
    for name, fn in (("cell_rise", delay), ("rise_transition", transition),
                     ("cell_fall", delay), ("fall_transition", transition)):
        tables.append(_table(name, [[fn(t, c) for c in LOADS_FF] for t in TRANSITIONS_PS]))
    return tables


def _timing_sense(function: str, inputs: list[str], pin: str) -> str:
    tree = parse_function(function)
    rises = falls = False
    others = [p for p in inputs if p != pin]
    for bits in itertools.product((0, 1), repeat=len(others)):
        values = dict(zip(others, bits))
        low = evaluate_function(tree, {**values, pin: 0})
        high = evaluate_function(tree, {**values, pin: 1})
        rises |= high > low
        falls |= high < low
    if rises and falls:
        return "non_unate"
    return "negative_unate" if falls else "positive_unate"


def _power(related_pin: str | None, energy_fj: float) -> list:
    attrs = [f'related_pin : "{related_pin}"'] if related_pin else []
    return group("internal_power", "", *attrs, scalar("rise_power", energy_fj),
                 scalar("fall_power", energy_fj))


def _input_pin(cell: Cell, pin: str) -> list:
    items = ["direction : input", f"capacitance : {cell.input_cap_ff(pin):.4f}"]
    ff = cell.flip_flop
    if ff and pin == ff.clock:
        items.append("clock : true")
        items.append(_power(None, cell.energy_fj(ff.clock_units)))
    elif ff and pin in variables(ff.next_state):
        items += constraint_groups(ff.clock, 4 * tech.TAU_PS, tech.TAU_PS)
    return group("pin", pin, *items)


def constraint_groups(clock: str, setup_ps: float, hold_ps: float) -> list[list]:
    """``setup_rising`` and ``hold_rising`` timing groups of a pin against ``clock``."""
    return [group("timing", "", f'related_pin : "{clock}"', f"timing_type : {kind}",
                  scalar("rise_constraint", value), scalar("fall_constraint", value))
            for kind, value in (("setup_rising", setup_ps), ("hold_rising", hold_ps))]


def _output_pin(cell: Cell, out: CellOutput) -> list:
    items = ["direction : output", f'function : "{out.function}"']
    ff = cell.flip_flop
    for related, units in out.switched_units.items():
        if ff:
            timing = group("timing", "", f'related_pin : "{related}"',
                           "timing_type : rising_edge",
                           *delay_tables(out.parasitic, out.drive))
        else:
            timing = group("timing", "", f'related_pin : "{related}"',
                           f"timing_sense : {_timing_sense(out.function, cell.inputs, related)}",
                           *delay_tables(out.parasitic, out.drive))
        items.append(timing)
        items.append(_power(related, cell.energy_fj(units)))
    if ff:
        for condition, kind in ((ff.clear, "clear"), (ff.preset, "preset")):
            if condition:
                pin = condition.lstrip("!")
                items.append(group("timing", "", f'related_pin : "{pin}"',
                                   f"timing_type : {kind}",
                                   "timing_sense : " + ("positive_unate" if kind == "clear"
                                                        else "negative_unate"),
                                   *delay_tables(out.parasitic, out.drive)))
    return group("pin", out.name, *items)


def _cell_group(cell: Cell) -> list:
    items = [f"area : {cell.area_um2:.6f}", f"cell_leakage_power : {cell.leakage_nw:.4f}"]
    ff = cell.flip_flop
    if ff:
        state = [f'next_state : "{ff.next_state}"', f'clocked_on : "{ff.clock}"']
        if ff.clear:
            state.append(f'clear : "{ff.clear}"')
        if ff.preset:
            state.append(f'preset : "{ff.preset}"')
        items.append(group("ff", "IQ, IQN", *state))
    items += [_input_pin(cell, p) for p in cell.inputs]
    items += [_output_pin(cell, o) for o in cell.outputs]
    return group("cell", cell.name, *items)


def library_text(name: str, comment: str, cells: list[list]) -> str:
    """A complete Liberty library ``name`` holding the given cell groups.

    The header fixes the units every dcom library uses: ps, fF, V, nW, and therefore fJ for
    internal energy.
    """
    header = [
        f'comment : "{comment}"',
        "delay_model : table_lookup",
        'time_unit : "1ps"',
        'voltage_unit : "1V"',
        'current_unit : "1uA"',
        'pulling_resistance_unit : "1kohm"',
        'leakage_power_unit : "1nW"',
        "capacitive_load_unit (1, ff)",
        "nom_process : 1",
        f"nom_voltage : {tech.VDD}",
        "nom_temperature : 25",
        group("operating_conditions", "typical", "process : 1", f"voltage : {tech.VDD}",
              "temperature : 25"),
        "default_operating_conditions : typical",
        "input_threshold_pct_rise : 50", "input_threshold_pct_fall : 50",
        "output_threshold_pct_rise : 50", "output_threshold_pct_fall : 50",
        "slew_lower_threshold_pct_rise : 20", "slew_lower_threshold_pct_fall : 20",
        "slew_upper_threshold_pct_rise : 80", "slew_upper_threshold_pct_fall : 80",
        "default_cell_leakage_power : 0", "default_fanout_load : 1",
        "default_inout_pin_cap : 1", "default_input_pin_cap : 1",
        "default_output_pin_cap : 0", "default_max_transition : 500",
        group("lu_table_template", DELAY_TEMPLATE,
              "variable_1 : input_net_transition", "variable_2 : total_output_net_capacitance",
              f'index_1 ("{", ".join(str(t) for t in TRANSITIONS_PS)}")',
              f'index_2 ("{", ".join(str(c) for c in LOADS_FF)}")'),
    ]
    return render(group("library", name, *header, *cells)) + "\n"


def liberty_text() -> str:
    """Liberty text of dcom's standard-cell library."""
    comment = ("dcom 15nm-style standard cells, generated by dcom.synth.liberty from public "
               "15nm FinFET facts; see docs/liberty.md. Not a foundry library.")
    return library_text(LIBRARY_NAME, comment, [_cell_group(c) for c in CELLS])


def write_liberty(path: str | Path) -> Path:
    """Write dcom's standard-cell library to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(liberty_text())
    return path


def cell_table_markdown() -> str:
    """The library's figures per cell as a Markdown table (``docs/liberty.md`` shows it)."""
    lines = ["| cell | width (CPP) | area (um^2) | leakage (nW) | input capacitance (fF) "
             "| internal energy per output transition (fJ) | width source |",
             "|---|---:|---:|---:|---|---|---|"]
    for cell in CELLS:
        caps = ", ".join(f"{p} {cell.input_cap_ff(p):.2f}" for p in cell.inputs) or "-"
        energies = []
        for out in cell.outputs:
            values = sorted({round(cell.energy_fj(u), 2) for u in out.switched_units.values()})
            if values:
                span = f"{values[0]:.2f}" + (f"-{values[-1]:.2f}" if len(values) > 1 else "")
                energies.append(f"{out.name} {span}")
        if cell.flip_flop:
            energies.append(f"{cell.flip_flop.clock} "
                            f"{cell.energy_fj(cell.flip_flop.clock_units):.2f} per edge")
        lines.append(f"| {cell.name} | {cell.width_cpp} | {cell.area_um2:.4f} "
                     f"| {cell.leakage_nw:.2f} | {caps} | {'; '.join(energies) or '-'} "
                     f"| {cell.width_source} |")
    return "\n".join(lines) + "\n"

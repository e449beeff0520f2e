"""dcom's "15nm-style" standard cells: the catalogue and its behavioural Verilog models.

Each cell's width in contacted poly pitches is the public fact (the NanGate 15nm Open Cell
Library's LEF, see ``docs/liberty.md``); its area is width x pitch x cell height. Electrical
figures follow logical effort (Sutherland, Sproull and Harris): an input pin's capacitance is
its logical effort times the stage size in units of the minimum inverter's input capacitance,
and the charge switched inside the cell per output transition is the stages' parasitic
(self-loading) capacitance plus the internal nodes between stages, in the same unit. Cells that
logical effort does not tabulate (XOR, MUX, adders, flip-flops) carry estimates derived from
their usual transistor topologies; the docs say how.

:func:`write_verilog_models` writes a simulation model of every cell, derived from the same
Liberty functions the library file states, so a synthesized netlist simulates at gate level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import technology as tech
from .liberty_reader import parse_function

__all__ = ["CellOutput", "FlipFlop", "Cell", "CELLS", "write_verilog_models",
           "verilog_expression", "variables"]


@dataclass(frozen=True)
class CellOutput:
    """An output pin.

    Parameters
    ----------
    name : str
    function : str
        Liberty Boolean function of the inputs (``"IQ"`` for a flip-flop's state).
    switched_units : dict
        Per related input pin: capacitance switched inside the cell per output transition, in
        units of the minimum inverter's input capacitance.
    parasitic : float
        Parasitic delay in units of tau (logical effort ``p``, summed over stages).
    drive : float
        Size of the output stage relative to the minimum inverter.
    """

    name: str
    function: str
    switched_units: dict[str, float]
    parasitic: float
    drive: float = 1.0


@dataclass(frozen=True)
class FlipFlop:
    """Edge-triggered state of a sequential cell (Liberty ``ff`` group, rising edge)."""

    clock: str
    next_state: str
    clear: str | None = None
    preset: str | None = None
    # Capacitance switched by the local clock buffers per clock edge, in inverter units.
    clock_units: float = 6.0


@dataclass(frozen=True)
class Cell:
    """One standard cell of dcom's library.

    Parameters
    ----------
    name : str
    width_cpp : int
        Width in contacted poly pitches.
    width_source : str
        Where the width comes from (a public fact or a stated derivation).
    input_units : dict
        Input pin -> capacitance in units of the minimum inverter's input capacitance.
    outputs : tuple of CellOutput
    flip_flop : FlipFlop, optional
    """

    name: str
    width_cpp: int
    width_source: str
    input_units: dict[str, float]
    outputs: tuple[CellOutput, ...]
    flip_flop: FlipFlop | None = None

    @property
    def inputs(self) -> list[str]:
        """Input pin names in order."""
        return list(self.input_units)

    @property
    def area_um2(self) -> float:
        """Cell area: width x contacted poly pitch x cell height."""
        return tech.cell_area_um2(self.width_cpp)

    @property
    def leakage_nw(self) -> float:
        """Leakage power, proportional to area (calibrated on the X1 inverter)."""
        return tech.LEAKAGE_NW_PER_UM2 * self.area_um2

    def input_cap_ff(self, pin: str) -> float:
        """Capacitance of input ``pin`` in fF."""
        return self.input_units[pin] * tech.UNIT_INPUT_CAP_FF

    @staticmethod
    def energy_fj(units: float) -> float:
        """Energy per transition (fJ) of ``units`` switched inverter-input capacitances,
        short-circuit energy included."""
        return units * tech.UNIT_SWITCH_ENERGY_FJ * (1 + tech.SHORT_CIRCUIT_FRACTION)


LEF = "NanGate 15nm OCL LEF"


def _comb(name, width, effort, function, parasitic, switched, *, drive=1.0):
    """A single-output combinational cell; ``effort`` and ``switched`` are per input pin
    (a number applies to every input)."""
    pins = variables(function)
    effort = effort if isinstance(effort, dict) else dict.fromkeys(pins, effort)
    switched = switched if isinstance(switched, dict) else dict.fromkeys(pins, switched)
    return Cell(name, width, LEF, {p: effort[p] for p in pins},
                (CellOutput("Y", function, {p: switched[p] for p in pins}, parasitic, drive),))


def variables(function: str) -> list[str]:
    """The input names a Liberty function uses, sorted."""
    def walk(node):
        if node[0] == "var":
            return {node[1]}
        return set().union(*(walk(c) for c in node[1:] if isinstance(c, tuple)))
    return sorted(walk(parse_function(function)))


def _inverters():
    # INV_Xn: logical effort g = 1, p = 1, size n. Widths 3/4/6/10 CPP [OCL15].
    return [_comb(f"INV_X{n}", w, n, "!A", 1.0, n, drive=n)
            for n, w in ((1, 3), (2, 4), (4, 6), (8, 10))]


def _buffers():
    # Two inverters; the first is sized for a fan-out of about 4 (at least minimum size).
    # Switched: stage-1 parasitic s1 + stage-2 input n + stage-2 parasitic n.
    cells = []
    for n, w in ((1, 5), (2, 5), (4, 8), (8, 14)):
        s1 = max(1.0, n / 4)
        cells.append(_comb(f"BUF_X{n}", w, s1, "A", 1 + n / s1 + 1, s1 + 2 * n, drive=n))
    return cells


def _nand_nor():
    cells = []
    # NAND n: g = (n+2)/3, p = n; NOR n: g = (2n+1)/3, p = n (gamma = 2).
    for n, w in ((2, 4), (3, 6), (4, 7)):
        pins = "ABCD"[:n]
        cells.append(_comb(f"NAND{n}_X1", w, (n + 2) / 3, "!(" + "&".join(pins) + ")", n, n))
        cells.append(_comb(f"NOR{n}_X1", w, (2 * n + 1) / 3, "!(" + "|".join(pins) + ")", n, n))
    return cells


def _and_or():
    cells = []
    # NAND/NOR followed by an X1 inverter: switched = p1 + inverter input (1) + inverter p (1);
    # parasitic delay p1 + stage-2 effort (1) + 1. Widths [OCL15].
    for n, w in ((2, 6), (3, 8), (4, 9)):
        pins = "ABCD"[:n]
        cells.append(_comb(f"AND{n}_X1", w, (n + 2) / 3, "&".join(pins), n + 2, n + 2))
        cells.append(_comb(f"OR{n}_X1", w, (2 * n + 1) / 3, "|".join(pins), n + 2, n + 2))
    return cells


def _complex_gates():
    # Logical effort and parasitic delay of the single-stage AOI/OAI gates (gamma = 2):
    # AOI21 g(A) = 2, g(B) = 5/3, p = 7/3; AOI22 g = 2, p = 4;
    # OAI21 g(A) = 2, g(B) = 4/3, p = 8/3; OAI22 g = 2, p = 4.
    return [
        _comb("AOI21_X1", 6, {"A": 2, "B": 2, "C": 5 / 3}, "!((A&B)|C)", 7 / 3, 7 / 3),
        _comb("AOI22_X1", 7, 2, "!((A&B)|(C&D))", 4, 4),
        _comb("OAI21_X1", 6, {"A": 2, "B": 2, "C": 4 / 3}, "!((A|B)&C)", 8 / 3, 8 / 3),
        _comb("OAI22_X1", 7, 2, "!((A|B)&(C|D))", 4, 4),
    ]


def _xor_mux():
    # XOR2/XNOR2 as an input inverter per pin plus a complementary core: each pin loads its
    # inverter (1) and two core transistors (2): g = 3. An output transition switches the core's
    # output node (p = 4) and the toggling input's inverted node (1 + 2): 7 units.
    # MUX2: S drives an inverter (1) and two core transistors (2); data pins one n/p pair (2).
    # Core output (4) + output inverter input (1) + output inverter parasitic (1) = 6 units,
    # plus the select inverter's node (3) when S toggles.
    return [
        _comb("XOR2_X1", 9, 3, "A^B", 6, 7),
        _comb("XNOR2_X1", 9, 3, "!(A^B)", 6, 7),
        _comb("MUX2_X1", 13, {"A": 2, "B": 2, "S": 3}, "(A&!S)|(B&S)", 6,
              {"A": 6, "B": 6, "S": 9}),
    ]


def _adders():
    # Half adder: S as XOR2 (7 units), CO as NAND2 + inverter (4 units); each input loads the
    # XOR (3) and the NAND2 (4/3).
    half = Cell("HA_X1", 13, LEF, {"A": 13 / 3, "B": 13 / 3}, (
        CellOutput("S", "A^B", {"A": 7, "B": 7}, 6),
        CellOutput("CO", "A&B", {"A": 4, "B": 4}, 4),
    ))
    # Full adder: the 28-transistor mirror adder. A and B each drive four n/p pairs (g = 4),
    # CI three (g = 3); the sum path switches about 8 units, the carry path 6.
    full = Cell("FA_X1", 24, LEF, {"A": 4, "B": 4, "CI": 3}, (
        CellOutput("S", "A^B^CI", {"A": 8, "B": 8, "CI": 8}, 9),
        CellOutput("CO", "(A&B)|(A&CI)|(B&CI)", {"A": 6, "B": 6, "CI": 6}, 6),
    ))
    return [half, full]


def _flip_flops():
    # Master-slave transmission-gate flip-flops. D and CK each load one inverter-sized input;
    # RN/SN drive the two latches' NAND feedback (g = 2). An output transition switches the
    # master and slave nodes and the output inverter (~8 units); each clock edge switches the
    # local clock nodes (FlipFlop.clock_units).
    def ff(name, width, source, extra_pin=None, clear=None, preset=None):
        inputs = {"D": 1.0, "CK": 1.0}
        if extra_pin:
            inputs[extra_pin] = 2.0
        return Cell(name, width, source, inputs,
                    (CellOutput("Q", "IQ", {"CK": 8}, 8),),
                    FlipFlop("CK", "D", clear=clear, preset=preset))

    # The OCL has no flip-flop without reset. Its DFFRNQ_X1 (26 CPP) has a NAND2 instead of an
    # inverter in each latch's feedback; a NAND2_X1 is one poly pitch wider than an INV_X1
    # (4 vs 3 CPP in the same LEF), so the plain flip-flop is 26 - 2 = 24 CPP.
    return [
        ff("DFF_X1", 24, "derived: DFFRNQ_X1 26 CPP - 2 x (NAND2_X1 - INV_X1) = 24"),
        ff("DFFR_X1", 26, LEF + " (DFFRNQ_X1)", "RN", clear="!RN"),
        ff("DFFS_X1", 26, LEF + " (DFFSNQ_X1)", "SN", preset="!SN"),
    ]


def _ties():
    return [Cell(name, 3, LEF, {}, (CellOutput("Y", value, {}, 0.0),))
            for name, value in (("TIEH", "1"), ("TIEL", "0"))]


CELLS: tuple[Cell, ...] = tuple(
    _inverters() + _buffers() + _nand_nor() + _and_or() + _complex_gates() + _xor_mux()
    + _adders() + _flip_flops() + _ties())


def verilog_expression(function: str) -> str:
    """A Liberty Boolean function written as a Verilog expression."""
    def emit(node):
        kind = node[0]
        if kind == "var":
            return node[1]
        if kind == "const":
            return f"1'b{node[1]}"
        if kind == "not":
            return f"~{emit(node[1])}"
        op = {"and": "&", "or": "|", "xor": "^"}[kind]
        return f"({emit(node[1])} {op} {emit(node[2])})"
    return emit(parse_function(function))


def _flip_flop_model(cell: Cell) -> str:
    ff = cell.flip_flop
    (q,) = cell.outputs
    events = [f"posedge {ff.clock}"]
    body = []
    for condition, value in ((ff.clear, "1'b0"), (ff.preset, "1'b1")):
        if condition:
            (pin,) = variables(condition)
            events.append(f"negedge {pin}" if condition.startswith("!") else f"posedge {pin}")
            body.append(f"if ({verilog_expression(condition)}) {q.name} <= {value};")
    body.append(f"{q.name} <= {verilog_expression(ff.next_state)};")
    statement = "\n    else ".join(body)
    ports = ", ".join([f"input {p}" for p in cell.inputs] + [f"output reg {q.name}"])
    return (f"module {cell.name} ({ports});\n"
            f"  always @({' or '.join(events)})\n"
            f"    {statement}\nendmodule\n")


def _combinational_model(cell: Cell) -> str:
    ports = ", ".join([f"input {p}" for p in cell.inputs]
                      + [f"output {o.name}" for o in cell.outputs])
    assigns = "".join(f"  assign {o.name} = {verilog_expression(o.function)};\n"
                      for o in cell.outputs)
    return f"module {cell.name} ({ports});\n{assigns}endmodule\n"


def write_verilog_models(path: str | Path) -> Path:
    """Write a behavioural Verilog model of every cell to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    models = [_flip_flop_model(c) if c.flip_flop else _combinational_model(c) for c in CELLS]
    header = ("// Behavioural models of dcom's 15nm-style standard cells, generated by "
              "dcom.synth.cells.\n`timescale 1ns/1ps\n\n")
    path.write_text(header + "\n".join(models))
    return path

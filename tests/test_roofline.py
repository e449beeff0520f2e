"""The roofline's throughput bounds, against hand-worked values and the modelled cycles."""

import pytest

from dcom.isa import Instruction, InstructionClass, Opcode, Side
from dcom.sw.compiler import compile_lanczos
from dcom.sw.cycles import program_cycles
from dcom.sw.roofline import instruction_bounds, instruction_macs, roofline
from dcom.tb.top import LANCZOS_CASES, SMALL_CONFIG as SMALL

# SMALL: 2 x 2 clusters of 2 x 2 multipliers (16 MACs a MULTIPLY), f = 2, a word a bank cycle.
BOUNDS = [
    # Per tile row: m MULTIPLYs; the R = 2 cluster rows' reductions side by side, each of
    # C / gcd(f, C) = 1 group; one result word in each cluster row, written at once.
    (Instruction(Opcode.MV, n=3, m=2), dict(commands=6, fill=3, reduction=3), 6 * 16),
    (Instruction(Opcode.MTV, n=2, m=3), dict(commands=6, fill=3, reduction=3), 6 * 16),
    # Per block: n MULTIPLYs, the cluster rows' reductions of C / f = 1 group side by side
    # (then the cross tree sums the row sums), one result word.
    (Instruction(Opcode.PROJ, n=2, m=2), dict(commands=4, fill=2, reduction=2), 4 * 16),
    # One group, a square root and a reciprocal, the two scalar words.
    (Instruction(Opcode.NORM, n=2), dict(commands=2, fill=2, reduction=1, scalar=2 * 29),
     2 * 16),
    # Per slot: PRELOAD, m MULTIPLYs, WRITE.
    (Instruction(Opcode.UPDATE, n=2, m=3), dict(commands=2 * (3 + 2)), 6 * 16),
    (Instruction(Opcode.SCALE, n=3), dict(commands=3 * 4), 6 * 16),
    (Instruction(Opcode.LOAD, n=3), dict(bank=3, fill=3), 0),
    (Instruction(Opcode.STORE, n=3), dict(bank=3), 0),
    (Instruction(Opcode.ZERO, n=5), dict(fill=5), 0),
    (Instruction(Opcode.BCAST, side=Side.V, n=2), dict(fill=2 * 2), 0),
    (Instruction(Opcode.MV, n=0, m=2), {}, 0),
]


@pytest.mark.parametrize("ins, bounds, macs", BOUNDS)
def test_instruction_bounds(ins, bounds, macs):
    expected = dict(commands=0, bank=0, fill=0, reduction=0, scalar=0)
    expected.update(bounds)
    assert instruction_bounds(SMALL, ins) == expected
    assert instruction_macs(SMALL, ins) == macs


def test_roofline_per_class():
    mv = Instruction(Opcode.MV, a=0, b=10, c=20, n=3, m=2)
    norm = Instruction(Opcode.NORM, a=20, b=30, n=2)
    lines = {line.klass: line for line in
             roofline(program_cycles(SMALL, [mv, norm, norm, Instruction(Opcode.HALT)]))}
    assert list(lines) == list(InstructionClass)
    # MV starts in cycle 9 and writes its last result in 25 (tests/test_cycles.py); the NORM
    # reads those words, so it starts in 26. Bound by its 6 commands.
    assert (lines[InstructionClass.MV].cycles, lines[InstructionClass.MV].bound) == (17, 6)
    assert lines[InstructionClass.MV].limiter == "commands"
    assert lines[InstructionClass.MV].macs_per_cycle == pytest.approx(96 / 17)
    assert (lines[InstructionClass.NORM].bound, lines[InstructionClass.NORM].limiter,
            lines[InstructionClass.NORM].macs) == (2 * 58, "scalar", 2 * 32)
    idle = lines[InstructionClass.BCAST]
    assert (idle.cycles, idle.bound, idle.efficiency, idle.macs_per_cycle) == (0, 0, 1.0, 0.0)


def test_bounds_never_exceed_the_modelled_cycles():
    config = LANCZOS_CASES["2x4-4x4-f4-default-pipeline"][0]
    program = compile_lanczos(config, 29, 35, 6).program
    for line in roofline(program_cycles(config, program)):
        assert line.bound <= line.cycles
        assert line.peak_macs_per_cycle == config.n_multipliers

"""The operand table of dcom.isa: one definition, the same checks on Python ints (ISA
simulator, fuzzer, performance model) and on Amaranth values (the controller's decoder)."""

import numpy as np
import pytest
from amaranth import Cat, Module, Signal
from amaranth.lib import data
from amaranth.sim import Simulator

from dcom.config import DcomConfig
from dcom.isa import (FIELDS, INSTRUCTION_BITS, OPERANDS, BlockSpan, BySide, CeilDiv, Field,
                      Instruction, Opcode, Param, Side, elaborate_steps_interfere,
                      elaborate_touches_writes_of, field_roles, steps_interfere,
                      touches_writes_of)

CONFIGS = {
    "2x2-2x2": DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=2, grid_cols=2,
                          buffer_depth=40, bank_depth=96, broadcast_depth=8, program_depth=16,
                          expansion=2),
    "2x3-2x4": DcomConfig(cluster_rows=2, cluster_cols=3, grid_rows=2, grid_cols=4,
                          buffer_depth=37, bank_depth=50, broadcast_depth=5, program_depth=16,
                          expansion=2),
}


def random_instructions(config: DcomConfig, count: int, seed: int) -> list[Instruction]:
    """Instructions of every opcode (and some undefined ones) with fields mostly small or near
    the buffer's depth, so that every check sees both outcomes, and sometimes any 16 bits."""
    rng = np.random.default_rng(seed)
    depth = config.buffer_depth

    def value():
        kind = rng.integers(0, 10)
        if kind < 5:
            return int(rng.integers(0, 8))
        if kind < 9:
            return int(rng.integers(depth - 6, depth + 6))
        return int(rng.integers(0, 1 << 16))

    return [Instruction(int(rng.integers(0, max(Opcode) + 2)), side=int(rng.integers(0, 4)),
                        **{name: value() for name in "abcdnm"}) for _ in range(count)]


def elaborated_checks(config: DcomConfig, instructions) -> list[dict]:
    """What the controller's decoder computes for each instruction: whether all operands of
    every opcode fit, elaborated from the table and run in Amaranth's simulator."""
    word = Signal(INSTRUCTION_BITS)
    decoded = data.StructLayout(dict(FIELDS))(word[:sum(w for _, w in FIELDS)])
    ok = {op: Signal(name=f"ok_{op.name.lower()}") for op in Opcode}
    m = Module()
    for op in Opcode:
        m.d.comb += ok[op].eq(Cat(*(operand.elaborate_fits(decoded, config)
                                    for operand in OPERANDS[op])).all())
    results = []

    async def testbench(ctx):
        for ins in instructions:
            ctx.set(word, ins.encode())
            results.append({op: bool(ctx.get(ok[op])) for op in Opcode})

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    return results


@pytest.mark.parametrize("name", CONFIGS)
def test_rtl_checks_equal_the_int_checks(name):
    config = CONFIGS[name]
    instructions = random_instructions(config, 1500, seed=len(name))
    for ins, rtl in zip(instructions, elaborated_checks(config, instructions)):
        for op in Opcode:
            # The decoder checks the fields as if they were those of every opcode.
            as_op = Instruction(op, ins.side, ins.a, ins.b, ins.c, ins.d, ins.n, ins.m)
            ints = all(operand.fits(as_op, config) for operand in OPERANDS[op])
            if ins.side <= Side.V:      # a larger side stops a sided opcode before any check
                assert rtl[op] == ints, f"{op.name} {as_op}"


@pytest.mark.parametrize("registered", [False, True], ids=["combinational", "registered"])
def test_rtl_interference_and_conflicts_equal_the_int_ones(registered):
    """Step interference and the conflict with an earlier reduction, elaborated (with the
    products of two fields combinational, or registered as the controller does) against the
    ints, on random instructions and on a Lanczos program's neighbours."""
    from dcom.sw.compiler import compile_lanczos

    config = CONFIGS["2x2-2x2"]
    layout = data.StructLayout(dict(FIELDS))
    fields, earlier_fields = Signal(layout), Signal(layout)
    m = Module()

    def product(left, right):
        result = Signal(len(left) + len(right))
        m.d.sync += result.eq(left * right)
        return result

    multiply = product if registered else None
    reducing = (Opcode.MV, Opcode.MTV, Opcode.PROJ)
    interfere = {op: Signal(name=f"interfere_{op.name}") for op in Opcode}
    touches = {(op, e): Signal(name=f"touch_{op.name}_{e.name}")
               for op in Opcode for e in reducing}
    for op in Opcode:
        m.d.comb += interfere[op].eq(
            Cat(*elaborate_steps_interfere(op, fields, config, multiply)).any())
        for e in reducing:
            m.d.comb += touches[op, e].eq(Cat(*elaborate_touches_writes_of(
                op, fields, e, earlier_fields, config, multiply)).any())
    rng = np.random.default_rng(5)
    pairs = [(ins, Instruction(int(rng.choice(reducing)), **{k: int(rng.integers(0, 12))
                                                             for k in "abcdnm"}))
             for ins in random_instructions(config, 800, seed=9) if ins.opcode is not None]
    program = compile_lanczos(config.replace(buffer_depth=128, broadcast_depth=32,
                                             program_depth=128), 9, 22, 5).program
    pairs += [(b, a) for a, b in zip(program, program[1:]) if a.op in reducing]

    async def testbench(ctx):
        for ins, earlier in pairs:
            ctx.set(fields, layout.const({k: getattr(ins, k) for k, _ in FIELDS}))
            ctx.set(earlier_fields, layout.const({k: getattr(earlier, k) for k, _ in FIELDS}))
            if registered:
                await ctx.tick()
            op = Opcode(ins.op)
            assert ctx.get(interfere[op]) == steps_interfere(ins, config), str(ins)
            assert ctx.get(touches[op, Opcode(earlier.op)]) == \
                touches_writes_of(ins, earlier, config), f"{ins} after {earlier}"

    sim = Simulator(m)
    if registered:
        sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def test_expressions_on_ints():
    config = CONFIGS["2x3-2x4"]
    n, m, d = Field("n"), Field("m"), Field("d")
    ins = Instruction(Opcode.PROJ, side=Side.V, d=5, n=3, m=2)
    assert BlockSpan(n, d, m).evaluate(ins, config) == 2 * 5 + 2
    assert BlockSpan(n, d, m).evaluate(Instruction(Opcode.PROJ, d=5, n=3), config) == 0
    assert CeilDiv(Field("n") + 4, Param("cluster_cols")).evaluate(ins, config) == 3
    assert (n * BySide(u=Param("cluster_cols"), v=Param("cluster_rows"))).evaluate(ins, config) \
        == 3 * 2
    assert (1 + 2 * n - m).evaluate(ins, config) == 5
    with pytest.raises(TypeError, match="divider"):
        CeilDiv(n, Param("cluster_cols")).elaborate(ins, config)


def test_field_roles_follow_the_operands():
    assert field_roles(Opcode.HALT) == {}
    assert field_roles(Opcode.LOAD) == {"a": "bank", "b": "buffer", "n": "count",
                                        "m": "cluster_row"}
    assert field_roles(Opcode.PROJ) == {"a": "buffer", "b": "buffer", "c": "buffer",
                                        "d": "stride", "n": "count", "m": "count"}
    assert field_roles(Opcode.SCALE) == {"a": "buffer", "b": "buffer", "c": "buffer",
                                         "d": "stride", "n": "count", "m": "lane"}
    assert field_roles(Opcode.NORM)["m"] == "broadcast"
    # No field holds two things in one opcode.
    for op in Opcode:
        for operand in OPERANDS[op]:
            for name, role in operand.fields().items():
                assert field_roles(op)[name] == role, (op.name, operand.name, name)

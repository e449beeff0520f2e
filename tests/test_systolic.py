"""The systolic array (the comparison baseline) against NumPy, on both simulators."""

import json

import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from dcom.hw.systolic import SystolicArray, SystolicPE
from dcom.tb.cosim import HdlDesign, library_emitter, run_cocotb

pytestmark = pytest.mark.cocotb

# Small non-square arrays: FP16 accumulation with combinational multipliers, and FP32
# accumulation with a pipelined multiplier (what `dcom synth` compares with).
ARRAYS = {
    "3x2-fp16acc": dict(rows=3, cols=2, buffer_depth=32, acc_format="fp16", mul_stages=0),
    "2x3-fp32acc-s1": dict(rows=2, cols=3, buffer_depth=32, acc_format="fp32", mul_stages=1),
}


def systolic_design(params: dict) -> HdlDesign:
    """The array emitted hierarchically: the PE and its units once."""
    return HdlDesign("dcom_systolic", library_emitter(
        lambda library: SystolicArray(**params, library=library), "dcom_systolic"), params)


@pytest.mark.parametrize("name", ARRAYS)
def test_systolic_matrix_vector(name, sim, seed):
    params = ARRAYS[name]
    run_cocotb(systolic_design(params), "dcom.tb.systolic", sim, seed=seed,
               env={"DCOM_SYSTOLIC": json.dumps(params)})


def test_pe_holds_its_partial_sum_between_waves():
    """Between waves a PE's partial sum stays put while its other bank is loaded and the sum
    from above changes: nothing ripples down the column but waves. Its multiplier's weight
    operand stays put too, even when the bank being loaded is the one the last wave used."""
    pe = SystolicPE("fp32", mul_stages=1)
    fragment = Fragment.get(pe, None)
    mul = next(sub.origins[0] for sub, name, *_ in fragment.subfragments if name == "mul")
    two, three, one = 0x4000, 0x4200, 0x3C00           # FP16
    six, seven = 0x40C00000, 0x40E00000                 # FP32

    async def bench(ctx):
        ctx.set(pe.load, 1)
        ctx.set(pe.w_in, two)
        await ctx.tick()
        ctx.set(pe.load, 0)
        ctx.set(pe.a_in, three)
        ctx.set(pe.a_valid_in, 1)
        await ctx.tick()
        ctx.set(pe.a_valid_in, 0)
        await ctx.tick().repeat(2)
        assert ctx.get(pe.p_out) == six
        # Load bank 1 while bank 0 is held, and change the sum from above: p_out holds.
        ctx.set(pe.load, 1)
        ctx.set(pe.load_bank, 1)
        for weight in (0x3800, 0x4400, 0xC000):
            ctx.set(pe.w_in, weight)
            ctx.set(pe.p_in, weight << 16)
            await ctx.tick()
            assert ctx.get(pe.p_out) == six
        ctx.set(pe.load, 0)
        # Load bank 0, the bank the last wave used: the multiplier is not shown its shifts.
        await ctx.tick()
        ctx.set(pe.load, 1)
        ctx.set(pe.load_bank, 0)
        shown = ctx.get(mul.a)
        for weight in (0x3C00, 0x4800, 0xB800):
            ctx.set(pe.w_in, weight)
            await ctx.tick()
            assert ctx.get(mul.a) == shown and ctx.get(pe.p_out) == six
        ctx.set(pe.load, 0)
        # The next wave uses bank 1 (-2.0 last loaded) and the sum from above (9.0).
        ctx.set(pe.p_in, 0x41100000)
        ctx.set(pe.a_in, one)
        ctx.set(pe.sel_in, 1)
        ctx.set(pe.a_valid_in, 1)
        await ctx.tick()
        ctx.set(pe.a_valid_in, 0)
        await ctx.tick()
        assert ctx.get(pe.p_out) == seven

    sim = Simulator(fragment)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()

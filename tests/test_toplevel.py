"""The top level's power model: accesses counted from a program, the fit, the figures.

The model with its shipped constants against a gate-level run of a whole instance it was not
fitted on is in tests/test_synth_power.py; scripts/bench_top_power.py fits it on three sizes
and checks each against the other two."""

import pytest

from dcom.config import DcomConfig
from dcom.isa import Instruction, Opcode
from dcom.synth.design import CategoryFigures
from dcom.synth.power import ClockGating, PowerFigures
from dcom.synth.toplevel import (TopActivity, TopLevelModel, TopSample, memory_macro,
                                 program_activity)

CONFIG = DcomConfig(cluster_rows=2, cluster_cols=4, grid_rows=2, grid_cols=2, buffer_depth=64)


def test_program_accesses_by_hand():
    """Four banks share the read and write enables: a LOAD of 3 words reads 3 words from
    each, a STORE of 2 writes 2 into each; a NORM writes one result; the program memory is
    read every cycle; nothing after HALT runs."""
    program = [Instruction(Opcode.LOAD, a=0, b=0, n=3, m=1),
               Instruction(Opcode.NORM, a=0, b=8, n=2, m=5),
               Instruction(Opcode.STORE, a=0, b=10, n=2, m=0),
               Instruction(Opcode.HALT),
               Instruction(Opcode.LOAD, n=7)]
    activity = program_activity(CONFIG, program, cycles=123)
    assert activity == TopActivity(123, 8, {"bank": (4 * 3, 4 * 2), "program": (123, 0),
                                            "broadcast": (0, 1)})


def test_memory_macros_are_the_top_levels_memories():
    bank = memory_macro(CONFIG, "bank")
    assert (bank.config.depth, bank.config.width) == (CONFIG.bank_depth, CONFIG.word_bits)
    assert memory_macro(CONFIG, "program").config.width == 128
    assert memory_macro(CONFIG, "broadcast").config.depth == CONFIG.broadcast_depth


def _sample(clusters, cycles, a, b, rate):
    """A measured instance whose glue drew ``a + b clusters`` fJ a cycle besides a 1 mW
    clock, with gates open at ``rate``."""
    data_uw = a + b * clusters                    # fJ per cycle at 1 GHz are uW
    glue = PowerFigures(internal_uw=1000.0 + data_uw, clock_uw=1000.0)
    gating = ClockGating(flops=100, groups=0, enabled_flop_cycles=round(100 * cycles * rate))
    return TopSample(TopActivity(cycles, clusters, {}), glue, gating)


def test_fit_recovers_the_constants():
    samples = [_sample(4, 2000, 500.0, 100.0, 0.1), _sample(16, 2500, 500.0, 100.0, 0.2)]
    model = TopLevelModel.fit(samples, clock_mhz=1000.0)
    assert model.data_fj_per_cycle == pytest.approx(500.0)
    assert model.data_fj_per_cluster_cycle == pytest.approx(100.0)
    assert model.clock_rate == pytest.approx(0.15)
    with pytest.raises(ValueError, match="at least two cluster counts"):
        TopLevelModel.fit(samples[:1] * 2, clock_mhz=1000.0)


def test_figures_from_structure_and_activity():
    model = TopLevelModel(500.0, 100.0, 0.2, 0.05)
    activity = TopActivity(1000, 8, {"bank": (40, 32), "program": (1000, 0),
                                     "broadcast": (0, 8)})
    area = CategoryFigures(flip_flops=1000, clock_fj=4262.4, leakage_nw=2000.0)
    glue = model.glue(CONFIG, activity, area)
    # 4262.4 fJ a cycle at 1 GHz is 4262.4 uW; 500 + 8 x 100 fJ a cycle is 1300 uW.
    assert glue.clock_uw == pytest.approx(4262.4)
    assert glue.dynamic_uw == pytest.approx(4262.4 + 1300.0)
    assert glue.leakage_uw == pytest.approx(2.0)
    gated = model.glue(CONFIG, activity, area, gated=True)
    assert gated.clock_uw == pytest.approx(0.2 * 4262.4)
    assert gated.dynamic_uw == pytest.approx(0.2 * 4262.4 + 1300.0)
    memories = model.memories(CONFIG, activity, area)
    bank, program = memory_macro(CONFIG, "bank"), memory_macro(CONFIG, "program")
    energy_pj = 72 * bank.read_energy_pj + 1000 * program.read_energy_pj \
        + 8 * memory_macro(CONFIG, "broadcast").write_energy_pj
    assert memories.sram_uw == pytest.approx(energy_pj)      # pJ over 1000 cycles of 1 ns
    assert memories.clock_uw == 0

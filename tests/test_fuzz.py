"""The random program generator: valid programs that cover every opcode and run on the ISA
simulator; invalid instructions only when asked; reproducible draws."""

import collections

import numpy as np
import pytest

from dcom.config import DcomConfig
from dcom.isa import Opcode, Status
from dcom.sw import InputError
from dcom.sw.fuzz import SPECIAL_FP16, fuzz_case, random_words
from dcom.sw.isasim import IsaSimulator, check_instruction

SMALL = DcomConfig(cluster_rows=2, cluster_cols=2, grid_rows=2, grid_cols=2, buffer_depth=64,
                   bank_depth=64, broadcast_depth=16, program_depth=64, expansion=2)
ONE = DcomConfig(cluster_rows=1, cluster_cols=1, grid_rows=2, grid_cols=4, buffer_depth=32,
                 bank_depth=64, broadcast_depth=8, program_depth=48, expansion=1,
                 acc_format="fp16")


@pytest.mark.parametrize("cfg", [SMALL, ONE], ids=["2x2", "1x1"])
def test_valid_programs_cover_every_opcode_and_run(cfg):
    statuses, executed = collections.Counter(), collections.Counter()
    for seed in range(20):
        case = fuzz_case(cfg, seed)
        program = case.program
        assert len(program) <= cfg.program_depth and program[-1].op == Opcode.HALT
        assert all(check_instruction(cfg, ins) is None for ins in program)
        assert {ins.op for ins in program} == set(Opcode)
        assert all(ins.b + ins.n <= case.window for ins in program[:cfg.cluster_rows])
        sim = IsaSimulator(cfg)
        sim.write_banks(case.banks)
        status = sim.run(program, case.tol)
        statuses[status] += 1
        executed.update(ins.op for ins in program[:sim.executed])
        assert status in (Status.DONE, Status.BREAKDOWN, Status.OVERFLOW)
        assert sim.run(case.dump) == Status.DONE
        top = cfg.bank_depth - cfg.cluster_rows * case.window
        for r in range(cfg.cluster_rows):
            stored = sim.banks[:, top + r * case.window:top + (r + 1) * case.window]
            assert np.array_equal(stored, sim.buffers[r, :, :case.window])
    assert set(executed) == set(Opcode) and statuses[Status.DONE] >= 5


def test_invalid_instructions_when_asked():
    statuses = collections.Counter()
    for seed in range(30):
        case = fuzz_case(SMALL, seed, length=20, invalid_rate=0.2)
        sim = IsaSimulator(SMALL)
        sim.write_banks(case.banks)
        statuses[sim.run(case.program, case.tol)] += 1
        if sim.status.is_error:
            assert check_instruction(SMALL, case.program[sim.stop_pc]) == sim.status
    assert statuses[Status.BAD_OPCODE] and statuses[Status.BAD_ADDRESS]


def test_draws_are_reproducible_and_mix_special_values():
    one, two = fuzz_case(SMALL, 7), fuzz_case(SMALL, 7)
    assert one.program == two.program and np.array_equal(one.banks, two.banks)
    assert one.tol == two.tol or (np.isnan(one.tol) and np.isnan(two.tol))
    words = random_words(np.random.default_rng(0), (20000,), special_rate=0.05)
    assert np.isin(SPECIAL_FP16, words).all()
    assert 0.03 < np.isin(words, SPECIAL_FP16).mean() < 0.07
    assert fuzz_case(SMALL, 8).program != one.program


def test_refuses_what_it_cannot_draw():
    with pytest.raises(InputError) as err:
        fuzz_case(SMALL.replace(bank_depth=4), 0)
    assert err.value.parameter == "config"
    with pytest.raises(InputError) as err:
        fuzz_case(SMALL, 0, window=SMALL.buffer_depth + 1)
    assert err.value.parameter == "window"
    with pytest.raises(InputError) as err:
        fuzz_case(SMALL, 0, length=SMALL.program_depth - SMALL.cluster_rows)
    assert err.value.parameter == "length"

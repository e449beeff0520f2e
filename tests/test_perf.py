"""The performance model's formulas (tests/test_top.py checks its cycles against the RTL's)."""

import json

import pytest

from dcom.cli import main
from dcom.config import DcomConfig
from dcom.sw.compiler import CompileError
from dcom.sw.gpumodel import A100_80GB_SXM, gpu_seconds, lanczos_kernels
from dcom.sw.isa import Instruction, Opcode, Side, Status
from dcom.sw.perf import (Latencies, Workload, execute_cycles, expansion_sweep, latencies,
                          lanczos_perf, lanczos_phases, program_cycles, roofline)
from dcom.sw.validation import InputError
from dcom.tb.top import LANCZOS_CASES, SMALL_CONFIG as SMALL


def test_latencies_come_from_the_components():
    assert latencies(SMALL) == Latencies(cluster=3, reduction=1, scalar=27)
    # 8x8 grid: multiplier register, three tree levels; f = 8: three levels of the group tree.
    assert latencies(DcomConfig()) == Latencies(cluster=5, reduction=3, scalar=27)
    assert latencies(DcomConfig(expansion=1, add_stages=1)).reduction == 0


@pytest.mark.parametrize("ins, cycles", [
    (Instruction(Opcode.ZERO, n=5), 6),
    (Instruction(Opcode.LOAD, n=3), 5),                # a word a cycle, two cycles to finish
    (Instruction(Opcode.STORE, n=0), 1),
    (Instruction(Opcode.BCAST, side=Side.U, n=2), 9),  # read + write per copy, C copies a slot
    # Per tile row: 2 MULTIPLYs, L+1 = 4 waiting for them, R = 2 reductions of
    # C/gcd(f, C) = 1 group (1 feed + L_r+1 = 2 drain + 1 write) with one cycle between.
    (Instruction(Opcode.MV, n=3, m=2), 3 * (2 + 4 + 2 * 4 + 1)),
    (Instruction(Opcode.MTV, n=2, m=3), 3 * (2 + 4 + 2 * 4 + 1)),
    (Instruction(Opcode.PROJ, n=2, m=2), 2 * (2 + 4 + 2 + 2 + 1)),   # R C / f = 2 groups
    (Instruction(Opcode.NORM, n=2), 2 + 4 + 2 + 2 + 2 * 27 + 2),
    (Instruction(Opcode.UPDATE, n=2, m=3), 2 * (1 + 3 + 1 + 1) + 1),
    (Instruction(Opcode.SCALE, n=3), 3 * 4 + 1),
    (Instruction(Opcode.MV, n=0, m=4), 0),
])
def test_execute_cycles(ins, cycles):
    assert execute_cycles(SMALL, ins) == cycles


def test_bank_width_and_clock_are_parameters():
    load = Instruction(Opcode.LOAD, n=3)
    narrow = SMALL.replace(bank_width=16)                 # 64-bit words: 4 cycles a word
    assert narrow.bank_cycles_per_word == 4
    assert execute_cycles(narrow, load) == 2 * 4 + 3
    assert execute_cycles(SMALL, Instruction(Opcode.NORM, n=2), stops=True) == 2 + 4 + 4 + 27
    program = [load, Instruction(Opcode.HALT)]
    slow = program_cycles(SMALL.replace(clock_mhz=500.0), program)
    # Start, FETCH and DECODE, LOAD (a word a cycle, two to finish), its barrier, FETCH and
    # DECODE of HALT.
    assert slow.total == 1 + 2 + (3 + 2) + 1 + 2
    assert slow.seconds == pytest.approx(11 / 500e6)


def test_program_totals_and_counters():
    program = [Instruction(Opcode.ZERO, n=2), Instruction(Opcode.SCALE, n=1),
               Instruction(Opcode.BCAST, side=Side.V, n=1), Instruction(Opcode.HALT)]
    run = program_cycles(SMALL, program)
    assert run.status == Status.DONE and run.stop_pc == 3
    # After the SCALE, the barrier waits for its last write-back: max(1, L - 2) = 1 here.
    assert [t.barrier for t in run.instructions] == [1, 1, 1]
    assert run.total == 1 + 3 * 2 + (1 + 3) + (1 + 5) + (1 + 5) + 2
    assert run.fetch_decode == 1 + 4 * 2
    counters = run.counters()
    assert counters["cycles"] == run.total
    # Each FETCH counts for the instruction before it.
    assert counters["cycles_memory"] == 1 + 3 + 1
    assert counters["cycles_norm"] == 1 + 5 + 1
    assert sum(v for k, v in counters.items() if k != "cycles") == run.total - 1 - 1 - 4
    deep = DcomConfig()                                   # L = 5: the barrier waits 3 cycles
    assert program_cycles(deep, program).instructions[2].barrier == 3


def test_stops():
    norm = Instruction(Opcode.NORM, n=1)
    assert program_cycles(SMALL, [Instruction(Opcode.ZERO, n=SMALL.buffer_depth + 1)]).status \
        == Status.BAD_ADDRESS
    assert program_cycles(SMALL, [Instruction(99)]).status == Status.BAD_OPCODE
    full = program_cycles(SMALL, [Instruction(Opcode.ZERO, n=1)] * SMALL.program_depth)
    assert (full.status, full.stop_pc) == (Status.BAD_PC, SMALL.program_depth)
    # Start, then per ZERO a FETCH, a DECODE, 1 + 1 cycles of execution and its barrier, then
    # the FETCH past the end.
    assert full.total == 1 + SMALL.program_depth * (2 + 2 + 1) + 1
    # Not counted for a class: the start cycle, the first FETCH and every DECODE.
    assert full.counters()["cycles_memory"] == full.total - 2 - SMALL.program_depth
    stopped = program_cycles(SMALL, [norm, norm], stop=(Status.BREAKDOWN, 1))
    assert (stopped.status, stopped.stop_pc, len(stopped.instructions)) == (Status.BREAKDOWN, 1, 2)
    assert stopped.counters()["cycles_norm"] == stopped.total - 2 - 2
    with pytest.raises(InputError, match="not a NORM"):
        program_cycles(SMALL, [Instruction(Opcode.ZERO)], stop=(Status.BREAKDOWN, 0))
    with pytest.raises(InputError, match="stop"):
        program_cycles(SMALL, [norm], stop=(Status.DONE, 0))


def test_hazard_stalls_only_when_a_read_meets_a_write_in_flight():
    # The basis word slot 0 writes (c = 4) is the vector word slot 1 reads next cycle: the
    # read waits the L + 1 = 4 cycles the write is tracked.
    aliased = Instruction(Opcode.SCALE, a=3, b=0, c=4, d=1, n=2)
    clean = Instruction(Opcode.SCALE, a=3, b=0, c=8, d=1, n=2)
    assert program_cycles(SMALL, [clean]).instructions[0].execute == 9
    assert program_cycles(SMALL, [aliased]).instructions[0].execute == 9 + 4


def test_lanczos_workload_and_phases():
    config = LANCZOS_CASES["2x4-4x4-f4-square"][0]
    run = lanczos_perf(config, Workload(batch=3, seq=37, hidden=37, rank=4))
    assert run.workload.steps == 8
    phases = lanczos_phases(run.compiled.program, 8)
    assert phases[0] == "setup" and phases[-1] == "store"
    assert [p for p in dict.fromkeys(phases)] == ["setup"] + [f"step {j}" for j in range(8)] \
        + ["store"]
    per_phase = run.phase_cycles()
    assert sum(sum(c.values()) for c in per_phase.values()) == sum(run.timing.by_class.values())
    assert run.batch_seconds == pytest.approx(3 * run.timing.seconds)
    for line in roofline(run.timing):
        assert line.bound <= line.cycles
    with pytest.raises(InputError, match="steps"):
        Workload(rank=10, steps=5)
    with pytest.raises(CompileError, match="buffer_depth"):
        lanczos_perf(config, Workload(seq=4096, hidden=4096))


def test_paper_workload_fits_the_default_configuration_and_sweeps():
    runs = expansion_sweep(DcomConfig(), Workload(), factors=[1, 8])
    assert [r.config.expansion for r in runs] == [1, 8]
    assert runs[1].timing.total < runs[0].timing.total
    assert runs[1].bound_cycles < runs[1].timing.total


def test_gpu_model():
    kernels = lanczos_kernels(4096, 4096, 20)
    # Start vector: norm, scale; step 0: MV, norm, scale; steps j > 0: MTV, MV, 2 x 4
    # reorthogonalization GEMVs, 2 x (norm, scale).
    assert len(kernels) == 2 + 3 + 19 * 14
    mv = next(k for k in kernels if k.name == "MV")
    assert mv.seconds(A100_80GB_SXM) == pytest.approx(5e-6 + 2 * 4096 * 4098 / 2.039e12)
    batched = gpu_seconds(A100_80GB_SXM, 4096, 4096, 20, 64, batched=True)
    assert batched < gpu_seconds(A100_80GB_SXM, 4096, 4096, 20, 64)


def test_cli_perf(tmp_path, capsys):
    out = tmp_path / "perf"
    assert main(["perf", "--clusters", "2x4", "--grid", "4x4", "--buffer-depth", "128",
                 "--seq", "37", "--hidden", "37", "--rank", "4", "--batch", "2",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Expansion-factor sweep" in printed and "[4/4] f=8" in printed
    data = json.loads((out / "perf.json").read_text())
    assert [p["expansion"] for p in data["sweep"]] == [1, 2, 4, 8]
    assert sorted(p.name for p in out.glob("*.png")) == [
        "perf-cycles-per-lanczos-step.png", "perf-expansion-factor-sweep.png",
        "perf-roofline-modelled-cycles-against-the-throughput-bound.png"]
    for argv, message in ((["--rank", "0"], "rank"), (["--expansion", "3"], "expansion"),
                          (["--clusters", "2x2", "--expansion", "4"], "buffer_depth")):
        with pytest.raises(SystemExit) as exit_:
            main(["perf", "--out", str(out)] + argv)
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err

"""The cycle model against timelines worked out by hand from the controller's rules
(tests/test_top.py checks its counters against the RTL's on whole programs).

SMALL: 2 x 2 clusters of 2 x 2, f = 2. A command reaches the clusters two cycles after it
issues (the command register, then its cluster row's distribution register) and its tree sums
L = 4 cycles later (operand read, operand register, multiplier, one registered tree level) and a write-back
lands two cycles after that; its set can be fed to the network 5 cycles after it issues, and
accumulators take one cycle (acc_latency 1, batch 1). The network: input register, one group-tree level
(a row's or column's 2 partials are one group): 2 cycles to a row or column sum, and one
cross-tree level more (the 2 row sums) for PROJ and NORM; with the feed, distribution and
result registers a row or column sum is written 5 cycles after its last group is fed, a total
across 6.
"""

import pytest

from dcom.config import DcomConfig
from dcom.isa import Instruction, InstructionClass, Opcode, Side, Status
from dcom.sw.cycles import Latencies, latencies, memory_cycles, program_cycles
from dcom.sw.validation import InputError
from dcom.tb.top import SMALL_CONFIG as SMALL

HALT = Instruction(Opcode.HALT)
# Cycle 0 is the host's start, 1 the IDLE cycle, 2 FETCH, 3 DECODE, 4-8 the checks, 9 the first
# start.
FIRST_START = 9


def test_latencies_come_from_the_configuration():
    assert latencies(SMALL) == Latencies(cluster=4, accumulate=0, network=2, cross=1, scalar=29)
    # 8 x 8 grid: operand read and register, two multiplier registers, three tree levels of
    # five (four in the adder, one after it). f = 8: input register, three group-tree levels,
    # then 16 / 8 = 2 groups a row or column: one stream level; the cross tree's four levels
    # sum 16 row sums.
    assert latencies(DcomConfig()) == Latencies(cluster=19, accumulate=5, network=21, cross=20,
                                                scalar=29)
    piped = DcomConfig(mul_stages=2, add_stages=1, acc_stages=2)
    assert latencies(piped) == Latencies(cluster=10, accumulate=2, network=9, cross=8,
                                         scalar=29)
    # f = 1: 16 groups a row, four stream levels.
    one = DcomConfig(expansion=1)
    assert (one.network_latency, one.cross_latency) == (1 + 4 * 5, 4 * 5)


def test_memory_instructions():
    assert memory_cycles(SMALL, Instruction(Opcode.ZERO, n=5)) == 6
    assert memory_cycles(SMALL, Instruction(Opcode.LOAD, n=3)) == 5
    assert memory_cycles(SMALL.replace(bank_width=16), Instruction(Opcode.LOAD, n=3)) == 2 * 4 + 3
    assert memory_cycles(SMALL, Instruction(Opcode.STORE, n=0)) == 1
    # Two slots from each of C = 2 sources: 4 copies a cycle apart, one more to write, one to
    # see the end.
    assert memory_cycles(SMALL, Instruction(Opcode.BCAST, side=Side.U, n=2)) == 4 + 2
    run = program_cycles(SMALL.replace(clock_mhz=500.0), [Instruction(Opcode.ZERO, n=5), HALT])
    # ZERO in cycles 10-15, FETCH, DECODE, the checks, HALT's wait: everything idle, so it
    # stops at once.
    assert (run.status, run.stop_pc, run.total) == (Status.DONE, 1, 23)
    assert run.counters()["cycles_memory"] == 23 - FIRST_START
    assert run.fetch_decode == FIRST_START
    assert run.seconds == pytest.approx(23 / 500e6)


def test_mv_overlaps_its_reductions_with_its_multiplies():
    run = program_cycles(SMALL, [Instruction(Opcode.MV, a=0, b=10, c=20, n=3, m=2), HALT])
    mv = run.instructions[0]
    # Six MULTIPLYs in cycles 10-15; tile row g's last in cycle 11 + 2 g can be fed 5 cycles
    # later, and its job is one group (both cluster rows side by side, C / f = 1 group each):
    # cycles 16, 18, 20. The results are written 5 cycles after their feeds, the last in 25;
    # HALT stops in 26.
    assert (mv.start, mv.issued) == (FIRST_START, 16)
    assert run.total == 26
    assert run.counters()["cycles_mv"] == 26 - FIRST_START


def test_norm_and_its_data_stop():
    norm = Instruction(Opcode.NORM, a=0, b=8, n=2, m=3)
    # MULTIPLYs in 10 and 11, fed in 16 (both cluster rows side by side, C / f = 1 group,
    # then the cross tree sums the two row sums), the sum in 22; square root done in 22 + 29,
    # reciprocal in 22 + 58, three cycles to split it into hi and lo, the two words in the
    # next two cycles.
    run = program_cycles(SMALL, [norm, HALT])
    assert run.total == 22 + 2 * 29 + 3 + 2 + 1
    stopped = program_cycles(SMALL, [norm, HALT], stop=(Status.BREAKDOWN, 0))
    assert (stopped.status, stopped.stop_pc, stopped.total) == (Status.BREAKDOWN, 0, 22 + 29)
    with pytest.raises(InputError, match="not a NORM"):
        program_cycles(SMALL, [Instruction(Opcode.ZERO)], stop=(Status.BREAKDOWN, 0))
    with pytest.raises(InputError, match="stop"):
        program_cycles(SMALL, [norm], stop=(Status.DONE, 0))


def test_independent_reductions_overlap_and_conflicting_ones_wait():
    mv = Instruction(Opcode.MV, a=0, b=10, c=20, n=2, m=1)
    mtv = Instruction(Opcode.MTV, a=0, b=12, c=24, n=1, m=2)
    # MV's commands in 10 and 11; FETCH, DECODE, the checks, and MTV starts in 19 while MV's
    # two results (fed 15 and 16) are on the way: its words do not meet MV's outputs.
    run = program_cycles(SMALL, [mv, mtv, HALT])
    assert [t.start for t in run.instructions] == [FIRST_START, 19]
    # MTV's commands in 20 and 21; its jobs are fed in 25 and 26; the last result is written
    # in 31, and HALT stops in 32.
    assert run.total == 32
    by_class = run.by_class
    assert (by_class[InstructionClass.MV], by_class[InstructionClass.MTV]) == (10, 13)
    # Reading MV's output words, MTV waits until MV's last result is written (in 21).
    reads_result = Instruction(Opcode.MTV, a=0, b=20, c=24, n=1, m=2)
    assert program_cycles(SMALL, [mv, reads_result, HALT]).instructions[1].start == 22


def test_row_sums_wait_for_an_earlier_total_to_leave_the_cross_tree():
    # 4 x 4 clusters, adders of four stages: two cross-tree levels of 5 cycles, so a row or
    # column group enters more than 10 cycles after the last group across. Tree sums come
    # 8 cycles after a command, so its set can be fed 9 cycles after it issues.
    config = SMALL.replace(cluster_rows=4, cluster_cols=4, add_stages=4)
    assert (config.cross_latency, config.network_latency, config.cluster_latency) == (10, 11, 8)
    proj = Instruction(Opcode.PROJ, a=0, b=4, c=8, d=1, n=1, m=1)
    mv = Instruction(Opcode.MV, a=20, b=30, c=40, n=1, m=1)
    run = program_cycles(config, [proj, mv, HALT], activity=True)
    # PROJ's command in 10, its two groups (4 / f a row) in 19 and 20. MV, whose words do not
    # meet PROJ's, starts in 18 and issues in 19; its set could be fed in 28, but its groups
    # wait until 31 and 32. Its row sums are written 14 cycles later, the last in 46.
    assert [(t.start, t.issued) for t in run.instructions] == [(9, 11), (18, 20)]
    assert run.activity["groups"] == [19, 20, 31, 32]
    assert run.total == 47


def test_pipelined_accumulators_space_the_commands_of_a_sum():
    # acc_stages = 2: a set is read 3 cycles after its update at the earliest; with two sets
    # the batch is one sum, so NORM's three products issue 3 cycles apart.
    config = SMALL.replace(acc_stages=2, acc_sets=2)
    assert (config.acc_latency, config.batch) == (3, 1)
    run = program_cycles(config, [Instruction(Opcode.NORM, a=0, b=8, n=3), HALT])
    assert run.instructions[0].issued == 10 + 2 * 3 + 1
    # With eight sets the batch is three sums, which interleave without a stall.
    wide = SMALL.replace(acc_stages=2)
    assert wide.batch == 3
    mv = program_cycles(wide, [Instruction(Opcode.MV, a=0, b=10, c=20, n=3, m=4), HALT])
    assert mv.instructions[0].issued == 10 + 3 * 4
    # The last batch takes a remainder below two batches: four tile rows go as one batch of
    # four (8 commands, no stall), not three and then one whose two commands wait 3 cycles.
    tail = program_cycles(wide, [Instruction(Opcode.MV, a=0, b=10, c=20, n=4, m=2), HALT])
    assert tail.instructions[0].issued == 10 + 8
    # Seven: three, then four.
    seven = program_cycles(wide, [Instruction(Opcode.MV, a=0, b=10, c=20, n=7, m=2), HALT])
    assert seven.instructions[0].issued == 10 + 14


def test_write_back_hazards_stall_exactly():
    # Slot 0 of the aliased SCALE writes basis word 4 (issued in cycle 13), which slot 1 reads
    # as its vector word: the read waits until the write has landed (write latency 6 cycles).
    clean = Instruction(Opcode.SCALE, a=3, b=0, c=8, d=1, n=2)
    aliased = Instruction(Opcode.SCALE, a=3, b=0, c=4, d=1, n=2)
    assert program_cycles(SMALL, [clean]).instructions[0].issued == 10 + 8
    assert program_cycles(SMALL, [aliased]).instructions[0].issued == 10 + 8 + 6


def test_stops_without_data():
    assert program_cycles(SMALL, [Instruction(Opcode.ZERO, n=SMALL.buffer_depth + 1)]).status \
        == Status.BAD_ADDRESS
    assert program_cycles(SMALL, [Instruction(99)]).status == Status.BAD_OPCODE
    full = program_cycles(SMALL, [Instruction(Opcode.ZERO, n=1)] * SMALL.program_depth)
    assert (full.status, full.stop_pc) == (Status.BAD_PC, SMALL.program_depth)
    # Per ZERO: FETCH, DECODE, five checks, the start, two cycles of ZERO; then the FETCH past
    # the end and the stop.
    assert full.total == 1 + SMALL.program_depth * 10 + 2
    with pytest.raises(InputError, match="program_depth"):
        program_cycles(SMALL, [HALT] * (SMALL.program_depth + 1))

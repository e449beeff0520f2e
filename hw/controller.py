"""The D-com controller: fetch and decode, a front end that issues cluster commands, a back end
that feeds the inter-cluster reduction network and writes its results, and the scalar steps of
NORM.

Front end. Instructions run in program order. An arithmetic instruction (MV, MTV, PROJ, NORM,
UPDATE, SCALE) is a loop nest of cluster commands issued one a cycle: its independent sums
(tile rows, tile columns, blocks or slots) go in *batches* of ``B`` (``DcomConfig.batch``;
the last batch takes a remainder below ``2 B``, ``dcom.config.batch_size``), each sum in an
accumulator set of its own, and a batch interleaves its sums command by command
(batch member ``s`` inner), so that the pipelined accumulators (``acc_latency`` cycles from an
update to the next read of a set) never stall when ``B >= acc_latency``. Sets are allocated in
ring order and held until their sum is reduced (MV, MTV, PROJ, NORM) or written back (UPDATE,
SCALE). A command waits while it would read a set updated less than ``acc_latency`` cycles
before, read a buffer word whose write-back is in flight, or take a set still held.

Back end. When the last command of a sum issues, a *job* (its set and where its result goes)
enters a queue. The back end takes the head job once the set's last update has landed and
feeds its groups to the network, one a cycle, jobs back to back: an MV job reduces the ``C``
partials of every cluster row side by side (``C / gcd(f, C)`` groups), an MTV job those of
every cluster column, a PROJ or NORM job those of every row, whose sums the network's cross
tree then sums (``cross_latency`` cycles more: an MV or MTV job's groups wait until an earlier
PROJ or NORM job's total has left it, so results leave one at a time and in order). The
network's results are written to the owning clusters as they leave it, an MV job's in every
cluster row at once and an MTV job's in every cluster column (NORM's goes to the scalar unit). So the multiplies of later sums
overlap the reductions of earlier ones, and the next instruction's front end overlaps this
instruction's back end unless their words conflict.

Order. The program behaves as if every instruction completed before the next began, as the
ISA simulator assumes (docs/isa.md): an instruction whose steps may read or overwrite each
other's words runs its sums one at a time (``B = 1``), its reductions finished between steps;
a MV, MTV, PROJ or NORM may start while the back end still works on the previous instruction
only if none of its words overlap the words that instruction still has to write, and the back
end holds no NORM (which may stop the program) and no older work; UPDATE and SCALE (whose
write-backs share the buffers' write port with results) start once the back end is idle;
ZERO, LOAD, STORE, BCAST, HALT and stops on errors wait until nothing is in flight anywhere.

``dcom.sw.cycles`` models this controller cycle by cycle; the two must agree exactly.
"""

from __future__ import annotations

from amaranth import Array, Cat, Module, Mux, Signal, Value
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from dcom.config import DcomConfig
from dcom.hw.cluster import AccMode, Broadcast, ClusterOp, command_layout
from dcom.hw.scalar import ScalarOp
from dcom.isa import (FIELDS, INSTRUCTION_BITS, OPERANDS, SIDED_OPCODES, InstructionClass,
                      Opcode, Status, elaborate_steps_interfere, elaborate_touches_writes_of,
                      instruction_class)

__all__ = ["Controller", "FillLanes", "FillSource", "JobKind", "COUNTER_BITS", "instruction_layout",
           "controller_signature", "network_tag_layout"]

COUNTER_BITS = 48


def instruction_layout() -> data.StructLayout:
    """An instruction's fields, least significant first (:data:`dcom.isa.FIELDS`)."""
    return data.StructLayout({name: width for name, width in FIELDS})


class FillSource(enum.Enum, shape=4):
    """What the clusters' fill ports receive."""

    ZERO = 0
    BANK = 1
    RESULT = 2
    HI = 3
    LO = 4
    ALONG_ROW = 5
    ALONG_COLUMN = 6
    ROW_RESULTS = 7
    COLUMN_RESULTS = 8


class FillLanes(enum.Enum, shape=2):
    """Which lanes of a word a fill writes: all of them, column 0 (a u-side chunk) or row 0
    (a v-side chunk). Two bits travel to the tiles, which widen them (:meth:`mask`): a
    64-bit mask would be one net for most of its bits, driving every row's register."""

    ALL = 0
    COL0 = 1
    ROW0 = 2

    @staticmethod
    def mask(config: DcomConfig, lanes) -> Value:
        """The ``P x Q``-bit lane mask of ``lanes`` (a value of this shape)."""
        P, Q = config.grid_rows, config.grid_cols
        col0 = sum(1 << (i * Q) for i in range(P))
        row0 = (1 << Q) - 1
        return Mux(lanes == FillLanes.ALL, (1 << (P * Q)) - 1,
                   Mux(lanes == FillLanes.COL0, col0, row0))


class JobKind(enum.Enum, shape=2):
    """What a back-end job reduces, and where its results go."""

    MV = 0
    MTV = 1
    PROJ = 2
    NORM = 3


def network_tag_layout(config: DcomConfig) -> data.StructLayout:
    """What travels with a group through the reduction network: where its sum goes."""
    return data.StructLayout({
        "kind": JobKind,
        "side_v": 1,
        "owner": range(max(2, config.cluster_rows, config.cluster_cols)),
        "addr": max(1, ceil_log2(config.buffer_depth)),
    })


def controller_signature(config: DcomConfig) -> wiring.Signature:
    """Ports of the :class:`Controller`, from its point of view."""
    addr = max(1, ceil_log2(config.buffer_depth))
    bank_addr = max(1, ceil_log2(config.bank_depth))
    sets = max(1, ceil_log2(config.acc_sets))
    return wiring.Signature({
        # Host side: start (a pulse) and the threshold; status and counters.
        "start": In(1),
        "tol": In(32),
        "busy": Out(1),
        "status": Out(range(max(Status) + 1)),
        "stop_pc": Out(range(config.program_depth + 1)),
        "cycles": Out(COUNTER_BITS),
        "class_cycles": Out(data.ArrayLayout(COUNTER_BITS, len(InstructionClass))),
        # Program memory read port (data the cycle after the address).
        "program_addr": Out(range(config.program_depth)),
        "program_data": In(INSTRUCTION_BITS),
        # Clusters: commands (registered here), the read port, the buses' tap, the fill port.
        "cmd": Out(wiring.Signature({"valid": Out(1), "payload": Out(command_layout(config))})),
        "read_valid": Out(1),
        "read_addr": Out(addr),
        "source": Out(16),
        "fill": Out(wiring.Signature({
            "valid": Out(1), "source": Out(FillSource), "addr": Out(addr),
            "lanes": Out(FillLanes), "row": Out(16), "col": Out(16),
            "all_rows": Out(1), "all_cols": Out(1), "result_in_col0": Out(1)})),
        "clusters_idle": In(1),
        # Reduction network: the group the network takes (registered here), its results.
        "feed": Out(wiring.Signature({
            "valid": Out(1), "last": Out(1), "acc_set": Out(sets), "partial_rows": Out(1),
            "mode": Out(2), "group": Out(16),
            "tag": Out(network_tag_layout(config))})),
        "result_valid": In(1),
        "result_tag": In(network_tag_layout(config)),
        "result_square": In(32),
        # Banks: a read enable and address for LOAD, a write enable and address for STORE.
        "bank_read": Out(1),
        "bank_addr": Out(bank_addr),
        "bank_write": Out(1),
        "bank_write_addr": Out(bank_addr),
        # Scalar unit and the broadcast memory's write port.
        "scalar_start": Out(1),
        "scalar_op": Out(ScalarOp),
        "scalar_a": Out(32),
        "scalar_done": In(1),
        "scalar_result": In(32),
        "broadcast_write": Out(wiring.Signature({
            "en": Out(1), "addr": Out(range(config.broadcast_depth)), "data": Out(32)})),
        "reciprocal": Out(32),
    })


def _fp32_le(a, b):
    """IEEE ``a <= b`` for FP32 bit patterns (false when either is NaN)."""
    def is_nan(x):
        return (x[23:31] == 0xFF) & x[:23].any()
    mag_a, mag_b = a[:31], b[:31]
    both_zero = (mag_a == 0) & (mag_b == 0)
    sign_a, sign_b = a[31], b[31]
    ordered = Mux(sign_a != sign_b, sign_a,
                  Mux(sign_a, mag_a >= mag_b, mag_a <= mag_b))
    return ~is_nan(a) & ~is_nan(b) & (both_zero | ordered)


class _Phase(enum.Enum, shape=2):
    PRELOAD = 0
    MULTIPLY = 1
    WRITE = 2


class Controller(wiring.Component):
    """Fetch, decode, front end, back end and NORM steps; see the module docstring.

    Parameters
    ----------
    config : DcomConfig
    """

    def __init__(self, config: DcomConfig):
        self.config = config
        super().__init__(controller_signature(config))

    def elaborate(self, platform):
        m = Module()
        config = self.config
        R, C = config.cluster_rows, config.cluster_cols
        S, B, W = config.acc_sets, config.batch, config.write_latency
        addr_bits = max(1, ceil_log2(config.buffer_depth))
        layout = instruction_layout()

        # ---- program state and counters -------------------------------------------------
        busy = Signal()
        status = Signal.like(self.status, init=Status.IDLE)
        stop_pc = Signal.like(self.stop_pc)
        pc = Signal(range(config.program_depth + 1))
        cycles = Signal(COUNTER_BITS)
        class_cycles = [Signal(COUNTER_BITS, name=f"cycles_{k.name.lower()}")
                        for k in InstructionClass]
        # One bit per class (none set before the first start): each counter has its own enable.
        inst_class = Signal(len(InstructionClass))
        m.d.comb += [self.busy.eq(busy), self.status.eq(status), self.stop_pc.eq(stop_pc),
                     self.cycles.eq(cycles),
                     self.class_cycles.eq(Cat(*class_cycles))]
        # Each increment is registered before it is added, so that no counter's carry chain
        # follows the busy flag's fanout; the counts lag a cycle while the program runs and
        # are exact once it has stopped.
        counting = Signal()
        class_counting = Signal(len(InstructionClass))
        m.d.sync += [counting.eq(busy), class_counting.eq(Mux(busy, inst_class, 0))]
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)
        for k, counter in enumerate(class_cycles):
            with m.If(class_counting[k]):
                m.d.sync += counter.eq(counter + 1)

        def stop(code, at):
            return [status.eq(code), stop_pc.eq(at), busy.eq(0)]

        # ---- decode and checks -----------------------------------------------------------
        # DECODE latches the instruction; the checks run in a pipeline from it, for
        # config.check_cycles cycles: the operands of products of two fields, their two halves'
        # partial products and their sums are registered, then every term of the bounds
        # checks, the step interference and the conflict with the last reduction, then their
        # reductions to one bit each.
        decoded = layout(self.program_data[:layout.size])
        inst = Signal(layout)
        inst_pc = Signal.like(pc)
        inst_error = Signal(range(max(Status) + 1))     # 0: none, else the stop status
        interfere = Signal()
        conflict = Signal()            # its words meet what the last reduction still writes
        prev = Signal(layout)          # the last reducing instruction started

        def registered_product(left, right):
            left_q = Signal(Value.cast(left).shape())
            right_q = Signal(Value.cast(right).shape())
            half = (len(right_q) + 1) // 2
            low = Signal(len(left_q) + half)
            high = Signal(len(left_q) + len(right_q) - half)
            product = Signal(len(left_q) + len(right_q))
            m.d.sync += [left_q.eq(left), right_q.eq(right),
                         low.eq(left_q * right_q[:half]), high.eq(left_q * right_q[half:]),
                         product.eq(low + (high << half))]
            return product

        def registered_any(terms, name):
            bits = Signal(max(1, len(terms)), name=f"{name}_terms")
            if terms:
                m.d.sync += bits.eq(Cat(*terms))
            return bits.any()

        known = inst.op <= max(Opcode)
        sided = Cat(*(inst.op == o for o in sorted(SIDED_OPCODES))).any()
        address_ok, inst_interferes, inst_conflicts = Signal(), Signal(), Signal()
        with m.Switch(inst.op):
            for code in Opcode:
                with m.Case(code):
                    misfits = [~operand.elaborate_fits(inst, config, registered_product)
                               for operand in OPERANDS[code]]
                    m.d.comb += [
                        address_ok.eq(~registered_any(misfits, f"misfit_{code.name}")),
                        inst_interferes.eq(registered_any(
                            elaborate_steps_interfere(code, inst, config, registered_product),
                            f"interfere_{code.name}")),
                    ]
                    if code in (Opcode.MV, Opcode.MTV, Opcode.PROJ, Opcode.NORM):
                        # Only the last reducing instruction can still have results to write
                        # (be_mixed says when an older one has too); a NORM is never overtaken.
                        m.d.comb += inst_conflicts.eq(Cat(*(
                            registered_any(elaborate_touches_writes_of(
                                code, inst, earlier, prev, config, registered_product),
                                f"conflict_{code.name}_{earlier.name}")
                            & (prev.op == earlier)
                            for earlier in (Opcode.MV, Opcode.MTV, Opcode.PROJ))).any())
        m.d.sync += [interfere.eq(inst_interferes), conflict.eq(inst_conflicts),
                     inst_error.eq(Mux(~known | (sided & (inst.side > 1)), Status.BAD_OPCODE,
                                       Mux(~address_ok, Status.BAD_ADDRESS, 0)))]
        check_wait = Signal(range(config.check_cycles))
        bad_pc = Signal()              # the program counter ran past the program memory
        m.d.comb += self.program_addr.eq(pc)

        op = inst.op
        side_v = inst.side[0]
        is_mv, is_mtv = op == Opcode.MV, op == Opcode.MTV
        is_proj, is_norm = op == Opcode.PROJ, op == Opcode.NORM
        is_update, is_scale = op == Opcode.UPDATE, op == Opcode.SCALE
        reducing = is_mv | is_mtv | is_proj | is_norm

        # ---- back-end state that the front end looks at -------------------------------------
        busy_sets = Signal(S)
        cool = Array(Signal(range(max(2, config.acc_latency)), name=f"cool{k}")
                     for k in range(S))
        settle = Array(Signal(range(config.cluster_latency + config.acc_stages + 1),
                              name=f"settle{k}") for k in range(S))
        job_layout = data.StructLayout({"acc_set": range(S), "kind": JobKind, "side_v": 1,
                                        "owner": 16, "addr": addr_bits})
        jobs = Array(Signal(job_layout, name=f"job{k}") for k in range(S))
        job_head, job_tail = Signal(range(S)), Signal(range(S))
        job_count = Signal(range(S + 1))
        in_network = Signal(range(2 * S * max(R, C) + 2))
        norm_busy = Signal()           # a NORM's job, reduction or scalar steps are pending
        be_idle = (job_count == 0) & (in_network == 0) & ~norm_busy
        be_mixed = Signal()            # the back end holds work of two instructions
        full_idle = be_idle & self.clusters_idle & ~self.cmd.valid

        # ---- front end ---------------------------------------------------------------------
        g0 = Signal(16)                # first sum of the batch
        bsz = Signal(range(2 * B))     # sums in the batch (the last one up to 2 B - 1)
        s = Signal(range(max(2, 2 * B - 1)))   # batch member
        mid = Signal(16)               # middle loop index
        phase = Signal(_Phase)
        second = Signal()              # SCALE's second write-back of a slot
        set_base = Signal(range(S))    # set of batch member 0
        # Running addresses: p_* of the A operand (p_batch for member 0, p_inner for member s,
        # p_mid the middle loop's offset, p_after for the next batch), v_inner the word c + g of
        # sum g (UPDATE's vector), q_inner c + g d (SCALE's basis word), b_run the B operand.
        p_batch, p_inner, p_mid, p_after = Signal(32), Signal(32), Signal(32), Signal(32)
        a_run = Signal(32)             # p_inner + p_mid, kept as a register for timing
        v_batch, v_inner, q_inner = Signal(32), Signal(32), Signal(32)
        b_run = Signal(32)
        owner, slot = Signal(16), Signal(16)
        # The owner of a job's result wraps after this one: registered from the instruction,
        # which is held through its checks.
        last_owner = Signal(16)
        m.d.sync += last_owner.eq(Mux(is_mv, C - 1, Mux(is_mtv, R - 1, 0)))

        # The loop nest's shape, from the instruction when it starts (``*_start``) and then
        # registered, so that no decision in EXEC goes through the opcode's decoding.
        outer_start, outer = Signal(16), Signal(16)
        mids_start, mids = Signal(17), Signal(17)
        stride_inner_start, stride_inner = Signal(16), Signal(16)
        stride_mid_start, stride_mid = Signal(16), Signal(16)
        b_base_start, b_base = Signal(16), Signal(16)
        with m.Switch(op):
            with m.Case(Opcode.MV):
                m.d.comb += [outer_start.eq(inst.n), mids_start.eq(inst.m), stride_inner_start.eq(inst.m),
                             stride_mid_start.eq(1), b_base_start.eq(inst.b)]
            with m.Case(Opcode.MTV):
                m.d.comb += [outer_start.eq(inst.m), mids_start.eq(inst.n), stride_inner_start.eq(1),
                             stride_mid_start.eq(inst.m), b_base_start.eq(inst.b)]
            with m.Case(Opcode.PROJ):
                m.d.comb += [outer_start.eq(inst.m), mids_start.eq(inst.n), stride_inner_start.eq(1),
                             stride_mid_start.eq(inst.d), b_base_start.eq(inst.b)]
            with m.Case(Opcode.NORM):
                m.d.comb += [outer_start.eq(1), mids_start.eq(inst.n), stride_inner_start.eq(0),
                             stride_mid_start.eq(1), b_base_start.eq(inst.a)]
            with m.Case(Opcode.UPDATE):
                m.d.comb += [outer_start.eq(inst.n), mids_start.eq(inst.m), stride_inner_start.eq(inst.d),
                             stride_mid_start.eq(1), b_base_start.eq(inst.b)]
            with m.Case(Opcode.SCALE):
                m.d.comb += [outer_start.eq(inst.n), mids_start.eq(2), stride_inner_start.eq(1),
                             stride_mid_start.eq(0), b_base_start.eq(inst.b)]
        # A reduction over no products does nothing at all (NORM's m is its result's index).
        empty_start, empty = Signal(), Signal()
        m.d.comb += empty_start.eq(reducing & ((inst.n == 0) | ((inst.m == 0) & ~is_norm)))
        batch = Mux(interfere, 1, B)

        def batch_size(total, first):
            # dcom.config.batch_size: the last batch takes a remainder below two batches.
            remaining = total - first
            return Mux(remaining < Mux(interfere, 2, 2 * B), remaining, batch)

        # The set of batch member s, and the command the front end would issue now.
        member_set = Signal(range(S))
        total = set_base + s
        m.d.comb += member_set.eq(Mux(total >= S, total - S, total))
        uses_rows = is_mv | ((is_proj | is_norm) & side_v) | ((is_update | is_scale) & ~side_v)
        write_op = Mux(side_v, ClusterOp.WRITE_COLS, ClusterOp.WRITE_ROWS)
        cmd = Signal(command_layout(config))
        first_use = Signal()           # the command allocates its set
        reads_acc = Signal()
        updates_acc = Signal()
        pushes_job = Signal()
        writes_word = Signal()
        releases = Signal()
        read_a, read_b = Signal(), Signal()
        last_mid = mid + 1 == mids
        with m.Switch(phase):
            with m.Case(_Phase.PRELOAD):
                m.d.comb += [cmd.op.eq(ClusterOp.PRELOAD), cmd.broadcast.eq(Broadcast.ROW),
                             cmd.b_addr.eq(v_inner), first_use.eq(1), updates_acc.eq(1),
                             read_b.eq(1)]
            with m.Case(_Phase.MULTIPLY):
                restart = (mid == 0) & ~is_update
                m.d.comb += [cmd.op.eq(ClusterOp.MULTIPLY),
                             cmd.broadcast.eq(Mux(uses_rows, Broadcast.ROW, Broadcast.COL)),
                             cmd.negate.eq(is_update),
                             cmd.a_addr.eq(a_run), cmd.b_addr.eq(b_run),
                             first_use.eq(restart), reads_acc.eq(~restart), updates_acc.eq(1),
                             pushes_job.eq(reducing & last_mid), read_a.eq(1), read_b.eq(1)]
            with m.Case(_Phase.WRITE):
                m.d.comb += [cmd.op.eq(write_op), reads_acc.eq(1), writes_word.eq(1),
                             releases.eq(is_update | second),
                             cmd.a_addr.eq(Mux(is_update, v_inner,
                                               Mux(second, q_inner, p_inner))),
                             cmd.lane.eq(Mux(second, inst.m, 0))]
        path_mode = Mux(phase == _Phase.WRITE, AccMode.HOLD,
                        Mux(phase == _Phase.PRELOAD, AccMode.ACCUMULATE,
                            Mux((mid == 0) & ~is_update, AccMode.RESTART, AccMode.ACCUMULATE)))
        m.d.comb += [cmd.acc_set.eq(member_set),
                     cmd.row_acc.eq(Mux(uses_rows, path_mode, AccMode.HOLD)),
                     cmd.col_acc.eq(Mux(uses_rows, AccMode.HOLD, path_mode))]

        # Write-backs in flight: a read issued 1 .. W cycles after a write-back to its word
        # would reach the buffer before the write.
        pending_addr = [Signal(addr_bits, name=f"wb_addr_{k}") for k in range(W)]
        pending_valid = [Signal(name=f"wb_valid_{k}") for k in range(W)]

        def in_flight(addr_):
            return Cat(*(pending_valid[k] & (pending_addr[k] == addr_) for k in range(W))).any()

        word_hazard = (read_a & in_flight(cmd.a_addr)) | (read_b & in_flight(cmd.b_addr))
        serial_wait = interfere & reducing & (g0 != 0) & (s == 0) & first_use & ~be_idle
        can_issue = (~(first_use & busy_sets.bit_select(member_set, 1))
                     & ~(reads_acc & (cool[member_set] != 0))
                     & ~word_hazard & ~serial_wait)
        issue = Signal()

        # Registered command to the clusters.
        m.d.sync += [self.cmd.valid.eq(issue), self.cmd.payload.eq(cmd)]
        for k in range(W):
            m.d.sync += [pending_valid[k].eq(pending_valid[k - 1] if k else issue & writes_word),
                         pending_addr[k].eq(pending_addr[k - 1] if k else cmd.a_addr)]

        # ---- back end: job queue and feed ---------------------------------------------------
        head = jobs[job_head]
        group = Signal(16)
        row_groups, column_groups = config.reduction_group_counts
        groups = Mux(head.kind == JobKind.MTV, column_groups, row_groups)
        # A row or column reduction's groups wait until a reduction across, fed earlier,
        # has left the network's cross tree (they leave the network before it).
        across_head = (head.kind == JobKind.PROJ) | (head.kind == JobKind.NORM)
        feeding = (job_count != 0) & (settle[head.acc_set] == 0)
        if config.cross_latency:
            cross_wait = Signal(range(config.cross_latency + 1))
            feeding &= across_head | (cross_wait == 0)
            with m.If(feeding & across_head):
                m.d.sync += cross_wait.eq(config.cross_latency)
            with m.Elif(cross_wait != 0):
                m.d.sync += cross_wait.eq(cross_wait - 1)
        last_group = group + 1 == groups
        tag = Signal(network_tag_layout(config))
        m.d.comb += [tag.kind.eq(head.kind), tag.side_v.eq(head.side_v), tag.addr.eq(head.addr),
                     tag.owner.eq(head.owner)]
        m.d.sync += [self.feed.valid.eq(feeding), self.feed.last.eq(last_group),
                     self.feed.acc_set.eq(head.acc_set),
                     self.feed.partial_rows.eq((head.kind == JobKind.MV)
                                               | (((head.kind == JobKind.PROJ)
                                                   | (head.kind == JobKind.NORM))
                                                  & head.side_v)),
                     self.feed.mode.eq(Mux(head.kind == JobKind.MV, 0,
                                           Mux(head.kind == JobKind.MTV, 1, 2))),
                     self.feed.group.eq(group), self.feed.tag.eq(tag)]
        pop = feeding & last_group
        with m.If(feeding):
            m.d.sync += group.eq(Mux(last_group, 0, group + 1))
        push = issue & pushes_job
        m.d.sync += job_count.eq(job_count + push - pop)
        with m.If(pop):
            m.d.sync += job_head.eq(Mux(job_head == S - 1, 0, job_head + 1))
        with m.If(push):
            m.d.sync += [jobs[job_tail].acc_set.eq(member_set),
                         jobs[job_tail].kind.eq(Mux(is_mv, JobKind.MV,
                                                    Mux(is_mtv, JobKind.MTV,
                                                        Mux(is_proj, JobKind.PROJ,
                                                            JobKind.NORM)))),
                         jobs[job_tail].side_v.eq(side_v),
                         job_tail.eq(Mux(job_tail == S - 1, 0, job_tail + 1))]
        # Where a job's result goes is written a cycle after its push, off the issue logic's
        # paths: the back end reads it no sooner than the set has settled.
        assert config.cluster_latency + config.acc_stages >= 1
        pushed, pushed_tail = Signal(), Signal.like(job_tail)
        m.d.sync += [pushed.eq(push), pushed_tail.eq(job_tail)]
        with m.If(pushed):
            m.d.sync += [jobs[pushed_tail].owner.eq(owner),
                         jobs[pushed_tail].addr.eq(inst.c + slot)]
            with m.If(owner == last_owner):
                m.d.sync += [owner.eq(0), slot.eq(slot + 1)]
            with m.Else():
                m.d.sync += owner.eq(owner + 1)
        network_in = feeding & last_group
        network_out = self.result_valid
        m.d.sync += in_network.eq(in_network + network_in - network_out)

        # Set bookkeeping.
        alloc = Signal(S)
        release = Signal(S)
        m.d.comb += [alloc.eq(Mux(issue & first_use, 1 << member_set, 0)),
                     release.eq(Mux(pop, 1 << head.acc_set, 0)
                                | Mux(issue & releases, 1 << member_set, 0))]
        m.d.sync += busy_sets.eq((busy_sets & ~release) | alloc)
        for k in range(S):
            updated = issue & updates_acc & (member_set == k)
            with m.If(updated):
                m.d.sync += [cool[k].eq(config.acc_latency - 1),
                             settle[k].eq(config.cluster_latency + config.acc_stages)]
            with m.Else():
                with m.If(cool[k] != 0):
                    m.d.sync += cool[k].eq(cool[k] - 1)
                with m.If(settle[k] != 0):
                    m.d.sync += settle[k].eq(settle[k] - 1)

        # ---- results: to the clusters, or NORM's to the scalar unit -------------------------
        result = self.result_tag
        fill = self.fill
        norm_index = Signal.like(self.broadcast_write.addr)
        norm_b = Signal(16)
        norm_pc = Signal.like(pc)
        reciprocal = Signal(32)
        split_wait = Signal(range(config.norm_split_latency + 1))
        m.d.comb += self.reciprocal.eq(reciprocal)

        def fill_words(source_, addr_, lanes_=FillLanes.ALL, row=None, col=None):
            return [fill.valid.eq(1), fill.source.eq(source_), fill.addr.eq(addr_),
                    fill.lanes.eq(lanes_),
                    fill.all_rows.eq(row is None), fill.row.eq(0 if row is None else row),
                    fill.all_cols.eq(col is None), fill.col.eq(0 if col is None else col)]

        # An MV result is one sum per cluster row, written to column `owner` of every row; an
        # MTV result one per cluster column, to row `owner`; a PROJ result goes everywhere.
        is_mv_result, is_mtv_result = result.kind == JobKind.MV, result.kind == JobKind.MTV
        in_col0 = is_mv_result | ((result.kind == JobKind.PROJ) & result.side_v)
        with m.If(self.result_valid & (result.kind != JobKind.NORM)):
            m.d.comb += [fill.valid.eq(1),
                         fill.source.eq(Mux(is_mv_result, FillSource.ROW_RESULTS,
                                            Mux(is_mtv_result, FillSource.COLUMN_RESULTS,
                                                FillSource.RESULT))),
                         fill.addr.eq(result.addr), fill.result_in_col0.eq(in_col0),
                         fill.lanes.eq(Mux(in_col0, FillLanes.COL0, FillLanes.ROW0)),
                         fill.all_rows.eq(~is_mtv_result), fill.all_cols.eq(~is_mv_result),
                         fill.row.eq(result.owner), fill.col.eq(result.owner)]

        with m.FSM(name="norm"):
            with m.State("IDLE"):
                with m.If(self.result_valid & (result.kind == JobKind.NORM)):
                    m.d.comb += [self.scalar_start.eq(1), self.scalar_op.eq(ScalarOp.SQRT),
                                 self.scalar_a.eq(self.result_square)]
                    m.next = "SQRT"
            with m.State("SQRT"):
                with m.If(self.scalar_done):
                    alpha = self.scalar_result
                    m.d.comb += [self.broadcast_write.en.eq(1),
                                 self.broadcast_write.addr.eq(norm_index),
                                 self.broadcast_write.data.eq(alpha)]
                    with m.If(alpha[23:31] == 0xFF):
                        m.d.sync += [*stop(Status.OVERFLOW, norm_pc), norm_busy.eq(0)]
                        m.next = "IDLE"
                    with m.Elif(_fp32_le(alpha, self.tol)):
                        m.d.sync += [*stop(Status.BREAKDOWN, norm_pc), norm_busy.eq(0)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += [self.scalar_start.eq(1),
                                     self.scalar_op.eq(ScalarOp.RECIPROCAL),
                                     self.scalar_a.eq(alpha)]
                        m.next = "RECIPROCAL"
            with m.State("RECIPROCAL"):
                with m.If(self.scalar_done):
                    m.d.sync += [reciprocal.eq(self.scalar_result),
                                 split_wait.eq(config.norm_split_latency - 1)]
                    m.next = "SPLIT"
            # The hi and lo words are formed from the reciprocal in the top level's pipeline.
            with m.State("SPLIT"):
                m.d.sync += split_wait.eq(split_wait - 1)
                with m.If(split_wait == 0):
                    m.next = "HI"
            with m.State("HI"):
                m.d.comb += fill_words(FillSource.HI, norm_b)
                m.next = "LO"
            with m.State("LO"):
                m.d.comb += fill_words(FillSource.LO, norm_b + 1)
                m.d.sync += norm_busy.eq(0)
                m.next = "IDLE"

        # ---- front-end FSM -------------------------------------------------------------------
        inner, moving, move_index = Signal(16), Signal(), Signal(16)
        source_k, source_slot, moved_k = Signal(16), Signal(16), Signal(16)
        rate = Signal(range(config.bank_cycles_per_word + 1))
        sources = Mux(side_v, R, C)
        early = ~be_mixed & ~norm_busy & ~conflict
        ready = Mux(op == Opcode.HALT, full_idle,
                    Mux(reducing, be_idle | early,
                        Mux(is_update | is_scale, be_idle, full_idle)))
        with m.If(be_idle):
            m.d.sync += be_mixed.eq(0)

        with m.FSM(name="front"):
            with m.State("IDLE"):
                with m.If(busy):
                    m.next = "FETCH"

            with m.State("FETCH"):
                with m.If(~busy):
                    m.next = "IDLE"
                with m.Elif(pc >= config.program_depth):
                    m.d.sync += [bad_pc.eq(1), inst_pc.eq(pc)]
                    m.next = "WAIT"
                with m.Else():
                    m.next = "DECODE"

            with m.State("DECODE"):
                # The memory loops' registers are cleared here rather than at the start, which
                # waits for the clusters' idle flags (late: an AND of every cluster's).
                m.d.sync += [inst.eq(decoded), inst_pc.eq(pc), pc.eq(pc + 1), bad_pc.eq(0),
                             check_wait.eq(config.check_cycles - 1), owner.eq(0), slot.eq(0),
                             inner.eq(0), moving.eq(0), rate.eq(0), source_k.eq(0),
                             source_slot.eq(0)]
                m.next = "CHECK"
                with m.If(~busy):
                    m.next = "IDLE"

            with m.State("CHECK"):
                m.d.sync += check_wait.eq(check_wait - 1)
                with m.If(~busy):
                    m.next = "IDLE"
                with m.Elif(check_wait == 0):
                    m.next = "WAIT"

            with m.State("WAIT"):
                with m.If(~busy):
                    m.next = "IDLE"
                with m.Elif(bad_pc):
                    with m.If(full_idle):
                        m.d.sync += stop(Status.BAD_PC, inst_pc)
                        m.next = "IDLE"
                with m.Elif(inst_error != 0):
                    with m.If(full_idle):
                        m.d.sync += stop(inst_error, inst_pc)
                        m.next = "IDLE"
                with m.Elif(op == Opcode.HALT):
                    with m.If(full_idle):
                        m.d.sync += stop(Status.DONE, inst_pc)
                        m.next = "IDLE"
                with m.Elif(ready):
                    cls = Signal(len(InstructionClass))
                    with m.Switch(op):
                        for code in Opcode:
                            klass = instruction_class(code)
                            if klass is not None:
                                with m.Case(code):
                                    m.d.comb += cls.eq(1 << klass)
                    m.d.sync += [inst_class.eq(cls), g0.eq(0), s.eq(0), mid.eq(0), second.eq(0),
                                 bsz.eq(batch_size(outer_start, 0)),
                                 outer.eq(outer_start), mids.eq(mids_start),
                                 stride_inner.eq(stride_inner_start),
                                 stride_mid.eq(stride_mid_start), b_base.eq(b_base_start),
                                 empty.eq(empty_start),
                                 phase.eq(Mux(is_update, _Phase.PRELOAD, _Phase.MULTIPLY)),
                                 p_batch.eq(inst.a), p_inner.eq(inst.a), p_mid.eq(0),
                                 a_run.eq(inst.a),
                                 v_batch.eq(inst.c), v_inner.eq(inst.c), q_inner.eq(inst.c),
                                 b_run.eq(b_base_start)]
                    with m.If(reducing & ~empty_start):
                        m.d.sync += [prev.eq(inst), be_mixed.eq(~be_idle)]
                        with m.If(is_norm):
                            m.d.sync += [norm_busy.eq(1), norm_index.eq(inst.m),
                                         norm_b.eq(inst.b), norm_pc.eq(inst_pc)]
                    with m.Switch(op):
                        with m.Case(Opcode.ZERO, Opcode.LOAD, Opcode.STORE):
                            m.next = "MEMORY"
                        with m.Case(Opcode.BCAST):
                            m.next = "BCAST"
                        with m.Default():
                            m.next = "EXEC"

            with m.State("EXEC"):
                with m.If(empty | (g0 >= outer)):
                    m.next = "FETCH"
                with m.Elif(can_issue):
                    m.d.comb += issue.eq(1)
                    end_of_batch = Signal()
                    inner_wrap = s + 1 == bsz
                    # SCALE writes two words per member.
                    with m.If(~(is_scale & (phase == _Phase.WRITE) & ~second)):
                        m.d.sync += s.eq(Mux(inner_wrap, 0, s + 1))
                    # The A address member 0 of the next batch starts from: the first middle
                    # iteration's address after the last member.
                    after = Mux((phase == _Phase.MULTIPLY) & (mid == 0),
                                p_inner + stride_inner, p_after)
                    with m.Switch(phase):
                        with m.Case(_Phase.PRELOAD):
                            m.d.sync += v_inner.eq(v_inner + 1)
                            with m.If(inner_wrap):
                                m.d.sync += [v_inner.eq(v_batch),
                                             phase.eq(Mux(mids == 0, _Phase.WRITE,
                                                          _Phase.MULTIPLY))]
                        with m.Case(_Phase.MULTIPLY):
                            m.d.sync += [p_inner.eq(p_inner + stride_inner),
                                         a_run.eq(a_run + stride_inner)]
                            with m.If(inner_wrap):
                                m.d.sync += [p_inner.eq(p_batch), p_after.eq(after),
                                             p_mid.eq(p_mid + stride_mid),
                                             a_run.eq(p_batch + p_mid + stride_mid),
                                             mid.eq(mid + 1), b_run.eq(b_run + 1)]
                                with m.If(last_mid):
                                    m.d.sync += [mid.eq(0), p_mid.eq(0), a_run.eq(p_batch),
                                                 b_run.eq(b_base)]
                                    with m.If(is_update | is_scale):
                                        m.d.sync += phase.eq(_Phase.WRITE)
                                    with m.Else():
                                        m.d.comb += end_of_batch.eq(1)
                        with m.Case(_Phase.WRITE):
                            with m.If(is_scale & ~second):
                                m.d.sync += second.eq(1)
                            with m.Else():
                                m.d.sync += [second.eq(0), v_inner.eq(v_inner + 1),
                                             p_inner.eq(p_inner + 1), a_run.eq(p_inner + 1),
                                             q_inner.eq(q_inner + inst.d)]
                                with m.If(inner_wrap):
                                    m.d.comb += end_of_batch.eq(1)
                    with m.If(end_of_batch):
                        next_g0 = g0 + bsz
                        next_base = set_base + bsz
                        m.d.sync += [g0.eq(next_g0), bsz.eq(batch_size(outer, next_g0)),
                                     set_base.eq(Mux(next_base >= S, next_base - S, next_base)),
                                     phase.eq(Mux(is_update, _Phase.PRELOAD,
                                                  _Phase.MULTIPLY)),
                                     p_batch.eq(after), p_inner.eq(after), a_run.eq(after),
                                     v_batch.eq(v_inner + 1), v_inner.eq(v_inner + 1)]
                        with m.If(next_g0 >= outer):
                            m.next = "FETCH"

            # ZERO writes a word a cycle. LOAD and STORE read a word (bank or cluster) in one
            # cycle and write it in the next, while the next read issues, one word per bank
            # word time.
            with m.State("MEMORY"):
                with m.If(op == Opcode.ZERO):
                    with m.If(inner == inst.n):
                        m.next = "FETCH"
                    with m.Else():
                        m.d.comb += fill_words(FillSource.ZERO, inst.a + inner)
                        m.d.sync += inner.eq(inner + 1)
                with m.Else():
                    with m.If(moving):
                        with m.If(op == Opcode.LOAD):
                            m.d.comb += fill_words(FillSource.BANK, inst.b + move_index,
                                                   row=inst.m)
                        with m.Else():
                            m.d.comb += [self.source.eq(inst.m), self.bank_write.eq(1),
                                         self.bank_write_addr.eq(inst.b + move_index)]
                    can_move = (inner < inst.n) & (rate == 0)
                    with m.If(can_move):
                        with m.If(op == Opcode.LOAD):
                            m.d.comb += [self.bank_read.eq(1), self.bank_addr.eq(inst.a + inner)]
                        with m.Else():
                            m.d.comb += [self.read_addr.eq(inst.a + inner),
                                         self.read_valid.eq(1)]
                        m.d.sync += [moving.eq(1), move_index.eq(inner), inner.eq(inner + 1),
                                     rate.eq(config.bank_cycles_per_word - 1)]
                    with m.Else():
                        m.d.sync += moving.eq(0)
                        with m.If(rate != 0):
                            m.d.sync += rate.eq(rate - 1)
                        with m.If(~moving & (inner == inst.n)):
                            m.next = "FETCH"

            # BCAST: the copy read in one cycle is written in the next, while the next read
            # issues. Copy t = s S + k takes word a + s of source k to word b + t.
            with m.State("BCAST"):
                with m.If(moving):
                    m.d.comb += [self.source.eq(moved_k),
                                 fill_words(Mux(side_v, FillSource.ALONG_COLUMN,
                                                FillSource.ALONG_ROW), inst.b + move_index)]
                with m.If(inner < inst.n * sources):
                    m.d.comb += [self.read_addr.eq(inst.a + source_slot), self.read_valid.eq(1)]
                    m.d.sync += [moving.eq(1), move_index.eq(inner), moved_k.eq(source_k),
                                 inner.eq(inner + 1)]
                    with m.If(source_k + 1 == sources):
                        m.d.sync += [source_k.eq(0), source_slot.eq(source_slot + 1)]
                    with m.Else():
                        m.d.sync += source_k.eq(source_k + 1)
                with m.Else():
                    m.d.sync += moving.eq(0)
                    with m.If(~moving):
                        m.next = "FETCH"

        # ---- start --------------------------------------------------------------------------
        with m.If(self.start):
            m.d.sync += [busy.eq(1), pc.eq(0), status.eq(Status.BUSY), cycles.eq(0),
                         inst_class.eq(0),
                         *(k.eq(0) for k in class_cycles)]
        return m

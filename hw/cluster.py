"""The D-com cluster: a ``P x Q`` grid of FP16 multipliers with dual-path reduction trees.

Paper section 5.2: every multiplier feeds a binary reduction tree along its row and another
along its column. With a tile of ``A`` read from the shared buffer and a vector broadcast down
the columns, the row trees give ``A_tile @ x``; with the vector broadcast along the rows, the
column trees give ``A_tile.T @ y`` from the same stored tile. Accumulators behind the trees sum
partial results over many tiles. The word layouts and the arithmetic are those of
``docs/arithmetic.md``, which the golden model follows too.

Commands enter one per cycle. Each names one of ``acc_sets`` accumulator sets, so that
independent sums (tile rows, blocks, slots) can interleave: the accumulators' adders are
pipelined (``acc_stages``), and a command that reads a set (``ACCUMULATE``, ``WRITE_*``) must
issue at least ``acc_latency`` cycles after the previous command that updated it. A command
updates its set :attr:`Cluster.latency` cycles after it issues and writes the buffer
:attr:`Cluster.write_latency` cycles after; the sequencer keeps a read of a word at least that
far behind a write-back to it. The ``acc_read`` port shows any set, for the inter-cluster
reduction.

The buffer is two SRAM macros (:class:`~dcom.hw.sram.LaneGroupSram`): the lanes of row 0 and
column 0, where broadcast operands and preload values lie, and the others, so that reading
an operand leaves the larger macro idle.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from dcom.config import FORMATS, DcomConfig
from dcom.hw.fp import FPAdder, FPConvert, FPMultiplier, canonical_nan, delay
from dcom.hw.hierarchy import ModuleLibrary, SharedModule
from dcom.hw.sram import LaneGroupSram

__all__ = ["AccMode", "Broadcast", "Cluster", "ClusterOp", "command_layout", "encode_command"]


class ClusterOp(enum.Enum, shape=2):
    """What a command does when it retires."""

    #: Multiply the A word by the broadcast B word; trees feed the accumulators.
    MULTIPLY = 0
    #: Load the accumulators with widened FP16 values from the B word (rows from its
    #: column 0, columns from its row 0).
    PRELOAD = 1
    #: Write the row accumulators, rounded to FP16, into column ``lane`` of word ``a_addr``.
    WRITE_ROWS = 2
    #: Write the column accumulators, rounded to FP16, into row ``lane`` of word ``a_addr``.
    WRITE_COLS = 3


class Broadcast(enum.Enum, shape=2):
    """Which lane of the B word each multiplier ``(i, j)`` receives (the scatter network)."""

    #: ``B[j]``: the row-0 vector down every column (row path, ``A @ x``).
    ROW = 0
    #: ``B[i Q]``: the column-0 vector along every row (column path, ``A.T @ y``).
    COL = 1
    #: ``B[lane]``: one scalar to every multiplier.
    SCALAR = 2
    #: ``B[i Q + j]``: elementwise, for dot products of whole words.
    ELEMENT = 3


class AccMode(enum.Enum, shape=2):
    """What a command does to its set's row or column accumulators."""

    HOLD = 0
    #: ``acc <- acc + tree`` (``MULTIPLY``), or load (``PRELOAD``), or write it (``WRITE_*``).
    ACCUMULATE = 1
    #: ``acc <- +0 + tree``: start a new sum.
    RESTART = 2


def command_layout(config: DcomConfig) -> data.StructLayout:
    """Layout of one cluster command for ``config``."""
    return data.StructLayout({
        "op": ClusterOp,
        "broadcast": Broadcast,
        "negate": 1,
        "row_acc": AccMode,
        "col_acc": AccMode,
        "lane": max(1, ceil_log2(config.macs_per_cluster)),
        "acc_set": max(1, ceil_log2(config.acc_sets)),
        "a_addr": max(1, ceil_log2(config.buffer_depth)),
        "b_addr": max(1, ceil_log2(config.buffer_depth)),
    })


def encode_command(config: DcomConfig, cmd) -> int:
    """The bits of ``cmd`` (a :class:`dcom.sw.clustermodel.ClusterCommand`, whose fields name
    the enum members) in :func:`command_layout`."""
    value = command_layout(config).const({
        "op": ClusterOp[cmd.op], "broadcast": Broadcast[cmd.broadcast], "negate": int(cmd.negate),
        "row_acc": AccMode[cmd.row_acc], "col_acc": AccMode[cmd.col_acc], "lane": cmd.lane,
        "acc_set": cmd.acc_set, "a_addr": cmd.a_addr, "b_addr": cmd.b_addr})
    return value.as_bits()


def vector_lane_group(config: DcomConfig) -> list[int]:
    """Lanes of a buffer word in row 0 or column 0 of the ``P x Q`` grid: those a ROW, COL or
    SCALAR broadcast operand (at lane 0..Q-1 or a multiple of Q) and a PRELOAD read."""
    P, Q = config.grid_rows, config.grid_cols
    return [k for k in range(P * Q) if k < Q or k % Q == 0]


def _word(config: DcomConfig) -> data.ArrayLayout:
    return data.ArrayLayout(16, config.macs_per_cluster)


def cluster_signature(config: DcomConfig) -> wiring.Signature:
    """Ports of a :class:`Cluster` (from the point of view of the cluster)."""
    addr = max(1, ceil_log2(config.buffer_depth))
    lanes = config.macs_per_cluster
    acc = config.acc.width
    return wiring.Signature({
        "cmd": In(wiring.Signature({"valid": Out(1), "payload": Out(command_layout(config))})),
        "fill": In(wiring.Signature({
            "valid": Out(1), "ready": In(1), "addr": Out(addr), "lanes": Out(lanes),
            "data": Out(_word(config))})),
        "read": In(wiring.Signature({
            "valid": Out(1), "ready": In(1), "addr": Out(addr),
            "resp_valid": In(1), "data": In(_word(config))})),
        "acc_read": In(max(1, ceil_log2(config.acc_sets))),
        "row_acc": Out(data.ArrayLayout(acc, config.grid_rows)),
        "col_acc": Out(data.ArrayLayout(acc, config.grid_cols)),
        "idle": Out(1),
    })


class Cluster(wiring.Component):
    """One D-com cluster.

    Parameters
    ----------
    config : DcomConfig
        Grid size, formats, buffer depth and pipelining.
    library : ModuleLibrary or None
        ``None`` builds the arithmetic units flat (for Amaranth's simulator); a library makes
        them instances of modules emitted once.

    Attributes
    ----------
    latency : int
        Cycles from a command's issue to the update of its accumulator set.
    write_latency : int
        Cycles from a ``WRITE_*`` command's issue to its buffer write.

    Ports
    -----
    cmd : valid + :func:`command_layout` payload, one command per cycle, always accepted.
    fill : writes lanes of a buffer word (host load); ``ready`` is low while a write-back retires.
    read : reads a buffer word, answered next cycle with ``resp_valid``; ``ready`` is low while
        a command issues.
    acc_read, row_acc, col_acc : the accumulators of set ``acc_read``, in the accumulation
        format.
    idle : no command in flight.
    """

    def __init__(self, config: DcomConfig, library: ModuleLibrary | None = None):
        self.config = config
        self._library = library
        acc = config.acc_format
        self._mul = self._unit(f"dcom_fp_mul_{acc}_s{config.mul_stages}",
                               lambda: FPMultiplier(out_format=acc, stages=config.mul_stages))
        self.tree_latency = max(config.tree_latency(config.row_tree_levels),
                                config.tree_latency(config.col_tree_levels))
        self.write_latency = config.write_latency
        self.latency = config.cluster_latency + config.acc_stages
        super().__init__(cluster_signature(config))

    def _unit(self, name, make):
        return lambda: SharedModule(name, make, self._library)

    def _tree(self, m: Module, leaves: list, name: str):
        config = self.config
        adder = self._unit(f"dcom_fp_add_{config.acc_format}_s{config.add_stages}",
                           lambda: FPAdder(fmt=config.acc_format, stages=config.add_stages))
        level = 0
        while len(leaves) > 1:
            sums = []
            for k in range(0, len(leaves), 2):
                m.submodules[f"{name}_l{level}_{k // 2}"] = add = adder()
                m.d.comb += [add.a.eq(leaves[k]), add.b.eq(leaves[k + 1])]
                out = add.sum
                if config.tree_registers:
                    out = Signal.like(add.sum, name=f"{name}_l{level}_{k // 2}_q")
                    m.d.sync += out.eq(add.sum)
                sums.append(out)
            leaves, level = sums, level + 1
        return leaves[0], config.tree_latency(level)

    def _convert(self, m: Module, value, src: str, dst: str, name: str):
        """``value`` converted from format ``src`` to ``dst`` (between equal formats only a NaN
        changes: it becomes canonical, as the contract keeps every stored NaN)."""
        if src == dst:
            return canonical_nan(value, FORMATS[src])
        m.submodules[name] = unit = self._unit(
            f"dcom_fp_convert_{src}_{dst}", lambda: FPConvert(src, dst))()
        m.d.comb += unit.a.eq(value)
        return unit.result

    def elaborate(self, platform):
        m = Module()
        config = self.config
        P, Q = config.grid_rows, config.grid_cols

        # The broadcast operand of a ROW, COL or SCALAR multiply and a PRELOAD's lanes lie in
        # row 0 and column 0 of the word: a macro of their own, so that reading them leaves
        # the other lanes' macro idle.
        vector_lanes = vector_lane_group(config)
        rest = [k for k in range(P * Q) if k not in vector_lanes]
        groups = [vector_lanes, rest] if rest else [vector_lanes]
        m.submodules.buffer = buffer = LaneGroupSram(
            config.buffer_depth, P * Q, 16, groups, read_ports=2, library=self._library)
        word = _word(config)
        # Port A reads tiles (and host reads), port B the broadcast operand.
        a_word, b_word = word(buffer.rd0_data), word(buffer.rd1_data)
        write_data = Signal(word)
        m.d.comb += buffer.wr_data.eq(write_data)

        # Issue: port A serves commands first and host reads when no command issues.
        cmd = self.cmd.payload
        m.d.comb += [
            buffer.rd0_addr.eq(Mux(self.cmd.valid, cmd.a_addr, self.read.addr)),
            buffer.rd1_addr.eq(cmd.b_addr),
            # Ports read only the lanes something uses: a read costs SRAM energy.
            buffer.rd0_en.eq(((self.cmd.valid & (cmd.op == ClusterOp.MULTIPLY))
                              | self.read.valid).replicate(len(groups))),
            buffer.rd1_en[0].eq(self.cmd.valid & ((cmd.op == ClusterOp.MULTIPLY)
                                                  | (cmd.op == ClusterOp.PRELOAD))),
            self.read.ready.eq(~self.cmd.valid),
            self.read.data.eq(a_word),
        ]
        if len(groups) > 1:
            # Q is a power of two: column 0 is the lanes whose low log2(Q) bits are 0.
            column = ceil_log2(Q)
            scalar_in_rest = (cmd.lane >= Q) & (cmd.lane[:column] != 0)
            m.d.comb += buffer.rd1_en[1].eq(
                self.cmd.valid & (cmd.op == ClusterOp.MULTIPLY)
                & ((cmd.broadcast == Broadcast.ELEMENT)
                   | ((cmd.broadcast == Broadcast.SCALAR) & scalar_in_rest)))
        m.d.sync += self.read.resp_valid.eq(self.read.valid & ~self.cmd.valid)

        stage1 = Signal(command_layout(config))
        stage1_valid = Signal()
        m.d.sync += [stage1.eq(cmd), stage1_valid.eq(self.cmd.valid)]

        # Scatter network: one B lane per multiplier, optionally negated.
        scalar = Array(b_word[k] for k in range(P * Q))[stage1.lane[:ceil_log2(P * Q)]] \
            if P * Q > 1 else b_word[0]
        sign_flip = Cat(Const(0, 15), stage1.negate)
        products = [[None] * Q for _ in range(P)]
        for i in range(P):
            for j in range(Q):
                operand = Signal(16, name=f"b_{i}_{j}")
                with m.Switch(stage1.broadcast):
                    with m.Case(Broadcast.ROW):
                        m.d.comb += operand.eq(b_word[j] ^ sign_flip)
                    with m.Case(Broadcast.COL):
                        m.d.comb += operand.eq(b_word[i * Q] ^ sign_flip)
                    with m.Case(Broadcast.SCALAR):
                        m.d.comb += operand.eq(scalar ^ sign_flip)
                    with m.Case(Broadcast.ELEMENT):
                        m.d.comb += operand.eq(b_word[i * Q + j] ^ sign_flip)
                # The operands are registered: the buffer's read and the scatter network
                # take most of a cycle.
                a_operand = Signal(16, name=f"a_{i}_{j}_q")
                b_operand = Signal(16, name=f"b_{i}_{j}_q")
                m.d.sync += [a_operand.eq(a_word[i * Q + j]), b_operand.eq(operand)]
                m.submodules[f"mul_{i}_{j}"] = mul = self._mul()
                assert mul.latency == config.mul_stages
                m.d.comb += [mul.a.eq(a_operand), mul.b.eq(b_operand)]
                products[i][j] = mul.product

        # Dual-path trees, aligned so that both paths retire together.
        row_sums, col_sums = [], []
        for i in range(P):
            total, latency = self._tree(m, [products[i][j] for j in range(Q)], f"row{i}")
            row_sums.append(delay(m, total, self.tree_latency - latency, f"row{i}_align"))
        for j in range(Q):
            total, latency = self._tree(m, [products[i][j] for i in range(P)], f"col{j}")
            col_sums.append(delay(m, total, self.tree_latency - latency, f"col{j}_align"))

        # Control and preload values travel beside the data to the retire stage.
        # Only column 0 (row preload) and row 0 (column preload) of the B word can be loaded.
        preload_layout = data.ArrayLayout(16, P + Q)
        in_flight = [stage1_valid]
        retire, retire_valid, preload = stage1, stage1_valid, Signal(preload_layout)
        m.d.comb += preload.eq(Cat(*(b_word[i * Q] for i in range(P)),
                                   *(b_word[j] for j in range(Q))))
        for stage in range(1 + config.mul_stages + self.tree_latency):
            before_retire = retire
            retire, retire_valid, preload = self._stage(m, retire, retire_valid, preload,
                                                        f"d{stage}")
            in_flight.append(retire_valid)
        # The accumulator adders' registers: the update lands acc_stages cycles after retire.
        commit, commit_valid, commit_preload = retire, retire_valid, preload
        for stage in range(config.acc_stages):
            commit, commit_valid, commit_preload = self._stage(
                m, commit, commit_valid, commit_preload, f"acc{stage}")
            # A write-back has left the pipeline at retire; only updates are still in flight.
            in_flight.append(commit_valid & ((commit.op == ClusterOp.MULTIPLY)
                                             | (commit.op == ClusterOp.PRELOAD)))

        row_sets = Array(Signal(data.ArrayLayout(config.acc.width, P), name=f"row_acc_set{k}")
                         for k in range(config.acc_sets))
        col_sets = Array(Signal(data.ArrayLayout(config.acc.width, Q), name=f"col_acc_set{k}")
                         for k in range(config.acc_sets))
        m.d.comb += [self.row_acc.eq(row_sets[self.acc_read]),
                     self.col_acc.eq(col_sets[self.acc_read])]
        row_now, col_now = row_sets[retire.acc_set], col_sets[retire.acc_set]
        for name, sets, sums, mode, commit_mode, lanes in (
                ("row_acc", row_sets, row_sums, before_retire.row_acc, commit.row_acc,
                 range(P)),
                ("col_acc", col_sets, col_sums, before_retire.col_acc, commit.col_acc,
                 range(P, P + Q))):
            self._accumulators(m, name, sets, before_retire.acc_set, mode, sums,
                               sets[commit.acc_set], commit, commit_valid, commit_mode,
                               [commit_preload[k] for k in lanes])

        # Write-back of rounded accumulators, else host fill, through the one write port. The
        # set's accumulators are registered, rounded to FP16 and registered again: the set's
        # multiplexer and the rounding take a cycle each.
        writing_rows = retire_valid & (retire.op == ClusterOp.WRITE_ROWS)
        writing_cols = retire_valid & (retire.op == ClusterOp.WRITE_COLS)
        taken_rows, taken_cols = Signal(), Signal()
        taken_lane, taken_addr = Signal.like(retire.lane), Signal.like(retire.a_addr)
        taken_row_acc = Signal.like(self.row_acc)
        taken_col_acc = Signal.like(self.col_acc)
        m.d.sync += [taken_rows.eq(writing_rows), taken_cols.eq(writing_cols),
                     taken_lane.eq(retire.lane), taken_addr.eq(retire.a_addr),
                     taken_row_acc.eq(row_now), taken_col_acc.eq(col_now)]
        rows16 = [self._convert(m, taken_row_acc[i], config.acc_format, "fp16", f"narrow_row{i}")
                  for i in range(P)]
        cols16 = [self._convert(m, taken_col_acc[j], config.acc_format, "fp16", f"narrow_col{j}")
                  for j in range(Q)]
        back_valid = Signal()
        back_addr = Signal.like(retire.a_addr)
        back_data = Signal(word)
        back_lanes = Signal(P * Q)
        m.d.sync += [back_valid.eq(taken_rows | taken_cols), back_addr.eq(taken_addr)]
        for i in range(P):
            for j in range(Q):
                m.d.sync += [
                    back_data[i * Q + j].eq(Mux(taken_rows, rows16[i], cols16[j])),
                    back_lanes[i * Q + j].eq((taken_rows & (taken_lane == j))
                                             | (taken_cols & (taken_lane == i))),
                ]
        in_flight.append(taken_rows | taken_cols)
        in_flight.append(back_valid)
        m.d.comb += [self.idle.eq(~Cat(*in_flight).any()), self.fill.ready.eq(~back_valid)]
        with m.If(back_valid):
            m.d.comb += [buffer.wr_addr.eq(back_addr), write_data.eq(back_data),
                         buffer.wr_en.eq(back_lanes)]
        with m.Elif(self.fill.valid):
            m.d.comb += [buffer.wr_addr.eq(self.fill.addr), write_data.eq(self.fill.data),
                         buffer.wr_en.eq(self.fill.lanes)]
        return m

    @staticmethod
    def _stage(m: Module, control, valid, preload, name: str):
        """One pipeline register for a command's control, valid bit and preload lanes."""
        nxt = Signal.like(control, name=f"ctl_{name}")
        nxt_valid = Signal(name=f"ctl_valid_{name}")
        nxt_preload = Signal.like(preload, name=f"preload_{name}")
        m.d.sync += [nxt.eq(control), nxt_valid.eq(valid), nxt_preload.eq(preload)]
        return nxt, nxt_valid, nxt_preload

    def _accumulators(self, m, name, sets, acc_set, mode, sums, target, commit, commit_valid,
                      commit_mode, preload_lanes):
        """One path's accumulators: at retire the adders take the command's set (or +0 to
        restart) and the tree sums; ``acc_stages`` cycles later the sum, or the widened
        preload lanes, lands in ``target``, the committing command's set.

        ``acc_set`` and ``mode`` belong to the command one stage before retire: its set is
        decoded a cycle early into a one-hot selection per adder, so that the adder's input
        is an AND-OR of the sets rather than a decoder and a multiplexer tree.
        """
        config = self.config
        adder = self._unit(f"dcom_fp_add_{config.acc_format}_s{config.acc_stages}",
                           lambda: FPAdder(fmt=config.acc_format, stages=config.acc_stages))
        for k in range(len(sums)):
            m.submodules[f"{name}_add{k}"] = add = adder()
            wide = self._convert(m, preload_lanes[k], "fp16", config.acc_format,
                                 f"{name}_widen{k}")
            select = Signal(config.acc_sets, name=f"{name}_select{k}")
            m.d.sync += select.eq(Mux(mode == AccMode.RESTART, 0,
                                      Cat(acc_set == s for s in range(config.acc_sets))))
            m.d.comb += [add.a.eq(reduce(operator.or_, (
                             sets[s][k] & select[s].replicate(config.acc.width)
                             for s in range(config.acc_sets)))),
                         add.b.eq(sums[k])]
            with m.If(commit_valid & (commit_mode != AccMode.HOLD)):
                with m.If(commit.op == ClusterOp.MULTIPLY):
                    m.d.sync += target[k].eq(add.sum)
                with m.Elif(commit.op == ClusterOp.PRELOAD):
                    m.d.sync += target[k].eq(wide)

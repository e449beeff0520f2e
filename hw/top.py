"""The D-com top level: ``R x C`` clusters, memory banks, reduction network and controller.

Paper section 5.1: clusters in a two-dimensional array, each column of clusters paired with a
memory bank. The controller executes the vector instructions of ``docs/isa.md`` (encodings from
``dcom.sw.isa``): it broadcasts cluster commands to every cluster, reduces partial sums across
clusters with the expansion factor's grouping (``ReductionUnit``), moves words between banks and
clusters and between clusters, and runs the scalar unit for norms. The host loads banks and the
program, starts, polls the status and reads results and cycle counters.

Commands that read a buffer word wait while a write-back to that word is in flight, and every
instruction starts once all clusters are idle, so a program behaves as if each step happened in
order: what the ISA simulator assumes.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from dcom.config import DcomConfig
from dcom.hw.cluster import (AccMode, Broadcast, Cluster, ClusterOp, cluster_signature,
                             command_layout)
from dcom.hw.fp import FPAdder, FPConvert, canonical_nan
from dcom.hw.hierarchy import ModuleLibrary, SharedModule
from dcom.hw.reduction import ReductionUnit
from dcom.hw.scalar import ScalarOp, ScalarUnit
from dcom.hw.sram import Sram
from dcom.sw.isa import (FIELDS, INSTRUCTION_BITS, HostError, InstructionClass, Opcode,
                         Register, Space, Status, instruction_class)

__all__ = ["Dcom", "host_signature", "COUNTER_BITS", "TILE_MODULE"]

COUNTER_BITS = 48
#: Verilog module of a tile (a cluster and its bus taps), instantiated ``R x C`` times.
TILE_MODULE = "dcom_tile"


def _instruction_layout() -> data.StructLayout:
    return data.StructLayout({name: width for name, width in FIELDS})


def host_data_bits(config: DcomConfig) -> int:
    """Width of the host data port: a buffer word or an instruction, whichever is wider."""
    return max(config.word_bits, INSTRUCTION_BITS, COUNTER_BITS)


def host_signature(config: DcomConfig) -> wiring.Signature:
    """The host port, from the host's side: one request a cycle, read data the next cycle."""
    return wiring.Signature({
        "valid": Out(1),
        "write": Out(1),
        "space": Out(2),
        "index": Out(16),
        "addr": Out(32),
        "wdata": Out(host_data_bits(config)),
        "rvalid": In(1),
        "rdata": In(host_data_bits(config)),
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


class FillSource(enum.Enum, shape=3):
    """What the clusters' fill ports receive."""

    ZERO = 0
    BANK = 1
    RESULT = 2
    HI = 3
    LO = 4
    ALONG_ROW = 5
    ALONG_COLUMN = 6


class Tile(wiring.Component):
    """A cluster with its share of the top level's buses, emitted once and instantiated
    ``R x C`` times, so that per-cluster logic is not written out for every cluster.

    Ports (plain bit vectors; words are ``P x Q`` FP16 lanes, lane 0 lowest)
    -------------------------------------------------------------------------
    cmd : the cluster's command port, shared by all tiles.
    read_valid, read_addr : the cluster's read port, shared by all tiles.
    row_bus_in, row_take, row_bus_out : a chain along the cluster row; a tile whose
        ``row_take`` is high puts its read word on the bus, the others pass it on.
    col_bus_in, col_take, col_bus_out : the same along the cluster column.
    fill_valid, fill_addr, fill_lanes : the cluster's fill port.
    fill_word, row_word, fill_from_row : the fill data is ``row_word`` (the row bus) when
        ``fill_from_row``, else ``fill_word``.
    partial_rows, partial : the row (or column) accumulators, padded to ``max(P, Q)`` lanes,
        for the reduction network.
    idle : the cluster has no command in flight.
    """

    def __init__(self, config: DcomConfig, library: ModuleLibrary | None = None):
        self.config = config
        self._library = library
        self.lanes = max(config.grid_rows, config.grid_cols)
        # The cluster's own ports, passed through.
        cluster = cluster_signature(config).members
        fill = cluster["fill"].signature.members
        addr, word = fill["addr"].shape, config.word_bits
        super().__init__({
            "cmd": cluster["cmd"],
            "read_valid": In(1), "read_addr": In(addr),
            "row_bus_in": In(word), "row_take": In(1), "row_bus_out": Out(word),
            "col_bus_in": In(word), "col_take": In(1), "col_bus_out": Out(word),
            "fill_valid": In(1), "fill_addr": In(addr), "fill_lanes": In(fill["lanes"].shape),
            "fill_word": In(word), "row_word": In(word), "fill_from_row": In(1),
            "partial_rows": In(1), "partial": Out(self.lanes * config.acc.width),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config, library = self.config, self._library
        m.submodules.cluster = cluster = SharedModule(
            "dcom_cluster", lambda: Cluster(config, library), library)
        lanes = self.lanes
        width = config.acc.width
        read_word = cluster.read.data.as_value()
        m.d.comb += [
            cluster.cmd.valid.eq(self.cmd.valid), cluster.cmd.payload.eq(self.cmd.payload),
            cluster.read.valid.eq(self.read_valid), cluster.read.addr.eq(self.read_addr),
            self.row_bus_out.eq(Mux(self.row_take, read_word, self.row_bus_in)),
            self.col_bus_out.eq(Mux(self.col_take, read_word, self.col_bus_in)),
            cluster.fill.valid.eq(self.fill_valid), cluster.fill.addr.eq(self.fill_addr),
            cluster.fill.lanes.eq(self.fill_lanes),
            cluster.fill.data.eq(Mux(self.fill_from_row, self.row_word, self.fill_word)),
            self.partial.eq(Mux(self.partial_rows,
                                Cat(cluster.row_acc, Const(0, (lanes - config.grid_rows) * width)),
                                Cat(cluster.col_acc, Const(0, (lanes - config.grid_cols) * width)))),
            self.idle.eq(cluster.idle),
        ]
        return m


class Dcom(wiring.Component):
    """A whole D-com instance.

    Parameters
    ----------
    config : DcomConfig
    library : ModuleLibrary or None
        ``None`` builds everything flat (Amaranth simulation); a library makes every tile an
        instance of one ``dcom_tile`` module holding a ``dcom_cluster`` (and the arithmetic
        units and memories instances too).

    Ports
    -----
    host : see :func:`host_signature` and docs/isa.md ("Host interface").
    busy : a program is running.
    """

    def __init__(self, config: DcomConfig, library: ModuleLibrary | None = None):
        self.config = config
        self._library = library
        super().__init__({"host": In(host_signature(config)), "busy": Out(1)})

    def _tile(self):
        config, library = self.config, self._library
        return SharedModule(TILE_MODULE, lambda: Tile(config, library), library)

    def _memory(self, m: Module, name: str, depth: int, width: int):
        """A one-read, one-write memory; its ports as ``(read, write)`` with the attribute names
        of Amaranth's memory ports (``addr``, ``data``, ``en``)."""
        m.submodules[name] = sram = Sram(depth, width, library=self._library)
        m.d.comb += sram.rd0_en.eq(1)
        return (SimpleNamespace(addr=sram.rd0_addr, data=sram.rd0_data),
                SimpleNamespace(addr=sram.wr_addr, data=sram.wr_data, en=sram.wr_en))

    def _unit(self, name, make):
        return SharedModule(name, make, self._library)

    def elaborate(self, platform):
        m = Module()
        config = self.config
        R, C, P, Q = config.cluster_rows, config.cluster_cols, config.grid_rows, config.grid_cols
        n_clusters, lanes_word, f = config.n_clusters, config.macs_per_cluster, config.expansion
        acc = config.acc
        word = data.ArrayLayout(16, lanes_word)
        depth = config.buffer_depth
        addr_bits = max(1, ceil_log2(depth))
        lanes = max(P, Q)
        host = self.host

        # ---- tiles: a cluster with its share of the buses -------------------------------------
        tiles = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C):
                tiles[r][c] = tile = self._tile()
                m.submodules[f"tile_{r}_{c}"] = tile
        flat = [tiles[r][c] for r in range(R) for c in range(C)]
        command = Signal(command_layout(config))
        command_valid = Signal()
        read_addr = Signal(addr_bits)
        read_valid = Signal()
        source = Signal(16)
        use_row_accs = Signal()
        for tile in flat:
            m.d.comb += [tile.cmd.valid.eq(command_valid), tile.cmd.payload.eq(command),
                         tile.read_valid.eq(read_valid), tile.read_addr.eq(read_addr),
                         tile.partial_rows.eq(use_row_accs)]
        all_idle = Cat(*(tile.idle for tile in flat)).all()

        # The words read travel along a cluster row (from the column ``source``) or a cluster
        # column (from the row ``source``): each tile passes the bus on or puts its word on it.
        along_row, along_col = [], []
        for r in range(R):
            bus = Const(0, config.word_bits)
            for c in range(C):
                m.d.comb += [tiles[r][c].row_bus_in.eq(bus), tiles[r][c].row_take.eq(source == c)]
                bus = tiles[r][c].row_bus_out
            along_row.append(bus)
        for c in range(C):
            bus = Const(0, config.word_bits)
            for r in range(R):
                m.d.comb += [tiles[r][c].col_bus_in.eq(bus), tiles[r][c].col_take.eq(source == r)]
                bus = tiles[r][c].col_bus_out
            along_col.append(bus)

        # ---- memories ---------------------------------------------------------------------
        banks = []
        bank_bits = max(1, ceil_log2(config.bank_depth))
        for c in range(C):
            banks.append(self._memory(m, f"bank_{c}", config.bank_depth, config.word_bits))
        bank_addr = Signal(bank_bits)
        program_read, program_write = self._memory(m, "program", config.program_depth,
                                                   INSTRUCTION_BITS)
        broadcast_read, broadcast_write = self._memory(m, "broadcast", config.broadcast_depth, 32)

        # Fill ports: one address and lane mask; the data comes from ``fill_source``, and a
        # cluster takes it when its row and column are both selected.
        fill_addr = Signal(addr_bits)
        fill_lanes = Signal(lanes_word)
        fill_valid = Signal()
        fill_source = Signal(FillSource)
        fill_row, fill_col = Signal(16), Signal(16)
        fill_all_rows, fill_all_cols = Signal(), Signal()
        result_word, hi_word, lo_word = Signal(word), Signal(word), Signal(word)
        # Sources common to all clusters are selected once, those of a cluster column once per
        # column; a cluster only chooses between its column's word and its row's.
        common = Signal(word)
        with m.Switch(fill_source):
            with m.Case(FillSource.RESULT):
                m.d.comb += common.eq(result_word)
            with m.Case(FillSource.HI):
                m.d.comb += common.eq(hi_word)
            with m.Case(FillSource.LO):
                m.d.comb += common.eq(lo_word)
        per_column = []
        for c in range(C):
            column_word = Signal(config.word_bits, name=f"fill_column_{c}")
            m.d.comb += column_word.eq(
                Mux(fill_source == FillSource.BANK, banks[c][0].data,
                    Mux(fill_source == FillSource.ALONG_COLUMN, along_col[c], common)))
            per_column.append(column_word)
        for r in range(R):
            for c in range(C):
                tile = tiles[r][c]
                m.d.comb += [
                    tile.fill_word.eq(per_column[c]), tile.row_word.eq(along_row[r]),
                    tile.fill_from_row.eq(fill_source == FillSource.ALONG_ROW),
                    tile.fill_valid.eq(fill_valid & (fill_all_rows | (fill_row == r))
                                       & (fill_all_cols | (fill_col == c))),
                    tile.fill_addr.eq(fill_addr), tile.fill_lanes.eq(fill_lanes),
                ]

        def fill(source_, addr, lanes_=-1, row=None, col=None):
            """Write ``source_`` at ``addr`` into the clusters of cluster row ``row`` (all if
            ``None``) and cluster column ``col`` (all if ``None``)."""
            return [fill_valid.eq(1), fill_source.eq(source_), fill_addr.eq(addr),
                    fill_lanes.eq(lanes_),
                    fill_all_rows.eq(row is None), fill_row.eq(0 if row is None else row),
                    fill_all_cols.eq(col is None), fill_col.eq(0 if col is None else col)]

        # ---- reduction network -------------------------------------------------------------
        g_row, g_col = config.reduction_group(C), config.reduction_group(R)
        group_sizes = (g_row, g_col, f)
        m.submodules.reduction = reduction = ReductionUnit(config, lanes, group_sizes,
                                                            self._library)
        red_mode = Signal(range(3))       # 0: cluster row, 1: cluster column, 2: all clusters
        red_set = Signal(16)              # which cluster row or column
        red_group = Signal(16)
        # Group i of a reduction over g neighbours holds clusters i g .. i g + g - 1 of the
        # row-major order (rows, all) or the column-major order (columns), so tree input t
        # only ever takes clusters whose position is t modulo g.
        row_major = [tiles[r][c].partial for r in range(R) for c in range(C)]
        col_major = [tiles[r][c].partial for c in range(C) for r in range(R)]
        for t in range(f):
            choices = []
            for order, g, group in ((row_major, g_row, red_set * (C // g_row) + red_group),
                                    (col_major, g_col, red_set * (R // g_col) + red_group),
                                    (row_major, f, red_group)):
                candidates = order[t::g] if t < g else [Const(0, len(reduction.group[t]))]
                choices.append(Array(candidates)[group] if len(candidates) > 1
                               else candidates[0])
            m.d.comb += reduction.group[t].eq(Array(choices)[red_mode])
        m.d.comb += reduction.tap.eq(red_mode)
        group_counts = Array([C // g_row, R // g_col, n_clusters // f])

        result16 = Signal(data.ArrayLayout(16, lanes))
        for lane in range(lanes):
            if acc.name == "fp16":
                m.d.comb += result16[lane].eq(canonical_nan(reduction.result[lane], acc))
            else:
                m.submodules[f"result_narrow_{lane}"] = narrow = self._unit(
                    "dcom_fp_convert_fp32_fp16", lambda: FPConvert("fp32", "fp16"))
                m.d.comb += [narrow.a.eq(reduction.result[lane]), result16[lane].eq(narrow.result)]
        result_in_col0 = Signal()       # U side: result lanes go to column 0 of the word
        result_lanes = Signal(lanes_word)
        for i in range(P):
            for j in range(Q):
                k = i * Q + j
                m.d.comb += [
                    result_word[k].eq(Mux(result_in_col0, result16[i], result16[j])),
                    result_lanes[k].eq(Mux(result_in_col0, j == 0, i == 0)),
                ]

        # ---- scalar unit: sqrt, 1/x, and the split of 1/x into FP16 hi + lo ------------------
        m.submodules.scalar = scalar = ScalarUnit()
        norm_square = Signal(32)
        if acc.name == "fp16":
            m.submodules.norm_widen = widen = self._unit(
                "dcom_fp_convert_fp16_fp32", lambda: FPConvert("fp16", "fp32"))
            m.d.comb += [widen.a.eq(reduction.result[0]), norm_square.eq(widen.result)]
        else:
            m.d.comb += norm_square.eq(reduction.result[0])
        reciprocal = Signal(32)
        m.submodules.hi_narrow = hi_narrow = FPConvert("fp32", "fp16")
        m.submodules.hi_widen = hi_widen = FPConvert("fp16", "fp32")
        m.submodules.lo_sub = lo_sub = FPAdder("fp32")
        m.submodules.lo_narrow = lo_narrow = FPConvert("fp32", "fp16")
        m.d.comb += [
            hi_narrow.a.eq(reciprocal), hi_widen.a.eq(hi_narrow.result),
            lo_sub.a.eq(reciprocal), lo_sub.b.eq(hi_widen.result ^ (1 << 31)),
            lo_narrow.a.eq(lo_sub.sum),
        ]
        m.d.comb += [hi_word[0].eq(hi_narrow.result), lo_word[0].eq(lo_narrow.result)]

        # ---- controller state ------------------------------------------------------------------
        status = Signal(range(max(Status) + 1), init=Status.IDLE)
        stop_pc = Signal(range(config.program_depth + 1))
        host_error = Signal(range(max(HostError) + 1))
        tol = Signal(32)
        pc = Signal(range(config.program_depth + 1))
        inst = Signal(_instruction_layout())
        cycles = Signal(COUNTER_BITS)
        class_cycles = Array(Signal(COUNTER_BITS, name=f"cycles_{k.name.lower()}")
                             for k in InstructionClass)
        inst_class = Signal(range(len(InstructionClass) + 1))
        busy = Signal()
        m.d.comb += [self.busy.eq(busy)]

        # Write-backs in flight, so that no command reads a word before its write lands.
        track = config.cluster_latency + 1
        pending_addr = [Signal(addr_bits, name=f"wb_addr_{k}") for k in range(track)]
        pending_valid = [Signal(name=f"wb_valid_{k}") for k in range(track)]
        new_write = Signal()
        m.d.sync += [pending_valid[0].eq(new_write & command_valid),
                     pending_addr[0].eq(command.a_addr)]
        for k in range(1, track):
            m.d.sync += [pending_valid[k].eq(pending_valid[k - 1]),
                         pending_addr[k].eq(pending_addr[k - 1])]

        def hazard(*addrs):
            return Cat(*(pending_valid[k] & (pending_addr[k] == a)
                         for k in range(track) for a in addrs)).any()

        # Loop counters and running addresses.
        outer, inner = Signal(16), Signal(16)
        addr_outer, addr_run, b_run = Signal(34), Signal(34), Signal(34)
        owner, owner_slot = Signal(16), Signal(16)
        set_index = Signal(16)
        rate = Signal(range(config.bank_cycles_per_word + 1))
        moving, move_index = Signal(), Signal(16)
        side_v = inst.side[0]
        op = inst.op

        # Instruction checks (docs/isa.md, "Errors").
        word_in = program_read.data
        decoded = _instruction_layout()(word_in[:_instruction_layout().size])
        a, b, c_, d_, n, mm = (decoded.a, decoded.b, decoded.c, decoded.d, decoded.n, decoded.m)
        side = decoded.side
        known = Signal()
        m.d.comb += known.eq(decoded.op <= max(Opcode))
        sided = Cat(*(decoded.op == o for o in (Opcode.PROJ, Opcode.UPDATE, Opcode.NORM,
                                                Opcode.SCALE, Opcode.BCAST))).any()
        bad_opcode = ~known | (sided & (side > 1))
        D, BD = depth, config.bank_depth

        def fits(base, count, limit):
            return (base + count) <= limit

        side_lanes = Mux(side[0], P, Q)
        # PROJ and UPDATE read basis words a + s d + k: from a to the last, inclusive.
        basis_span = Mux((n == 0) | (mm == 0), 0, (n - 1) * d_ + mm)
        checks = {
            Opcode.HALT: Const(1),
            Opcode.ZERO: fits(a, n, D),
            Opcode.LOAD: fits(a, n, BD) & fits(b, n, D) & (mm < R),
            Opcode.STORE: fits(a, n, D) & fits(b, n, BD) & (mm < R),
            Opcode.MV: fits(a, n * mm, D) & fits(b, mm, D) & (c_ <= D) & (n <= (D - c_) * C),
            Opcode.MTV: fits(a, n * mm, D) & fits(b, n, D) & (c_ <= D) & (mm <= (D - c_) * R),
            Opcode.PROJ: fits(a, basis_span, D) & fits(b, n, D) & fits(c_, mm, D),
            Opcode.UPDATE: fits(a, basis_span, D) & fits(b, mm, D) & fits(c_, n, D),
            Opcode.NORM: fits(a, n, D) & fits(b, 2, D) & (mm < config.broadcast_depth),
            Opcode.SCALE: fits(a, n, D) & fits(b, 2, D) & (mm < side_lanes)
            & ((n == 0) | (c_ + (n - 1) * d_ < D)),
            Opcode.BCAST: fits(a, n, D) & fits(b, n * Mux(side[0], R, C), D),
        }
        address_ok = Signal()
        with m.Switch(decoded.op):
            for code, ok in checks.items():
                with m.Case(code):
                    m.d.comb += address_ok.eq(ok)

        # Default drives.
        m.d.comb += [program_read.addr.eq(pc), broadcast_read.addr.eq(host.addr)]
        for c in range(C):
            m.d.comb += banks[c][0].addr.eq(Mux(busy, bank_addr, host.addr))

        def issue(op_, broadcast_, a_addr, b_addr, row_mode=AccMode.HOLD, col_mode=AccMode.HOLD,
                  negate=0, lane=0):
            """Drive one cluster command (the caller decides whether it issues)."""
            return [command.op.eq(op_), command.broadcast.eq(broadcast_),
                    command.a_addr.eq(a_addr), command.b_addr.eq(b_addr),
                    command.row_acc.eq(row_mode), command.col_acc.eq(col_mode),
                    command.negate.eq(negate), command.lane.eq(lane)]

        def stop(code, at):
            return [status.eq(code), stop_pc.eq(at), busy.eq(0)]

        # MV, MTV, PROJ and NORM share one shape: an outer loop; an inner loop of MULTIPLYs
        # into one accumulator set; then reductions whose results go back to the clusters.
        is_mv, is_mtv = op == Opcode.MV, op == Opcode.MTV
        is_proj, is_norm = op == Opcode.PROJ, op == Opcode.NORM
        uses_rows = is_mv | ((is_proj | is_norm) & side_v)
        outer_count = Mux(is_mv, inst.n, Mux(is_norm, 1, inst.m))
        inner_count = Mux(is_mv, inst.m, inst.n)
        inner_step = Mux(is_mv | is_norm, 1, Mux(is_mtv, inst.m, inst.d))
        outer_step = Mux(is_mv, inst.m, 1)
        red_sets = Mux(is_mv, R, Mux(is_mtv, C, 1))

        # UPDATE and SCALE work along the vector's own path: U rows, V columns.
        side_path = Mux(side_v, Broadcast.COL, Broadcast.ROW)
        side_write = Mux(side_v, ClusterOp.WRITE_COLS, ClusterOp.WRITE_ROWS)

        def side_modes(mode):
            return dict(row_mode=Mux(side_v, AccMode.HOLD, mode),
                        col_mode=Mux(side_v, mode, AccMode.HOLD))

        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(inst_class < len(InstructionClass)):
                m.d.sync += class_cycles[inst_class].eq(class_cycles[inst_class] + 1)

        with m.FSM(name="controller"):
            with m.State("IDLE"):
                m.d.sync += inst_class.eq(len(InstructionClass))
                with m.If(busy):
                    m.next = "FETCH"

            with m.State("FETCH"):
                m.d.sync += inst_class.eq(len(InstructionClass))
                with m.If(pc >= config.program_depth):
                    m.d.sync += stop(Status.BAD_PC, pc)
                    m.next = "IDLE"
                with m.Else():
                    m.next = "DECODE"

            with m.State("DECODE"):
                m.d.sync += [inst.eq(decoded), pc.eq(pc + 1)]
                with m.If(bad_opcode):
                    m.d.sync += stop(Status.BAD_OPCODE, pc)
                    m.next = "IDLE"
                with m.Elif(~address_ok):
                    m.d.sync += stop(Status.BAD_ADDRESS, pc)
                    m.next = "IDLE"
                with m.Elif(decoded.op == Opcode.HALT):
                    m.d.sync += stop(Status.DONE, pc)
                    m.next = "IDLE"
                with m.Else():
                    cls = Signal(range(len(InstructionClass) + 1))
                    with m.Switch(decoded.op):
                        for code in Opcode:
                            klass = instruction_class(code)
                            if klass is not None:
                                with m.Case(code):
                                    m.d.comb += cls.eq(klass)
                    m.d.sync += [inst_class.eq(cls), outer.eq(0), inner.eq(0),
                                 addr_outer.eq(a), owner.eq(0), owner_slot.eq(0), rate.eq(0),
                                 moving.eq(0)]
                    m.next = "BARRIER"

            with m.State("BARRIER"):
                with m.If(all_idle):
                    m.d.sync += [addr_run.eq(addr_outer), b_run.eq(Mux(is_norm, inst.a, inst.b))]
                    with m.Switch(op):
                        with m.Case(Opcode.ZERO, Opcode.LOAD, Opcode.STORE):
                            m.next = "MEMORY"
                        with m.Case(Opcode.MV, Opcode.MTV, Opcode.PROJ, Opcode.NORM):
                            m.d.sync += use_row_accs.eq(uses_rows)
                            with m.If((inner_count == 0) | (outer_count == 0)):
                                m.next = "FETCH"
                            with m.Else():
                                m.next = "MULTIPLY"
                        with m.Case(Opcode.UPDATE):
                            m.next = "UPDATE_PRELOAD"
                        with m.Case(Opcode.SCALE):
                            m.next = "SCALE"
                        with m.Case(Opcode.BCAST):
                            m.next = "BCAST_READ"

            # ---- ZERO, LOAD, STORE ---------------------------------------------------------
            # ZERO writes a word a cycle. LOAD and STORE read a word (bank or cluster) in one
            # cycle and write it in the next, while the next read issues, one word per bank
            # word time.
            with m.State("MEMORY"):
                with m.If(op == Opcode.ZERO):
                    with m.If(inner == inst.n):
                        m.next = "FETCH"
                    with m.Else():
                        m.d.comb += fill(FillSource.ZERO, inst.a + inner)
                        m.d.sync += inner.eq(inner + 1)
                with m.Else():
                    with m.If(moving):
                        with m.If(op == Opcode.LOAD):
                            m.d.comb += fill(FillSource.BANK, inst.b + move_index, row=inst.m)
                        with m.Else():
                            m.d.comb += source.eq(inst.m)
                            for c in range(C):
                                m.d.comb += [banks[c][1].addr.eq(inst.b + move_index),
                                             banks[c][1].data.eq(along_col[c]),
                                             banks[c][1].en.eq(1)]
                    can_issue = (inner < inst.n) & (rate == 0)
                    with m.If(can_issue):
                        with m.If(op == Opcode.LOAD):
                            m.d.comb += bank_addr.eq(inst.a + inner)
                        with m.Else():
                            m.d.comb += [read_addr.eq(inst.a + inner), read_valid.eq(1)]
                        m.d.sync += [moving.eq(1), move_index.eq(inner), inner.eq(inner + 1),
                                     rate.eq(config.bank_cycles_per_word - 1)]
                    with m.Else():
                        m.d.sync += moving.eq(0)
                        with m.If(rate != 0):
                            m.d.sync += rate.eq(rate - 1)
                        with m.If(~moving & (inner == inst.n)):
                            m.next = "FETCH"

            # ---- MV, MTV, PROJ, NORM ----------------------------------------------------------
            with m.State("MULTIPLY"):
                first = inner == 0
                mode = Mux(first, AccMode.RESTART, AccMode.ACCUMULATE)
                broadcast_ = Mux(uses_rows, Broadcast.ROW, Broadcast.COL)
                m.d.comb += issue(ClusterOp.MULTIPLY, broadcast_, addr_run, b_run,
                                  row_mode=Mux(uses_rows, mode, AccMode.HOLD),
                                  col_mode=Mux(uses_rows, AccMode.HOLD, mode))
                with m.If(~hazard(addr_run, b_run)):
                    m.d.comb += command_valid.eq(1)
                    m.d.sync += [addr_run.eq(addr_run + inner_step), b_run.eq(b_run + 1),
                                 inner.eq(inner + 1)]
                    with m.If(inner + 1 == inner_count):
                        m.d.sync += set_index.eq(0)
                        m.next = "REDUCE_WAIT"

            with m.State("REDUCE_WAIT"):
                with m.If(all_idle):
                    m.d.sync += [red_group.eq(0), red_set.eq(set_index),
                                 red_mode.eq(Mux(is_mv, 0, Mux(is_mtv, 1, 2)))]
                    m.next = "REDUCE_FEED"

            with m.State("REDUCE_FEED"):
                m.d.comb += [reduction.valid.eq(1),
                             reduction.last.eq(red_group + 1 == group_counts[red_mode])]
                m.d.sync += red_group.eq(red_group + 1)
                with m.If(red_group + 1 == group_counts[red_mode]):
                    m.next = "REDUCE_DRAIN"

            with m.State("REDUCE_DRAIN"):
                with m.If(reduction.done):
                    with m.If(is_norm):
                        m.d.comb += [scalar.start.eq(1), scalar.op.eq(ScalarOp.SQRT),
                                     scalar.a.eq(norm_square)]
                        m.next = "NORM_SQRT"
                    with m.Else():
                        m.next = "REDUCE_WRITE"

            with m.State("REDUCE_WRITE"):
                m.d.comb += result_in_col0.eq(Mux(is_mv, 1, Mux(is_mtv, 0, side_v)))
                with m.If(is_mv):
                    m.d.comb += fill(FillSource.RESULT, inst.c + owner_slot, result_lanes,
                                     row=set_index, col=owner)
                with m.Elif(is_mtv):
                    m.d.comb += fill(FillSource.RESULT, inst.c + owner_slot, result_lanes,
                                     row=owner, col=set_index)
                with m.Else():
                    m.d.comb += fill(FillSource.RESULT, inst.c + outer, result_lanes)
                with m.If(set_index + 1 < red_sets):
                    m.d.sync += set_index.eq(set_index + 1)
                    m.next = "REDUCE_NEXT_SET"
                with m.Else():
                    # Next outer iteration: the owner of the next chunk (MV: i mod C, MTV: j mod R).
                    wrap = Mux(is_mv, C, R)
                    with m.If(owner + 1 == wrap):
                        m.d.sync += [owner.eq(0), owner_slot.eq(owner_slot + 1)]
                    with m.Else():
                        m.d.sync += owner.eq(owner + 1)
                    m.d.sync += [outer.eq(outer + 1), inner.eq(0)]
                    with m.If(outer + 1 == outer_count):
                        m.next = "FETCH"
                    with m.Else():
                        m.d.sync += [addr_outer.eq(addr_outer + outer_step),
                                     addr_run.eq(addr_outer + outer_step),
                                     b_run.eq(inst.b)]
                        m.next = "MULTIPLY"

            with m.State("REDUCE_NEXT_SET"):
                m.d.sync += [red_group.eq(0), red_set.eq(set_index)]
                m.next = "REDUCE_FEED"

            # ---- NORM: sqrt, checks, reciprocal, hi/lo words ---------------------------------
            with m.State("NORM_SQRT"):
                with m.If(scalar.done):
                    m.d.comb += [broadcast_write.addr.eq(inst.m), broadcast_write.data.eq(
                        scalar.result), broadcast_write.en.eq(1)]
                    alpha = scalar.result
                    infinite_or_nan = alpha[23:31] == 0xFF
                    with m.If(infinite_or_nan):
                        m.d.sync += stop(Status.OVERFLOW, pc - 1)
                        m.next = "IDLE"
                    with m.Elif(_fp32_le(alpha, tol)):
                        m.d.sync += stop(Status.BREAKDOWN, pc - 1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += [scalar.start.eq(1), scalar.op.eq(ScalarOp.RECIPROCAL), scalar.a.eq(alpha)]
                        m.next = "NORM_RECIPROCAL"

            with m.State("NORM_RECIPROCAL"):
                with m.If(scalar.done):
                    m.d.sync += reciprocal.eq(scalar.result)
                    m.next = "NORM_HI"

            with m.State("NORM_HI"):
                m.d.comb += fill(FillSource.HI, inst.b)
                m.next = "NORM_LO"

            with m.State("NORM_LO"):
                m.d.comb += fill(FillSource.LO, inst.b + 1)
                m.next = "FETCH"

            # ---- UPDATE: preload, subtract the projections, write back, per slot ------------
            with m.State("UPDATE_PRELOAD"):
                with m.If(outer == inst.n):
                    m.next = "FETCH"
                with m.Else():
                    vec = inst.c + outer
                    m.d.comb += issue(ClusterOp.PRELOAD, Broadcast.ROW, 0, vec,
                                      **side_modes(AccMode.ACCUMULATE))
                    with m.If(~hazard(vec)):
                        m.d.comb += command_valid.eq(1)
                        m.d.sync += [inner.eq(0), addr_run.eq(inst.a + outer * inst.d),
                                     b_run.eq(inst.b)]
                        m.next = "UPDATE_MULTIPLY"

            with m.State("UPDATE_MULTIPLY"):
                with m.If(inner == inst.m):
                    m.next = "UPDATE_WRITE"
                with m.Else():
                    m.d.comb += issue(ClusterOp.MULTIPLY, side_path, addr_run, b_run, negate=1,
                                      **side_modes(AccMode.ACCUMULATE))
                    with m.If(~hazard(addr_run, b_run)):
                        m.d.comb += command_valid.eq(1)
                        m.d.sync += [inner.eq(inner + 1), addr_run.eq(addr_run + 1),
                                     b_run.eq(b_run + 1)]

            with m.State("UPDATE_WRITE"):
                m.d.comb += [issue(side_write, Broadcast.ROW, inst.c + outer, 0),
                             command_valid.eq(1), new_write.eq(1)]
                m.d.sync += outer.eq(outer + 1)
                m.next = "UPDATE_PRELOAD"

            # ---- SCALE: two passes (hi, lo), then two write-backs, per slot -----------------
            with m.State("SCALE"):
                with m.If(outer == inst.n):
                    m.next = "FETCH"
                with m.Else():
                    vec = inst.a + outer
                    m.d.comb += issue(ClusterOp.MULTIPLY, side_path, vec, inst.b,
                                      **side_modes(AccMode.RESTART))
                    with m.If(~hazard(vec, inst.b)):
                        m.d.comb += command_valid.eq(1)
                        m.next = "SCALE_LO"

            with m.State("SCALE_LO"):
                vec = inst.a + outer
                m.d.comb += issue(ClusterOp.MULTIPLY, side_path, vec, inst.b + 1,
                                  **side_modes(AccMode.ACCUMULATE))
                with m.If(~hazard(vec, inst.b + 1)):
                    m.d.comb += command_valid.eq(1)
                    m.next = "SCALE_WRITE_VECTOR"

            with m.State("SCALE_WRITE_VECTOR"):
                m.d.comb += [issue(side_write, Broadcast.ROW, inst.a + outer, 0),
                             command_valid.eq(1), new_write.eq(1)]
                m.next = "SCALE_WRITE_BASIS"

            with m.State("SCALE_WRITE_BASIS"):
                m.d.comb += [issue(side_write, Broadcast.ROW, inst.c + outer * inst.d, 0,
                                   lane=inst.m),
                             command_valid.eq(1), new_write.eq(1)]
                m.d.sync += outer.eq(outer + 1)
                m.next = "SCALE"

            # ---- BCAST: read a word from the source clusters, write it to their row/column ----
            with m.State("BCAST_READ"):
                with m.If(outer == inst.n):
                    m.next = "FETCH"
                with m.Else():
                    m.d.comb += [read_addr.eq(inst.a + outer), read_valid.eq(1)]
                    m.next = "BCAST_WRITE"

            with m.State("BCAST_WRITE"):
                sources = Mux(side_v, R, C)
                m.d.comb += [source.eq(inner),
                             fill(Mux(side_v, FillSource.ALONG_COLUMN, FillSource.ALONG_ROW),
                                  inst.b + outer * sources + inner)]
                with m.If(inner + 1 == sources):
                    m.d.sync += [inner.eq(0), outer.eq(outer + 1)]
                with m.Else():
                    m.d.sync += inner.eq(inner + 1)
                m.next = "BCAST_READ"

        # ---- host port -----------------------------------------------------------------------
        registers = Array([
            Const(0, 1), tol, status, stop_pc, host_error, cycles,
            *class_cycles,
        ])
        in_range = Signal()
        with m.Switch(host.space):
            with m.Case(Space.BANK):
                m.d.comb += in_range.eq((host.index < C) & (host.addr < config.bank_depth))
            with m.Case(Space.PROGRAM):
                m.d.comb += in_range.eq(host.addr < config.program_depth)
            with m.Case(Space.BROADCAST):
                m.d.comb += in_range.eq((host.addr < config.broadcast_depth) & ~host.write)
            with m.Case(Space.CONTROL):
                m.d.comb += in_range.eq((host.addr < len(Register))
                                        & (~host.write | (host.addr == Register.START)
                                           | (host.addr == Register.TOL)))
        # While a program runs, the host may read control registers and the broadcast memory.
        blocked = busy & in_range & ((host.write & (host.space != Space.BROADCAST))
                                     | (~host.write & (host.space == Space.BANK)))
        read_space = Signal.like(host.space)
        read_reg = Signal(range(len(Register)))
        read_bank = Signal(range(max(2, C)))
        m.d.sync += [host.rvalid.eq(host.valid & ~host.write), read_space.eq(host.space),
                     read_reg.eq(host.addr), read_bank.eq(host.index)]
        with m.Switch(read_space):
            with m.Case(Space.BANK):
                m.d.comb += host.rdata.eq(Array(banks[c][0].data for c in range(C))
                                          [read_bank])
            with m.Case(Space.BROADCAST):
                m.d.comb += host.rdata.eq(broadcast_read.data)
            with m.Case(Space.CONTROL):
                m.d.comb += host.rdata.eq(registers[read_reg])
        with m.If(host.valid):
            with m.If(~in_range):
                m.d.sync += host_error.eq(HostError.BAD_ADDRESS)
            with m.Elif(blocked):
                m.d.sync += host_error.eq(HostError.BUSY)
            with m.Elif(host.write):
                with m.Switch(host.space):
                    with m.Case(Space.BANK):
                        for c in range(C):
                            with m.If(host.index == c):
                                m.d.comb += [banks[c][1].addr.eq(host.addr),
                                             banks[c][1].data.eq(host.wdata[:config.word_bits]),
                                             banks[c][1].en.eq(1)]
                    with m.Case(Space.PROGRAM):
                        m.d.comb += [program_write.addr.eq(host.addr),
                                     program_write.data.eq(host.wdata[:INSTRUCTION_BITS]),
                                     program_write.en.eq(1)]
                    with m.Case(Space.CONTROL):
                        with m.If(host.addr == Register.TOL):
                            m.d.sync += tol.eq(host.wdata[:32])
                        with m.Else():
                            m.d.sync += [busy.eq(1), pc.eq(0), status.eq(Status.BUSY),
                                         host_error.eq(HostError.NONE), cycles.eq(0),
                                         *(k.eq(0) for k in class_cycles)]
        return m


"""The D-com top level: ``R x C`` tiles, memory banks, reduction network, controller, host port.

Paper section 5.1: clusters in a two-dimensional array, each column of clusters paired with a
memory bank. This module is the datapath that joins the parts: the tiles (:mod:`dcom.hw.tile`)
and the buses between them, the banks, program and broadcast memories, the reduction network
(:mod:`dcom.hw.reduction`), which reduces every cluster row (or column) side by side, with
the multiplexers that bring it the partials of a group of clusters, the scalar unit, and the words written into the clusters (results, norms' ``hi`` and
``lo``, bank words, copies). The controller (:mod:`dcom.hw.controller`) drives it; the host
port (:mod:`dcom.hw.host`) serves the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from dcom.config import DcomConfig
from dcom.hw.cluster import command_layout
from dcom.hw.controller import Controller, FillLanes, FillSource, network_tag_layout
from dcom.hw.fp import FPAdder, FPConvert, canonical_nan, delay
from dcom.hw.hierarchy import ModuleLibrary, SharedModule
from dcom.hw.host import HostPort, host_signature
from dcom.hw.reduction import ReductionNetwork
from dcom.hw.scalar import ScalarUnit
from dcom.hw.sram import Sram
from dcom.hw.tile import TILE_MODULE, Tile
from dcom.isa import INSTRUCTION_BITS, Space

__all__ = ["Dcom", "TILE_MODULE", "TopMemory", "top_memories"]


@dataclass(frozen=True)
class TopMemory:
    """One kind of the top level's memories: ``instances`` SRAMs of ``depth`` words of
    ``width`` bits, one read port each."""

    depth: int
    width: int
    instances: int


def top_memories(config: DcomConfig) -> dict[str, TopMemory]:
    """The top level's memories: a bank per cluster column (its words as wide as a cluster's
    buffer), the program and the broadcast memory (32-bit results)."""
    return {"bank": TopMemory(config.bank_depth, config.word_bits, config.cluster_cols),
            "program": TopMemory(config.program_depth, INSTRUCTION_BITS, 1),
            "broadcast": TopMemory(config.broadcast_depth, 32, 1)}


def _row_layout(config: DcomConfig) -> data.StructLayout:
    """What a cluster row's distribution register holds: the controller's signals to tiles."""
    addr = max(1, ceil_log2(config.buffer_depth))
    return data.StructLayout({
        "cmd_valid": 1, "cmd": command_layout(config),
        "read_valid": 1, "read_addr": addr,
        "acc_set": max(1, ceil_log2(config.acc_sets)), "partial_rows": 1,
        # The tiles that put their word on a bus, decoded from the controller's source before
        # the register: the row bus takes column ``c`` when ``row_take[c]``, the column bus
        # takes this row when ``col_take``.
        "row_take": config.cluster_cols, "col_take": 1,
        "fill_valid": 1, "fill_all_cols": 1, "fill_col": 16, "fill_addr": addr,
        "fill_lanes": FillLanes, "fill_from_row": 1, "fill_from_col": 1,
    })


#: Verilog module of a cluster row's distribution register, instantiated ``R`` times.
ROW_CONTROL_MODULE = "dcom_row_control"


class RowControl(wiring.Component):
    """A cluster row's distribution register. It is a module of its own so that synthesis
    keeps one register per row: the rows' registers take the same inputs (bar
    ``fill_valid``), and merged into one they would drive every tile again."""

    def __init__(self, config: DcomConfig):
        layout = _row_layout(config)
        super().__init__({"d": In(layout), "q": Out(layout)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d)
        return m


#: Verilog module of a reduction-network input's multiplexer, instantiated ``f`` times.
GATHER_MODULE = "dcom_gather"


class Gather(wiring.Component):
    """What one input of one slice of the reduction network takes: a partial of its cluster
    row or, when ``columns``, of its cluster column, chosen by the group ``index``.

    Inputs with the same candidate counts share one module (an input beyond a group size, or
    a slice beyond the rows or the columns, gets zeros), synthesized once for all of them.
    Its ``columns`` and ``index`` come from a :class:`GatherSelect` of its own.

    Parameters
    ----------
    width : int
        Bits of a partial.
    counts : (int, int)
        Candidates along the row and along the column.
    """

    def __init__(self, width: int, counts: tuple[int, int]):
        self.counts = counts
        super().__init__({
            "columns": In(1),
            "index": In(max(1, ceil_log2(max(counts)))),
            "row": In(data.ArrayLayout(width, counts[0])),
            "column": In(data.ArrayLayout(width, counts[1])),
            "out": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        row, column = (Array(members[i] for i in range(count))[self.index]
                       if count > 1 else members[0]
                       for members, count in zip((self.row, self.column), self.counts))
        m.d.comb += self.out.eq(Mux(self.columns, column, row))
        return m


class GatherSelect(wiring.Component):
    """The select lines of one :class:`Gather`, registered: a module per multiplexer, so that
    synthesis keeps the registers apart instead of merging them into one that drives every
    multiplexer's select tree (as it merges registers with the same inputs).

    Parameters
    ----------
    index_bits : int
    """

    def __init__(self, index_bits: int):
        super().__init__({"columns": In(1), "index": In(index_bits),
                          "columns_q": Out(1), "index_q": Out(index_bits)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.columns_q.eq(self.columns), self.index_q.eq(self.index)]
        return m


def _segmented_bus(m: Module, tiles: list, side: str, config: DcomConfig) -> Value:
    """The bus along ``tiles`` (``side`` "row" or "col"): chains of ``config.bus_segment``
    tiles, each tile passing its chain on or putting its word on it, and a balanced OR tree
    of the chains' ends. Logic in the top level grows with the number of chains only."""
    ends, length = [], config.bus_segment
    for first in range(0, len(tiles), length):
        bus = Const(0, config.word_bits)
        for tile in tiles[first:first + length]:
            m.d.comb += getattr(tile, f"{side}_bus_in").eq(bus)
            bus = getattr(tile, f"{side}_bus_out")
        ends.append(bus)
    while len(ends) > 1:
        ends = [ends[k] | ends[k + 1] if k + 1 < len(ends) else ends[k]
                for k in range(0, len(ends), 2)]
    return ends[0]


def _delayed_feed(m: Module, feed):
    """The controller's feed register, one register later (as its set reaches the tiles)."""
    delayed = SimpleNamespace()
    for name in ("valid", "last", "mode", "tag"):
        value = getattr(feed, name)
        setattr(delayed, name, delay(m, value, 1, f"feed_{name}"))
    return delayed


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
    host : see :func:`dcom.hw.host.host_signature` and docs/isa.md ("Host interface").
    busy : a program is running.
    """

    def __init__(self, config: DcomConfig, library: ModuleLibrary | None = None):
        self.config = config
        self._library = library
        super().__init__({"host": In(host_signature(config)), "busy": Out(1)})

    def _memory(self, m: Module, name: str, memory: TopMemory, read=1) -> Sram:
        """A memory with one read port, reading when ``read`` is high (each read costs an
        access's energy)."""
        m.submodules[name] = sram = Sram(memory.depth, memory.width, library=self._library)
        m.d.comb += sram.rd0_en.eq(read)
        return sram

    def _unit(self, name, make):
        return SharedModule(name, make, self._library)

    def elaborate(self, platform):
        m = Module()
        config, library = self.config, self._library
        R, C, P, Q = config.cluster_rows, config.cluster_cols, config.grid_rows, config.grid_cols
        f, acc = config.expansion, config.acc
        lanes_word = config.macs_per_cluster
        word = data.ArrayLayout(16, lanes_word)
        lanes = max(P, Q)

        m.submodules.controller = ctl = Controller(config)
        m.submodules.host_port = port = HostPort(config)
        wiring.connect(m, wiring.flipped(self.host), port.host)
        m.d.comb += [self.busy.eq(ctl.busy), port.busy.eq(ctl.busy),
                     port.status.eq(ctl.status), port.stop_pc.eq(ctl.stop_pc),
                     port.cycles.eq(ctl.cycles), port.class_cycles.eq(ctl.class_cycles),
                     ctl.start.eq(port.start), ctl.tol.eq(port.tol)]

        # ---- tiles, and the registers that bring them the controller's signals -------------
        # One register per cluster row (and one per cluster column for fill data) stands
        # between the controller and the tiles, so that no net drives more than a row's or a
        # column's tiles (RowControl).
        tiles = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C):
                tiles[r][c] = tile = SharedModule(TILE_MODULE, lambda: Tile(config, library),
                                                  library)
                m.submodules[f"tile_{r}_{c}"] = tile
        flat = [tiles[r][c] for r in range(R) for c in range(C)]
        fill = ctl.fill
        rows = []
        for r in range(R):
            m.submodules[f"row{r}_control"] = control = SharedModule(
                ROW_CONTROL_MODULE, lambda: RowControl(config), library)
            d, row = control.d, control.q
            m.d.comb += [
                d.cmd_valid.eq(ctl.cmd.valid), d.cmd.eq(ctl.cmd.payload),
                d.read_valid.eq(ctl.read_valid), d.read_addr.eq(ctl.read_addr),
                d.acc_set.eq(ctl.feed.acc_set), d.partial_rows.eq(ctl.feed.partial_rows),
                d.row_take.eq(Cat(ctl.source == c for c in range(C))),
                d.col_take.eq(ctl.source == r),
                d.fill_valid.eq(fill.valid & (fill.all_rows | (fill.row == r))),
                d.fill_all_cols.eq(fill.all_cols), d.fill_col.eq(fill.col),
                d.fill_addr.eq(fill.addr), d.fill_lanes.eq(fill.lanes),
                d.fill_from_row.eq((fill.source == FillSource.ALONG_ROW)
                                   | (fill.source == FillSource.ROW_RESULTS)),
                d.fill_from_col.eq(fill.source == FillSource.ALONG_COLUMN),
            ]
            rows.append(row)
            for c in range(C):
                tile = tiles[r][c]
                m.d.comb += [
                    tile.cmd.valid.eq(row.cmd_valid), tile.cmd.payload.eq(row.cmd),
                    tile.read_valid.eq(row.read_valid), tile.read_addr.eq(row.read_addr),
                    tile.acc_read.eq(row.acc_set), tile.partial_rows.eq(row.partial_rows),
                    tile.fill_valid.eq(row.fill_valid & (row.fill_all_cols
                                                          | (row.fill_col == c))),
                    tile.fill_addr.eq(row.fill_addr), tile.fill_lanes.eq(row.fill_lanes),
                    tile.fill_from_row.eq(row.fill_from_row),
                    tile.fill_from_col.eq(row.fill_from_col),
                ]
        m.d.comb += ctl.clusters_idle.eq(Cat(*(tile.idle for tile in flat)).all()
                                         & ~Cat(*(row.cmd_valid for row in rows)).any())
        # A word read travels along a cluster row (from the column ``source``) or a cluster
        # column (from the row ``source``): each tile passes the bus on or puts its word on
        # it. The chain restarts every bus_segment tiles and the chains are ORed (one tile at
        # most takes), so the path is a chain and a few OR levels, not every tile.
        for r in range(R):
            for c in range(C):
                m.d.comb += [tiles[r][c].row_take.eq(rows[r].row_take[c]),
                             tiles[r][c].col_take.eq(rows[r].col_take)]
        along_row = [_segmented_bus(m, [tiles[r][c] for c in range(C)], "row", config)
                     for r in range(R)]
        along_col = [_segmented_bus(m, [tiles[r][c] for r in range(R)], "col", config)
                     for c in range(C)]
        for r in range(R):
            for c in range(C):
                m.d.comb += tiles[r][c].col_word.eq(along_col[c])

        # ---- memories ------------------------------------------------------------------------
        # Banks read for LOAD and for the host; the broadcast memory for the host only.
        host_reads = self.host.valid & ~self.host.write
        bank_read = Mux(ctl.busy, ctl.bank_read, host_reads & (self.host.space == Space.BANK))
        memories = top_memories(config)
        banks = [self._memory(m, f"bank_{c}", memories["bank"], bank_read)
                 for c in range(memories["bank"].instances)]
        # STORE's word reaches the column bus a distribution register later than the
        # controller's read: its bank write waits as long.
        bank_write, bank_write_addr = Signal(), Signal.like(ctl.bank_write_addr)
        m.d.sync += [bank_write.eq(ctl.bank_write), bank_write_addr.eq(ctl.bank_write_addr)]
        for c, bank in enumerate(banks):
            host_write = port.bank_write.en & (port.bank_write.index == c)
            m.d.comb += [
                bank.rd0_addr.eq(Mux(ctl.busy, ctl.bank_addr, port.bank_read_addr)),
                port.bank_read_data[c].eq(bank.rd0_data),
                bank.wr_addr.eq(Mux(bank_write, bank_write_addr, port.bank_write.addr)),
                bank.wr_data.eq(Mux(bank_write, along_col[c], port.bank_write.data)),
                bank.wr_en.eq(bank_write | host_write),
            ]
        program = self._memory(m, "program", memories["program"])
        m.d.comb += [program.rd0_addr.eq(ctl.program_addr), ctl.program_data.eq(program.rd0_data),
                     program.wr_addr.eq(port.program_write.addr),
                     program.wr_data.eq(port.program_write.data),
                     program.wr_en.eq(port.program_write.en)]
        broadcast = self._memory(m, "broadcast", memories["broadcast"],
                                 host_reads & (self.host.space == Space.BROADCAST))
        m.d.comb += [broadcast.rd0_addr.eq(port.broadcast_read_addr),
                     port.broadcast_read_data.eq(broadcast.rd0_data),
                     broadcast.wr_addr.eq(ctl.broadcast_write.addr),
                     broadcast.wr_data.eq(ctl.broadcast_write.data),
                     broadcast.wr_en.eq(ctl.broadcast_write.en)]

        # ---- reduction network and its input multiplexers ---------------------------------
        # The network carries `slices` reductions side by side: slice k reduces cluster row k
        # (MV, PROJ, NORM) or cluster column k (MTV); PROJ's and NORM's row sums are then
        # summed into slice 0.
        g_row, g_col = config.reduction_group_sizes
        slices = config.network_slices
        m.submodules.network = network = ReductionNetwork(
            config, lanes, network_tag_layout(config).size, library)
        # The feed register's set reaches the tiles a distribution register later: so do the
        # group's selection (registered in each multiplexer) and its network inputs.
        feed = _delayed_feed(m, ctl.feed)
        # Group i of a reduction over g neighbours holds positions i g .. i g + g - 1 of its
        # row or column, so tree input t only ever takes the clusters whose position is t
        # modulo g.
        width = len(tiles[0][0].partial)
        for k in range(slices):
            along = ([tiles[k][c].partial for c in range(C)] if k < R else [],
                     [tiles[r][k].partial for r in range(R)] if k < C else [])
            counts = tuple(len(members) // g if members else 1
                           for members, g in zip(along, (g_row, g_col)))
            name = f"{GATHER_MODULE}_{width}_{counts[0]}_{counts[1]}"
            for t in range(f):
                m.submodules[f"gather{k}_{t}"] = gather = SharedModule(
                    name, lambda: Gather(width, counts), library)
                bits = len(gather.index)
                m.submodules[f"gather{k}_{t}_select"] = select = SharedModule(
                    f"{GATHER_MODULE}_select_{bits}", lambda: GatherSelect(bits), library)
                m.d.comb += [select.columns.eq(ctl.feed.mode == 1),
                             select.index.eq(ctl.feed.group),
                             gather.columns.eq(select.columns_q), gather.index.eq(select.index_q),
                             network.group[t].as_value()[k * width:(k + 1) * width].eq(gather.out)]
                for port, members, g in zip((gather.row, gather.column), along, (g_row, g_col)):
                    if members and t < g:
                        m.d.comb += port.eq(Cat(members[t::g]))
        m.d.comb += [network.valid.eq(feed.valid), network.last.eq(feed.last),
                     network.columns.eq(feed.mode == 1), network.across.eq(feed.mode == 2),
                     network.tag.eq(feed.tag)]

        # Results rounded to FP16 and registered: the row or column sums, and the total
        # across with NORM's square widened to FP32.
        def narrowed(values, name):
            rounded = Signal(data.ArrayLayout(16, len(values)), name=f"{name}_narrowed")
            for lane, value in enumerate(values):
                if acc.name == "fp16":
                    m.d.comb += rounded[lane].eq(canonical_nan(value, acc))
                else:
                    m.submodules[f"{name}_narrow_{lane}"] = narrow = self._unit(
                        "dcom_fp_convert_fp32_fp16", lambda: FPConvert("fp32", "fp16"))
                    m.d.comb += [narrow.a.eq(value), rounded[lane].eq(narrow.result)]
            return rounded

        result16 = Signal(data.ArrayLayout(16, slices * lanes))
        total16 = Signal(data.ArrayLayout(16, lanes))
        square = Signal(32)
        if acc.name == "fp16":
            m.submodules.norm_widen = widen = self._unit(
                "dcom_fp_convert_fp16_fp32", lambda: FPConvert("fp16", "fp32"))
            m.d.comb += widen.a.eq(network.total[0])
            wide_square = widen.result
        else:
            wide_square = network.total[0]
        m.d.sync += [result16.eq(narrowed(list(network.result), "result")),
                     total16.eq(narrowed(list(network.total), "total")),
                     square.eq(wide_square),
                     ctl.result_valid.eq(network.result_valid),
                     ctl.result_tag.eq(network.result_tag)]
        m.d.comb += ctl.result_square.eq(square)

        def result_word(values, in_col0, name):
            """``values`` (a slice's lanes) in column 0 (``in_col0``) or row 0 of a word,
            repeated across the other lanes (the fill's lane mask keeps the ones it writes)."""
            word_ = Signal(word, name=name)
            for i in range(P):
                for j in range(Q):
                    m.d.comb += word_[i * Q + j].eq(Mux(in_col0, values[i], values[j]))
            return word_

        # An MV result reaches each cluster row's tiles through the row input of their fill
        # (free: a BCAST, the other user, waits until the back end is idle), registered here
        # as the fill's control is registered in the rows; one select register per row, as
        # it drives a word of multiplexers.
        row_fill = fill.valid & (fill.source == FillSource.ROW_RESULTS)
        row_words = []
        for r in range(R):
            held = Signal(data.ArrayLayout(16, P), name=f"row_result_{r}")
            selected = Signal(name=f"row_result_{r}_valid")
            m.d.sync += selected.eq(row_fill)
            with m.If(row_fill):
                m.d.sync += held.eq(Cat(result16[r * lanes + i] for i in range(P)))
            repeated = Cat(held[i] for i in range(P) for _ in range(Q))
            row_words.append(Mux(selected, repeated, along_row[r]))
        for r in range(R):
            for c in range(C):
                m.d.comb += tiles[r][c].row_word.eq(row_words[r])

        # ---- scalar unit, and the split of 1/x into FP16 hi + lo -------------------------------
        m.submodules.scalar = scalar = ScalarUnit()
        m.d.comb += [scalar.start.eq(ctl.scalar_start), scalar.op.eq(ctl.scalar_op),
                     scalar.a.eq(ctl.scalar_a), ctl.scalar_done.eq(scalar.done),
                     ctl.scalar_result.eq(scalar.result)]
        # hi = fp16(r), registered; lo = fp16(r - hi): hi widened and registered, a pipelined
        # FP32 adder, its sum registered, then rounded to FP16 and registered. Both are ready
        # norm_split_latency cycles after the reciprocal.
        m.submodules.hi_narrow = hi_narrow = FPConvert("fp32", "fp16")
        m.submodules.hi_widen = hi_widen = FPConvert("fp16", "fp32")
        m.submodules.lo_sub = lo_sub = FPAdder("fp32", config.add_stages)
        m.submodules.lo_narrow = lo_narrow = FPConvert("fp32", "fp16")
        hi_word, lo_word = Signal(word), Signal(word)
        hi_wide, difference = Signal(32), Signal(32)
        m.d.comb += [hi_narrow.a.eq(ctl.reciprocal), hi_widen.a.eq(hi_word[0]),
                     lo_sub.a.eq(delay(m, ctl.reciprocal, 2, "reciprocal")),
                     lo_sub.b.eq(hi_wide ^ (1 << 31)),
                     lo_narrow.a.eq(difference)]
        m.d.sync += [hi_word[0].eq(hi_narrow.result), hi_wide.eq(hi_widen.result),
                     difference.eq(lo_sub.sum), lo_word[0].eq(lo_narrow.result)]
        assert 3 + lo_sub.latency == config.norm_split_latency

        # ---- fill data: sources common to all clusters are selected once, then each cluster
        # column registers its word (a bank's, or the common one); a tile takes the row or
        # column bus instead when its row's register says so.
        common = Signal(word)
        with m.Switch(fill.source):
            with m.Case(FillSource.RESULT):
                m.d.comb += common.eq(result_word(total16, fill.result_in_col0, "total_word"))
            with m.Case(FillSource.HI):
                m.d.comb += common.eq(hi_word)
            with m.Case(FillSource.LO):
                m.d.comb += common.eq(lo_word)
        for c in range(C):
            column_word = Signal(config.word_bits, name=f"fill_column_{c}")
            column_result = result_word([result16[c * lanes + i] for i in range(lanes)], 0,
                                        f"result_word_{c}")
            with m.If(fill.valid):
                m.d.sync += column_word.eq(
                    Mux(fill.source == FillSource.BANK, banks[c].rd0_data,
                        Mux(fill.source == FillSource.COLUMN_RESULTS, column_result, common)))
            for r in range(R):
                m.d.comb += tiles[r][c].fill_word.eq(column_word)
        return m

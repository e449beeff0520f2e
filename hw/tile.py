"""A tile of the top level: a cluster with its share of the top level's buses.

The tile is emitted once (``dcom_tile``) and instantiated ``R x C`` times, so that per-cluster
bus logic is not written out for every cluster. Its ports are plain bit vectors (words are
``P x Q`` FP16 lanes, lane 0 lowest).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dcom.config import DcomConfig
from dcom.hw.cluster import Cluster, cluster_signature
from dcom.hw.controller import FillLanes
from dcom.hw.hierarchy import ModuleLibrary, SharedModule

__all__ = ["Tile", "TILE_MODULE"]

#: Verilog module of a tile, instantiated ``R x C`` times.
TILE_MODULE = "dcom_tile"


class Tile(wiring.Component):
    """A cluster and its bus taps.

    Ports
    -----
    cmd : the cluster's command port, shared by all tiles.
    read_valid, read_addr : the cluster's read port, shared by all tiles.
    row_bus_in, row_take, row_bus_out : a chain along the cluster row; a tile whose
        ``row_take`` is high puts its read word on the bus, the others pass it on.
    col_bus_in, col_take, col_bus_out : the same along the cluster column.
    fill_valid, fill_addr, fill_lanes : the cluster's fill port; ``fill_lanes`` is a
        :class:`~dcom.hw.controller.FillLanes` pattern, widened here to the lane mask.
    fill_word, row_word, col_word, fill_from_row, fill_from_col : the fill data is
        ``row_word`` (the row bus) when ``fill_from_row``, ``col_word`` (the column bus) when
        ``fill_from_col``, else ``fill_word``.
    acc_read, partial_rows, partial : the row (``partial_rows``) or column accumulators of set
        ``acc_read``, padded to ``max(P, Q)`` lanes, for the reduction network.
    idle : the cluster has no command in flight.
    """

    def __init__(self, config: DcomConfig, library: ModuleLibrary | None = None):
        self.config = config
        self._library = library
        self.lanes = max(config.grid_rows, config.grid_cols)
        cluster = cluster_signature(config).members
        fill = cluster["fill"].signature.members
        addr, word = fill["addr"].shape, config.word_bits
        super().__init__({
            "cmd": cluster["cmd"],
            "read_valid": In(1), "read_addr": In(addr),
            "row_bus_in": In(word), "row_take": In(1), "row_bus_out": Out(word),
            "col_bus_in": In(word), "col_take": In(1), "col_bus_out": Out(word),
            "fill_valid": In(1), "fill_addr": In(addr), "fill_lanes": In(FillLanes),
            "fill_word": In(word), "row_word": In(word), "col_word": In(word),
            "fill_from_row": In(1), "fill_from_col": In(1),
            "acc_read": cluster["acc_read"], "partial_rows": In(1),
            "partial": Out(self.lanes * config.acc.width),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config, library = self.config, self._library
        m.submodules.cluster = cluster = SharedModule(
            "dcom_cluster", lambda: Cluster(config, library), library)
        lanes, width = self.lanes, config.acc.width
        read_word = cluster.read.data.as_value()
        m.d.comb += [
            cluster.cmd.valid.eq(self.cmd.valid), cluster.cmd.payload.eq(self.cmd.payload),
            cluster.read.valid.eq(self.read_valid), cluster.read.addr.eq(self.read_addr),
            self.row_bus_out.eq(Mux(self.row_take, read_word, self.row_bus_in)),
            self.col_bus_out.eq(Mux(self.col_take, read_word, self.col_bus_in)),
            cluster.fill.valid.eq(self.fill_valid), cluster.fill.addr.eq(self.fill_addr),
            cluster.fill.lanes.eq(FillLanes.mask(config, self.fill_lanes)),
            cluster.fill.data.eq(Mux(self.fill_from_row, self.row_word,
                                     Mux(self.fill_from_col, self.col_word, self.fill_word))),
            cluster.acc_read.eq(self.acc_read),
            self.partial.eq(Mux(self.partial_rows,
                                Cat(cluster.row_acc, Const(0, (lanes - config.grid_rows) * width)),
                                Cat(cluster.col_acc, Const(0, (lanes - config.grid_cols) * width)))),
            self.idle.eq(cluster.idle),
        ]
        return m

"""The inter-cluster reduction: ``icsum_f`` of docs/arithmetic.md in hardware.

Partial results of ``K`` clusters are combined as a binary tree inside each group of
``g = gcd(f, K)`` neighbouring clusters (paper section 5.3), then the group results are added
left to right. The unit holds one pipelined tree of width ``f``; a group of ``g < f`` partials
is read from node 0 of tree level ``log2 g``, which adds exactly ``tree_g`` of the first ``g``
inputs. One group enters per cycle; the fold adds each group result as it leaves the tree.
"""

from __future__ import annotations

from amaranth import Array, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dcom.config import DcomConfig
from dcom.hw.fp import FPAdder
from dcom.hw.hierarchy import ModuleLibrary, SharedModule

__all__ = ["ReductionUnit"]


class ReductionUnit(wiring.Component):
    """Tree-then-fold reduction of lane vectors from several clusters.

    Parameters
    ----------
    config : DcomConfig
        Expansion factor ``f`` (tree width), accumulation format and pipelining.
    lanes : int
        Values reduced side by side (one per accumulator lane).
    group_sizes : sequence of int
        The group sizes ``g`` the unit must serve (powers of two dividing ``f``); input ``tap``
        selects one by its position in this sequence.
    library : ModuleLibrary or None
        Where the adders are emitted once (``None``: flat).

    Attributes
    ----------
    latency : int
        Cycles from a group entering to its result leaving the tree.

    Ports
    -----
    valid, last : a group enters this cycle; it is the last of its reduction.
    group : ``f`` lane vectors; only the first ``g`` are used.
    tap : index into ``group_sizes``; held constant during a reduction.
    result, done : the reduced lane vector, final in the cycle ``done`` is high and held until
        the next reduction finishes.
    """

    def __init__(self, config: DcomConfig, lanes: int, group_sizes,
                 library: ModuleLibrary | None = None):
        self.config = config
        self.lanes = lanes
        self.group_sizes = tuple(group_sizes)
        for g in self.group_sizes:
            assert config.expansion % g == 0 and g & (g - 1) == 0, g
        self._library = library
        self.levels = config.expansion_levels
        self.latency = config.tree_latency(self.levels)
        vector = data.ArrayLayout(config.acc.width, lanes)
        super().__init__({
            "valid": In(1),
            "last": In(1),
            "group": In(data.ArrayLayout(vector, config.expansion)),
            "tap": In(range(max(2, len(self.group_sizes)))),
            "result": Out(vector),
            "done": Out(1),
        })

    def _adder(self, stages: int):
        fmt = self.config.acc_format
        return SharedModule(f"dcom_fp_add_{fmt}_s{stages}", lambda: FPAdder(fmt=fmt, stages=stages),
                            self._library)

    def elaborate(self, platform):
        m = Module()
        config = self.config
        vector = data.ArrayLayout(config.acc.width, self.lanes)
        stage = config.add_stages + int(config.tree_registers)

        # The tree, lane by lane; taps[level] is node 0 of that level.
        nodes = [self.group[t] for t in range(config.expansion)]
        taps = [nodes[0]]
        for level in range(self.levels):
            sums = []
            for k in range(0, len(nodes), 2):
                total = Signal(vector, name=f"l{level}_n{k // 2}")
                for lane in range(self.lanes):
                    m.submodules[f"add_l{level}_n{k // 2}_{lane}"] = add = \
                        self._adder(config.add_stages)
                    m.d.comb += [add.a.eq(nodes[k][lane]), add.b.eq(nodes[k + 1][lane])]
                    if config.tree_registers:
                        m.d.sync += total[lane].eq(add.sum)
                    else:
                        m.d.comb += total[lane].eq(add.sum)
                sums.append(total)
            nodes = sums
            taps.append(nodes[0])

        # Every tap leaves after the whole tree's latency, so the fold sees one timing.
        aligned = []
        for g in self.group_sizes:
            level = g.bit_length() - 1
            value = taps[level]
            for d in range(self.latency - level * stage):
                delayed = Signal(vector, name=f"tap{g}_d{d}")
                m.d.sync += delayed.eq(value)
                value = delayed
            aligned.append(value)
        out = Array(aligned)[self.tap] if len(aligned) > 1 else aligned[0]

        out_valid, out_last = self.valid, self.last
        for d in range(self.latency):
            valid_d, last_d = Signal(name=f"valid_d{d}"), Signal(name=f"last_d{d}")
            m.d.sync += [valid_d.eq(out_valid), last_d.eq(out_last)]
            out_valid, out_last = valid_d, last_d

        # Fold: the first group result loads, later ones add, left to right.
        first = Signal(init=1)
        folded = Signal(vector)
        for lane in range(self.lanes):
            m.submodules[f"fold_{lane}"] = add = self._adder(0)
            m.d.comb += [add.a.eq(folded[lane]), add.b.eq(out[lane])]
            with m.If(out_valid):
                m.d.sync += folded[lane].eq(Mux(first, out[lane], add.sum))
        with m.If(out_valid):
            m.d.sync += first.eq(out_last)
        m.d.sync += self.done.eq(out_valid & out_last)
        m.d.comb += self.result.eq(folded)
        return m

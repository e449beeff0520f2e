"""A weight-stationary systolic array: the baseline D-com is compared against (paper fig. 13).

The paper compares D-com with "a systolic array with the same compute capability and memory".
This one is the usual weight-stationary design (TPU v1, Jouppi et al., ISCA 2017; one of
Gemmini's two dataflows, Genc et al., DAC 2021), built from the same FP units as the cluster:

* ``rows x cols`` processing elements (PEs). PE ``(i, j)`` holds a weight in each of two banks
  (double buffering: one bank is loaded while the other computes), passes the activation it
  receives from the left to the right, and passes ``p + w * a`` down, where ``p`` comes from
  above (``+0`` at the top row). Column ``j`` thus delivers
  ``(((+0 + w_0j a_0) + w_1j a_1) + ...)`` in the accumulation format: ``y = W^T a``.
* Weights enter at the top edge, one row per cycle, and shift down the columns of the bank
  being loaded; after ``rows`` loads a tile sits in place (its last row loaded first).
* An activation vector enters at the left edge, row ``i`` delayed ``i`` cycles by the input
  skew registers, with the bank to use riding along; a control token follows the wave along
  the bottom edge and makes column ``j``'s accumulator add the column's sum when it emerges.
* The accumulators (one combinational adder each, as in the cluster) sum over tiles; a write
  command, once its token has passed the last column, stores them rounded to FP16 in a buffer
  word.
* One global buffer (an :class:`~dcom.hw.sram.Sram` like the cluster's: an SRAM macro in
  synthesis) feeds the edges: port A reads weight rows (or serves host reads), port B
  activation vectors, and the write port takes results or host fills. D-com instead has a
  buffer in every cluster.

Why weight-stationary: it is the "typical" systolic array the paper's comparison suggests, and
the one that, like a D-com cluster, holds a tile of ``A`` in place while a vector passes. An
output-stationary array accumulates in the PEs and needs a new vector per output column; with
Lanczos' single vector it leaves all but one column idle, whereas weight-stationary keeps every
PE busy (if only once per tile load). With one vector per tile, the array is bound by weight
loading: ``rows`` cycles per tile, against one cycle for a D-com cluster.

``A^T u`` needs ``A`` tiles loaded transposed; a weight-stationary array either stores both
layouts or transposes on the way in (Gemmini has a transposer). The workloads store both,
which costs memory capacity but no energy per product.

Commands enter one per cycle. A load into a bank must not start until the last wave that uses
that bank has passed every PE (``rows + cols + mul_stages`` cycles after it issued); the
issuing sequencer (``dcom.sw.systolicmodel.matrix_vector_schedule``) keeps that rule, as the cluster's keeps its buffer hazards.
"""

from __future__ import annotations

from typing import NamedTuple

from amaranth import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, enum, wiring
from amaranth.lib.data import View
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from dcom.config import FORMATS, ConfigError
from dcom.hw.fp import FPAdder, FPConvert, FPMultiplier, delay
from dcom.hw.hierarchy import ModuleLibrary, SharedModule
from dcom.hw.sram import Sram
from dcom.sw.systolicmodel import systolic_latency

__all__ = ["SystolicPE", "SystolicArray", "SystolicAcc", "systolic_command_layout",
           "encode_systolic_command"]


class _SramPort(NamedTuple):
    # One port of the buffer, its data seen as FP16 lanes.
    en: Value
    addr: Value
    data: View


class SystolicAcc(enum.Enum, shape=2):
    """What a multiply does to the column accumulators when its wave emerges."""

    HOLD = 0
    ACCUMULATE = 1
    RESTART = 2


class SystolicPE(wiring.Component):
    """One weight-stationary processing element.

    Parameters
    ----------
    acc_format : str
        Format of products and partial sums (``"fp32"`` or ``"fp16"``).
    mul_stages : int
        Pipeline registers of the multiplier.
    library : ModuleLibrary or None
        Where the multiplier and adder modules are emitted (None: flat).

    Ports
    -----
    a_in, a_valid_in, sel_in : the activation from the left, whether it is a wave, its bank.
    a_out, a_valid_out, sel_out : the same, registered, to the right.
    p_in, p_out : partial sum from above; ``p_in + w[sel] * a_in``, registered, downward,
        ``mul_stages`` cycles after ``a_in`` (``p_in`` is expected then); held between waves.
    w_in, w_out : the weight chain of the bank being loaded (from above, to below).
    load, load_bank : shift the chain of bank ``load_bank`` this cycle.
    """

    def __init__(self, acc_format: str = "fp32", mul_stages: int = 1,
                 library: ModuleLibrary | None = None):
        self._acc = FORMATS[acc_format]
        self._mul_stages = mul_stages
        self._library = library
        width = self._acc.width
        super().__init__({
            "a_in": In(16), "a_valid_in": In(1), "sel_in": In(1),
            "a_out": Out(16), "a_valid_out": Out(1), "sel_out": Out(1),
            "p_in": In(width), "p_out": Out(width),
            "w_in": In(16), "w_out": Out(16), "load": In(1), "load_bank": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        acc, stages = self._acc.name, self._mul_stages
        m.submodules.mul = mul = SharedModule(
            f"dcom_fp_mul_{acc}_s{stages}",
            lambda: FPMultiplier(out_format=acc, stages=stages), self._library)
        m.submodules.add = add = SharedModule(
            f"dcom_fp_add_{acc}_s0", lambda: FPAdder(fmt=acc, stages=0), self._library)

        weights = [Signal(16, name=f"w{bank}") for bank in range(2)]
        with m.If(self.load):
            for bank, weight in enumerate(weights):
                with m.If(self.load_bank == bank):
                    m.d.sync += weight.eq(self.w_in)
        m.d.comb += self.w_out.eq(Mux(self.load_bank, weights[1], weights[0]))

        # Registers pass a wave on and hold still between waves, so idle PEs do not toggle.
        m.d.sync += self.a_valid_out.eq(self.a_valid_in)
        with m.If(self.a_valid_in):
            m.d.sync += [self.a_out.eq(self.a_in), self.sel_out.eq(self.sel_in)]
        # Between waves the multiplier must not watch a bank being loaded: each shift of its
        # chain would start a product no one uses, in every PE of the bank.
        shown = Mux(self.load & ~self.a_valid_in, ~self.load_bank, self.sel_in)
        m.d.comb += [mul.a.eq(Mux(shown, weights[1], weights[0])), mul.b.eq(self.a_in),
                     add.a.eq(self.p_in), add.b.eq(mul.product)]
        # The partial sum moves only with a wave's product: any other change would ripple
        # down the whole column.
        with m.If(delay(m, self.a_valid_in, stages, "product_valid")):
            m.d.sync += self.p_out.eq(add.sum)
        return m


def systolic_command_layout(rows: int, cols: int, depth: int) -> data.StructLayout:
    """One command: an optional weight-row load, an optional multiply, an optional write."""
    addr = max(1, ceil_log2(depth))
    return data.StructLayout({
        "load": 1, "load_bank": 1, "w_addr": addr,
        "multiply": 1, "bank": 1, "acc": SystolicAcc, "x_addr": addr,
        "write": 1, "out_addr": addr,
    })


def encode_systolic_command(layout: data.StructLayout, cmd) -> int:
    """The bits of a command in :func:`systolic_command_layout`.

    ``cmd`` has the layout's fields as attributes, ``acc`` by name (as
    :class:`dcom.sw.systolicmodel.SystolicCommand` does).
    """
    fields = {"load": int(cmd.load), "load_bank": cmd.load_bank, "w_addr": cmd.w_addr,
              "multiply": int(cmd.multiply), "bank": cmd.bank, "acc": SystolicAcc[cmd.acc],
              "x_addr": cmd.x_addr, "write": int(cmd.write), "out_addr": cmd.out_addr}
    return layout.const(fields).as_bits()


class SystolicArray(wiring.Component):
    """A ``rows x cols`` weight-stationary systolic array with its global buffer.

    Parameters
    ----------
    rows, cols : int
        PE grid.
    buffer_depth : int
        Words of the global buffer; a word holds ``max(rows, cols)`` FP16 lanes.
    acc_format : str
        ``"fp32"`` or ``"fp16"``.
    mul_stages : int
        Pipeline registers of the multipliers.
    library : ModuleLibrary or None
        None builds flat (Amaranth simulation); a library emits the PE, multiplier and adder
        modules once.

    Attributes
    ----------
    latency : int
        Cycles from a command's issue until it has retired: its sums added in every column's
        accumulator, its write done.

    Ports
    -----
    cmd : valid + :func:`systolic_command_layout` payload, one per cycle.
    fill : host write of a word (lanes by mask); refused (``ready`` low) while a write retires.
    read : host read of a word, answered next cycle; refused while a command issues.
    acc : the column accumulators.
    idle : nothing in flight.
    """

    def __init__(self, rows: int, cols: int, buffer_depth: int, acc_format: str = "fp32",
                 mul_stages: int = 1, library: ModuleLibrary | None = None):
        for name, value in (("rows", rows), ("cols", cols), ("buffer_depth", buffer_depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(name, value, "integers >= 1")
        if acc_format not in FORMATS:
            raise ConfigError("acc_format", acc_format, "'fp32', 'fp16'")
        self.rows, self.cols, self.buffer_depth = rows, cols, buffer_depth
        self.lanes = max(rows, cols)
        self.acc_format, self.mul_stages = acc_format, mul_stages
        self._library = library
        self.latency = systolic_latency(rows, cols, mul_stages)
        addr = max(1, ceil_log2(buffer_depth))
        word = data.ArrayLayout(16, self.lanes)
        width = FORMATS[acc_format].width
        super().__init__({
            "cmd": In(wiring.Signature({
                "valid": Out(1),
                "payload": Out(systolic_command_layout(rows, cols, buffer_depth))})),
            "fill": In(wiring.Signature({
                "valid": Out(1), "ready": In(1), "addr": Out(addr), "lanes": Out(self.lanes),
                "data": Out(word)})),
            "read": In(wiring.Signature({
                "valid": Out(1), "ready": In(1), "addr": Out(addr), "resp_valid": In(1),
                "data": In(word)})),
            "acc": Out(data.ArrayLayout(width, cols)),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rows, cols, lanes = self.rows, self.cols, self.lanes
        acc_fmt = self.acc_format
        word = data.ArrayLayout(16, lanes)
        m.submodules.buffer = buffer = Sram(self.buffer_depth, 16 * lanes, read_ports=2,
                                            lane_bits=16, library=self._library)
        port_w_rows = _SramPort(buffer.rd0_en, buffer.rd0_addr, View(word, buffer.rd0_data))
        port_x = _SramPort(buffer.rd1_en, buffer.rd1_addr, View(word, buffer.rd1_data))
        port_write = _SramPort(buffer.wr_en, buffer.wr_addr, View(word, buffer.wr_data))

        cmd, valid = self.cmd.payload, self.cmd.valid
        # The SRAM ports read only when a command or the host needs them.
        m.d.comb += [
            port_w_rows.addr.eq(Mux(valid, cmd.w_addr, self.read.addr)),
            port_w_rows.en.eq(Mux(valid, cmd.load, self.read.valid)),
            port_x.addr.eq(cmd.x_addr),
            port_x.en.eq(valid & cmd.multiply),
            self.read.ready.eq(~valid),
            self.read.data.eq(port_w_rows.data),
        ]
        m.d.sync += self.read.resp_valid.eq(self.read.valid & ~valid)

        # Stage 1: the words read at issue, with the command that asked for them.
        stage1 = Signal.like(cmd)
        stage1_valid = Signal()
        m.d.sync += [stage1.eq(cmd), stage1_valid.eq(valid)]
        loading = stage1_valid & stage1.load
        waving = stage1_valid & stage1.multiply

        pes = [[None] * cols for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                m.submodules[f"pe_{i}_{j}"] = pes[i][j] = SharedModule(
                    f"dcom_systolic_pe_{acc_fmt}_s{self.mul_stages}",
                    lambda: SystolicPE(acc_fmt, self.mul_stages, self._library), self._library)

        # Input skew: row i's element, its valid and bank travel i registers before PE (i, 0).
        for i in range(rows):
            a, a_valid, sel = port_x.data[i], waving, stage1.bank
            for stage in range(i):
                a_d = Signal(16, name=f"skew{i}_{stage}")
                a_valid_d = Signal(name=f"skew{i}_{stage}_valid")
                sel_d = Signal(name=f"skew{i}_{stage}_sel")
                m.d.sync += a_valid_d.eq(a_valid)
                with m.If(a_valid):
                    m.d.sync += [a_d.eq(a), sel_d.eq(sel)]
                a, a_valid, sel = a_d, a_valid_d, sel_d
            m.d.comb += [pes[i][0].a_in.eq(a), pes[i][0].a_valid_in.eq(a_valid),
                         pes[i][0].sel_in.eq(sel)]
        for i in range(rows):
            for j in range(cols):
                pe = pes[i][j]
                m.d.comb += [pe.load.eq(loading), pe.load_bank.eq(stage1.load_bank),
                             pe.w_in.eq(port_w_rows.data[j] if i == 0 else pes[i - 1][j].w_out),
                             pe.p_in.eq(0 if i == 0 else pes[i - 1][j].p_out)]
                if j + 1 < cols:
                    m.d.comb += [pes[i][j + 1].a_in.eq(pe.a_out),
                                 pes[i][j + 1].a_valid_in.eq(pe.a_valid_out),
                                 pes[i][j + 1].sel_in.eq(pe.sel_out)]

        # The control token: from stage 1 down to the bottom-left corner, then along the
        # bottom edge one column a cycle, meeting each column's sum as it emerges.
        token_layout = data.StructLayout({"multiply": 1, "acc": SystolicAcc, "write": 1,
                                          "out_addr": len(cmd.out_addr)})
        token = Signal(token_layout)
        token_valid = stage1_valid
        m.d.comb += [token.multiply.eq(stage1.multiply), token.acc.eq(stage1.acc),
                     token.write.eq(stage1.write), token.out_addr.eq(stage1.out_addr)]
        in_flight = [stage1_valid]
        for stage in range(rows - 1 + self.mul_stages + 1 + cols):
            nxt = Signal(token_layout, name=f"token_d{stage}")
            nxt_valid = Signal(name=f"token_valid_d{stage}")
            m.d.sync += [nxt.eq(token), nxt_valid.eq(token_valid)]
            token, token_valid = nxt, nxt_valid
            in_flight.append(token_valid)
            column = stage - (rows - 1 + self.mul_stages)
            if 0 <= column < cols:
                self._accumulate(m, column, token, token_valid, pes[rows - 1][column].p_out)
        m.d.comb += self.idle.eq(~Cat(*in_flight).any())

        # Write-back after the last column, else host fill.
        writing = token_valid & token.write
        m.d.comb += self.fill.ready.eq(~writing)
        with m.If(writing):
            m.d.comb += port_write.addr.eq(token.out_addr)
            for j in range(cols):
                m.d.comb += [port_write.data[j].eq(self._narrow(m, j)), port_write.en[j].eq(1)]
        with m.Elif(self.fill.valid):
            m.d.comb += [port_write.addr.eq(self.fill.addr), port_write.data.eq(self.fill.data),
                         port_write.en.eq(self.fill.lanes)]
        return m

    def _narrow(self, m, column):
        """Accumulator ``column`` rounded to FP16; FP16 accumulators hold only adder results,
        whose NaNs are canonical already."""
        if self.acc_format == "fp16":
            return self.acc[column]
        m.submodules[f"narrow{column}"] = narrow = SharedModule(
            "dcom_fp_convert_fp32_fp16", lambda: FPConvert("fp32", "fp16"), self._library)
        m.d.comb += narrow.a.eq(self.acc[column])
        return narrow.result

    def _accumulate(self, m, column, token, token_valid, column_sum):
        adder = SharedModule(f"dcom_fp_add_{self.acc_format}_s0",
                             lambda: FPAdder(fmt=self.acc_format, stages=0), self._library)
        m.submodules[f"acc_add{column}"] = adder
        accumulator = self.acc[column]
        m.d.comb += [adder.a.eq(Mux(token.acc == SystolicAcc.RESTART, 0, accumulator)),
                     adder.b.eq(column_sum)]
        with m.If(token_valid & token.multiply & (token.acc != SystolicAcc.HOLD)):
            m.d.sync += accumulator.eq(adder.sum)

"""IEEE 754 floating-point units of the D-com datapath.

Every unit implements the scalar operations of ``docs/arithmetic.md``: round to nearest, ties to
even; subnormal inputs and outputs (no flush to zero); signed zeros, infinities and overflow to
infinity as IEEE 754 prescribes; and one canonical quiet NaN out (``FloatFormat.quiet_nan``)
whatever NaN, if any, came in.

The units are built for area, since a cluster holds dozens of them: operands are ordered by
magnitude so that only one of them is aligned, a single adder does both addition and
subtraction, leading zeros are counted by a log-depth priority tree, one left shifter
normalizes, and bits shifted out are kept only as a sticky bit.

Pipelining
----------
Each unit has a few *cut points* between its logic stages (for instance after alignment, after
the add and after normalization). ``stages=k`` places ``k`` registers on the cut points that
split the logic most evenly; registers beyond the number of cut points go on the output. The
registers have no enable: a caller pipelines its own valid bit beside them. ``latency`` is the
number of clock cycles from an input to its result (``0``: purely combinational), and
``register_cuts`` says which cut points hold a register.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dcom.config import FORMATS, ConfigError, FloatFormat

__all__ = ["FPMultiplier", "FPAdder", "FPConvert", "canonical_nan", "leading_zeros", "delay"]

#: Operand format of the multipliers (FP16, see ``DcomConfig.mul_format``).
OPERAND = FORMATS["fp16"]


def leading_zeros(m: Module, value, name: str = "zeros") -> Signal:
    """Number of leading zero bits of ``value``, by a log-depth priority tree.

    Parameters
    ----------
    m : Module
        Module that receives the tree's logic.
    value : Value
        Any unsigned value.
    name : str
        Name of the count signal (tree nodes are named after it).

    Returns
    -------
    Value
        The count, ``len(value)`` when ``value`` is zero.
    """
    value = Value.cast(value)
    # Padding below with a single one up to a power of two makes a zero input count exactly
    # ``len(value)`` and lets the tree assume that some bit is set.
    size = 2 << (len(value).bit_length() - 1)
    pad = size - len(value)
    padded = _wire(m, f"{name}_in", Cat(Const(1 << (pad - 1), pad), value))
    return _wire(m, name, _priority_tree(m, padded, name)[1])


def delay(m: Module, value, cycles: int, name: str):
    """``value`` through ``cycles`` registers (named ``<name>_d<k>``)."""
    for stage in range(cycles):
        delayed = Signal.like(value, name=f"{name}_d{stage}")
        m.d.sync += delayed.eq(value)
        value = delayed
    return value


def _priority_tree(m: Module, bits: Value, name: str) -> tuple[Value, Value]:
    """``(any bit set, leading zero count)`` of a power-of-two wide ``bits``."""
    if len(bits) == 2:
        return bits.any(), ~bits[1]
    half = len(bits) // 2
    low_any, low_count = _priority_tree(m, bits[:half], name)
    high_any, high_count = _priority_tree(m, bits[half:], name)
    # Wires at every node keep the expression a tree of shared nodes, not an exponential copy.
    return (_wire(m, f"{name}_any", high_any | low_any),
            _wire(m, f"{name}_count", Cat(Mux(high_any, high_count, low_count), ~high_any)))


def _wire(m: Module, name: str, value) -> Signal:
    """A combinational signal named ``name`` that carries ``value``."""
    value = Value.cast(value)
    wire = Signal(value.shape(), name=name)
    m.d.comb += wire.eq(value)
    return wire


def _shifted_out(value: Value, amount: Value) -> Value:
    """Whether any of the ``amount`` lowest bits of ``value`` is set (the sticky bit)."""
    below = Cat(amount > i for i in range(len(value)))
    return (value & below).any()


class _Operand:
    """The fields of an IEEE 754 value.

    A subnormal gets the exponent of the smallest normal (1) and a zero hidden bit, so that
    ``sig * 2**(exp - bias - man_bits)`` is its value for every finite input.
    """

    def __init__(self, m: Module, fmt: FloatFormat, bits, name: str):
        bits = _wire(m, name, bits)
        exp_field = bits[fmt.man_bits:-1]
        fraction = bits[:fmt.man_bits]
        self.sign = bits[-1]
        self.magnitude = bits[:-1]
        hidden = exp_field.any()
        self.exp = _wire(m, f"{name}_exp", Cat(exp_field[0] | ~hidden, exp_field[1:]))
        self.sig = _wire(m, f"{name}_sig", Cat(fraction, hidden))
        special = exp_field.all()
        self.is_zero = ~hidden & ~fraction.any()
        self.is_inf = special & ~fraction.any()
        self.is_nan = special & fraction.any()


def _infinity(fmt: FloatFormat, sign) -> Value:
    return Cat(Const(fmt.exp_max << fmt.man_bits, fmt.width - 1), sign)


def _denormalize(exp: Value, sig: Value, sticky: Value) -> tuple[Value, Value, Value]:
    """Shift a result that lies below the normal range right until its exponent is 1.

    Parameters
    ----------
    exp : Value
        Signed biased exponent of the top bit of ``sig``; may be zero or negative.
    sig, sticky : Value
        Significand (top bit is the hidden bit) and the sticky bit below it.

    Returns
    -------
    tuple of Value
        Unsigned exponent (at least 1), shifted significand, updated sticky bit.
    """
    underflow = exp < 1
    deficit = 1 - exp
    limit = len(sig)  # a shift this far leaves only the sticky bit
    amount = Mux(underflow, Mux(deficit > limit, limit, deficit), 0)[:limit.bit_length()]
    clamped = Mux(underflow, 1, exp)[:len(exp) - 1]
    return clamped, sig >> amount, sticky | _shifted_out(sig, amount)


def _round_to_nearest_even(fmt: FloatFormat, sign, exp: Value, sig: Value, sticky) -> Value:
    """Round and pack a normalized result; overflow gives infinity.

    Parameters
    ----------
    fmt : FloatFormat
        Result format.
    sign : Value
        Result sign.
    exp : Value
        Unsigned biased exponent of the top bit of ``sig``, at least 1. The top bit may be clear
        only where ``exp`` is 1 (a subnormal or zero result).
    sig : Value
        ``fmt.man_bits + 2`` bits: hidden bit, fraction, guard bit.
    sticky : Value
        Whether any bit below the guard bit is set.
    """
    hidden, lsb, guard = sig[-1], sig[1], sig[0]
    exp_field = Mux(hidden, exp, 0)
    # Rounding up carries from the fraction into the exponent: subnormal to normal, and the
    # largest finite value to infinity, need no special case. Both candidates are formed
    # while the rounding decision settles (carry select), which keeps the increment off the
    # critical path.
    truncated = Cat(sig[1:-1], exp_field)
    incremented = truncated + 1
    infinity = _infinity(fmt, sign)
    down = Mux(truncated[fmt.man_bits:] >= fmt.exp_max, infinity,
               Cat(truncated[:fmt.width - 1], sign))
    up = Mux(incremented[fmt.man_bits:] >= fmt.exp_max, infinity,
             Cat(incremented[:fmt.width - 1], sign))
    return Mux(guard & (sticky | lsb), up, down)


def _register_cuts(stages: int, cut_depths) -> tuple[int, ...]:
    """The cut points that receive a unit's ``stages`` registers, balancing its logic best.

    Parameters
    ----------
    stages : int
        Registers to place.
    cut_depths : sequence of int
        Logic depth (gate levels from the inputs) at each cut point, in datapath order, and
        the depth of the whole unit as the last entry.

    Returns
    -------
    tuple of int
        Indices of the chosen cut points, ascending; at most one register per cut point.
    """
    *cuts, total = cut_depths
    placed = min(stages, len(cuts))
    chosen: set[int] = set()
    for k in range(placed):
        target = (k + 1) * total / (placed + 1)
        free = [i for i in range(len(cuts)) if i not in chosen]
        chosen.add(min(free, key=lambda i: abs(cuts[i] - target)))
    return tuple(sorted(chosen))


class _Pipeline:
    """Carries a unit's values across its cut points, through registers where they are placed.

    Parameters
    ----------
    m : Module
    register_cuts : tuple of int
        Cut points that hold a register (see :func:`_register_cuts`).
    output_registers : int
        Registers that follow the unit's output.
    """

    def __init__(self, m: Module, register_cuts: tuple[int, ...], output_registers: int):
        self._m = m
        self._registered = set(register_cuts)
        self._output_registers = output_registers
        self._next_cut = 0

    def cut(self, **values) -> SimpleNamespace:
        """Pass ``values`` across the next cut point, through registers if one is placed there."""
        index = self._next_cut
        self._next_cut += 1
        carry = self._register if index in self._registered else self._wire
        return SimpleNamespace(**{name: carry(value, f"{name}_c{index}")
                                  for name, value in values.items()})

    def output(self, value) -> Value:
        """``value`` delayed by the registers that did not fit on a cut point."""
        for index in range(self._output_registers):
            value = self._register(value, f"result_r{index}")
        return value

    def _wire(self, value, name: str) -> Signal:
        return _wire(self._m, name, value)

    def _register(self, value, name: str) -> Signal:
        value = Value.cast(value)
        reg = Signal(value.shape(), name=name)
        self._m.d.sync += reg.eq(value)
        return reg


def _format(name: str, parameter: str, allowed: tuple[str, ...] = ("fp16", "fp32")):
    if name not in allowed:
        raise ConfigError(parameter, name, ", ".join(repr(a) for a in allowed))
    return FORMATS[name]


def _check_stages(stages) -> int:
    if isinstance(stages, bool) or not isinstance(stages, int) or stages < 0:
        raise ConfigError("stages", stages, "integers >= 0")
    return stages


class _PipelinedUnit(wiring.Component):
    """A unit with ``stages`` pipeline registers spread over its cut points."""

    #: Logic depth at each cut point and in all, per format (see :func:`_register_cuts`).
    CUT_DEPTHS: dict[str, tuple[int, ...]] = {}

    def __init__(self, stages, depth_key: str, signature: dict):
        self._stages = _check_stages(stages)
        self._cut_depths = self.CUT_DEPTHS[depth_key]
        self._register_cuts = _register_cuts(self._stages, self._cut_depths)
        super().__init__(signature)

    @property
    def cut_depths(self) -> tuple[int, ...]:
        """Logic depth at each cut point of this unit and, last, in all."""
        return self._cut_depths

    @property
    def latency(self) -> int:
        """Clock cycles from the operands to the result."""
        return self._stages

    @property
    def register_cuts(self) -> tuple[int, ...]:
        """Cut points (indices into :attr:`cut_depths`) holding a register; the other
        ``latency - len(register_cuts)`` registers follow the output."""
        return self._register_cuts

    def _pipeline(self, m: Module) -> _Pipeline:
        return _Pipeline(m, self._register_cuts, self._stages - len(self._register_cuts))


class FPMultiplier(_PipelinedUnit):
    """Product of two FP16 values, exact in FP32 or rounded to FP16.

    The 11 x 11 significand product of two FP16 values (subnormals included) has at most 22
    significant bits and an exponent inside FP32's normal range, so with ``out_format="fp32"``
    it is exact and only needs normalizing.

    Parameters
    ----------
    out_format : str
        ``"fp32"`` (exact) or ``"fp16"`` (round to nearest even).
    stages : int
        Pipeline registers (0: combinational).

    Attributes
    ----------
    a, b : Signal(16), in
        FP16 operands.
    product : Signal(32 or 16), out
        ``a * b`` in ``out_format``.
    latency : int
        Clock cycles from operands to product.
    """

    #: Logic depth at the cut points (after the significand multiply, after normalization and,
    #: for FP16, after denormalization) and in all, per output format: generic cells on the
    #: longest path after Yosys ``synth -flatten``, from ``scripts/bench_fp_gates.py --cuts``.
    CUT_DEPTHS = {"fp32": (42, 60, 62), "fp16": (42, 59, 78, 86)}

    def __init__(self, out_format: str = "fp32", stages: int = 0):
        self._out = _format(out_format, "out_format")
        super().__init__(stages, self._out.name, {
            "a": In(OPERAND.width),
            "b": In(OPERAND.width),
            "product": Out(self._out.width),
        })

    @property
    def out_format(self) -> FloatFormat:
        """Format of :attr:`product`."""
        return self._out

    def elaborate(self, platform):
        m = Module()
        out = self._out
        pipe = self._pipeline(m)
        a, b = _Operand(m, OPERAND, self.a, "a"), _Operand(m, OPERAND, self.b, "b")

        s = pipe.cut(
            sig=a.sig * b.sig,
            exp_sum=a.exp + b.exp,
            sign=a.sign ^ b.sign,
            nan=a.is_nan | b.is_nan | (a.is_inf & b.is_zero) | (a.is_zero & b.is_inf),
            inf=a.is_inf | b.is_inf,
            zero=a.is_zero | b.is_zero,
        )
        # The product's top bit sits 2 * man_bits + 1 above its LSB, whose weight is
        # 2**(exp_sum - 2 * (bias + man_bits)); normalizing moves the top set bit there.
        shift = leading_zeros(m, s.sig)
        top_exp = s.exp_sum + (1 - 2 * OPERAND.bias + out.bias) - shift
        s = pipe.cut(norm=(s.sig << shift)[:len(s.sig)], top_exp=top_exp,
                     sign=s.sign, nan=s.nan, inf=s.inf, zero=s.zero)

        if out.name == "fp32":
            # Exact: the 21 fraction bits below the hidden bit fill the top of the FP32 fraction.
            fraction = Cat(Const(0, out.man_bits - (len(s.norm) - 1)), s.norm[:-1])
            finite = Mux(s.zero, Cat(Const(0, out.width - 1), s.sign),
                         Cat(fraction, s.top_exp[:out.exp_bits], s.sign))
        else:
            rounding_bits = out.man_bits + 2
            exp, sig, sticky = _denormalize(s.top_exp, s.norm[-rounding_bits:],
                                            s.norm[:-rounding_bits].any())
            s = pipe.cut(exp=exp, sig=sig, sticky=sticky, nan=s.nan, inf=s.inf, sign=s.sign)
            finite = _round_to_nearest_even(out, s.sign, s.exp, s.sig, s.sticky)

        result = Mux(s.nan, out.quiet_nan, Mux(s.inf, _infinity(out, s.sign), finite))
        m.d.comb += self.product.eq(pipe.output(result))
        return m


class FPAdder(_PipelinedUnit):
    """Sum of two IEEE 754 values, rounded to nearest even.

    Parameters
    ----------
    fmt : str
        ``"fp32"`` or ``"fp16"``: format of both operands and of the sum.
    stages : int
        Pipeline registers (0: combinational).

    Attributes
    ----------
    a, b : Signal(width), in
        Operands.
    sum : Signal(width), out
        ``a + b``; an exact zero sum is ``+0`` unless both operands are ``-0``.
    latency : int
        Clock cycles from operands to sum.
    """

    #: Logic depth at the cut points (after ordering the operands, after align and add,
    #: after normalization) and in all, measured as for :attr:`FPMultiplier.CUT_DEPTHS`.
    CUT_DEPTHS = {"fp16": (31, 44, 69, 81, 88, 103), "fp32": (38, 57, 108, 123, 136, 161)}

    def __init__(self, fmt: str = "fp32", stages: int = 0):
        self._fmt = _format(fmt, "fmt")
        width = self._fmt.width
        super().__init__(stages, fmt, {"a": In(width), "b": In(width), "sum": Out(width)})

    @property
    def fmt(self) -> FloatFormat:
        """Format of the operands and the sum."""
        return self._fmt

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        pipe = self._pipeline(m)
        a, b = _Operand(m, fmt, self.a, "a"), _Operand(m, fmt, self.b, "b")

        # Order the operands by magnitude so that only the smaller one is ever aligned and a
        # subtraction never goes negative.
        swap = b.magnitude > a.magnitude
        big = _Operand(m, fmt, Mux(swap, self.b, self.a), "big")
        small = _Operand(m, fmt, Mux(swap, self.a, self.b), "small")
        s = pipe.cut(
            big_exp=big.exp, big_sig=big.sig, small_sig=small.sig,
            distance=(big.exp - small.exp)[:fmt.exp_bits],
            sign=big.sign, subtract=big.sign ^ small.sign,
            # An exact zero sum is -0 only for (-0) + (-0).
            zero_sign=a.sign & b.sign,
            nan=a.is_nan | b.is_nan | (a.is_inf & b.is_inf & (a.sign ^ b.sign)),
            inf=a.is_inf | b.is_inf,
        )

        # Three bits below the significands (guard, round, sticky) and a carry bit above.
        sig_width = fmt.man_bits + 1
        frame = sig_width + 3
        big_sig = Cat(Const(0, 3), s.big_sig)
        small_sig = Cat(Const(0, 3), s.small_sig)
        amount = Mux(s.distance >= frame, frame, s.distance)[:frame.bit_length()]
        aligned = _wire(m, "aligned", small_sig >> amount)
        aligned = Cat(aligned[0] | _shifted_out(small_sig, amount), aligned[1:])
        s = pipe.cut(big_sig=big_sig, aligned=aligned, big_exp=s.big_exp, sign=s.sign,
                     subtract=s.subtract, zero_sign=s.zero_sign, nan=s.nan, inf=s.inf)
        total = _wire(m, "total",
                      s.big_sig + Mux(s.subtract, ~s.aligned, s.aligned) + s.subtract)
        # A subtraction's carry out is the two's-complement wrap, not a carry.
        total = Cat(total[:frame], total[frame] & ~s.subtract)
        s = pipe.cut(total=total, big_exp=s.big_exp, sign=s.sign, zero_sign=s.zero_sign,
                     nan=s.nan, inf=s.inf)

        # Left-normalize, but never below the smallest normal exponent: the top bit of `total`
        # has exponent big_exp + 1, so shifting by big_exp lands a subnormal result on exp 1.
        zeros = leading_zeros(m, s.total)
        shift = Mux(zeros < s.big_exp, zeros, s.big_exp[:len(zeros)])
        s = pipe.cut(total=s.total, shift=shift, big_exp=s.big_exp, sign=s.sign,
                     zero_sign=s.zero_sign, nan=s.nan, inf=s.inf)
        s = pipe.cut(
            norm=(s.total << s.shift)[:len(s.total)],
            exp=(s.big_exp + 1 - s.shift)[:fmt.exp_bits + 1],
            sign=Mux(s.total.any(), s.sign, s.zero_sign),
            nan=s.nan, inf=s.inf, big_sign=s.sign,
        )

        finite = _round_to_nearest_even(fmt, s.sign, s.exp, s.norm[3:], s.norm[:3].any())
        result = Mux(s.nan, fmt.quiet_nan, Mux(s.inf, _infinity(fmt, s.big_sign), finite))
        m.d.comb += self.sum.eq(pipe.output(result))
        return m


class FPConvert(_PipelinedUnit):
    """Conversion between FP16 and FP32.

    Widening (FP16 to FP32) is exact; narrowing (FP32 to FP16) rounds to nearest even and
    overflows to infinity.

    Parameters
    ----------
    in_format, out_format : str
        ``"fp16"`` and ``"fp32"`` in either order.
    stages : int
        Pipeline registers (0: combinational).

    Attributes
    ----------
    a : Signal(in width), in
        Value to convert.
    result : Signal(out width), out
        ``a`` in ``out_format``.
    latency : int
        Clock cycles from input to result.
    """

    #: Logic depth at the cut point (after normalization or denormalization) and in all,
    #: keyed by output format, measured as for :attr:`FPMultiplier.CUT_DEPTHS`.
    CUT_DEPTHS = {"fp32": (15, 17), "fp16": (25, 36)}

    def __init__(self, in_format: str, out_format: str, stages: int = 0):
        self._in = _format(in_format, "in_format")
        self._out = _format(out_format, "out_format",
                            tuple(name for name in FORMATS if name != in_format))
        super().__init__(stages, out_format,
                         {"a": In(self._in.width), "result": Out(self._out.width)})

    @property
    def in_format(self) -> FloatFormat:
        """Format of :attr:`a`."""
        return self._in

    @property
    def out_format(self) -> FloatFormat:
        """Format of :attr:`result`."""
        return self._out

    def elaborate(self, platform):
        m = Module()
        src, dst = self._in, self._out
        pipe = self._pipeline(m)
        x = _Operand(m, src, self.a, "a")
        rebias = dst.bias - src.bias

        if dst.width > src.width:
            # A subnormal source is normal in the wider format: normalize its significand.
            shift = leading_zeros(m, x.sig)
            s = pipe.cut(norm=(x.sig << shift)[:len(x.sig)], exp=x.exp + rebias - shift,
                         sign=x.sign, zero=x.is_zero, nan=x.is_nan, inf=x.is_inf)
            fraction = Cat(Const(0, dst.man_bits - src.man_bits), s.norm[:-1])
            finite = Mux(s.zero, Cat(Const(0, dst.width - 1), s.sign),
                         Cat(fraction, s.exp[:dst.exp_bits], s.sign))
        else:
            rounding_bits = dst.man_bits + 2
            exp, sig, sticky = _denormalize(x.exp + rebias, x.sig[-rounding_bits:],
                                            x.sig[:-rounding_bits].any())
            s = pipe.cut(exp=exp, sig=sig, sticky=sticky, sign=x.sign, nan=x.is_nan,
                         inf=x.is_inf)
            finite = _round_to_nearest_even(dst, s.sign, s.exp, s.sig, s.sticky)

        result = Mux(s.nan, dst.quiet_nan, Mux(s.inf, _infinity(dst, s.sign), finite))
        m.d.comb += self.result.eq(pipe.output(result))
        return m


def canonical_nan(value, fmt: FloatFormat) -> Value:
    """``value`` (bits of format ``fmt``) with any NaN replaced by the canonical quiet NaN.

    For paths that move a value without an arithmetic unit (a preload or write-back between
    equal formats), so that every stored NaN is canonical as the contract requires.
    """
    value = Value.cast(value)
    exponent = value[fmt.man_bits:fmt.man_bits + fmt.exp_bits]
    is_nan = (exponent == fmt.exp_max) & value[:fmt.man_bits].any()
    return Mux(is_nan, fmt.quiet_nan, value)

"""The scalar unit of the D-com controller: FP32 square root and reciprocal.

The controller needs two scalar results per normalization (``docs/arithmetic.md``):
``α = sqrt(x)`` and ``r = 1/α``, both correctly rounded in FP32. They are rare next to the
matrix kernels, so the unit is built for area: one restoring digit recurrence that produces
one result bit per clock cycle serves both operations, sharing its remainder, result and
operand registers and its one subtractor.

Recurrence
----------
The input's significand is first normalized to ``S`` in ``[1, 2)`` (subnormals included), with
unbiased exponent ``E``. Each step shifts the partial remainder left and subtracts a trial
value when it fits, which sets the next result bit:

* reciprocal: the remainder starts at ``1`` and moves one bit a step; the trial value is ``S``.
  The result is ``1/S`` in ``(1/2, 1]``, scaled by ``2**-E``.
* square root: the radicand is ``S`` (``E`` even) or ``2 S`` (``E`` odd), in ``[1, 4)``; two
  of its bits enter the remainder a step, and the trial value is ``4 q + 1`` for the result
  ``q`` so far. The result is in ``[1, 2)``, scaled by ``2**floor(E / 2)``.

After :data:`RESULT_BITS` steps the result has its top bit in one of its two highest places,
so 24 significant bits and a guard bit follow, and the remainder and any bit below the guard
bit give the sticky bit; the FP units' rounding helper rounds to nearest even and overflows
the reciprocal of a tiny value to infinity. The reciprocal of a large value, below the normal
range by one or two bits at most, starts from ``1/2`` or ``1/4`` instead of ``1``: its result
bits then come out aligned for the subnormal exponent and round in place, so no denormalizing
shifter is needed.

The operand is registered before it is unpacked, and rounding takes a cycle of its own into the
result register, so that the controller may hand a result straight back as the next operand
(the reciprocal of a square root) within the clock period.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from dcom.config import FORMATS
from dcom.hw.fp import _infinity, _Operand, _round_to_nearest_even, _wire, leading_zeros

__all__ = ["ScalarOp", "ScalarUnit", "RESULT_BITS"]

FP32 = FORMATS["fp32"]

#: Result bits the recurrence produces, one a cycle: the significand's 24 bits and a guard bit
#: below a reciprocal's leading bit, plus its integer bit (set only for ``1/1``). A square
#: root needs one bit fewer; its last bit only joins the sticky bit.
RESULT_BITS = FP32.man_bits + 3


class ScalarOp(enum.Enum, shape=1):
    """Operation of the :class:`ScalarUnit`."""

    SQRT = 0
    RECIPROCAL = 1


class ScalarUnit(wiring.Component):
    """FP32 square root and reciprocal, correctly rounded, one result bit per cycle.

    Special values follow IEEE 754: ``sqrt(-0) = -0``, ``sqrt(+inf) = +inf``, the square root
    of a negative value (``-inf`` included) is NaN; ``1/±0 = ±inf``, ``1/±inf = ±0``. Any NaN
    input gives the canonical quiet NaN (``0x7FC00000``). Subnormal inputs are handled like
    any other; the reciprocal of a large value may be subnormal, and that of a tiny one
    overflows to infinity.

    Timing: ``start`` is taken at the end of a cycle in which the unit is not ``busy``. An
    operation then takes exactly :attr:`latency` cycles, whatever the operation and operand:
    if ``start`` is taken at the end of cycle ``t``, ``done`` is high in cycle
    ``t + latency`` and only then. ``result`` is valid from that cycle until the next
    ``start`` is taken. ``busy`` is high from cycle ``t + 1`` up to, not including, the
    ``done`` cycle, so the next ``start`` may come in the ``done`` cycle; a ``start`` while
    ``busy`` is ignored.

    Attributes
    ----------
    start : Signal(1), in
        Begin an operation on ``a``.
    op : Signal(ScalarOp), in
        ``SQRT`` (0) or ``RECIPROCAL`` (1), sampled with ``start``.
    a : Signal(32), in
        FP32 operand, sampled with ``start``.
    busy : Signal(1), out
        An operation is in progress.
    done : Signal(1), out
        One-cycle pulse: ``result`` is ready.
    result : Signal(32), out
        ``sqrt(a)`` or ``1/a`` in FP32, registered.
    latency : int
        Cycles from ``start`` to ``done`` (29, both operations).
    """

    #: Cycles from start to done, both operations: one to register the operand, one to unpack
    #: it, one per result bit, one to round.
    latency = 2 + RESULT_BITS + 1

    def __init__(self):
        super().__init__({
            "start": In(1),
            "op": In(ScalarOp),
            "a": In(FP32.width),
            "busy": Out(1),
            "done": Out(1),
            "result": Out(FP32.width),
        })

    def elaborate(self, platform):
        m = Module()
        bits = RESULT_BITS
        # A square-root step brings in two radicand bits and subtracts 4 q + 1, where q has at
        # most bits - 1 bits; the remainder never exceeds 2 q. So the shifted remainder and
        # the trial value fit bits + 2 and bits + 1 bits, and the last remainder bits + 1.
        rem_width = bits + 1

        # Only the step counter needs a reset: a start loads everything else before use.
        op = Signal(ScalarOp, reset_less=True)
        sign, nan, inf, zero = (Signal(name=name, reset_less=True)
                                for name in ("sign", "nan", "inf", "zero"))
        # Biased exponent of the result bit below the top one: at least 1 (see below) and at
        # most 2 bias + man_bits - 2 (the reciprocal of the smallest subnormal).
        exp = Signal(range(2 * FP32.bias + FP32.man_bits), reset_less=True)
        # Reciprocal: the normalized significand (the trial value). Square root: the radicand
        # bits not yet used, the next pair on top.
        operand = Signal(FP32.man_bits + 3, reset_less=True)
        rem = Signal(rem_width, reset_less=True)
        quotient = Signal(bits, reset_less=True)
        steps_left = Signal(range(bits + 1))
        # High in the cycle after start is taken: the operand register is being unpacked.
        loading = Signal()
        # High in the cycle after the last step: the result is being rounded.
        rounding = Signal()
        stepping = steps_left != 0
        is_sqrt = op == ScalarOp.SQRT

        m.d.comb += self.busy.eq(loading | stepping | rounding)
        m.d.sync += [loading.eq(self.start & ~self.busy), rounding.eq(steps_left == 1),
                     self.done.eq(rounding)]
        given = Signal(FP32.width, reset_less=True)
        given_op = Signal(ScalarOp, reset_less=True)
        with m.If(self.start & ~self.busy):
            m.d.sync += [given.eq(self.a), given_op.eq(self.op)]

        # Loading: unpack and normalize the operand to S * 2**E, S in [1, 2).
        x = _Operand(m, FP32, given, "a")
        shift = leading_zeros(m, x.sig, "a_zeros")
        sig = _wire(m, "a_norm", (x.sig << shift)[:len(x.sig)])
        unbiased = _wire(m, "a_unbiased", x.exp - shift - FP32.bias)
        # The top result bit has weight 2**floor(E / 2) (square root) or 2**-E (reciprocal).
        sqrt_exp = (unbiased >> 1) + FP32.bias - 1
        recip_exp = _wire(m, "recip_exp", FP32.bias - 1 - unbiased)
        # A reciprocal below the normal range (E of 126 or 127, so recip_exp of 0 or -1) starts
        # from 1/2 or 1/4 instead of 1, so that its bits come out already aligned for exponent
        # 1 and round in place: no denormalizing shifter is needed.
        subnormal = recip_exp < 1
        one = 1 << (FP32.man_bits - 1)  # 1 in significand units, before the first shift
        new_sqrt = given_op == ScalarOp.SQRT
        with m.If(loading):
            m.d.sync += [
                op.eq(given_op),
                sign.eq(x.sign),
                nan.eq(x.is_nan | (new_sqrt & x.sign & ~x.is_zero)),
                inf.eq(Mux(new_sqrt, x.is_inf, x.is_zero)),
                zero.eq(Mux(new_sqrt, x.is_zero, x.is_inf)),
                exp.eq(Mux(new_sqrt, sqrt_exp, Mux(subnormal, 1, recip_exp))),
                operand.eq(Mux(new_sqrt, Mux(unbiased[0], sig << 2, sig << 1), sig)),
                rem.eq(Mux(new_sqrt, 0,
                           Mux(subnormal, Mux(recip_exp[0], one >> 2, one >> 1), one))),
                quotient.eq(0),
                steps_left.eq(bits),
            ]

        # One recurrence step.
        shifted = _wire(m, "shifted", Mux(is_sqrt, Cat(operand[-2:], rem[:-1]),
                                          Cat(0, rem[:-1])))
        trial = _wire(m, "trial", Mux(is_sqrt, Cat(Const(1, 2), quotient[:-1]),
                                      operand[:FP32.man_bits + 1]))
        # A set top bit of 2**(len(shifted)) + shifted - trial means the trial value fits.
        difference = _wire(m, "difference", Cat(shifted, 1) - trial)
        fits = difference[len(shifted)]
        with m.If(stepping):
            m.d.sync += [
                rem.eq(Mux(fits, difference, shifted)[:rem_width]),
                quotient.eq(Cat(fits, quotient)),
                operand.eq(Mux(is_sqrt, operand << 2, operand)),
                steps_left.eq(steps_left - 1),
            ]

        # Rounding, from the registers, which hold still once the steps are done. The top
        # bit is set for a square root and for a reciprocal of a power of two that stays
        # normal; otherwise the bit below it leads, or, for a subnormal, a bit further down.
        top = quotient[-1]
        # Wires keep each value one shared node (Amaranth copies an expression at every use).
        norm = _wire(m, "norm", Mux(top, quotient[1:], quotient[:-1]))
        sticky = _wire(m, "sticky", rem.any() | (top & quotient[0]))
        finite = _round_to_nearest_even(FP32, sign, _wire(m, "top_exp", exp + top), norm, sticky)
        with m.If(rounding):
            m.d.sync += self.result.eq(
                Mux(nan, FP32.quiet_nan,
                    Mux(inf, _infinity(FP32, sign),
                        Mux(zero, Cat(Const(0, FP32.width - 1), sign), finite))))
        return m

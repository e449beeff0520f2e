# amaranth: UnusedElaboratable=no
# (UNITS builds units that tests may only inspect, never elaborate.)
"""The floating-point units under test, their NumPy reference and their test operands.

NumPy's float16 and float32 are correctly rounded (round to nearest even, subnormals kept), so
they give the expected bits of every unit in ``dcom.hw.fp`` once NaNs are replaced by the
canonical quiet NaN that dcom's hardware outputs (``docs/arithmetic.md``). An expected NaN is
therefore compared bit for bit: the hardware must give exactly the canonical one.

The table :data:`UNITS` names each unit once for the Amaranth tests, the cocotb testbench, the
Verilator harness (``dcom.tb.fp_exhaustive``) and the gate-count script. :data:`SCALAR_OPS`
does the same for the two operations of the multi-cycle scalar unit (``dcom.hw.scalar``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dcom.config import FORMATS, FloatFormat
from dcom.hw.fp import FPAdder, FPConvert, FPMultiplier
from dcom.hw.scalar import ScalarOp

__all__ = ["FPUnitSpec", "UNITS", "special_values", "random_operands", "operand_vectors",
           "ScalarOpSpec", "SCALAR_OPS", "scalar_special_values", "scalar_operands"]

_NUMPY = {"fp16": (np.float16, np.uint16), "fp32": (np.float32, np.uint32)}


def _as_float(fmt: FloatFormat, bits) -> np.ndarray:
    floating, unsigned = _NUMPY[fmt.name]
    return np.asarray(bits, dtype=np.uint64).astype(unsigned).view(floating)


def _as_bits(fmt: FloatFormat, values: np.ndarray) -> np.ndarray:
    floating, unsigned = _NUMPY[fmt.name]
    bits = values.astype(floating).view(unsigned).astype(np.uint64)
    return np.where(np.isnan(values), fmt.quiet_nan, bits)


@dataclass(frozen=True)
class FPUnitSpec:
    """One floating-point unit: how to build it and what it must compute.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"mul_fp32"``.
    in_format, out_format : FloatFormat
        Operand and result formats.
    arity : int
        Number of operands (ports ``a`` and, for 2, ``b``).
    output : str
        Name of the result port.
    build : callable
        ``build(stages)`` returns the Amaranth component.
    compute : callable
        ``compute(x, y)`` on float32 arrays (``y`` unused for one operand) returns the exact or
        correctly rounded result as a NumPy float array of the output format.
    """

    name: str
    in_format: FloatFormat
    out_format: FloatFormat
    arity: int
    output: str
    build: Callable[[int], object]
    compute: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def reference(self, a, b=None) -> np.ndarray:
        """Expected result bits (``uint64``) for operand bits ``a`` (and ``b``)."""
        x = _as_float(self.in_format, a).astype(np.float32)
        y = x if b is None else _as_float(self.in_format, b).astype(np.float32)
        with np.errstate(all="ignore"):
            return _as_bits(self.out_format, self.compute(x, y))


_FP16, _FP32 = FORMATS["fp16"], FORMATS["fp32"]

# Each FP16 product and sum is computed in float32 and rounded once: the product of two FP16
# values is exact in float32, and float32 carries 24 >= 2 * 11 + 2 bits, enough for a sum of
# two FP16 values to round correctly after a second rounding.
UNITS: dict[str, FPUnitSpec] = {spec.name: spec for spec in (
    FPUnitSpec("mul_fp32", _FP16, _FP32, 2, "product",
               lambda stages: FPMultiplier("fp32", stages), lambda x, y: x * y),
    FPUnitSpec("mul_fp16", _FP16, _FP16, 2, "product",
               lambda stages: FPMultiplier("fp16", stages),
               lambda x, y: (x * y).astype(np.float16)),
    FPUnitSpec("add_fp16", _FP16, _FP16, 2, "sum",
               lambda stages: FPAdder("fp16", stages),
               lambda x, y: (x + y).astype(np.float16)),
    FPUnitSpec("add_fp32", _FP32, _FP32, 2, "sum",
               lambda stages: FPAdder("fp32", stages), lambda x, y: x + y),
    FPUnitSpec("widen", _FP16, _FP32, 1, "result",
               lambda stages: FPConvert("fp16", "fp32", stages), lambda x, y: x),
    FPUnitSpec("narrow", _FP32, _FP16, 1, "result",
               lambda stages: FPConvert("fp32", "fp16", stages),
               lambda x, y: x.astype(np.float16)),
)}


def special_values(fmt: FloatFormat) -> list[int]:
    """Bit patterns of the values where floating-point units go wrong, both signs.

    Zeros, the smallest and largest subnormals and normals, infinities, NaNs (quiet, signalling,
    with payloads), one and its neighbours, and values whose sums and products with one another
    are ties or near-ties (half an ULP of one and of the largest normal).
    """
    man = fmt.man_bits
    one = fmt.bias << man
    ulp_half = (fmt.bias - man - 1) << man  # 2**-(man+1): one plus it is a tie
    magnitudes = [
        0, 1, 2, 3, (1 << man) - 1, 1 << man, (1 << man) + 1,
        ((fmt.exp_max - 1) << man) | ((1 << man) - 1), (fmt.exp_max - 1) << man,
        fmt.exp_max << man,
        one, one + 1, one - 1, one | (1 << (man - 1)), one + (1 << man),
        ulp_half, ulp_half + 1, ulp_half - 1, ulp_half | (1 << (man - 1)),
        (fmt.exp_max - 1 - man - 1) << man,  # half an ULP of the largest normal
        one | 0b101, (2 * fmt.bias - 2) << man | (1 << (man - 1)) | 1,
    ]
    nans = [fmt.quiet_nan, (fmt.exp_max << man) | 1, (fmt.exp_max << man) | ((1 << man) - 1)]
    sign = 1 << (fmt.width - 1)
    return sorted(set(magnitudes + [m | sign for m in magnitudes] + nans + [nans[1] | sign]))


def random_operands(fmt: FloatFormat, count: int, rng: np.random.Generator,
                    arity: int = 2) -> list[np.ndarray]:
    """Random operand bit patterns, mixing uniform bits with hard cases.

    A quarter of the pairs are uniform bit patterns, a quarter have exponents within a few of
    each other (so that sums really add), a quarter pair a value with a near negation of itself
    (massive cancellation) and a quarter draw small exponents (subnormal results).
    """
    man, width = fmt.man_bits, fmt.width
    a = rng.integers(0, 1 << width, count, dtype=np.uint64)
    b = rng.integers(0, 1 << width, count, dtype=np.uint64)
    if arity == 1:
        return [a]
    kind = rng.integers(0, 4, count)
    exp_a = (a >> np.uint64(man)) & np.uint64(fmt.exp_max)
    near = np.clip(exp_a.astype(np.int64) + rng.integers(-3, 4, count), 0, fmt.exp_max - 1)
    close = (b & np.uint64(~(fmt.exp_max << man) & ((1 << width) - 1))) | (
        near.astype(np.uint64) << np.uint64(man))
    flip = np.uint64(1 << (width - 1))
    step = rng.integers(-4, 5, count).astype(np.int64)
    cancel = ((a ^ flip).astype(np.int64) + step).astype(np.uint64) & np.uint64((1 << width) - 1)
    tiny = rng.integers(0, (fmt.bias // 2) << man, count, dtype=np.uint64) | (
        rng.integers(0, 2, count, dtype=np.uint64) << np.uint64(width - 1))
    b = np.select([kind == 1, kind == 2, kind == 3], [close, cancel, tiny], b)
    a = np.where(kind == 3, tiny[::-1], a)
    return [a, b]


def operand_vectors(spec: FPUnitSpec, random_count: int, seed: int) -> list[np.ndarray]:
    """Operands for ``spec``: every pair of special values, then ``random_count`` random ones.

    Returns
    -------
    list of numpy.ndarray
        One ``uint64`` array of bit patterns per operand, all of the same length.
    """
    specials = special_values(spec.in_format)
    if spec.arity == 1:
        corner = [np.array(specials, dtype=np.uint64)]
    else:
        pairs = np.array(list(itertools.product(specials, repeat=2)), dtype=np.uint64)
        corner = [pairs[:, 0], pairs[:, 1]]
    rng = np.random.default_rng(seed)
    drawn = random_operands(spec.in_format, random_count, rng, spec.arity)
    return [np.concatenate([c, d]) for c, d in zip(corner, drawn)]


@dataclass(frozen=True)
class ScalarOpSpec:
    """One operation of the scalar unit (FP32 in, FP32 out).

    Attributes
    ----------
    name : str
        Short name, ``"sqrt_fp32"`` or ``"recip_fp32"``.
    op : ScalarOp
        Value of the unit's ``op`` port.
    compute : callable
        ``compute(x)`` on a float32 array returns the correctly rounded float32 result.
    """

    name: str
    op: ScalarOp
    compute: Callable[[np.ndarray], np.ndarray]

    def reference(self, a) -> np.ndarray:
        """Expected result bits (``uint64``) for operand bits ``a``."""
        with np.errstate(all="ignore"):
            return _as_bits(_FP32, self.compute(_as_float(_FP32, a)))


# NumPy's float32 square root and division are IEEE operations, correctly rounded.
SCALAR_OPS: dict[str, ScalarOpSpec] = {spec.name: spec for spec in (
    ScalarOpSpec("sqrt_fp32", ScalarOp.SQRT, np.sqrt),
    ScalarOpSpec("recip_fp32", ScalarOp.RECIPROCAL, lambda x: np.float32(1) / x),
)}


def scalar_special_values() -> list[int]:
    """FP32 bit patterns where a square root or reciprocal goes wrong, both signs.

    :func:`special_values` plus the powers of two at both ends of the range and their
    neighbours, whose reciprocals overflow, just fit, or become subnormal, and perfect squares
    of both exponent parities, whose square roots are exact.
    """
    man = _FP32.man_bits
    powers = [e << man for e in (1, 2, 3, 125, 126, 127, 128, 129, 252, 253, 254)]
    # Subnormal powers of two: 2**-127, 2**-128 (reciprocal 2**128 overflows), 2**-149.
    powers += [1 << (man - 1), 1 << (man - 2), 1]
    squares = [int(np.float32(k * k * scale).view(np.uint32))
               for k in (3, 5, 4095) for scale in (1.0, 2.0 ** -100, 2.0 ** 100)]
    magnitudes = {m + d for m in powers for d in (-1, 0, 1)} | set(squares)
    sign = 1 << (_FP32.width - 1)
    return sorted(set(special_values(_FP32)) | magnitudes | {m | sign for m in magnitudes})


def scalar_operands(random_count: int, seed: int) -> np.ndarray:
    """Operands for the scalar unit: :func:`scalar_special_values`, then random ones.

    The random quarter are uniform bit patterns, positive values (square roots that are not
    NaN), values at the ends of the exponent range (subnormal and overflowing reciprocals) and
    perfect squares (exact square roots), in turn.
    """
    rng = np.random.default_rng(seed)
    man = _FP32.man_bits
    uniform = rng.integers(0, 1 << _FP32.width, random_count, dtype=np.uint64)
    positive = uniform & np.uint64((1 << (_FP32.width - 1)) - 1)
    ends = np.concatenate([np.arange(0, 4), np.arange(_FP32.exp_max - 4, _FP32.exp_max)])
    extreme = (uniform & np.uint64((1 << man) - 1 | 1 << (_FP32.width - 1))) | (
        rng.choice(ends, random_count).astype(np.uint64) << np.uint64(man))
    roots = rng.integers(1, 1 << 12, random_count).astype(np.float32)
    # Even powers of two from 2**-148 (subnormal squares stay exact) to 2**78.
    scales = np.ldexp(np.float32(1), rng.integers(-74, 40, random_count) * 2).astype(np.float32)
    squares = (roots * roots * scales).view(np.uint32).astype(np.uint64)
    kind = np.arange(random_count) % 4
    drawn = np.select([kind == 0, kind == 1, kind == 2], [uniform, positive, extreme], squares)
    return np.concatenate([np.array(scalar_special_values(), dtype=np.uint64), drawn])

"""Bit-exact, vectorized emulation of the dcom datapath arithmetic (docs/arithmetic.md).

Values live in NumPy arrays whose dtype *is* their format: ``float16`` arrays hold FP16 values,
``float32`` arrays hold FP32 values, and the functions that add (:func:`add`, :func:`tree_sum`,
:func:`fold_sum`, :func:`icsum`) work in the format of their input's dtype. The accumulation
format of an instance is ``DcomConfig.acc_format``; :func:`float_dtype` maps it to a dtype.
:func:`to_bits` and :func:`from_bits` convert to and from the ``uint16``/``uint32`` bit patterns
that RTL testbenches see.

Why NumPy's own operations are exact enough:

* float32 ``+``, ``*``, ``/`` and ``sqrt`` are IEEE correctly rounded (round to nearest even) and
  keep subnormals (NumPy does not enable flush-to-zero).
* A product of two FP16 values needs at most 22 significand bits and an exponent inside FP32's
  normal range, so it is exact in float32.
* An FP16 sum computed as a float32 sum and then rounded to float16 equals the correctly rounded
  FP16 sum: the double rounding is innocuous because 24 >= 2 * 11 + 2.
* float32/float64 to float16 conversion rounds to nearest even, keeps subnormals and overflows to
  infinity.

Every function returns NaNs in the canonical form of docs/arithmetic.md (positive, quiet, zero
payload), whatever NaN the host CPU produced.
"""

from __future__ import annotations

import numpy as np

from dcom.config import FORMATS
from dcom.sw.validation import InputError

__all__ = ["float_dtype", "bits_dtype", "format_of", "to_bits", "from_bits", "canonicalize_nan",
           "round_to", "multiply", "add", "tree_sum", "fold_sum", "icsum", "grid_icsum"]


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError("fmt", f"{fmt!r} is not a dcom number format",
                         ", ".join(repr(name) for name in FORMATS))
    return fmt


def float_dtype(fmt: str) -> np.dtype:
    """NumPy float dtype that holds values of format ``fmt`` (``"fp16"`` or ``"fp32"``)."""
    return np.dtype(f"float{FORMATS[_check_format(fmt)].width}")


def bits_dtype(fmt: str) -> np.dtype:
    """Unsigned integer dtype of the bit patterns of format ``fmt``."""
    return np.dtype(f"uint{FORMATS[_check_format(fmt)].width}")


def format_of(x: np.ndarray) -> str:
    """Name of the format an array's dtype holds (``"fp16"`` or ``"fp32"``).

    Raises
    ------
    InputError
        If the dtype is neither float16 nor float32.
    """
    for name in FORMATS:
        if x.dtype == float_dtype(name):
            return name
    raise InputError("x", f"dtype {x.dtype} is not a datapath format",
                     "float16 (FP16) or float32 (FP32) arrays")


def canonicalize_nan(x) -> np.ndarray:
    """Return ``x`` (float16 or float32) with every NaN replaced by the format's canonical NaN."""
    x = np.asarray(x)
    fmt = format_of(x)
    nan = np.isnan(x)
    if nan.any():
        x = x.copy()
        x.view(bits_dtype(fmt))[nan] = FORMATS[fmt].quiet_nan
    return x


def to_bits(x) -> np.ndarray:
    """Bit patterns (``uint16`` for float16, ``uint32`` for float32) of ``x``, NaNs canonical."""
    x = canonicalize_nan(x)
    return x.view(bits_dtype(format_of(x)))


def from_bits(bits, fmt: str) -> np.ndarray:
    """Values of format ``fmt`` whose bit patterns are ``bits`` (any unsigned integer array).

    Raises
    ------
    InputError
        If a bit pattern does not fit the format's width.
    """
    bits = np.asarray(bits)
    limit = 1 << FORMATS[_check_format(fmt)].width
    if bits.size and (bits.min() < 0 or bits.max() >= limit):
        raise InputError("bits", f"patterns must fit {FORMATS[fmt].width} bits",
                         f"integers from 0 to {limit - 1}")
    return bits.astype(bits_dtype(fmt)).view(float_dtype(fmt))


def round_to(x, fmt: str) -> np.ndarray:
    """Round ``x`` (any float array) to format ``fmt``: nearest even, subnormals kept,
    overflow to infinity, NaN canonical. This is ``fp16(x)`` of the contract for ``"fp16"``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return canonicalize_nan(np.asarray(x).astype(float_dtype(fmt), copy=False))


def multiply(a, b, fmt: str) -> np.ndarray:
    """The multiplier: ``a ⊗ b`` delivered in format ``fmt``, elementwise with broadcasting.

    Parameters
    ----------
    a, b : numpy.ndarray
        FP16 operands: float16 arrays, or float32 arrays that hold FP16 values exactly (a
        pre-widened matrix, for speed; this is not checked).
    fmt : str
        ``"fp32"``: the exact product. ``"fp16"``: the correctly rounded FP16 product.

    Returns
    -------
    numpy.ndarray
        float32 or float16 products.
    """
    _check_format(fmt)
    with np.errstate(over="ignore", invalid="ignore"):
        return round_to(np.multiply(a, b, dtype=np.float32), fmt)


def _raw_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Correctly rounded sum in the dtype of a; NaNs are left to the public callers.
    if a.dtype == np.float32:
        return a + b
    return (a.astype(np.float32) + b.astype(np.float32)).astype(np.float16)


def _same_format(a: np.ndarray, b: np.ndarray) -> None:
    if format_of(a) != format_of(b):
        raise InputError("b", f"dtype {b.dtype} differs from the dtype {a.dtype} of a",
                         "two arrays of the same format")


def add(a, b) -> np.ndarray:
    """The adder: ``a ⊕ b`` correctly rounded in the format of the operands' dtype.

    Parameters
    ----------
    a, b : numpy.ndarray
        Both float16 or both float32; broadcast against each other.
    """
    a, b = np.asarray(a), np.asarray(b)
    _same_format(a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        return canonicalize_nan(_raw_add(a, b))


def _along(axis: int, ndim: int, index) -> tuple:
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def tree_sum(x, axis: int = -1) -> np.ndarray:
    """``tree_W`` of the contract along ``axis``: add neighbours level by level.

    Level 1 forms ``x0 ⊕ x1, x2 ⊕ x3, ...``, level 2 adds neighbouring level-1 results, and so
    on, as a binary reduction tree of width ``W = x.shape[axis]`` does in hardware. Padding is
    the caller's business (pad operands with +0 before multiplying).

    Parameters
    ----------
    x : numpy.ndarray
        float16 or float32 values; ``x.shape[axis]`` must be a power of two.
    axis : int
        The axis the tree reduces.

    Returns
    -------
    numpy.ndarray
        ``x`` with ``axis`` removed, in the same format.
    """
    x = np.asarray(x)
    format_of(x)
    axis = axis % x.ndim
    width = x.shape[axis]
    if width < 1 or width & (width - 1):
        raise InputError("x", f"axis {axis} has length {width}, not a tree width",
                         "powers of two: 1, 2, 4, 8, ...")
    with np.errstate(over="ignore", invalid="ignore"):
        while x.shape[axis] > 1:
            x = _raw_add(x[_along(axis, x.ndim, slice(0, None, 2))],
                         x[_along(axis, x.ndim, slice(1, None, 2))])
    return canonicalize_nan(x[_along(axis, x.ndim, 0)])


def fold_sum(x, axis: int = -1, init=None) -> np.ndarray:
    """An accumulator: ``acc ← acc ⊕ x[i]`` for ``i = 0, 1, ...`` along ``axis``.

    Parameters
    ----------
    x : numpy.ndarray
        float16 or float32 values, added in index order along ``axis``.
    axis : int
        The axis folded away.
    init : numpy.ndarray, optional
        Preloaded accumulator, broadcastable to ``x`` without ``axis`` and of the same format.
        By default the accumulator is cleared to +0.

    Returns
    -------
    numpy.ndarray
        The final accumulator value, ``x`` with ``axis`` removed.
    """
    x = np.asarray(x)
    format_of(x)
    axis = axis % x.ndim
    shape = x.shape[:axis] + x.shape[axis + 1:]
    if init is None:
        acc = np.zeros(shape, dtype=x.dtype)
    else:
        acc = np.asarray(init)
        _same_format(x, acc)
        acc = np.broadcast_to(acc, shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(x.shape[axis]):
            acc = _raw_add(acc, x[_along(axis, x.ndim, i)])
    return canonicalize_nan(acc)


def icsum(x, axis: int = -1) -> np.ndarray:
    """``icsum`` of the contract: the inter-cluster reduction of ``K = x.shape[axis]``
    partials, the pairwise tree ``tree_K``.

    Level 1 forms ``x0 ⊕ x1, x2 ⊕ x3, ...``, each later level pairs the previous level's
    results the same way, and a level of odd length carries its last element up unchanged.
    For ``K`` a power of two it is :func:`tree_sum`. The expansion factor does not enter:
    the reduction network takes ``gcd(f, K)`` partials a cycle, which only sets how fast.

    Parameters
    ----------
    x : numpy.ndarray
        float16 or float32 partial results, in cluster order along ``axis``.
    axis : int
        The cluster axis.

    Returns
    -------
    numpy.ndarray
        ``x`` with ``axis`` removed, in the same format.
    """
    x = np.moveaxis(np.asarray(x), axis, -1)
    format_of(x)
    if x.shape[-1] < 1:
        raise InputError("x", "has no partial results along the cluster axis",
                         "at least one partial result")
    with np.errstate(over="ignore", invalid="ignore"):
        while x.shape[-1] > 1:
            pairs = x.shape[-1] // 2
            summed = _raw_add(x[..., 0:2 * pairs:2], x[..., 1:2 * pairs:2])
            x = np.concatenate([summed, x[..., 2 * pairs:]], axis=-1)
    return canonicalize_nan(x[..., 0])


def grid_icsum(x) -> np.ndarray:
    """The reduction of all clusters: :func:`icsum` of each cluster row's partials, then
    :func:`icsum` of the row sums (``tree_R`` of the rows' ``tree_C``).

    For ``C`` a power of two it is :func:`icsum` of all ``R C`` partials in row-major order.

    Parameters
    ----------
    x : numpy.ndarray
        float16 or float32 partial results, ``(R, C, ...)``.

    Returns
    -------
    numpy.ndarray
        ``x.shape[2:]``, in the same format.
    """
    return icsum(icsum(x, axis=1), axis=0)

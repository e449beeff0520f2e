"""Checks on the arguments of the public ``dcom.sw`` functions.

Every refusal is an :class:`InputError` that names the parameter, says what is wrong with it and
lists the values that are allowed, so that a caller can fix the call without reading the code.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["InputError", "FP16_MAX", "check_matrix", "check_fp16_range", "check_int",
           "check_choice", "check_float"]

FP16_MAX = float(np.finfo(np.float16).max)
"""Largest finite FP16 value, 65504."""

_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class InputError(ValueError):
    """An argument has a value the function cannot work with.

    Attributes
    ----------
    parameter : str
        Name of the offending parameter.
    problem : str
        What is wrong with the value.
    allowed : str
        The values that are allowed.
    """

    def __init__(self, parameter: str, problem: str, allowed: str):
        self.parameter = parameter
        self.problem = problem
        self.allowed = allowed
        super().__init__(f"{parameter}: {problem}; allowed values: {allowed}")


def check_matrix(a, parameter: str = "A", ndim: int = 2) -> np.ndarray:
    """Refuse anything but a non-empty, finite, real floating-point array of ``ndim`` dimensions.

    Parameters
    ----------
    a : array_like
        The candidate matrix (or batch of matrices for ``ndim=3``).
    parameter : str
        Name used in error messages.
    ndim : int
        Required number of dimensions.

    Returns
    -------
    numpy.ndarray
        ``a`` as an array (not copied when it already is one).

    Raises
    ------
    InputError
        If the dtype is not float16/float32/float64, the shape is wrong or empty, or an element
        is NaN or infinite.
    """
    arr = np.asarray(a)
    if arr.dtype not in _FLOAT_DTYPES:
        raise InputError(parameter, f"dtype {arr.dtype} is not supported",
                         "real floating-point arrays (float16, float32, float64); convert "
                         "integer data with .astype(numpy.float64)")
    if arr.ndim != ndim:
        raise InputError(parameter, f"has {arr.ndim} dimensions (shape {arr.shape})",
                         f"{ndim}-dimensional arrays")
    if arr.size == 0:
        raise InputError(parameter, f"is empty (shape {arr.shape})",
                         "arrays with at least one element along every axis")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(parameter, f"element {tuple(int(i) for i in bad)} is "
                         f"{arr[tuple(bad)]}", "finite numbers (no NaN or infinity)")
    return arr


def check_fp16_range(arr: np.ndarray, parameter: str = "A") -> None:
    """Refuse values whose magnitude exceeds the largest FP16 number.

    Raises
    ------
    InputError
        If ``max(abs(arr)) > 65504``.
    """
    peak = float(np.max(np.abs(arr)))
    if peak > FP16_MAX:
        raise InputError(parameter, f"max |value| is {peak:g}, beyond the FP16 range",
                         f"magnitudes <= {FP16_MAX:g} (scale the matrix down first)")


def check_int(value, parameter: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``.

    Raises
    ------
    InputError
        If ``value`` is not an integer (bools are refused) or lies outside the range.
    """
    allowed = f"integers from {low} to {high}" if high is not None else f"integers >= {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(parameter, f"{value!r} is not an integer", allowed)
    value = int(value)
    if value < low or (high is not None and value > high):
        raise InputError(parameter, f"{value} is out of range", allowed)
    return value


def check_choice(value, parameter: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``.

    Raises
    ------
    InputError
        Otherwise, listing the choices.
    """
    if value not in choices:
        raise InputError(parameter, f"{value!r} is not recognised",
                         ", ".join(repr(c) for c in choices))
    return value


def check_float(value, parameter: str, low: float = 0.0, inclusive: bool = True) -> float:
    """Return ``value`` as a float if it is finite and ``>= low`` (or ``> low``).

    Raises
    ------
    InputError
        If ``value`` is not a real number, not finite, or below the bound.
    """
    relation = ">=" if inclusive else ">"
    allowed = f"finite numbers {relation} {low:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(parameter, f"{value!r} is not a number", allowed)
    value = float(value)
    if not math.isfinite(value) or value < low or (not inclusive and value == low):
        raise InputError(parameter, f"{value!r} is out of range", allowed)
    return value

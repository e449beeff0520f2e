"""Lanczos bidiagonalization with the hardware's arithmetic (the golden model of a whole run).

The recurrence is :func:`dcom.sw.lanczos.golub_kahan`, executed with the kernels of
:mod:`dcom.sw.hwkernels`: FP16 matrix and Lanczos vectors, products and sums in the configured
accumulation format, CGS2 reorthogonalization, FP32 norms. Every kernel result is checked; the
first inf or NaN raises :class:`HardwareOverflowError` naming the step and the kernel, so an
overflowing configuration is reported instead of returning garbage. Only the small bidiagonal
SVD and the final ``U_basis @ U_B`` products run on the host, in float64.
"""

from __future__ import annotations

import math

import numpy as np

from dcom.config import DcomConfig
from dcom.sw import hwkernels
from dcom.sw.fparith import round_to
from dcom.sw.lanczos import (GolubKahan, LanczosInfo, check_lanczos_args, golub_kahan,
                             singular_triplets, start_values)
from dcom.sw.validation import InputError, check_float

__all__ = ["HardwareOverflowError", "hw_lanczos_bidiag", "hardware_run", "start_vector",
           "hardware_scale", "breakdown_threshold", "RELATIVE_BREAKDOWN_TOL",
           "DEFAULT_BREAKDOWN_TOL", "MIN_BREAKDOWN_TOL"]

DEFAULT_BREAKDOWN_TOL = 1e-3
"""Default absolute FP32 breakdown threshold of :func:`hw_lanczos_bidiag`."""

MIN_BREAKDOWN_TOL = 2.0 ** -15
"""Smallest breakdown threshold accepted: above it ``1/alpha <= 2**15`` and its FP16 ``hi``
part cannot overflow."""


RELATIVE_BREAKDOWN_TOL = 1e-3
"""Default breakdown tolerance relative to ``||A||_F`` for the hardware's arithmetic: FP16
vectors leave a roundoff of about ``1e-3 ||A||`` after reorthogonalization."""

_SCALED_NORM_EXPONENT = 6
# 2**e A has ||.||_F in [2**6, 2**7): far from FP16's subnormals, and below the 256 where FP16
# accumulation of a squared norm overflows.


def hardware_scale(a) -> int:
    """The power of two ``e`` that puts ``||2**e a||_F`` in ``[64, 128)``.

    Scaling by a power of two is exact and commutes with rounding to FP16 (short of FP16's
    subnormals and overflow, which it avoids), and Lanczos vectors are normalized: the
    hardware's run on ``2**e a`` is its run on ``a`` with the norms scaled by ``2**e``.
    """
    norm = float(np.linalg.norm(np.asarray(a, dtype=np.float64)))
    return _SCALED_NORM_EXPONENT - math.floor(math.log2(norm)) if norm > 0 else 0


def breakdown_threshold(a, relative: float = RELATIVE_BREAKDOWN_TOL) -> float:
    """The absolute threshold ``relative * ||fp16(a)||_F``, at least :data:`MIN_BREAKDOWN_TOL`."""
    norm = float(np.linalg.norm(round_to(np.asarray(a), "fp16").astype(np.float64)))
    return max(relative * norm, MIN_BREAKDOWN_TOL)


class HardwareOverflowError(OverflowError):
    """A kernel of the hardware model produced an infinity or NaN.

    Attributes
    ----------
    step : int
        Lanczos step ``j`` (0 is the start: normalizing ``v_0``, ``u_0 = A v_0``).
    kernel : str
        ``"mv"``, ``"mtv"``, ``"reorth_u"``, ``"reorth_v"``, ``"norm_u"``, ``"norm_v"``,
        ``"scale_u"`` or ``"scale_v"``.
    acc_format : str
        The accumulation format in use.
    """

    def __init__(self, step: int, kernel: str, acc_format: str):
        self.step = step
        self.kernel = kernel
        self.acc_format = acc_format
        super().__init__(
            f"kernel {kernel} at Lanczos step {step} produced inf/NaN with {acc_format} "
            f"accumulation: a sum or an FP16-stored vector exceeded its format's range "
            f"(FP16 max 65504); use acc_format='fp32' or scale A down")


def start_vector(cols: int, seed, v0=None) -> np.ndarray:
    """The FP16 start vector of a hardware Lanczos run on a matrix with ``cols`` columns.

    It is :func:`dcom.sw.lanczos.start_values` (``v0``, or the first draw of
    ``numpy.random.default_rng(seed)``, as the float64 reference draws it), rounded to FP16;
    every front end (golden model, ISA simulator, RTL testbenches) starts from it.

    Raises
    ------
    InputError
        If ``v0`` is not a finite vector of length ``cols`` that stays nonzero in FP16.
    """
    start = round_to(start_values(cols, seed, v0), "fp16")
    if not np.all(np.isfinite(start)) or not np.any(start):
        raise InputError("v0", "is zero or beyond 65504 in FP16", "a vector whose FP16 rounding "
                         "is finite and nonzero")
    return start


class _HardwareOps:
    """The hardware kernels, with overflow checks, as :class:`~dcom.sw.lanczos.VectorOps`."""

    def __init__(self, matrix: hwkernels.TiledMatrix, start: np.ndarray):
        self.matrix = matrix
        self.mapping = matrix.mapping
        self.start = start

    def _checked(self, value, kernel: str, step: int):
        if not np.all(np.isfinite(value)):
            raise HardwareOverflowError(step, kernel, self.matrix.config.acc_format)
        return value

    def new_basis(self, side, columns):
        return np.zeros((self.mapping.length(side), columns), dtype=np.float16)

    def start_vector(self):
        return self.mapping.pad_vector("v", self.start)

    def matvec(self, v, step):
        return self._checked(hwkernels.mv(self.matrix, v), "mv", step)

    def rmatvec(self, u, step):
        return self._checked(hwkernels.mtv(self.matrix, u), "mtv", step)

    def orthogonalize(self, side, w, basis, step):
        return self._checked(hwkernels.reorthogonalize(self.mapping, side, w, basis),
                             f"reorth_{side}", step)

    def norm(self, side, w, step):
        return self._checked(hwkernels.vector_norm(self.mapping, side, w), f"norm_{side}", step)

    def scale(self, side, w, norm, step):
        return self._checked(hwkernels.scale(self.matrix.config, w, norm), f"scale_{side}", step)

    def export(self, side, basis):
        return self.mapping.unpad_vector(side, basis)


def hardware_run(a, config: DcomConfig, capacity: int, threshold: float, start,
                 v_capacity: int | None = None) -> GolubKahan:
    """An extendable :class:`~dcom.sw.lanczos.GolubKahan` run in the hardware's arithmetic on
    ``a`` (rounded to FP16) from the FP16 vector ``start`` (:func:`start_vector`); arguments
    checked by the caller."""
    ops = _HardwareOps(hwkernels.TiledMatrix(a, config), start)
    return GolubKahan(ops, capacity, threshold, v_capacity)


def hw_lanczos_bidiag(A, rank: int, k: int | None = None, *, config: DcomConfig | None = None,
                      seed=0, breakdown_tol: float = DEFAULT_BREAKDOWN_TOL,
                      return_info: bool = False):
    """Truncated SVD by Lanczos bidiagonalization, computed exactly as D-com computes it.

    Parameters
    ----------
    A : array_like
        ``M x N`` real matrix, finite, with magnitudes <= 65504; rounded to FP16 (nearest
        even) if given as float32/float64.
    rank : int
        Number of singular triplets to return, ``1 <= rank <= min(M, N)``.
    k : int, optional
        Lanczos steps, ``rank <= k <= min(M, N)``; default ``min(2 rank, min(M, N))``.
    config : DcomConfig, optional
        The instance (tree widths, cluster array, expansion factor, accumulation format);
        default ``DcomConfig()``, the paper's design point with FP32 accumulation.
    seed : int or numpy.random.Generator
        Seeds the start vector (the same draw as :func:`lanczos_bidiag`, rounded to FP16).
    breakdown_tol : float
        Absolute FP32 threshold: the run stops when ``alpha`` or ``beta`` is at or below it and
        returns the rank found. At least ``2**-15``, so that ``1/alpha`` fits FP16. The default
        ``1e-3`` suits matrices whose singular values of interest are of order 1 or larger; the
        roundoff left after reorthogonalizing FP16 vectors is about ``1e-3 * ||A||``, so for
        matrices with small entries lower it or scale ``A`` up.
    return_info : bool
        Also return a :class:`LanczosInfo` (FP32 ``alphas``/``betas``, FP16 Lanczos vectors).

    Returns
    -------
    U, s, Vt : numpy.ndarray
        float64, as for :func:`lanczos_bidiag`; fewer than ``rank`` triplets after a breakdown.
    info : LanczosInfo
        Only if ``return_info``.

    Raises
    ------
    HardwareOverflowError
        When a kernel produces inf or NaN (typically FP16 accumulation on matrices whose norm
        exceeds about 256); it names the step and the kernel.
    InputError
        On a bad argument; the message names it and the allowed values.
    """
    a, rank, steps = check_lanczos_args(A, rank, k)
    config = DcomConfig() if config is None else config
    tol = check_float(breakdown_tol, "breakdown_tol", MIN_BREAKDOWN_TOL)
    ops = _HardwareOps(hwkernels.TiledMatrix(a, config), start_vector(a.shape[1], seed))
    info: LanczosInfo = golub_kahan(ops, steps, tol)
    result = singular_triplets(info, rank)
    return result + (info,) if return_info else result

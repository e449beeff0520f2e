"""Lanczos (Golub-Kahan) bidiagonalization, Algorithm 1 of the D-com paper, in float64.

:func:`golub_kahan` is the recurrence itself, written once against a small set of vector
operations; :func:`lanczos_bidiag` runs it with float64 NumPy operations and is the accuracy
reference, and :func:`dcom.sw.hw_lanczos_bidiag` runs it with the hardware's kernels.

The recurrence, with ``k`` steps and full reorthogonalization::

    v_0 = z_0 / ||z_0||                                      (seeded random z_0)
    u_0 = A v_0,  alpha_0 = ||u_0||,  u_0 /= alpha_0
    for j = 1 .. k-1:
        z = A^T u_{j-1} orthogonalized against v_0..v_{j-1};  beta_{j-1} = ||z||;  v_j = z / beta
        u = A v_j       orthogonalized against u_0..u_{j-1};  alpha_j = ||u||;    u_j = u / alpha

so that ``A V = U B`` with ``B`` upper bidiagonal (``alpha`` on the diagonal, ``beta`` above it).
When a norm is at or below the breakdown threshold the Krylov subspace is invariant: the run
stops, the tiny value is not used, and ``B`` is ``j x j`` (``beta`` breakdown) or ``j x (j+1)``
(``alpha`` breakdown, ``B`` keeps ``beta_{j-1}`` and ``V`` its ``j+1`` columns). Either way the
singular values of ``B`` are singular values of ``A`` and ``j`` is the rank found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dcom.sw.validation import InputError, check_choice, check_float, check_int, check_matrix

__all__ = ["LanczosInfo", "lanczos_bidiag", "golub_kahan", "GolubKahan", "ritz_residuals",
           "singular_triplets", "start_values", "float64_run", "REORTHOGONALIZATIONS", "check_lanczos_args", "check_rank_steps"]

REORTHOGONALIZATIONS = ("cgs2", "mgs")
"""Full reorthogonalization schemes of :func:`lanczos_bidiag`: classical Gram-Schmidt applied
twice, or one pass of modified Gram-Schmidt."""


@dataclass(frozen=True)
class LanczosInfo:
    """What a Lanczos run did, beyond the singular triplets.

    Attributes
    ----------
    alphas : numpy.ndarray
        Diagonal of ``B`` (float64 for the reference, float32 for the hardware model).
    betas : numpy.ndarray
        Superdiagonal of ``B``.
    rank : int
        Lanczos vectors found (``len(alphas)``): the requested steps, or fewer after a breakdown.
    breakdown : str or None
        ``None`` if all steps ran; ``"start"``, ``"alpha"`` or ``"beta"`` for the norm that fell
        to the threshold.
    breakdown_step : int or None
        The step ``j`` at which it did.
    U_basis : numpy.ndarray
        ``M x rank`` left Lanczos vectors (float64; FP16 values for the hardware model).
    V_basis : numpy.ndarray
        ``N x B.shape[1]`` right Lanczos vectors.
    residual_beta : float or None
        ``beta_k``, the norm of the next ``v`` vector, when the run computed it to bound the
        Ritz residuals (:func:`ritz_residuals`); not part of ``B``.
    """

    alphas: np.ndarray
    betas: np.ndarray
    rank: int
    breakdown: str | None
    breakdown_step: int | None
    U_basis: np.ndarray
    V_basis: np.ndarray
    residual_beta: float | None = None

    @property
    def bidiagonal(self) -> np.ndarray:
        """The bidiagonal ``B`` in float64: ``rank x V_basis.shape[1]``."""
        b = np.zeros((self.rank, self.V_basis.shape[1]))
        idx = np.arange(self.rank)
        b[idx, idx] = self.alphas
        b[idx[:len(self.betas)], idx[:len(self.betas)] + 1] = self.betas
        return b


class VectorOps(Protocol):
    """The vector operations :func:`golub_kahan` needs; ``step`` is for error reports."""

    def new_basis(self, side: str, columns: int) -> np.ndarray:
        """Storage for ``columns`` Lanczos vectors of ``side`` ("u" or "v"), one per column."""

    def start_vector(self) -> np.ndarray:
        """The (unnormalized) v-side start vector."""

    def matvec(self, v: np.ndarray, step: int) -> np.ndarray:
        """``A v``."""

    def rmatvec(self, u: np.ndarray, step: int) -> np.ndarray:
        """``A^T u``."""

    def orthogonalize(self, side: str, w: np.ndarray, basis: np.ndarray,
                      step: int) -> np.ndarray:
        """``w`` with its components along the columns of ``basis`` removed."""

    def norm(self, side: str, w: np.ndarray, step: int) -> float:
        """Euclidean norm of ``w``."""

    def scale(self, side: str, w: np.ndarray, norm: float, step: int) -> np.ndarray:
        """``w / norm``."""

    def export(self, side: str, basis: np.ndarray) -> np.ndarray:
        """The basis as a plain ``M x j`` or ``N x j`` array (padding removed)."""


class GolubKahan:
    """The recurrence of the module docstring as a run that can be extended.

    :meth:`extend` runs it up to a number of steps; a later call goes on from there with the
    same vectors, so ``extend(k1)`` then ``extend(k2)`` computes exactly what ``extend(k2)``
    does. With ``residual=True`` it also computes the first half of the next step, ``beta_k``
    and ``v_k`` (which the next :meth:`extend` uses), so that :func:`ritz_residuals` can bound
    the error of the Ritz triplets.

    Parameters
    ----------
    ops : VectorOps
        The arithmetic.
    capacity : int
        The most steps the run will take (the bases are allocated for it).
    threshold : float
        Absolute breakdown threshold: a norm ``<= threshold`` stops the run.
    v_capacity : int, optional
        Room for ``v`` vectors; default ``capacity``, or ``capacity + 1`` to allow the residual
        half step after the last step. At most the length of ``v``.
    """

    def __init__(self, ops: VectorOps, capacity: int, threshold: float,
                 v_capacity: int | None = None):
        self.ops = ops
        self.threshold = threshold
        self.u_basis = ops.new_basis("u", capacity)
        self.v_basis = ops.new_basis("v", capacity if v_capacity is None else v_capacity)
        self.alphas: list = []
        self.betas: list = []
        self.v_count = 0
        self.breakdown: str | None = None
        self.breakdown_step: int | None = None

    @property
    def steps(self) -> int:
        """Steps completed (``alpha`` values found)."""
        return len(self.alphas)

    def extend(self, steps: int, residual: bool = False) -> LanczosInfo:
        """Run until ``steps`` steps are complete or the run breaks down.

        Parameters
        ----------
        steps : int
            Steps to reach, at most ``capacity``.
        residual : bool
            Also compute ``beta`` and ``v`` of the next step where there is room for the
            vector (:attr:`LanczosInfo.residual_beta`).

        Returns
        -------
        LanczosInfo
            The whole run so far.
        """
        while self.breakdown is None and self.steps < steps:
            j = self.steps
            if self.v_count == j:
                self._next_v(j)
            if self.breakdown is None:
                self._next_u(j)
        if (residual and self.breakdown is None and self.v_count == self.steps
                and self.v_count < self.v_basis.shape[1]):
            self._next_v(self.steps)
        return self.info()

    def _stop(self, kind: str, step: int) -> None:
        self.breakdown, self.breakdown_step = kind, step

    def _next_v(self, j: int) -> None:
        ops = self.ops
        if j == 0:
            z = ops.start_vector()
            norm = ops.norm("v", z, 0)
            if not norm > self.threshold:
                return self._stop("start", 0)
        else:
            z = ops.rmatvec(self.u_basis[:, j - 1], j)
            z = ops.orthogonalize("v", z, self.v_basis[:, :j], j)
            norm = ops.norm("v", z, j)
            if not norm > self.threshold:
                return self._stop("beta", j)
            self.betas.append(norm)
        self.v_basis[:, j] = ops.scale("v", z, norm, j)
        self.v_count = j + 1

    def _next_u(self, j: int) -> None:
        ops = self.ops
        u = ops.matvec(self.v_basis[:, j], j)
        if j > 0:
            u = ops.orthogonalize("u", u, self.u_basis[:, :j], j)
        alpha = ops.norm("u", u, j)
        if not alpha > self.threshold:
            return self._stop("alpha", j)
        self.alphas.append(alpha)
        self.u_basis[:, j] = ops.scale("u", u, alpha, j)

    def info(self) -> LanczosInfo:
        """The run so far; a residual half step's ``beta`` is ``residual_beta``, not part of
        ``B``."""
        rank = self.steps
        betas, residual_beta = self.betas, None
        if self.breakdown is None and len(betas) == rank > 0:
            betas, residual_beta = betas[:-1], betas[-1]
        v_count = 0 if self.breakdown == "start" else rank + (self.breakdown == "alpha")
        return LanczosInfo(np.array(self.alphas), np.array(betas), rank, self.breakdown,
                           self.breakdown_step, self.ops.export("u", self.u_basis[:, :rank]),
                           self.ops.export("v", self.v_basis[:, :v_count]), residual_beta)


def golub_kahan(ops: VectorOps, steps: int, threshold: float) -> LanczosInfo:
    """Run ``steps`` steps of the recurrence in the module docstring with ``ops``.

    Parameters
    ----------
    ops : VectorOps
        The arithmetic.
    steps : int
        ``k``, the number of ``u`` and ``v`` vectors to build.
    threshold : float
        Absolute breakdown threshold: a norm ``<= threshold`` stops the run.

    Returns
    -------
    LanczosInfo
    """
    return GolubKahan(ops, steps, threshold).extend(steps)


def ritz_residuals(info: LanczosInfo, count: int) -> np.ndarray:
    """Bounds on the residuals of the top ``count`` Ritz triplets of a run.

    With ``B = U_B S V_B^T`` (``k x k``) and ``u_i = U_k U_B e_i``, ``v_i = V_k V_B e_i``, the
    recurrence gives ``A v_i = s_i u_i`` and ``A^T u_i = s_i v_i + beta_k (e_k^T U_B e_i)
    v_{k+1}``, so ``|beta_k e_k^T U_B e_i|`` is the residual of triplet ``i`` and bounds the
    distance of ``s_i`` to a singular value of ``A``. After a breakdown the Krylov subspace is
    invariant and the residuals are 0.

    Parameters
    ----------
    info : LanczosInfo
        A run with :attr:`~LanczosInfo.residual_beta` (a residual half step), or one that broke
        down.
    count : int
        Triplets, at most ``info.rank``.

    Returns
    -------
    numpy.ndarray
        ``count`` float64 bounds, in the order of the singular values (descending).

    Raises
    ------
    InputError
        If the run has neither a residual half step nor a breakdown.
    """
    count = min(count, info.rank)
    if info.breakdown is not None:
        return np.zeros(count)
    if info.residual_beta is None:
        raise InputError("info", "a run without the residual half step",
                         "a run extended with residual=True, or one that broke down")
    ub = np.linalg.svd(info.bidiagonal)[0]
    return np.abs(float(info.residual_beta) * ub[-1, :count])


def singular_triplets(info: LanczosInfo, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top ``min(rank, info.rank)`` singular triplets from the bidiagonal SVD (host, float64).

    Returns
    -------
    U : numpy.ndarray
        ``M x r`` left singular vectors, ``U_basis @ U_B``.
    s : numpy.ndarray
        ``r`` singular values, descending.
    Vt : numpy.ndarray
        ``r x N`` right singular vectors, ``(V_basis @ V_B)^T``.
    """
    left = np.asarray(info.U_basis, dtype=np.float64)
    right = np.asarray(info.V_basis, dtype=np.float64)
    r = min(rank, info.rank)
    if r == 0:
        return (np.zeros((left.shape[0], 0)), np.zeros(0), np.zeros((0, right.shape[0])))
    ub, s, vbt = np.linalg.svd(info.bidiagonal, full_matrices=False)
    return left @ ub[:, :r], s[:r], vbt[:r] @ right.T


def check_lanczos_args(a, rank, steps) -> tuple[np.ndarray, int, int]:
    """Validate the matrix, rank and step count shared by both Lanczos front ends.

    Returns
    -------
    tuple
        ``(a, rank, steps)`` with ``steps`` defaulted to ``min(2 rank, min(M, N))``.
    """
    a = check_matrix(a, "A")
    return (a, *check_rank_steps(min(a.shape), rank, steps))


def check_rank_steps(smaller: int, rank, steps, steps_name: str = "k") -> tuple[int, int]:
    """Validate a rank and a step count for a matrix whose smaller dimension is ``smaller``;
    ``steps`` None defaults to ``min(2 rank, smaller)``.

    Returns
    -------
    tuple
        ``(rank, steps)``.
    """
    rank = check_int(rank, "rank", 1, smaller)
    if steps is None:
        steps = min(2 * rank, smaller)
    return rank, check_int(steps, steps_name, rank, smaller)


def start_values(cols: int, seed, v0=None) -> np.ndarray:
    """The unnormalized float64 start vector of a run on a matrix with ``cols`` columns: ``v0``
    if given (checked: finite, length ``cols``, not zero), else the first ``cols`` draws of
    ``numpy.random.default_rng(seed).standard_normal``."""
    if v0 is None:
        return np.random.default_rng(seed).standard_normal(cols)
    v0 = np.asarray(v0)
    if v0.shape != (cols,) or v0.dtype.kind not in "iuf":
        raise InputError("v0", f"has shape {v0.shape} and dtype {v0.dtype}",
                         f"a real vector of length {cols}")
    v0 = v0.astype(np.float64)
    if not np.all(np.isfinite(v0)) or not np.any(v0):
        raise InputError("v0", "is zero or not finite", "a finite, nonzero vector")
    return v0


class _Float64Ops:
    """float64 NumPy arithmetic for :func:`golub_kahan`."""

    def __init__(self, a: np.ndarray, reorth: str, start: np.ndarray):
        self.a = a
        self.reorth = reorth
        self.start = start

    def new_basis(self, side, columns):
        return np.zeros((self.a.shape[0 if side == "u" else 1], columns))

    def start_vector(self):
        return self.start

    def matvec(self, v, step):
        return self.a @ v

    def rmatvec(self, u, step):
        return self.a.T @ u

    def orthogonalize(self, side, w, basis, step):
        if self.reorth == "cgs2":
            for _ in range(2):
                w = w - basis @ (basis.T @ w)
            return w
        for column in basis.T:
            w = w - column * (column @ w)
        return w

    def norm(self, side, w, step):
        return float(np.linalg.norm(w))

    def scale(self, side, w, norm, step):
        return w / norm

    def export(self, side, basis):
        return basis


def float64_run(a: np.ndarray, capacity: int, threshold: float, start: np.ndarray,
                reorth: str = "cgs2", v_capacity: int | None = None) -> GolubKahan:
    """An extendable :class:`GolubKahan` run in float64 on ``a`` from ``start``; arguments
    checked by the caller."""
    ops = _Float64Ops(np.asarray(a, dtype=np.float64), reorth, start)
    return GolubKahan(ops, capacity, threshold, v_capacity)


def lanczos_bidiag(A, rank: int, k: int | None = None, *, reorth: str = "cgs2", seed=0,
                   tol: float = 1e-10, return_info: bool = False):
    """Truncated SVD by Lanczos bidiagonalization with full reorthogonalization, in float64.

    Parameters
    ----------
    A : array_like
        ``M x N`` real matrix (float16, float32 or float64), finite and non-empty.
    rank : int
        Number of singular triplets to return, ``1 <= rank <= min(M, N)``.
    k : int, optional
        Lanczos steps, ``rank <= k <= min(M, N)``; default ``min(2 rank, min(M, N))``. More
        steps give more accurate triplets; ``k = min(M, N)`` is exact up to rounding.
    reorth : {"cgs2", "mgs"}
        Full reorthogonalization: classical Gram-Schmidt applied twice, or modified
        Gram-Schmidt (one pass).
    seed : int or numpy.random.Generator
        Seeds the random start vector.
    tol : float
        Relative breakdown tolerance: the run stops when ``alpha`` or ``beta`` is at or below
        ``tol * ||A||_F`` and returns the rank found.
    return_info : bool
        Also return a :class:`LanczosInfo`.

    Returns
    -------
    U : numpy.ndarray
        ``M x r`` orthonormal columns, left singular vectors.
    s : numpy.ndarray
        ``r`` singular values, descending.
    Vt : numpy.ndarray
        ``r x N`` orthonormal rows, right singular vectors.
    info : LanczosInfo
        Only if ``return_info``.

    ``r = rank``, or the rank found if a breakdown came first (for instance on a matrix of
    rank below ``rank``); the result never contains NaN.

    Raises
    ------
    InputError
        On a bad argument; the message names it and the allowed values.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).standard_normal((50, 40))
    >>> U, s, Vt = lanczos_bidiag(a, 3, k=40)
    >>> bool(np.allclose(s, np.linalg.svd(a, compute_uv=False)[:3]))
    True
    """
    a, rank, steps = check_lanczos_args(A, rank, k)
    reorth = check_choice(reorth, "reorth", REORTHOGONALIZATIONS)
    tol = check_float(tol, "tol")
    a = a.astype(np.float64, copy=False)
    ops = _Float64Ops(a, reorth, start_values(a.shape[1], seed))
    info = golub_kahan(ops, steps, tol * float(np.linalg.norm(a)))
    result = singular_triplets(info, rank)
    return result + (info,) if return_info else result

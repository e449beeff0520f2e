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

from dcom.sw.validation import check_choice, check_float, check_int, check_matrix

__all__ = ["LanczosInfo", "lanczos_bidiag", "golub_kahan", "singular_triplets",
           "REORTHOGONALIZATIONS", "check_lanczos_args", "check_rank_steps"]

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
    """

    alphas: np.ndarray
    betas: np.ndarray
    rank: int
    breakdown: str | None
    breakdown_step: int | None
    U_basis: np.ndarray
    V_basis: np.ndarray

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
    u_basis, v_basis = ops.new_basis("u", steps), ops.new_basis("v", steps)
    alphas, betas = [], []

    def finish(breakdown=None, step=None) -> LanczosInfo:
        rank = len(alphas)
        v_count = 0 if breakdown == "start" else rank + (breakdown == "alpha")
        return LanczosInfo(np.array(alphas), np.array(betas), rank, breakdown, step,
                           ops.export("u", u_basis[:, :rank]),
                           ops.export("v", v_basis[:, :v_count]))

    z = ops.start_vector()
    norm = ops.norm("v", z, 0)
    if not norm > threshold:
        return finish("start", 0)
    v_basis[:, 0] = ops.scale("v", z, norm, 0)
    for j in range(steps):
        if j > 0:
            z = ops.rmatvec(u_basis[:, j - 1], j)
            z = ops.orthogonalize("v", z, v_basis[:, :j], j)
            beta = ops.norm("v", z, j)
            if not beta > threshold:
                return finish("beta", j)
            betas.append(beta)
            v_basis[:, j] = ops.scale("v", z, beta, j)
        u = ops.matvec(v_basis[:, j], j)
        if j > 0:
            u = ops.orthogonalize("u", u, u_basis[:, :j], j)
        alpha = ops.norm("u", u, j)
        if not alpha > threshold:
            return finish("alpha", j)
        alphas.append(alpha)
        u_basis[:, j] = ops.scale("u", u, alpha, j)
    return finish()


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


class _Float64Ops:
    """float64 NumPy arithmetic for :func:`golub_kahan`."""

    def __init__(self, a: np.ndarray, reorth: str, rng: np.random.Generator):
        self.a = a
        self.reorth = reorth
        self.rng = rng

    def new_basis(self, side, columns):
        return np.zeros((self.a.shape[0 if side == "u" else 1], columns))

    def start_vector(self):
        return self.rng.standard_normal(self.a.shape[1])

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
    ops = _Float64Ops(a, reorth, np.random.default_rng(seed))
    info = golub_kahan(ops, steps, tol * float(np.linalg.norm(a)))
    result = singular_triplets(info, rank)
    return result + (info,) if return_info else result

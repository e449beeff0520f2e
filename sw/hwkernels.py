"""The Lanczos kernels as the hardware computes them, bit for bit (docs/arithmetic.md, "Kernels").

Each kernel is vectorized over clusters, tiles and chunks with the primitives of
:mod:`dcom.sw.fparith`; the only Python loops run over tiles or chunks a cluster visits in turn,
never over elements. Vector arguments and results are *padded* FP16 vectors (``float16`` arrays
of length ``Mp`` for the u-side, ``Np`` for the v-side, see :class:`MatrixMapping`); scalars that
stay in the accumulation format are 0-d ``float32`` (or ``float16``) arrays.

The kernels do not check for overflow: an inf or NaN produced inside a kernel always reaches its
result (sums keep them, ``fp16`` keeps them), so callers check results, as
:func:`dcom.sw.hw_lanczos_bidiag` does.
"""

from __future__ import annotations

import numpy as np

from dcom.config import DcomConfig
from dcom.sw.fparith import fold_sum, grid_icsum, icsum, multiply, round_to, tree_sum
from dcom.sw.mapping import MatrixMapping
from dcom.sw.validation import check_fp16_range, check_matrix

__all__ = ["TiledMatrix", "mv", "mtv", "dot", "project_out", "reorthogonalize", "vector_norm",
           "reciprocal_split", "scale"]


class TiledMatrix:
    """An FP16 matrix held in the clusters' shared buffers.

    Parameters
    ----------
    a : array_like
        ``M x N`` real matrix, finite and within the FP16 range. float32/float64 values are
        rounded to FP16 (nearest even).
    config : DcomConfig
        The instance it is mapped onto.

    Attributes
    ----------
    mapping : MatrixMapping
        Padding and placement.
    values : numpy.ndarray
        The ``M x N`` float16 matrix.
    tiles : numpy.ndarray
        The padded matrix widened (exactly) to float32, viewed as ``(R, Mb, P, C, Nb, Q)``.

    Raises
    ------
    InputError
        If ``a`` is not a non-empty finite real 2-D array within the FP16 range.
    """

    def __init__(self, a, config: DcomConfig):
        a = check_matrix(a, "A")
        check_fp16_range(a, "A")
        self.mapping = MatrixMapping(config, *a.shape)
        self.values = round_to(a, "fp16")
        self.tiles = self.mapping.tiles(self.mapping.pad_matrix(self.values).astype(np.float32))

    @property
    def config(self) -> DcomConfig:
        """The instance the matrix is mapped onto."""
        return self.mapping.config


def mv(matrix: TiledMatrix, x: np.ndarray) -> np.ndarray:
    """MV ``y = A x`` on the row trees.

    Cluster ``(r, c)`` folds ``tree_Q`` of its tile rows over its ``Nb`` tile columns; the
    cluster row's ``C`` partials are combined by ``icsum`` and rounded to FP16.

    Parameters
    ----------
    matrix : TiledMatrix
    x : numpy.ndarray
        Padded v-side FP16 vector (``Np``).

    Returns
    -------
    numpy.ndarray
        Padded u-side FP16 vector (``Mp``).
    """
    cfg = matrix.config
    m = matrix.mapping
    products = multiply(matrix.tiles, x.reshape(cfg.cluster_cols, m.col_tiles, cfg.grid_cols),
                        cfg.acc_format)                      # (R, Mb, P, C, Nb, Q)
    partial = fold_sum(tree_sum(products, axis=5), axis=4)   # (R, Mb, P, C)
    return round_to(icsum(partial, axis=3), "fp16").reshape(-1)


def mtv(matrix: TiledMatrix, y: np.ndarray) -> np.ndarray:
    """MTV ``z = A^T y`` on the column trees of the same stored tiles.

    Cluster ``(r, c)`` folds ``tree_P`` of its tile columns over its ``Mb`` tile rows; the
    cluster column's ``R`` partials are combined by ``icsum`` and rounded to FP16.

    Parameters
    ----------
    matrix : TiledMatrix
    y : numpy.ndarray
        Padded u-side FP16 vector (``Mp``).

    Returns
    -------
    numpy.ndarray
        Padded v-side FP16 vector (``Np``).
    """
    cfg = matrix.config
    m = matrix.mapping
    operand = y.reshape(cfg.cluster_rows, m.row_tiles, cfg.grid_rows)[..., None, None, None]
    products = multiply(matrix.tiles, operand, cfg.acc_format)   # (R, Mb, P, C, Nb, Q)
    partial = fold_sum(tree_sum(products, axis=2), axis=1)       # (R, C, Nb, Q)
    return round_to(icsum(partial, axis=0), "fp16").reshape(-1)


def dot(mapping: MatrixMapping, side: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DOT of padded ``side`` vectors, kept in the accumulation format.

    Each cluster folds ``tree_P`` (u-side) or ``tree_Q`` (v-side) of the chunk products it owns,
    in chunk order; ``grid_icsum`` combines all ``R C`` clusters: each cluster row's sum, then
    the rows'.

    Parameters
    ----------
    mapping : MatrixMapping
    side : str
        ``"u"`` or ``"v"``.
    a : numpy.ndarray
        FP16 vector, or FP16 array whose columns (axis 0 is the vector axis) are each dotted
        with ``b`` independently.
    b : numpy.ndarray
        FP16 vector.

    Returns
    -------
    numpy.ndarray
        ``a.shape[1:]`` array (0-d for a vector) in the accumulation format.
    """
    cfg = mapping.config
    rest = a.shape[1:]
    products = multiply(a, b.reshape((-1,) + (1,) * len(rest)), cfg.acc_format)
    per_chunk = tree_sum(
        products.reshape((mapping.n_chunks(side), mapping.chunk_width(side)) + rest), axis=1)
    partial = fold_sum(mapping.chunks_by_cluster(side, per_chunk), axis=2)   # (R, C, ...)
    return grid_icsum(partial)


def project_out(mapping: MatrixMapping, side: str, w: np.ndarray,
                basis: np.ndarray) -> np.ndarray:
    """One classical Gram-Schmidt pass: ``w - basis (basis^T w)`` with the hardware's roundings.

    ``basis`` holds ``j`` columns; it is stored in blocks of ``Q`` columns (u-side) or ``P``
    rows (v-side), the last block padded with +0 columns. Coefficients are
    ``c_l = fp16(DOT(basis[:, l], w))`` for every column of every block (so +0 for padding
    columns); then each element becomes
    ``fp16(widen(w) ⊕ tree(basis[e, block] ⊗ -c[block]) ⊕ ...)`` over the blocks in order.

    Parameters
    ----------
    mapping : MatrixMapping
    side : str
        ``"u"`` or ``"v"``.
    w : numpy.ndarray
        Padded FP16 vector.
    basis : numpy.ndarray
        FP16 array of shape ``(len(w), j)``.

    Returns
    -------
    numpy.ndarray
        The updated padded FP16 vector.
    """
    cfg = mapping.config
    count = basis.shape[1]
    if count == 0:
        return w
    block = cfg.grid_cols if side == "u" else cfg.grid_rows
    n_blocks = -(-count // block)
    stored = np.zeros((w.shape[0], n_blocks * block), dtype=np.float16)
    stored[:, :count] = basis
    coefficients = round_to(dot(mapping, side, stored, w), "fp16")
    products = multiply(stored.reshape(-1, n_blocks, block),
                        np.negative(coefficients).reshape(n_blocks, block), cfg.acc_format)
    updated = fold_sum(tree_sum(products, axis=2), axis=1, init=round_to(w, cfg.acc_format))
    return round_to(updated, "fp16")


def reorthogonalize(mapping: MatrixMapping, side: str, w: np.ndarray,
                    basis: np.ndarray) -> np.ndarray:
    """Full reorthogonalization of ``w`` against ``basis``: :func:`project_out` applied twice
    (CGS2). Arguments and result as for :func:`project_out`."""
    return project_out(mapping, side, project_out(mapping, side, w, basis), basis)


def vector_norm(mapping: MatrixMapping, side: str, u: np.ndarray) -> np.float32:
    """``α = sqrt(widen32(DOT(u, u)))``, correctly rounded in FP32 by the scalar unit."""
    return np.sqrt(round_to(dot(mapping, side, u, u), "fp32"))[()]


def reciprocal_split(alpha) -> tuple[np.ndarray, np.ndarray]:
    """``r = 1/α`` in FP32, split as ``hi = fp16(r)``, ``lo = fp16(r - hi)``.

    The FP32 subtraction is exact, so ``hi + lo`` carries about 22 bits of ``1/α``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(hi, lo)``, 0-d float16 arrays.
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        r = np.float32(1) / np.float32(alpha)
        hi = round_to(r, "fp16")
        lo = round_to(r - hi.astype(np.float32), "fp16")
    return hi, lo


def scale(config: DcomConfig, u: np.ndarray, alpha) -> np.ndarray:
    """Normalization ``u / α``: each element becomes ``fp16((+0 ⊕ (u ⊗ hi)) ⊕ (u ⊗ lo))``.

    Two passes into an accumulator restarted at +0, so a zero element comes out +0.

    Parameters
    ----------
    config : DcomConfig
        Gives the accumulation format.
    u : numpy.ndarray
        FP16 vector.
    alpha : float
        Its norm from :func:`vector_norm` (FP32).

    Returns
    -------
    numpy.ndarray
        FP16 vector.
    """
    hi, lo = reciprocal_split(alpha)
    passes = np.stack([multiply(u, hi, config.acc_format), multiply(u, lo, config.acc_format)])
    return round_to(fold_sum(passes, axis=0), "fp16")

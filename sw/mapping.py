"""Where an ``M x N`` matrix and its vectors live on the cluster array (docs/arithmetic.md).

:class:`MatrixMapping` is the one implementation of the contract's "Mapping of an M x N matrix":
the padding, which cluster holds which tile, and which cluster owns which vector chunk. The
golden-model kernels, the compiler and the RTL top level all take their layout from it.

Notation, all taken from :class:`~dcom.config.DcomConfig`: ``P x Q`` multiplier grid per cluster
(``grid_rows x grid_cols``), ``R x C`` clusters (``cluster_rows x cluster_cols``). Clusters are
numbered ``r * C + c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcom.config import DcomConfig
from dcom.sw.validation import InputError, check_int

__all__ = ["MatrixMapping", "SIDES"]

SIDES = ("u", "v")
"""Vector sides: ``"u"`` vectors have the matrix's row count (``A v``), ``"v"`` its column count."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class MatrixMapping:
    """The placement of an ``rows x cols`` matrix on the clusters of ``config``.

    Parameters
    ----------
    config : DcomConfig
        The instance.
    rows, cols : int
        The matrix shape ``M x N`` before padding.

    Examples
    --------
    >>> from dcom.config import DcomConfig
    >>> m = MatrixMapping(DcomConfig(), 4096, 4096)
    >>> m.row_tiles, m.col_tiles, m.padded_rows
    (32, 32, 4096)
    """

    config: DcomConfig
    rows: int
    cols: int

    def __post_init__(self):
        if not isinstance(self.config, DcomConfig):
            raise InputError("config", f"{type(self.config).__name__} is not a configuration",
                             "dcom.config.DcomConfig instances")
        check_int(self.rows, "rows", 1)
        check_int(self.cols, "cols", 1)

    # Shapes. Mb and Nb of the contract are row_tiles and col_tiles.

    @property
    def row_tiles(self) -> int:
        """``Mb = ceil(M / (P R))``: tile rows held by each cluster."""
        return _ceil_div(self.rows, self.config.grid_rows * self.config.cluster_rows)

    @property
    def col_tiles(self) -> int:
        """``Nb = ceil(N / (Q C))``: tile columns held by each cluster."""
        return _ceil_div(self.cols, self.config.grid_cols * self.config.cluster_cols)

    @property
    def padded_rows(self) -> int:
        """``Mp = Mb P R``, the length of u-side vectors."""
        return self.row_tiles * self.config.grid_rows * self.config.cluster_rows

    @property
    def padded_cols(self) -> int:
        """``Np = Nb Q C``, the length of v-side vectors."""
        return self.col_tiles * self.config.grid_cols * self.config.cluster_cols

    def length(self, side: str) -> int:
        """Padded vector length of ``side`` (``"u"``: ``Mp``, ``"v"``: ``Np``)."""
        return self.padded_rows if _side(side) == "u" else self.padded_cols

    def chunk_width(self, side: str) -> int:
        """Elements per vector chunk: ``P`` for u-side, ``Q`` for v-side."""
        return self.config.grid_rows if _side(side) == "u" else self.config.grid_cols

    def n_chunks(self, side: str) -> int:
        """Chunks of a ``side`` vector: ``Mb R`` (u) or ``Nb C`` (v)."""
        return self.length(side) // self.chunk_width(side)

    def chunks_per_cluster(self, side: str) -> int:
        """Most chunks any one cluster owns: ``ceil(Mb / C)`` (u) or ``ceil(Nb / R)`` (v)."""
        if _side(side) == "u":
            return _ceil_div(self.row_tiles, self.config.cluster_cols)
        return _ceil_div(self.col_tiles, self.config.cluster_rows)

    # Ownership.

    def tile_cluster(self, ti, tj) -> tuple:
        """Cluster ``(r, c)`` holding tile ``(ti, tj)``; works elementwise on arrays."""
        return np.asarray(ti) // self.row_tiles, np.asarray(tj) // self.col_tiles

    def chunk_cluster(self, side: str, chunk) -> tuple:
        """Cluster ``(r, c)`` owning chunk ``chunk`` of a ``side`` vector (elementwise).

        u-chunk ``ti`` belongs to ``(ti // Mb, (ti mod Mb) mod C)``; v-chunk ``tj`` to
        ``((tj mod Nb) mod R, tj // Nb)``.
        """
        chunk = np.asarray(chunk)
        if _side(side) == "u":
            return chunk // self.row_tiles, (chunk % self.row_tiles) % self.config.cluster_cols
        return (chunk % self.col_tiles) % self.config.cluster_rows, chunk // self.col_tiles

    def cluster_chunks(self, side: str, r: int, c: int) -> np.ndarray:
        """Chunks of a ``side`` vector that cluster ``(r, c)`` owns, in visiting order."""
        cfg = self.config
        if _side(side) == "u":
            return r * self.row_tiles + np.arange(c, self.row_tiles, cfg.cluster_cols)
        return c * self.col_tiles + np.arange(r, self.col_tiles, cfg.cluster_rows)

    # Data layout.

    def pad_matrix(self, a: np.ndarray) -> np.ndarray:
        """``a`` (``M x N``) padded with +0 to ``Mp x Np``, same dtype."""
        if a.shape != (self.rows, self.cols):
            raise InputError("a", f"shape {a.shape} does not match the mapping",
                             f"arrays of shape ({self.rows}, {self.cols})")
        out = np.zeros((self.padded_rows, self.padded_cols), dtype=a.dtype)
        out[:self.rows, :self.cols] = a
        return out

    def pad_vector(self, side: str, x: np.ndarray) -> np.ndarray:
        """``x`` (``M`` or ``N`` long along axis 0) padded with +0 to ``Mp`` or ``Np``."""
        size = self.rows if _side(side) == "u" else self.cols
        if x.shape[0] != size:
            raise InputError("x", f"has length {x.shape[0]} along axis 0",
                             f"length {size} for a {side}-side vector")
        out = np.zeros((self.length(side),) + x.shape[1:], dtype=x.dtype)
        out[:size] = x
        return out

    def unpad_vector(self, side: str, x: np.ndarray) -> np.ndarray:
        """The first ``M`` or ``N`` elements (along axis 0) of a padded ``side`` vector."""
        return x[:self.rows if _side(side) == "u" else self.cols]

    def tiles(self, padded: np.ndarray) -> np.ndarray:
        """View of a padded ``Mp x Np`` matrix as ``(R, Mb, P, C, Nb, Q)``.

        Element ``[r, i, p, c, j, q]`` is row ``p``, column ``q`` of tile
        ``(r Mb + i, c Nb + j)``, the tile that cluster ``(r, c)`` holds as its ``(i, j)``.
        """
        cfg = self.config
        return padded.reshape(cfg.cluster_rows, self.row_tiles, cfg.grid_rows,
                              cfg.cluster_cols, self.col_tiles, cfg.grid_cols)

    def chunks_by_cluster(self, side: str, per_chunk: np.ndarray) -> np.ndarray:
        """Regroup per-chunk values (chunk index on axis 0) by owning cluster.

        Returns an array of shape ``(R, C, L) + per_chunk.shape[1:]``, where ``L`` is
        :meth:`chunks_per_cluster` and ``[r, c, l]`` is the ``l``-th chunk cluster ``(r, c)``
        visits. Clusters that own fewer than ``L`` chunks get +0 entries at the end; adding +0
        to an accumulator leaves it unchanged, because an accumulator cleared to +0 can never
        hold -0 under round-to-nearest.
        """
        cfg = self.config
        rest = per_chunk.shape[1:]
        count = self.chunks_per_cluster(side)
        if _side(side) == "u":
            owners, per_owner, others = cfg.cluster_rows, self.row_tiles, cfg.cluster_cols
        else:
            owners, per_owner, others = cfg.cluster_cols, self.col_tiles, cfg.cluster_rows
        grouped = np.zeros((owners, count * others) + rest, dtype=per_chunk.dtype)
        grouped[:, :per_owner] = per_chunk.reshape((owners, per_owner) + rest)
        # u: [r, l, c] is local tile row l C + c of cluster row r; v: [c, l, r] likewise.
        grouped = grouped.reshape((owners, count, others) + rest)
        if side == "u":
            return np.moveaxis(grouped, 2, 1)
        return np.moveaxis(grouped, (0, 1, 2), (1, 2, 0))


def _side(side: str) -> str:
    if side not in SIDES:
        raise InputError("side", f"{side!r} is not a vector side", "'u', 'v'")
    return side

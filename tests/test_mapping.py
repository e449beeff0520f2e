"""MatrixMapping against the formulas of docs/arithmetic.md, written out here independently."""

import numpy as np
import pytest

from dcom.config import DcomConfig
from dcom.sw import InputError
from dcom.sw.mapping import MatrixMapping

SMALL = DcomConfig(cluster_rows=2, cluster_cols=3, grid_rows=2, grid_cols=4, expansion=2)


def test_paper_point_4096():
    m = MatrixMapping(DcomConfig(), 4096, 4096)
    assert (m.row_tiles, m.col_tiles, m.padded_rows, m.padded_cols) == (32, 32, 4096, 4096)
    assert m.chunks_per_cluster("u") == 2 and m.chunks_per_cluster("v") == 2


@pytest.mark.parametrize("rows,cols", [(1, 1), (13, 29), (4, 24), (40, 7)])
def test_padding(rows, cols):
    m = MatrixMapping(SMALL, rows, cols)
    P, Q, R, C = 2, 4, 2, 3
    assert m.row_tiles == -(-rows // (P * R)) and m.col_tiles == -(-cols // (Q * C))
    a = np.arange(1, rows * cols + 1, dtype=np.float16).reshape(rows, cols)
    padded = m.pad_matrix(a)
    assert padded.shape == (m.row_tiles * P * R, m.col_tiles * Q * C)
    assert np.array_equal(padded[:rows, :cols], a)
    assert not padded[rows:].any() and not padded[:, cols:].any()
    assert not np.signbit(padded).any()            # padding is +0


def test_tiles_view_is_the_documented_tile():
    m = MatrixMapping(SMALL, 13, 29)
    padded = m.pad_matrix(np.random.default_rng(0).standard_normal((13, 29)))
    t = m.tiles(padded)
    P, Q, Mb, Nb = 2, 4, m.row_tiles, m.col_tiles
    for r, i, c, j in [(0, 0, 0, 0), (1, Mb - 1, 2, Nb - 1), (1, 0, 1, 1)]:
        ti, tj = r * Mb + i, c * Nb + j
        assert np.array_equal(t[r, i, :, c, j, :], padded[ti * P:(ti + 1) * P, tj * Q:(tj + 1) * Q])
        assert m.tile_cluster(ti, tj) == (r, c)


@pytest.mark.parametrize("rows,cols", [(13, 29), (40, 100), (3, 3)])
def test_chunk_ownership(rows, cols):
    m = MatrixMapping(SMALL, rows, cols)
    R, C = 2, 3
    Mb, Nb = m.row_tiles, m.col_tiles
    for side, n_chunks, owner in [("u", Mb * R, lambda t: (t // Mb, (t % Mb) % C)),
                                  ("v", Nb * C, lambda t: ((t % Nb) % R, t // Nb))]:
        assert m.n_chunks(side) == n_chunks
        seen = []
        for r in range(R):
            for c in range(C):
                chunks = list(m.cluster_chunks(side, r, c))
                assert chunks == sorted(chunks)
                assert all(owner(t) == (r, c) for t in chunks)
                assert all(tuple(int(x) for x in m.chunk_cluster(side, t)) == (r, c)
                           for t in chunks)
                seen += chunks
        assert sorted(seen) == list(range(n_chunks))      # every chunk owned exactly once


@pytest.mark.parametrize("side", ["u", "v"])
def test_chunks_by_cluster_follows_ownership(side):
    m = MatrixMapping(SMALL, 40, 100)
    per_chunk = np.arange(1, m.n_chunks(side) + 1, dtype=np.float32)
    grouped = m.chunks_by_cluster(side, per_chunk)
    assert grouped.shape == (2, 3, m.chunks_per_cluster(side))
    for r in range(2):
        for c in range(3):
            owned = m.cluster_chunks(side, r, c)
            row = grouped[r, c]
            assert np.array_equal(row[:len(owned)], owned + 1)
            assert not row[len(owned):].any() and not np.signbit(row).any()


def test_bad_arguments():
    with pytest.raises(InputError, match="rows"):
        MatrixMapping(SMALL, 0, 3)
    with pytest.raises(InputError, match="config"):
        MatrixMapping({"grid_rows": 8}, 3, 3)
    with pytest.raises(InputError, match="side"):
        MatrixMapping(SMALL, 3, 3).length("w")
    with pytest.raises(InputError, match=r"\(3, 3\)"):
        MatrixMapping(SMALL, 3, 3).pad_matrix(np.zeros((3, 4)))

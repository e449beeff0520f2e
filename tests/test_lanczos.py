"""The float64 reference Lanczos against LAPACK (numpy.linalg.svd) and PROPACK (scipy svds).

Stated tolerances, all asserted below (r = 5 triplets, sigma_1 the largest singular value):

* singular values: |s_i - s_i(LAPACK)| <= 1e-12 sigma_1, and the same against PROPACK;
* reconstruction: ||A - U S V^T||_F <= (1 + 1e-12) * ||A - A_r||_F (Eckart-Young optimum);
* singular vectors: |<u_i, u_i(LAPACK)>| >= 1 - 1e-9 (same for v_i);
* loss of orthogonality max|Q^T Q - I| of the Lanczos bases: <= 1e-13 with CGS2, <= 1e-9 with
  one pass of MGS at k = 2r. (One MGS pass degrades as k approaches min(M, N): see
  test_mgs_orthogonality_degrades_near_full_rank.)

Matrices with a spectral gap converge in k = 2r steps; the Gaussian random matrix, whose
spectrum is flat, is run to k = min(M, N).
"""

import numpy as np
import pytest
import scipy.sparse.linalg as sla

from dcom.sw import InputError, lanczos_bidiag

RANK = 5


def low_rank_plus_noise(rng, m, n, rank=8, noise=0.02):
    left = rng.standard_normal((m, rank)) * np.geomspace(4.0, 0.5, rank)
    return left @ rng.standard_normal((rank, n)) / np.sqrt(n) * 8 + noise * \
        rng.standard_normal((m, n))


def outlier_columns(rng, m, n):
    a = low_rank_plus_noise(rng, m, n)
    a[:, rng.choice(n, 4, replace=False)] *= 50.0
    return a


MATRICES = {
    # name: (builder, k)
    "random": (lambda rng: rng.standard_normal((120, 80)), 80),
    "low_rank_plus_noise": (lambda rng: low_rank_plus_noise(rng, 150, 100), None),
    "tall": (lambda rng: low_rank_plus_noise(rng, 400, 30), None),
    "wide": (lambda rng: low_rank_plus_noise(rng, 30, 400), None),
    "outlier_columns": (lambda rng: outlier_columns(rng, 150, 120), None),
}


def orthogonality_loss(q):
    return np.max(np.abs(q.T @ q - np.eye(q.shape[1])))


@pytest.mark.parametrize("reorth", ["cgs2", "mgs"])
@pytest.mark.parametrize("name", list(MATRICES))
def test_against_lapack(name, reorth):
    build, k = MATRICES[name]
    a = build(np.random.default_rng(len(name)))
    U, s, Vt, info = lanczos_bidiag(a, RANK, k, reorth=reorth, return_info=True)
    U_ex, s_ex, Vt_ex = np.linalg.svd(a, full_matrices=False)

    assert U.shape == (a.shape[0], RANK) and s.shape == (RANK,) and Vt.shape == (RANK, a.shape[1])
    assert np.all(np.diff(s) <= 0)
    assert np.max(np.abs(s - s_ex[:RANK])) <= 1e-12 * s_ex[0]
    optimum = np.sqrt(np.sum(s_ex[RANK:] ** 2))
    assert np.linalg.norm(a - (U * s) @ Vt) <= (1 + 1e-12) * optimum
    assert np.min(np.abs(np.sum(U * U_ex[:, :RANK], axis=0))) >= 1 - 1e-9
    assert np.min(np.abs(np.sum(Vt * Vt_ex[:RANK], axis=1))) >= 1 - 1e-9
    if k is None:
        limit = 1e-13 if reorth == "cgs2" else 1e-9
        assert orthogonality_loss(info.U_basis) <= limit
        assert orthogonality_loss(info.V_basis) <= limit


@pytest.mark.parametrize("name", list(MATRICES))
def test_against_propack(name):
    build, k = MATRICES[name]
    a = build(np.random.default_rng(len(name)))
    _, s, _ = lanczos_bidiag(a, RANK, k)
    # PROPACK needs more than its default 10 * k iterations on the flat random spectrum.
    _, s_pp, _ = sla.svds(a, k=RANK, solver="propack", random_state=0, maxiter=1000)
    assert np.max(np.abs(s - np.sort(s_pp)[::-1])) <= 1e-12 * s[0]


def test_cgs2_keeps_orthogonality_at_full_rank():
    a = MATRICES["random"][0](np.random.default_rng(1))
    _, _, _, info = lanczos_bidiag(a, RANK, min(a.shape), return_info=True)
    assert orthogonality_loss(info.U_basis) <= 1e-13
    assert orthogonality_loss(info.V_basis) <= 1e-13


def test_mgs_orthogonality_degrades_near_full_rank():
    # One MGS pass cannot orthogonalize a residual that is tiny next to the vector it came from;
    # the singular values are unaffected. This is why the hardware uses CGS2.
    a = MATRICES["random"][0](np.random.default_rng(1))
    _, s, _, info = lanczos_bidiag(a, RANK, min(a.shape), reorth="mgs", return_info=True)
    assert orthogonality_loss(info.V_basis) > 1e-6
    assert np.max(np.abs(s - np.linalg.svd(a, compute_uv=False)[:RANK])) <= 1e-12 * s[0]


@pytest.mark.parametrize("reorth", ["cgs2", "mgs"])
def test_rank_deficient_stops_with_the_rank_found(reorth):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((100, 6)) @ rng.standard_normal((6, 80))
    U, s, Vt, info = lanczos_bidiag(a, 8, 12, reorth=reorth, return_info=True)
    assert info.rank == 6 and info.breakdown in ("alpha", "beta")
    assert U.shape == (100, 6) and s.shape == (6,) and Vt.shape == (6, 80)
    assert np.all(np.isfinite(U)) and np.all(np.isfinite(Vt))
    s_ex = np.linalg.svd(a, compute_uv=False)
    assert np.max(np.abs(s - s_ex[:6])) <= 1e-12 * s_ex[0]
    # What is dropped at the breakdown is at most the threshold, tol * ||A||_F (tol = 1e-10).
    assert np.linalg.norm(a - (U * s) @ Vt) <= 1e-10 * np.linalg.norm(a)


def test_zero_matrix_has_rank_zero():
    U, s, Vt, info = lanczos_bidiag(np.zeros((7, 5)), 2, return_info=True)
    assert (U.shape, s.shape, Vt.shape, info.rank) == ((7, 0), (0,), (0, 5), 0)


def test_bidiagonal_reproduces_the_lanczos_relation():
    a = low_rank_plus_noise(np.random.default_rng(4), 60, 50)
    _, _, _, info = lanczos_bidiag(a, 3, 8, return_info=True)
    assert np.allclose(a @ info.V_basis, info.U_basis @ info.bidiagonal, atol=1e-12)


def test_seed_makes_runs_reproducible():
    a = low_rank_plus_noise(np.random.default_rng(5), 40, 30)
    first = lanczos_bidiag(a, 2, 4, seed=11, return_info=True)[3]
    again = lanczos_bidiag(a, 2, 4, seed=11, return_info=True)[3]
    other = lanczos_bidiag(a, 2, 4, seed=12, return_info=True)[3]
    assert np.array_equal(first.alphas, again.alphas)
    assert not np.array_equal(first.alphas, other.alphas)


@pytest.mark.parametrize("kwargs,parameter", [
    (dict(A=np.ones((4, 4), dtype=np.int64)), "A"),
    (dict(A=np.ones((4, 4), dtype=complex)), "A"),
    (dict(A=np.array([[1.0, np.inf], [0.0, 1.0]])), "A"),
    (dict(A=np.zeros((3, 0))), "A"),
    (dict(A=np.ones(4)), "A"),
    (dict(rank=5), "rank"),
    (dict(rank=2.0), "rank"),
    (dict(k=5), "k"),
    (dict(reorth="householder"), "reorth"),
    (dict(tol=-1.0), "tol"),
])
def test_bad_inputs_name_the_parameter(kwargs, parameter):
    args = dict(A=np.eye(4), rank=2)
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        lanczos_bidiag(**args)
    assert err.value.parameter == parameter and "allowed values" in str(err.value)

"""The hardware-arithmetic Lanczos: bit-exact against the scalar model, accurate against LAPACK,
and honest about overflow and breakdown."""

import numpy as np
import pytest
from scalar_hw_model import ScalarMachine, bits16, bits32, fp16

from dcom.config import DcomConfig
from dcom.sw import HardwareOverflowError, InputError, hw_lanczos_bidiag
from dcom.sw.fparith import to_bits

SMALL = dict(cluster_rows=2, cluster_cols=3, grid_rows=2, grid_cols=4, expansion=2)


@pytest.mark.parametrize("acc", ["fp32", "fp16"])
def test_whole_run_matches_scalar_model_bit_for_bit(acc):
    cfg = DcomConfig(acc_format=acc, **SMALL)
    M, N, k, seed = 13, 11, 6, 7
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((M, 3)) @ rng.standard_normal((3, N)) +
         0.05 * rng.standard_normal((M, N))).astype(np.float16)
    _, _, _, info = hw_lanczos_bidiag(a, 3, k, config=cfg, seed=seed, return_info=True)

    start = [fp16(x) for x in np.random.default_rng(seed).standard_normal(N)]
    machine = ScalarMachine(2, 3, 2, 4, 2, acc, M, N)
    rows = [[float(v) for v in row] for row in a]
    alphas, betas, U, V = machine.lanczos(rows, start, k, 1e-3)

    assert info.rank == len(alphas) == k and info.breakdown is None
    assert [bits32(float(x)) for x in info.alphas] == [bits32(x) for x in alphas]
    assert [bits32(float(x)) for x in info.betas] == [bits32(x) for x in betas]
    for basis, ref, length in [(info.U_basis, U, M), (info.V_basis, V, N)]:
        expected = np.array([[bits16(x) for x in col[:length]] for col in ref]).T
        assert np.array_equal(to_bits(basis), expected)


def low_rank_plus_noise(rng, m, n, rank=8, noise=0.02):
    left = rng.standard_normal((m, rank)) * np.geomspace(4.0, 0.5, rank)
    return left @ rng.standard_normal((rank, n)) / np.sqrt(n) * 8 + noise * \
        rng.standard_normal((m, n))


def test_fp32_accumulation_is_accurate():
    rng = np.random.default_rng(1)
    a = low_rank_plus_noise(rng, 300, 200).astype(np.float16)
    U, s, Vt, info = hw_lanczos_bidiag(a, 5, 12, return_info=True)
    a64 = a.astype(np.float64)
    exact = np.linalg.svd(a64, compute_uv=False)
    # FP16 vectors: singular values to a few FP16 ulps, reconstruction within 0.1% of optimal.
    assert np.max(np.abs(s - exact[:5]) / exact[:5]) < 2e-3
    optimal = np.sqrt(np.sum(exact[5:] ** 2))
    assert np.linalg.norm(a64 - (U * s) @ Vt) / optimal < 1.001
    # Orthogonality is that of FP16 storage.
    basis = info.U_basis.astype(np.float64)
    assert np.max(np.abs(basis.T @ basis - np.eye(info.rank))) < 5e-3


def outlier_matrix(rng, m=256, n=256, factor=30.0):
    a = low_rank_plus_noise(rng, m, n)
    a[:, rng.choice(n, max(1, n // 32), replace=False)] *= factor
    return a


def test_fp16_accumulation_overflow_is_reported_with_step_and_kernel():
    a = outlier_matrix(np.random.default_rng(2))
    with pytest.raises(HardwareOverflowError) as err:
        hw_lanczos_bidiag(a, 4, config=DcomConfig(acc_format="fp16"))
    assert err.value.kernel in {"mv", "mtv", "reorth_u", "reorth_v", "norm_u", "norm_v",
                                "scale_u", "scale_v"}
    assert err.value.step >= 0 and err.value.acc_format == "fp16"
    assert str(err.value.step) in str(err.value) and err.value.kernel in str(err.value)
    U, s, Vt = hw_lanczos_bidiag(a, 4)                      # FP32 accumulation copes
    assert np.all(np.isfinite(s)) and s[0] > 256


def test_fp16_storage_overflow_is_reported_with_fp32_accumulation():
    # Rank one: u_0 = ±1/8 everywhere, so A^T u_0 = ±30000 * 64 / 8, beyond FP16.
    a = np.full((64, 64), 30000.0)
    with pytest.raises(HardwareOverflowError) as err:
        hw_lanczos_bidiag(a, 1, 2)
    assert (err.value.step, err.value.kernel) == (1, "mtv")


def test_breakdown_returns_the_rank_found_without_nan():
    a = np.zeros((40, 30))
    a[0, 0], a[1, 1], a[2, 2] = 4.0, 2.0, 1.0
    U, s, Vt, info = hw_lanczos_bidiag(a, 5, 8, config=DcomConfig(**SMALL), return_info=True)
    assert info.rank == 3 and info.breakdown in ("alpha", "beta")
    assert U.shape == (40, 3) and s.shape == (3,) and Vt.shape == (3, 30)
    assert np.allclose(s, [4, 2, 1], rtol=1e-3)
    U, s, Vt = hw_lanczos_bidiag(np.zeros((10, 12)), 2)
    assert U.shape == (10, 0) and s.shape == (0,) and Vt.shape == (0, 12)


@pytest.mark.parametrize("kwargs,parameter", [
    (dict(A=np.ones((4, 4), dtype=np.int32)), "A"),
    (dict(A=np.array([[1.0, np.nan], [0.0, 1.0]])), "A"),
    (dict(A=np.array([[70000.0, 1.0], [0.0, 1.0]])), "A"),
    (dict(A=np.zeros((0, 3))), "A"),
    (dict(rank=5), "rank"),
    (dict(rank=0), "rank"),
    (dict(k=1, rank=2), "k"),
    (dict(breakdown_tol=1e-9), "breakdown_tol"),
    (dict(config="16x16"), "config"),
])
def test_bad_inputs_name_the_parameter(kwargs, parameter):
    args = dict(A=np.eye(4), rank=2)
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        hw_lanczos_bidiag(**args)
    assert err.value.parameter == parameter and "allowed values" in str(err.value)

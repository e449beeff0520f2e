"""The vectorized kernels against the scalar model of tests/scalar_hw_model.py, bit for bit."""

import numpy as np
import pytest
from scalar_hw_model import ScalarMachine, bits16, bits32

from dcom.config import DcomConfig
from dcom.sw import hwkernels as hk
from dcom.sw.fparith import round_to, to_bits

# (R, C, P, Q, f, acc, M, N): padding everywhere, P != Q, R != C, f from 1 to R*C, clusters that
# own no chunk (row_tiles < C), clusters that own several, both accumulation formats.
CASES = [
    (2, 3, 2, 4, 2, "fp32", 13, 29),
    (2, 2, 4, 2, 4, "fp32", 21, 10),
    (1, 4, 2, 2, 1, "fp16", 9, 15),
    (3, 1, 2, 1, 1, "fp32", 30, 5),
    (2, 2, 2, 2, 2, "fp16", 16, 16),
]


def make_case(case, seed):
    R, C, P, Q, f, acc, M, N = case
    cfg = DcomConfig(cluster_rows=R, cluster_cols=C, grid_rows=P, grid_cols=Q, expansion=f,
                     acc_format=acc)
    rng = np.random.default_rng(seed)
    # Wide dynamic range, negative zeros and exact cancellations.
    a = rng.standard_normal((M, N)) * 2.0 ** rng.integers(-12, 4, (M, N))
    a[rng.random((M, N)) < 0.1] = -0.0
    a[0, :] = 0.5
    matrix = hk.TiledMatrix(a, cfg)
    scalar = ScalarMachine(R, C, P, Q, f, acc, M, N)
    dense = [[float(v) for v in row] for row in matrix.mapping.pad_matrix(matrix.values)]
    return cfg, matrix, scalar, dense, rng


def vec(rng, mapping, side, scale=1.0):
    n = mapping.rows if side == "u" else mapping.cols
    x = round_to(rng.standard_normal(n) * scale, "fp16")
    x[::max(2, n // 3)] = -0.0
    return mapping.pad_vector(side, x)


def b16(values):
    return np.array([bits16(float(v)) for v in values], dtype=np.uint16)


@pytest.mark.parametrize("case", CASES)
def test_mv_and_mtv(case):
    cfg, matrix, scalar, dense, rng = make_case(case, 1)
    x = vec(rng, matrix.mapping, "v")
    y = vec(rng, matrix.mapping, "u")
    assert np.array_equal(to_bits(hk.mv(matrix, x)), b16(scalar.mv(dense, list(map(float, x)))))
    assert np.array_equal(to_bits(hk.mtv(matrix, y)), b16(scalar.mtv(dense, list(map(float, y)))))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("side", ["u", "v"])
def test_dot_norm_scale(case, side):
    cfg, matrix, scalar, _, rng = make_case(case, 2)
    m = matrix.mapping
    a, b = vec(rng, m, side), vec(rng, m, side)
    fa, fb = list(map(float, a)), list(map(float, b))
    to = bits16 if cfg.acc_format == "fp16" else bits32
    assert to_bits(hk.dot(m, side, a, b))[()] == to(scalar.dot(side, fa, fb))
    alpha = hk.vector_norm(m, side, a)
    assert alpha.dtype == np.float32 and bits32(float(alpha)) == bits32(scalar.norm(side, fa))
    scaled = hk.scale(cfg, a, alpha)
    assert np.array_equal(to_bits(scaled), b16(scalar.scale(fa, float(alpha))))
    assert not np.any(np.signbit(scaled[a == 0]))          # zeros come out +0


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("side", ["u", "v"])
@pytest.mark.parametrize("count", [1, 3, 5])
def test_reorthogonalization(case, side, count):
    cfg, matrix, scalar, _, rng = make_case(case, 3)
    m = matrix.mapping
    basis = np.stack([vec(rng, m, side, 0.3) for _ in range(count)], axis=1)
    w = vec(rng, m, side)
    cols = [list(map(float, basis[:, l])) for l in range(count)]
    once = scalar.cgs_pass(side, list(map(float, w)), cols)
    twice = scalar.cgs_pass(side, once, cols)
    assert np.array_equal(to_bits(hk.project_out(m, side, w, basis)), b16(once))
    assert np.array_equal(to_bits(hk.reorthogonalize(m, side, w, basis)), b16(twice))


def test_fp16_accumulation_overflow_propagates_to_result():
    case = (2, 2, 2, 2, 2, "fp16", 8, 8)
    cfg, matrix, scalar, dense, rng = make_case(case, 4)
    big = matrix.mapping.pad_vector("v", np.full(8, 60000.0, dtype=np.float16))
    y = hk.mv(matrix, big)
    assert not np.all(np.isfinite(y))
    assert np.array_equal(to_bits(y), b16(scalar.mv(dense, list(map(float, big)))))


def test_reciprocal_split_carries_more_than_fp16():
    hi, lo = hk.reciprocal_split(np.float32(3.0))
    r = np.float32(1) / np.float32(3)
    assert hi.dtype == lo.dtype == np.float16
    assert abs(float(hi) + float(lo) - float(r)) < abs(float(hi) - float(r)) / 100

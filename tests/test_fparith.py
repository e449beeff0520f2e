"""fparith against the scalar, struct-based model of tests/scalar_hw_model.py."""

import numpy as np
import pytest
from scalar_hw_model import Arith, bits16, bits32, fp16, fp32

from dcom.config import FORMATS
from dcom.sw import InputError
from dcom.sw.fparith import (add, canonicalize_nan, from_bits, grid_icsum, icsum, fold_sum, multiply,
                             round_to, to_bits, tree_sum)

SPECIALS16 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, -65504.0, 6.0e-8, -6.0e-8,
                       6.1035e-05, 1.0, -1.0, 0.5], dtype=np.float16)


def random_fp16(rng, n):
    """FP16 values drawn over every bit pattern, so all classes appear."""
    return from_bits(rng.integers(0, 1 << 16, n), "fp16")


def random_fp32(rng, n):
    return from_bits(rng.integers(0, 1 << 32, n, dtype=np.uint64), "fp32")


def scalar_bits(values, fmt):
    to = bits16 if fmt == "fp16" else bits32
    return np.array([to(float(v)) for v in values], dtype=np.uint32)


def test_round_to_fp16_matches_struct_on_all_fp32_classes():
    rng = np.random.default_rng(1)
    x = random_fp32(rng, 20000)
    # Half of the values near the FP16 range: subnormals, normals, the overflow threshold.
    near = rng.uniform(-2.0, 2.0, 10000) * 2.0 ** rng.integers(-26, 17, 10000)
    x[:10000] = near.astype(np.float32)
    ours = to_bits(round_to(x, "fp16")).astype(np.uint32)
    ref = scalar_bits([fp16(float(v)) for v in x], "fp16")
    assert np.array_equal(ours, ref)


def test_round_to_fp32_from_float64():
    x = np.random.default_rng(3).standard_normal(5000) * 10.0 ** np.random.default_rng(4) \
        .integers(-45, 39, 5000)
    assert np.array_equal(to_bits(round_to(x, "fp32")),
                          scalar_bits([fp32(float(v)) for v in x], "fp32"))


@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
def test_multiply_and_add_match_scalar_model(fmt):
    rng = np.random.default_rng(5)
    a = np.concatenate([random_fp16(rng, 6000), np.repeat(SPECIALS16, len(SPECIALS16))])
    b = np.concatenate([random_fp16(rng, 6000), np.tile(SPECIALS16, len(SPECIALS16))])
    ar = Arith(fmt)
    products = multiply(a, b, fmt)
    assert products.dtype == np.dtype(f"float{FORMATS[fmt].width}")
    ref = [ar.mul(float(x), float(y)) for x, y in zip(a, b)]
    assert np.array_equal(to_bits(products), scalar_bits(ref, fmt))
    # Sums of products cover cancellation, signed zeros, overflow and inf - inf.
    summed = add(products, products[::-1])
    ref_sum = [ar.add(x, y) for x, y in zip(ref, ref[::-1])]
    assert np.array_equal(to_bits(summed), scalar_bits(ref_sum, fmt))


def test_fp32_add_keeps_subnormals():
    tiny = from_bits(np.array([1, 3, 0x007FFFFF], dtype=np.uint32), "fp32")
    assert np.array_equal(to_bits(add(tiny, tiny)), [2, 6, 0x00FFFFFE])


def test_canonical_nan_everywhere():
    inf = np.array([np.inf], dtype=np.float32)
    assert to_bits(add(inf, -inf))[0] == FORMATS["fp32"].quiet_nan
    payload = from_bits(np.array([0xFE01], dtype=np.uint16), "fp16")
    assert to_bits(canonicalize_nan(payload))[0] == FORMATS["fp16"].quiet_nan
    assert to_bits(multiply(np.float16(0), np.float16(np.inf), "fp16"))[()] == 0x7E00


@pytest.mark.parametrize("fmt,width", [("fp32", 8), ("fp16", 8), ("fp32", 1), ("fp16", 16)])
def test_tree_sum_matches_scalar_tree(fmt, width):
    rng = np.random.default_rng(width)
    ops = multiply(random_fp16(rng, 400 * width), random_fp16(rng, 400 * width), fmt)
    ops = ops.reshape(400, width)
    ops[0, :] = -0.0
    ops[1, :2] = [np.inf, -np.inf][:min(width, 2)]
    ar = Arith(fmt)
    ref = [ar.tree([float(v) for v in row]) for row in ops]
    assert np.array_equal(to_bits(tree_sum(ops, axis=1)), scalar_bits(ref, fmt))
    # Same tree along a leading axis.
    assert np.array_equal(to_bits(tree_sum(ops.T, axis=0)), scalar_bits(ref, fmt))


def test_tree_sum_order_is_the_tree_not_left_to_right():
    x = np.array([1.0, 2.0 ** -24, 2.0 ** -24, -1.0], dtype=np.float32)
    # Tree: (1 + 2^-24 = 1, a tie to even) + (2^-24 - 1, exact) = 2^-24.
    # Left to right: 1, 1, 1, 0.
    assert tree_sum(x)[()] == np.float32(2.0 ** -24)
    assert fold_sum(x)[()] == 0.0


def test_fold_sum_starts_at_plus_zero_or_init():
    neg_zero = np.array([[-0.0, -0.0]], dtype=np.float32)
    assert to_bits(fold_sum(neg_zero, axis=1))[0] == 0          # +0 + -0 = +0
    init = np.array([-0.0], dtype=np.float32)
    assert to_bits(fold_sum(neg_zero, axis=1, init=init))[0] == 0x80000000


@pytest.mark.parametrize("count", [16, 12, 7, 6, 5, 3, 1])
def test_icsum_matches_scalar_model(count):
    rng = np.random.default_rng(count)
    for fmt in ("fp32", "fp16"):
        x = multiply(random_fp16(rng, 50 * count), random_fp16(rng, 50 * count), fmt)
        x = x.reshape(50, count)
        ar = Arith(fmt)
        ref = [ar.icsum([float(v) for v in row]) for row in x]
        assert np.array_equal(to_bits(icsum(x, axis=1)), scalar_bits(ref, fmt))


def test_icsum_pairs_level_by_level_and_carries_the_odd_element():
    # (a + b) + c, not a + (b + c): 1 + 2**-24 rounds to 1, so the order shows.
    x = np.array([1.0, 2.0 ** -24, 2.0 ** -24], dtype=np.float32)
    assert icsum(x)[()] == np.float32(1.0)
    assert icsum(x[::-1])[()] == np.float32(1.0) + np.float32(2.0 ** -23)
    neg_zero = np.full((1, 3), -0.0, dtype=np.float32)
    assert to_bits(icsum(neg_zero, axis=1))[0] == 0x80000000    # no +0 enters


def test_bits_round_trip():
    bits = np.arange(0, 1 << 16, dtype=np.uint16)
    back = to_bits(from_bits(bits, "fp16"))
    finite_or_inf = ~np.isnan(from_bits(bits, "fp16"))
    assert np.array_equal(back[finite_or_inf], bits[finite_or_inf])
    assert np.all(back[~finite_or_inf] == 0x7E00)


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match="powers of two"):
        tree_sum(np.zeros(6, dtype=np.float32))
    with pytest.raises(InputError, match="float16 .* float32"):
        tree_sum(np.zeros(4))
    with pytest.raises(InputError, match="fmt"):
        round_to(np.zeros(2), "bf16")
    with pytest.raises(InputError, match="same format"):
        add(np.zeros(2, np.float16), np.zeros(2, np.float32))
    with pytest.raises(InputError, match="bits"):
        from_bits(np.array([1 << 16]), "fp16")


def test_grid_icsum_sums_the_rows_then_the_row_sums():
    one, tiny = np.float32(1.0), np.float32(2.0 ** -24)
    # 2 x 3 clusters: the rows give 3 and 3 t exactly; 3 + 3 t is 3 + 3/4 of an ulp (2^-22),
    # which rounds up.
    x = np.array([[one, one, one], [tiny, tiny, tiny]])
    assert grid_icsum(x)[()] == np.float32(3.0) + np.float32(2.0 ** -22)
    # The row-major tree over six pairs 1 with t (which is lost) and ends with 3 + 2 t, half
    # an ulp, a tie that rounds to even: 3.
    assert icsum(x.reshape(-1))[()] == np.float32(3.0)
    # With C a power of two the two are the same tree.
    y = np.random.default_rng(3).standard_normal((4, 4, 5)).astype(np.float32)
    assert np.array_equal(to_bits(grid_icsum(y)), to_bits(icsum(y.reshape(16, 5), axis=0)))

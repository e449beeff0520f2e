"""Decomposition toolkit: per-prompt decomposition, outlier extraction, decomposed-preserved
computation, and eq. 8 to 12 checked against counted MACs and stored elements."""

import math

import numpy as np
import pytest

from dcom.sw import InputError
from dcom.sw.decompose import (DecomposedActivation, Factors, OutlierThresholds,
                               activation_compression_ratio, calibrate_thresholds,
                               compare_equal_storage, decompose_activation, decompose_batch,
                               equal_storage_rank, input_compute_reduction,
                               input_weight_compute_reduction, max_weight_rank,
                               outlier_channels, reconstruct_batch, storage_words,
                               weight_compression_ratio)


class MacCounter(np.ndarray):
    """An array that counts the multiply-accumulates of every matmul it takes part in."""

    count = [0]

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [np.asarray(x) for x in inputs]
        if ufunc is np.matmul:
            a, b = plain
            MacCounter.count[0] += a.shape[0] * a.shape[1] * b.shape[1]
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(MacCounter) if isinstance(result, np.ndarray) else result


def counted(dec):
    """``dec`` with factors that count the MACs of every matmul they enter."""
    main = Factors(*(np.asarray(f).view(MacCounter) for f in (dec.main.U, dec.main.core,
                                                               dec.main.Vt)))
    MacCounter.count[0] = 0
    return DecomposedActivation(main, None, dec.width)


def activations(rng, batch, seq, hidden, outliers, factor=30.0):
    """Low rank plus noise, with the given channels scaled up (a crude LLM activation)."""
    x = rng.standard_normal((batch, seq, 6)) @ rng.standard_normal((6, hidden)) * 0.5
    x += 0.2 * rng.standard_normal((batch, seq, hidden))
    x[:, :, outliers] *= factor
    return x


OUTLIERS = [3, 40, 77, 101]


def test_per_prompt_decomposition_of_a_batch():
    rng = np.random.default_rng(0)
    x = activations(rng, 3, 40, 120, OUTLIERS)
    parts = decompose_batch(x, 4, method="svd")
    assert len(parts) == 3
    for prompt, part in zip(x, parts):
        alone = decompose_activation(prompt, 4, method="svd")
        assert np.allclose(part.reconstruct(), alone.reconstruct())
        # Each prompt gets its own factors, not a shared basis.
        assert part.main.U.shape == (40, 4) and part.main.Vt.shape == (4, 120)
    full = decompose_batch(x, 40, method="svd")
    assert np.allclose(reconstruct_batch(full), x)


def test_lanczos_and_hardware_methods_match_svd_on_low_rank_data():
    x = activations(np.random.default_rng(1), 1, 64, 96, [])[0]
    best = np.linalg.norm(x - decompose_activation(x, 6, method="svd").reconstruct())
    for method in ("lanczos", "hardware"):
        approx = decompose_activation(x, 6, k=16, method=method).reconstruct()
        assert np.linalg.norm(x - approx) <= 1.001 * best


def test_calibration_hits_the_target_fraction():
    rng = np.random.default_rng(2)
    hidden = 400
    chosen = rng.choice(hidden, 12, replace=False)               # 3% of the channels
    samples = {"layer10": activations(rng, 4, 64, hidden, chosen),
               "layer20": activations(rng, 4, 64, hidden, chosen, factor=5.0) * 3}
    table = calibrate_thresholds(samples, target_fraction=0.03)
    assert table["layer20"] != table["layer10"]
    for layer, x in samples.items():
        fractions = [outlier_channels(p, table[layer]).size / hidden for p in x]
        assert abs(np.mean(fractions) - 0.03) <= 1.0 / hidden
    # Fresh prompts from the same distribution: the flagged channels are the planted ones.
    fresh = activations(rng, 2, 64, hidden, chosen)
    for prompt in fresh:
        found = outlier_channels(prompt, table["layer10"])
        assert 0.02 <= found.size / hidden <= 0.05
        assert set(found) <= set(chosen) | set(found[:1])
    assert OutlierThresholds.from_dict(table.to_dict()) == table


def test_min_count_ignores_isolated_spikes():
    x = np.ones((10, 5))
    x[0, 1] = 100.0                       # one spike
    x[:3, 3] = 100.0                      # a channel with three outliers
    assert list(outlier_channels(x, 10.0, min_count=1)) == [1, 3]
    assert list(outlier_channels(x, 10.0, min_count=2)) == [3]
    table = calibrate_thresholds({"l": x}, target_fraction=0.2, min_count=3)
    assert list(outlier_channels(x, table["l"], 3)) == [3]


def test_outlier_extraction_improves_low_rank_error():
    rng = np.random.default_rng(3)
    x = activations(rng, 1, 96, 128, OUTLIERS, factor=40.0)[0]
    x[:, OUTLIERS] += rng.standard_normal((96, len(OUTLIERS))) * 20   # outliers not low rank
    # Rank 6 = the signal's rank: without extraction the outlier channels take its slots.
    plain = decompose_activation(x, 6)
    extracted = decompose_activation(x, 6, threshold=15.0)
    assert list(extracted.outlier_channels) == OUTLIERS
    # Exact outlier term: it alone reproduces the outlier channels.
    assert np.allclose(extracted.outliers.dense(128)[:, OUTLIERS], x[:, OUTLIERS])
    error = [np.linalg.norm(x - d.reconstruct()) / np.linalg.norm(x) for d in (plain, extracted)]
    assert error[1] < error[0] / 2
    # Exact outliers (default) vs a rank-2 decomposition of the outlier block.
    low = decompose_activation(x, 6, threshold=15.0, outlier_rank=2)
    assert low.outliers.U.shape[1] == 2 and low.n_elements < extracted.n_elements


def test_storage_words_counts_factors_outlier_block_and_indices():
    x = np.ones((6, 5)) + np.arange(30).reshape(6, 5) % 7
    x[:, [1, 3]] = 100.0 + np.arange(12).reshape(6, 2) ** 2
    plain = decompose_activation(x, 2, method="svd")
    assert storage_words(plain) == 6 * 2 + 2 + 2 * 5                      # U, s, Vt = 24
    extracted = decompose_activation(x, 2, threshold=50.0, method="svd")
    assert list(extracted.outlier_channels) == [1, 3]
    # Outlier term at full rank 2: U 6 x 2, s 2, Vt 2 x 2, and 2 column indices.
    assert storage_words(extracted) == 24 + (12 + 2 + 4) + 2
    low = decompose_activation(x, 2, threshold=50.0, outlier_rank=1, method="svd")
    assert storage_words(low) == 24 + (6 + 1 + 2) + 2
    # Column indices are 16-bit words: 65536 channels at most.
    one = Factors(np.ones((6, 1)), np.ones(1), np.ones((1, 1)), np.array([7]))
    main = Factors(np.ones((6, 1)), np.ones(1), np.ones((1, 1 << 16)))
    assert storage_words(DecomposedActivation(main, one, 1 << 16)) == (6 + 1 + 65536) + 9
    with pytest.raises(InputError) as err:
        storage_words(DecomposedActivation(main, one, (1 << 16) + 1))
    assert err.value.parameter == "decomposed"


def test_equal_storage_rank_is_the_largest_rank_within_the_budget():
    x = activations(np.random.default_rng(9), 1, 20, 30, [])[0]

    def words(rank):
        return storage_words(decompose_activation(x, rank, method="svd"))

    assert words(1) == 51
    for budget, expected in [(51, 1), (101, 1), (102, 2), (500, 9), (1019, 19), (1020, 20),
                             (10**6, 20)]:
        rank = equal_storage_rank(budget, x.shape)
        assert rank == expected, budget
        assert words(rank) <= budget
        assert rank == min(x.shape) or words(rank + 1) > budget


def test_outlier_extraction_pays_for_its_storage_only_with_outliers():
    rng = np.random.default_rng(3)
    x = activations(rng, 1, 96, 128, OUTLIERS, factor=40.0)[0]
    x[:, OUTLIERS] += rng.standard_normal((96, len(OUTLIERS))) * 20
    weight = rng.standard_normal((128, 40))
    strong = compare_equal_storage(x, 6, 15.0, weight=weight, method="svd")
    # Outlier term: 96 x 4 + 4 + 4 x 4 values and 4 indices = 408 words, one plain rank is 225.
    assert (strong.plain.words, strong.extracted.words) == (1350, 1758)
    assert (strong.equal_storage.rank, strong.equal_storage.words) == (7, 1575)
    assert strong.plain.error == pytest.approx(np.linalg.norm(
        x - decompose_activation(x, 6, method="svd").reconstruct()) / np.linalg.norm(x))
    errors = [strong.plain.error, strong.extracted.error, strong.equal_storage.error]
    assert errors == pytest.approx([0.0604, 0.0205, 0.0428], abs=5e-4)
    assert strong.extracted.error < 0.6 * strong.equal_storage.error
    assert strong.extracted.matmul_error < 0.6 * strong.equal_storage.matmul_error
    assert strong.extraction_pays

    # No outliers: a calibrated threshold still flags 3% of the channels, whose storage buys
    # the plain decomposition a rank that is worth more.
    y = activations(np.random.default_rng(8), 1, 96, 128, [])[0]
    threshold = calibrate_thresholds({"layer": y}, target_fraction=0.03)["layer"]
    none = compare_equal_storage(y, 4, threshold, method="svd")
    assert none.extracted.outlier_channels == 4 and none.equal_storage.rank == 5
    errors = [none.plain.error, none.extracted.error, none.equal_storage.error]
    assert errors == pytest.approx([0.500, 0.480, 0.350], abs=5e-3)
    assert none.equal_storage.error < 0.8 * none.extracted.error
    assert not none.extraction_pays and none.plain.matmul_error is None


def test_eq6_input_only_preserved_matmul_and_eq8():
    rng = np.random.default_rng(4)
    S, D, W, r = 48, 64, 80, 5
    x = activations(rng, 1, S, D, [])[0]
    weight = rng.standard_normal((D, W))
    dec = counted(decompose_activation(x, r, method="svd"))
    out = dec.matmul(weight)
    macs = MacCounter.count[0]
    assert macs == r * D * W
    assert input_compute_reduction(S, D, W, r) == S * D * W / macs == S / r
    assert np.allclose(out.reconstruct(), dec.reconstruct() @ weight)
    assert out.main.U is dec.main.U and out.width == W          # only V changed
    assert input_compute_reduction(S, D, W, r, B=8) == S / r


def test_eq6_carries_the_outlier_term():
    rng = np.random.default_rng(5)
    x = activations(rng, 1, 32, 50, [7, 9])[0]
    weight = rng.standard_normal((50, 20))
    dec = decompose_activation(x, 3, threshold=8.0)
    assert dec.outliers is not None
    out = dec.matmul(weight)
    assert out.outliers.columns is None and out.outliers.Vt.shape[1] == 20
    assert np.allclose(out.reconstruct(), dec.reconstruct() @ weight)


@pytest.mark.parametrize("p1,p2", [(6, 6), (7, 4)])
def test_eq7_input_weight_preserved_matmul_and_eq9(p1, p2):
    rng = np.random.default_rng(6)
    S, D, W, r = 40, 60, 70, 5
    x = activations(rng, 1, S, D, [])[0]
    U_w, s_w, Vt_w = np.linalg.svd(rng.standard_normal((D, W)), full_matrices=False)
    core_w = np.diag(s_w)[:p1, :p2]
    dec = counted(decompose_activation(x, r, method="svd"))
    out = dec.matmul_decomposed(U_w[:, :p1], core_w, Vt_w[:p2])
    macs = MacCounter.count[0]
    assert macs == r * D * p1 + r * p1 * p2 + r * r * p2
    assert input_weight_compute_reduction(S, D, W, r, r, p1, p2) == S * D * W / macs
    weight_approx = U_w[:, :p1] @ core_w @ Vt_w[:p2]
    assert np.allclose(out.reconstruct(), dec.reconstruct() @ weight_approx)
    assert out.main.core.shape == (r, p2)                       # the new Sigma*


def test_eq10_activation_compression_against_stored_elements():
    rng = np.random.default_rng(7)
    S, D, r = 64, 96, 6
    x = activations(rng, 1, S, D, [])[0]
    dec = decompose_activation(x, r, method="svd")
    full_core = Factors(dec.main.U, np.diag(dec.main.core), dec.main.Vt)   # the paper's r1 x r2
    assert activation_compression_ratio(S, D, r, r) == S * D / full_core.n_elements
    U, s, Vt = np.linalg.svd(x, full_matrices=False)
    rect = Factors(U[:, :4], np.diag(s)[:4, :7], Vt[:7])
    assert activation_compression_ratio(S, D, 4, 7) == S * D / rect.n_elements


@pytest.mark.parametrize("D,W", [(64, 64), (96, 40), (4096, 11008)])
def test_eq11_and_eq12_weight_parameters_against_stored_elements(D, W):
    bound = max_weight_rank(D, W)

    def elements(p1, p2):
        return Factors(np.zeros((D, p1)), np.zeros((p1, p2)), np.zeros((p2, W))).n_elements

    below = math.ceil(bound) - 1
    assert elements(below, below) < D * W <= elements(math.ceil(bound), math.ceil(bound))
    assert weight_compression_ratio(D, W, 8, 5) == D * W / elements(8, 5)


def test_bad_inputs_name_the_parameter():
    x = np.ones((8, 6))
    cases = [
        (lambda: decompose_batch(x, 2), "x"),
        (lambda: decompose_activation(x, 7), "rank"),
        (lambda: decompose_activation(x, 2, method="qr"), "method"),
        (lambda: decompose_activation(x, 2, threshold=-1.0), "threshold"),
        (lambda: decompose_activation(x, 3, k=2), "k"),
        (lambda: calibrate_thresholds({"l": x}, target_fraction=1.5), "target_fraction"),
        (lambda: calibrate_thresholds({"l": x}, min_count=9), "min_count"),
        (lambda: calibrate_thresholds([], 0.03), "samples"),
        (lambda: OutlierThresholds({"a": 1.0})["b"], "layer"),
        (lambda: decompose_activation(x + np.eye(8, 6), 2).matmul(np.ones((5, 3))), "weight"),
        (lambda: input_compute_reduction(0, 4, 4, 1), "S"),
        (lambda: weight_compression_ratio(4, 4, 1.5, 1), "p1"),
        (lambda: storage_words(x), "decomposed"),
        (lambda: equal_storage_rank(8, (4, 4)), "budget"),
        (lambda: equal_storage_rank(90, (8,)), "shape"),
        (lambda: compare_equal_storage(np.zeros((8, 6)), 2, 1.0), "x"),
        (lambda: compare_equal_storage(x, 2, 0.5, weight=np.ones((5, 3))), "weight"),
    ]
    for call, parameter in cases:
        with pytest.raises(InputError) as err:
            call()
        assert err.value.parameter == parameter, parameter
    assert isinstance(decompose_activation(x, 1), DecomposedActivation)


def test_hardware_method_keeps_a_tiny_batch():
    """The hardware method scales each prompt by a power of two and takes its breakdown
    tolerance relative to the prompt's norm: a batch scaled by 1e-4 is reconstructed as well
    as the batch itself, not as zeros."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 48, 6)) @ rng.standard_normal((6, 32))
    errors = []
    for factor in (1.0, 1e-4):
        batch = x * factor
        rebuilt = reconstruct_batch(decompose_batch(batch, 6, method="hardware"))
        errors.append(np.linalg.norm(rebuilt - batch) / np.linalg.norm(batch))
    assert errors[0] < 1e-2 and abs(errors[1] - errors[0]) < 1e-3

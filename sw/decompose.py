"""Low-rank decomposition of LLM activations: the toolkit of paper sections 3 and 4.

* Per-prompt input decomposition (section 3.1): a batch ``B x S x H`` is split into its ``B``
  prompts and each ``S x H`` prompt is decomposed on its own (:func:`decompose_batch`).
* Channel-wise outlier extraction (section 4): an element is an outlier when ``|x| > T``; a
  channel (column) with at least ``min_count`` such elements is an outlier channel. Outlier
  channels are taken out before the low-rank decomposition and decomposed separately; the two
  decompositions travel together until the activation is reconstructed. ``T`` is per layer,
  calibrated offline from sample activations (:func:`calibrate_thresholds`).
* Storage accounting: :func:`storage_words` counts a decomposition in FP16 words, outlier
  term included, and :func:`compare_equal_storage` sets outlier extraction at rank ``r``
  against plain low rank at rank ``r`` and at the rank that stores as many words.
* Decomposed-preserved computation (section 3.2): a matmul ``X W`` only updates one factor, so
  its output stays decomposed: eq. 6 (input only, ``V* = V W``) is
  :meth:`DecomposedActivation.matmul`, eq. 7 (input and weight,
  ``Sigma* = Sigma_I V_I U_W Sigma_W``) is :meth:`DecomposedActivation.matmul_decomposed`.
* Compute and memory reduction ratios, eq. 8 to 12, as plain functions.

Symbols follow the paper: ``S`` sequence length, ``D`` (= ``H``) input dimension, ``W`` output
dimension, ``r1, r2`` input ranks, ``p1, p2`` weight ranks.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from dcom.config import DcomConfig
from dcom.sw.convergence import ConvergenceWarning
from dcom.sw.hwlanczos import breakdown_threshold, hardware_scale, hw_lanczos_bidiag
from dcom.sw.lanczos import lanczos_bidiag
from dcom.sw.validation import (InputError, check_choice, check_float, check_fp16_range,
                                check_int, check_matrix)

__all__ = ["METHODS", "Factors", "DecomposedActivation", "OutlierThresholds",
           "calibrate_thresholds", "outlier_channels", "decompose_activation",
           "decompose_batch", "reconstruct_batch", "storage_words", "equal_storage_rank",
           "StoragePoint", "StorageComparison", "compare_equal_storage", "input_compute_reduction",
           "input_weight_compute_reduction", "activation_compression_ratio", "max_weight_rank",
           "weight_compression_ratio"]

METHODS = ("lanczos", "hardware", "svd")
"""Decomposition engines: float64 Lanczos, the bit-exact D-com model, LAPACK SVD."""


@dataclass(frozen=True)
class Factors:
    """A factored term ``U @ core @ Vt``, optionally covering only some columns.

    Attributes
    ----------
    U : numpy.ndarray
        ``S x r1``.
    core : numpy.ndarray
        ``r1`` singular values (a diagonal core) or an ``r1 x r2`` matrix (after eq. 7).
    Vt : numpy.ndarray
        ``r2 x n``.
    columns : numpy.ndarray or None
        The channels that ``Vt``'s ``n`` columns stand for; ``None`` when ``Vt`` spans them all.
    """

    U: np.ndarray
    core: np.ndarray
    Vt: np.ndarray
    columns: np.ndarray | None = None

    @property
    def core_matrix(self) -> np.ndarray:
        """The core as a 2-D matrix."""
        return np.diag(self.core) if self.core.ndim == 1 else self.core

    @property
    def n_elements(self) -> int:
        """Numbers stored: the three factors plus the column indices."""
        extra = 0 if self.columns is None else self.columns.size
        return self.U.size + self.core.size + self.Vt.size + extra

    def dense(self, width: int) -> np.ndarray:
        """The term as an ``S x width`` matrix."""
        product = (self.U @ self.core_matrix) @ self.Vt
        if self.columns is None:
            return product
        out = np.zeros((self.U.shape[0], width))
        out[:, self.columns] = product
        return out

    def _rows_of(self, weight: np.ndarray) -> np.ndarray:
        return weight if self.columns is None else weight[self.columns]


@dataclass(frozen=True)
class DecomposedActivation:
    """One prompt's activation ``X`` (``S x width``) held as ``main + outliers`` factored terms.

    Attributes
    ----------
    main : Factors
        Low-rank decomposition of ``X`` with the outlier channels zeroed.
    outliers : Factors or None
        Separate decomposition of the outlier channels (``columns`` says which); ``None`` when
        no outlier extraction was done or no channel qualified.
    width : int
        Number of columns of ``X``.
    """

    main: Factors
    outliers: Factors | None
    width: int

    @property
    def terms(self) -> tuple:
        """The factored terms, ``main`` first."""
        return (self.main,) if self.outliers is None else (self.main, self.outliers)

    @property
    def outlier_channels(self) -> np.ndarray:
        """Indices of the extracted outlier channels (empty if none)."""
        if self.outliers is None:
            return np.zeros(0, dtype=np.intp)
        return self.outliers.columns

    @property
    def n_elements(self) -> int:
        """Numbers stored for this prompt (compare with ``S * width`` for the dense form)."""
        return sum(term.n_elements for term in self.terms)

    def reconstruct(self) -> np.ndarray:
        """The approximation of ``X``, ``S x width`` float64."""
        return sum(term.dense(self.width) for term in self.terms)

    def matmul(self, weight) -> "DecomposedActivation":
        """Decomposed-preserved ``X @ weight`` for a dense weight (paper eq. 6).

        Only the right factors change, ``V* = V weight`` (outlier term: ``V_o weight[cols]``),
        so the output is decomposed with the same ``U`` and core.

        Parameters
        ----------
        weight : numpy.ndarray
            ``width x W`` matrix.
        """
        weight = _check_weight(weight, "weight", self.width)
        return self._replace_terms([Factors(t.U, t.core, t.Vt @ t._rows_of(weight))
                                    for t in self.terms], weight.shape[1])

    def matmul_decomposed(self, U_W, s_W, Vt_W) -> "DecomposedActivation":
        """Decomposed-preserved ``X @ (U_W diag(s_W) Vt_W)`` (paper eq. 7).

        The new core is ``Sigma* = Sigma_I ((V_I U_W) Sigma_W)``, evaluated in the order that
        eq. 9 counts; the output is ``U_I Sigma* Vt_W`` (plus the same for the outlier term).

        Parameters
        ----------
        U_W : numpy.ndarray
            ``width x p1`` left factor of the weight.
        s_W : numpy.ndarray
            ``p1`` singular values, or a ``p1 x p2`` core.
        Vt_W : numpy.ndarray
            ``p2 x W`` right factor.
        """
        U_W = _check_weight(U_W, "U_W", self.width)
        s_W = np.asarray(s_W, dtype=np.float64)
        core_W = np.diag(s_W) if s_W.ndim == 1 else s_W
        Vt_W = np.asarray(Vt_W, dtype=np.float64)
        if core_W.shape[0] != U_W.shape[1] or core_W.shape[1] != Vt_W.shape[0]:
            raise InputError("s_W", f"core of shape {core_W.shape} does not join U_W "
                             f"{U_W.shape} to Vt_W {Vt_W.shape}",
                             "p1 values or a p1 x p2 matrix with U_W: D x p1, Vt_W: p2 x W")
        return self._replace_terms(
            [Factors(t.U, t.core_matrix @ ((t.Vt @ t._rows_of(U_W)) @ core_W), Vt_W)
             for t in self.terms], Vt_W.shape[1])

    def _replace_terms(self, terms: list, width: int) -> "DecomposedActivation":
        return DecomposedActivation(terms[0], terms[1] if len(terms) > 1 else None, width)


def _check_weight(weight, parameter: str, rows: int) -> np.ndarray:
    weight = check_matrix(weight, parameter).astype(np.float64, copy=False)
    if weight.shape[0] != rows:
        raise InputError(parameter, f"has {weight.shape[0]} rows",
                         f"matrices with {rows} rows (the activation's width)")
    return weight


@dataclass(frozen=True)
class OutlierThresholds:
    """The offline table of per-layer outlier thresholds.

    Attributes
    ----------
    thresholds : dict
        Layer name to threshold ``T``: an element is an outlier when ``|x| > T``.
    min_count : int
        Outlier elements that make a channel an outlier channel.
    target_fraction : float
        Fraction of channels the calibration aimed at.
    """

    thresholds: dict
    min_count: int = 1
    target_fraction: float = 0.03

    def __getitem__(self, layer) -> float:
        if layer not in self.thresholds:
            raise InputError("layer", f"{layer!r} has no calibrated threshold",
                             ", ".join(repr(name) for name in self.thresholds))
        return self.thresholds[layer]

    def to_dict(self) -> dict:
        """Plain-dict form, for a JSON file."""
        return {"thresholds": dict(self.thresholds), "min_count": self.min_count,
                "target_fraction": self.target_fraction}

    @classmethod
    def from_dict(cls, data: dict) -> "OutlierThresholds":
        """Inverse of :meth:`to_dict`."""
        return cls(dict(data["thresholds"]), int(data["min_count"]),
                   float(data["target_fraction"]))


def _channel_statistic(x: np.ndarray, min_count: int) -> np.ndarray:
    # The min_count-th largest |x| of each channel: the channel is an outlier iff this is > T.
    magnitudes = np.abs(x)
    tokens = magnitudes.shape[-2]
    return np.partition(magnitudes, tokens - min_count, axis=-2)[..., tokens - min_count, :]


def calibrate_thresholds(samples: dict, target_fraction: float = 0.03,
                         min_count: int = 1) -> OutlierThresholds:
    """Calibrate one outlier threshold per layer from sample activations (offline).

    For every sample prompt and channel the statistic is the ``min_count``-th largest magnitude
    of the channel; the layer's threshold is the ``1 - target_fraction`` quantile of these
    statistics, so that on the samples about ``target_fraction`` of the channels of a prompt
    are outlier channels (the paper observes 2 to 5 percent).

    Parameters
    ----------
    samples : dict
        Layer name to sample activations, ``S x H`` or ``B x S x H``.
    target_fraction : float
        Fraction of channels to flag, ``0 < target_fraction < 1``.
    min_count : int
        Outlier elements a channel needs, ``1 <= min_count <= S``.

    Returns
    -------
    OutlierThresholds
    """
    if not isinstance(samples, dict) or not samples:
        raise InputError("samples", "must map layer names to activations",
                         "a non-empty dict {layer: S x H or B x S x H array}")
    fraction = check_float(target_fraction, "target_fraction", 0.0, inclusive=False)
    if fraction >= 1:
        raise InputError("target_fraction", f"{fraction!r} is out of range",
                         "numbers between 0 and 1, exclusive (the paper uses 0.02 to 0.05)")
    thresholds = {}
    for layer, x in samples.items():
        x = np.asarray(x)
        if x.ndim not in (2, 3):
            raise InputError(f"samples[{layer!r}]", f"has {x.ndim} dimensions",
                             "S x H or B x S x H arrays")
        x = check_matrix(x, f"samples[{layer!r}]", ndim=x.ndim)
        count = check_int(min_count, "min_count", 1, x.shape[-2])
        statistic = _channel_statistic(x.astype(np.float64, copy=False), count)
        thresholds[layer] = float(np.quantile(statistic, 1.0 - fraction))
    return OutlierThresholds(thresholds, int(min_count), fraction)


def outlier_channels(x, threshold: float, min_count: int = 1) -> np.ndarray:
    """Channels (columns) of ``x`` with at least ``min_count`` elements ``|x| > threshold``.

    Parameters
    ----------
    x : numpy.ndarray
        ``S x H`` activation.
    threshold : float
        ``T`` of the layer, from :class:`OutlierThresholds`.
    min_count : int
        Outlier elements a channel needs.

    Returns
    -------
    numpy.ndarray
        Sorted channel indices.
    """
    x = check_matrix(x, "x")
    threshold = check_float(threshold, "threshold")
    count = check_int(min_count, "min_count", 1, x.shape[0])
    return np.flatnonzero(np.count_nonzero(np.abs(x) > threshold, axis=0) >= count)


def _factorize(x: np.ndarray, rank: int, k, method: str, config, seed) -> Factors:
    rank = min(rank, min(x.shape))
    if method == "svd":
        U, s, Vt = np.linalg.svd(x, full_matrices=False)
        return Factors(U[:, :rank], s[:rank], Vt[:rank])
    # The outlier block may need more steps than the main rank's k to reach its own rank.
    steps = None if k is None else min(max(k, rank), min(x.shape))
    if method == "hardware":
        # On 2^e x with a breakdown tolerance relative to its norm, as dcom decompose runs.
        exponent = hardware_scale(x)
        scaled = np.ldexp(x, exponent)
        U, s, Vt = hw_lanczos_bidiag(scaled, rank, steps, config=config, seed=seed,
                                     breakdown_tol=breakdown_threshold(scaled))
        s = np.ldexp(s, -exponent)
    else:
        U, s, Vt = lanczos_bidiag(x, rank, steps, seed=seed)
    if len(s) < rank:
        warnings.warn(f"{len(s)} of {rank} triplets: a {x.shape[0]} x {x.shape[1]} block broke "
                      f"down (numerical rank {len(s)})", ConvergenceWarning, stacklevel=3)
    return Factors(U, s, Vt)


def decompose_activation(x, rank: int, *, threshold: float | None = None, min_count: int = 1,
                         outlier_rank: int | None = None, k: int | None = None,
                         method: str = "lanczos", config: DcomConfig | None = None,
                         seed=0) -> DecomposedActivation:
    """Decompose one prompt's activation, optionally extracting outlier channels first.

    Parameters
    ----------
    x : array_like
        ``S x H`` activation.
    rank : int
        Rank of the main decomposition, ``1 <= rank <= min(S, H)``.
    threshold : float, optional
        Outlier threshold ``T`` of this layer; ``None`` disables outlier extraction.
    min_count : int
        Outlier elements that make a channel an outlier channel.
    outlier_rank : int, optional
        Rank of the separate decomposition of the outlier channels; ``None`` takes the full
        rank of the ``S x n_outliers`` block, which keeps them exactly (up to the method's
        rounding: float64, or FP16 for ``method="hardware"``).
    k : int, optional
        Lanczos steps (``lanczos`` and ``hardware`` methods); default ``2 rank``.
    method : {"lanczos", "hardware", "svd"}
        Float64 Lanczos, the bit-exact D-com model (needs values within FP16 range), or LAPACK.
    config : DcomConfig, optional
        Instance for ``method="hardware"``.
    seed : int or numpy.random.Generator
        Lanczos start vector seed.

    Returns
    -------
    DecomposedActivation
    """
    x = check_matrix(x, "x").astype(np.float64, copy=False)
    rank = check_int(rank, "rank", 1, min(x.shape))
    method = check_choice(method, "method", METHODS)
    if method == "hardware":
        check_fp16_range(x, "x")
    if k is not None:
        k = check_int(k, "k", rank)
    outliers = None
    if threshold is not None:
        channels = outlier_channels(x, threshold, min_count)
        if channels.size:
            block = x[:, channels]
            limit = min(block.shape)
            o_rank = limit if outlier_rank is None else check_int(outlier_rank, "outlier_rank", 1)
            kept = _factorize(block, min(o_rank, limit), k, method, config, seed)
            outliers = Factors(kept.U, kept.core, kept.Vt, channels)
            x = x.copy()
            x[:, channels] = 0.0
    return DecomposedActivation(_factorize(x, rank, k, method, config, seed), outliers,
                                x.shape[1])


def decompose_batch(x, rank: int, **options) -> list:
    """Per-prompt decomposition of a batch (paper section 3.1).

    Parameters
    ----------
    x : array_like
        ``B x S x H`` activations.
    rank : int
        Rank per prompt.
    **options
        Passed to :func:`decompose_activation` (``threshold``, ``method``, ...).

    Returns
    -------
    list of DecomposedActivation
        One per prompt, in batch order.
    """
    x = check_matrix(x, "x", ndim=3)
    return [decompose_activation(prompt, rank, **options) for prompt in x]


def reconstruct_batch(decomposed: list) -> np.ndarray:
    """Concatenate per-prompt reconstructions back into a ``B x S x H`` batch."""
    if not decomposed:
        raise InputError("decomposed", "is empty", "a non-empty list of DecomposedActivation")
    return np.stack([item.reconstruct() for item in decomposed])


# Channels that a 16-bit word can index: storage_words counts one word per column index.
_INDEX_LIMIT = 1 << 16


def storage_words(decomposed) -> int:
    """FP16 words that store a decomposition.

    Every value of ``U``, ``s`` and ``Vt`` of each term is one FP16 word and every column index
    of the outlier term one 16-bit word, so the count is
    :attr:`DecomposedActivation.n_elements`. The outlier block counts as it is held: as factors
    (at the default full rank, ``n`` channels cost ``S n + n + n^2`` values, ``n (n + 1)`` more
    than the block itself) plus its ``n`` column indices.

    Parameters
    ----------
    decomposed : DecomposedActivation
        One prompt's decomposition, from :func:`decompose_activation` or
        :func:`decompose_batch`.

    Returns
    -------
    int
    """
    if not isinstance(decomposed, DecomposedActivation):
        raise InputError("decomposed", f"is a {type(decomposed).__name__}",
                         "DecomposedActivation objects (from decompose_activation)")
    if decomposed.outlier_channels.size and decomposed.width > _INDEX_LIMIT:
        raise InputError("decomposed", f"has {decomposed.width} channels, too many for 16-bit "
                         "column indices", f"decompositions of at most {_INDEX_LIMIT} channels")
    return decomposed.n_elements


def equal_storage_rank(budget: int, shape) -> int:
    """Largest rank of a plain decomposition (no outlier extraction) that fits a storage budget.

    A plain rank-``r`` decomposition of an ``S x H`` matrix stores ``U`` (``S r``), ``s``
    (``r``) and ``Vt`` (``r H``), ``r (S + H + 1)`` words by :func:`storage_words`; the rank is
    capped at ``min(S, H)``, where the decomposition is already exact.

    Parameters
    ----------
    budget : int
        FP16 words available, at least ``S + H + 1`` (one rank).
    shape : tuple of int
        ``(S, H)``, the matrix's shape.

    Returns
    -------
    int
        ``1 <= rank <= min(S, H)``.
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise InputError("shape", f"{shape!r} is not a pair", "(S, H) pairs of integers >= 1")
    S, H = _dims(S=shape[0], H=shape[1])
    per_rank = S + H + 1
    budget = check_int(budget, "budget", per_rank)
    return min(budget // per_rank, S, H)


@dataclass(frozen=True)
class StoragePoint:
    """One decomposition of an equal-storage comparison: what it stores and how far it is off.

    Attributes
    ----------
    rank : int
        Rank of the main (low-rank) term.
    outlier_channels : int
        Channels held by the outlier term (0 for a plain decomposition).
    words : int
        Storage in FP16 words, :func:`storage_words`.
    error : float
        Relative reconstruction error ``||X - X~||_F / ||X||_F``.
    matmul_error : float or None
        Relative error of the decomposed-preserved product ``X W`` (eq. 6),
        ``||X~ W - X W||_F / ||X W||_F``; ``None`` when no weight was given.
    """

    rank: int
    outlier_channels: int
    words: int
    error: float
    matmul_error: float | None


@dataclass(frozen=True)
class StorageComparison:
    """Outlier extraction against plain low rank, at equal rank and at equal storage.

    Attributes
    ----------
    plain : StoragePoint
        Plain rank ``r``.
    extracted : StoragePoint
        Outlier extraction plus rank ``r`` (equal rank).
    equal_storage : StoragePoint
        Plain at the largest rank whose storage does not exceed ``extracted``'s.
    """

    plain: StoragePoint
    extracted: StoragePoint
    equal_storage: StoragePoint

    @property
    def extraction_pays(self) -> bool:
        """Whether outliers plus rank ``r`` is more accurate than plain at equal storage."""
        return self.extracted.error < self.equal_storage.error

    def to_dict(self) -> dict:
        """Plain-dict form, for a JSON file."""
        return {"plain": asdict(self.plain), "extracted": asdict(self.extracted),
                "equal_storage": asdict(self.equal_storage),
                "extraction_pays": self.extraction_pays}


def compare_equal_storage(x, rank: int, threshold: float, *, min_count: int = 1,
                          outlier_rank: int | None = None, weight=None,
                          method: str = "lanczos", config: DcomConfig | None = None,
                          seed=0) -> StorageComparison:
    """Decompose one prompt plainly at rank ``r``, with outlier extraction at rank ``r``, and
    plainly at the rank that stores as many words as the extraction.

    Comparing at equal rank alone leaves the outlier term's storage out; the third
    decomposition charges it. Each decomposition runs its default ``2 rank`` Lanczos steps.

    Parameters
    ----------
    x : array_like
        ``S x H`` activation.
    rank : int
        Rank ``r`` of the main decomposition, ``1 <= rank <= min(S, H)``.
    threshold : float
        Outlier threshold ``T`` of this layer, from :class:`OutlierThresholds`.
    min_count : int
        Outlier elements that make a channel an outlier channel.
    outlier_rank : int, optional
        Rank of the outlier term; ``None`` keeps the outlier channels at full rank.
    weight : numpy.ndarray, optional
        ``H x W`` weight; when given, the error of the decomposed-preserved ``X W`` is measured
        as well.
    method : {"lanczos", "hardware", "svd"}
        Decomposition engine, as in :func:`decompose_activation`.
    config : DcomConfig, optional
        Instance for ``method="hardware"``.
    seed : int or numpy.random.Generator
        Lanczos start vector seed.

    Returns
    -------
    StorageComparison
    """
    x = check_matrix(x, "x").astype(np.float64, copy=False)
    norm = np.linalg.norm(x)
    if norm == 0:
        raise InputError("x", "is all zeros", "matrices with at least one nonzero element")
    exact = None
    if weight is not None:
        weight = _check_weight(weight, "weight", x.shape[1])
        exact = x @ weight
        if not np.any(exact):
            raise InputError("weight", "gives X W = 0", "weights with X W != 0")
    engine = {"method": method, "config": config, "seed": seed}
    plain = decompose_activation(x, rank, **engine)
    extracted = decompose_activation(x, rank, threshold=threshold, min_count=min_count,
                                     outlier_rank=outlier_rank, **engine)
    matched_rank = equal_storage_rank(storage_words(extracted), x.shape)
    matched = (plain if matched_rank == plain.main.core.size
               else decompose_activation(x, matched_rank, **engine))

    def point(decomposed: DecomposedActivation) -> StoragePoint:
        error = float(np.linalg.norm(decomposed.reconstruct() - x) / norm)
        matmul_error = None if exact is None else float(
            np.linalg.norm(decomposed.matmul(weight).reconstruct() - exact)
            / np.linalg.norm(exact))
        return StoragePoint(int(decomposed.main.core.size), int(decomposed.outlier_channels.size),
                            storage_words(decomposed), error, matmul_error)

    return StorageComparison(point(plain), point(extracted), point(matched))


def _dims(**dims) -> list:
    return [check_int(value, name, 1) for name, value in dims.items()]


def input_compute_reduction(S: int, D: int, W: int, r2: int, B: int = 1) -> float:
    """Eq. 8: MACs of ``X W`` over MACs of ``V* = V W``, ``(B S D W) / (B r2 D W) = S / r2``."""
    S, D, W, r2, B = _dims(S=S, D=D, W=W, r2=r2, B=B)
    return (B * S * D * W) / (B * r2 * D * W)


def input_weight_compute_reduction(S: int, D: int, W: int, r1: int, r2: int, p1: int,
                                   p2: int) -> float:
    """Eq. 9: ``S D W / (r2 D p1 + r2 p1 p2 + r1 r2 p2)``, the MACs of ``X W`` over those of
    ``Sigma* = Sigma_I ((V_I U_W) Sigma_W)``."""
    S, D, W, r1, r2, p1, p2 = _dims(S=S, D=D, W=W, r1=r1, r2=r2, p1=p1, p2=p2)
    return (S * D * W) / (r2 * D * p1 + r2 * p1 * p2 + r1 * r2 * p2)


def activation_compression_ratio(S: int, D: int, r1: int, r2: int) -> float:
    """Eq. 10: ``S D / (S r1 + r1 r2 + r2 D)``, elements of ``X`` over those of ``U, Sigma, V``.

    The paper writes the ranks of eq. 10 as ``p1, p2``; they are the input ranks ``r1, r2``.
    """
    S, D, r1, r2 = _dims(S=S, D=D, r1=r1, r2=r2)
    return (S * D) / (S * r1 + r1 * r2 + r2 * D)


def max_weight_rank(D: int, W: int) -> float:
    """Eq. 11: the weight's parameter count drops when ``p1 = p2 = p`` is below
    ``(sqrt((D + W)^2 + 4 D W) - (D + W)) / 2``, the root of ``D p + p^2 + p W = D W``."""
    D, W = _dims(D=D, W=W)
    return (math.sqrt((D + W) ** 2 + 4 * D * W) - (D + W)) / 2


def weight_compression_ratio(D: int, W: int, p1: int, p2: int) -> float:
    """Eq. 12: ``D W / (D p1 + p1 p2 + p2 W)``, weight elements over factor elements."""
    D, W, p1, p2 = _dims(D=D, W=W, p1=p1, p2=p2)
    return (D * W) / (D * p1 + p1 * p2 + p2 * W)

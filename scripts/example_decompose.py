"""Worked example of the decomposition toolkit (paper sections 3 and 4) on activation-like data.

Usage::

    python scripts/example_decompose.py             # float64 Lanczos
    python scripts/example_decompose.py --hardware  # the bit-exact D-com model (FP32 accumulation)

A synthetic layer input (batch ``B x S x H``: low-rank structure, noise, and 3% of the channels
carrying large, token-dependent outliers, as LLM activations do) is decomposed per prompt at rank
``r``, once plainly and once with channel-wise outlier extraction whose threshold was calibrated
offline on a separate sample batch. For each it prints the reconstruction error, the error of the
decomposed-preserved matmul ``X W`` (eq. 6), the compute reduction of that matmul and the memory
reduction of the stored activation, both from eq. 8 and 10 and counted on the actual factors
(which includes the outlier channels).
"""

from __future__ import annotations

import argparse

import numpy as np

from dcom.sw.decompose import (activation_compression_ratio, calibrate_thresholds,
                               decompose_batch, input_compute_reduction)


def layer_input(rng, batch, seq, hidden, outlier_channels):
    """Activation-like batch: rank-12 structure, noise, and large outlier channels."""
    tokens = rng.standard_normal((batch, seq, 12))
    x = tokens @ rng.standard_normal((12, hidden)) * 0.4 + 0.1 * rng.standard_normal(
        (batch, seq, hidden))
    gains = rng.uniform(15.0, 40.0, outlier_channels.size)
    x[:, :, outlier_channels] = gains * (1.0 + rng.standard_normal(
        (batch, seq, outlier_channels.size)))
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--hardware", action="store_true",
                        help="decompose with the bit-exact D-com model instead of float64")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    channels = rng.choice(args.hidden, round(0.03 * args.hidden), replace=False)
    calibration = layer_input(rng, args.batch, args.seq, args.hidden, channels)
    x = layer_input(rng, args.batch, args.seq, args.hidden, channels)
    weight = rng.standard_normal((args.hidden, args.hidden)) / np.sqrt(args.hidden)
    table = calibrate_thresholds({"layer": calibration}, target_fraction=0.03)
    method = "hardware" if args.hardware else "lanczos"

    S, H, r = args.seq, args.hidden, args.rank
    print(f"batch {args.batch} x {S} x {H}, rank {r}, k = {2 * r} Lanczos steps, {method}")
    print(f"calibrated outlier threshold T = {table['layer']:.2f} (target 3% of channels)\n")
    print(f"{'':24s}{'recon err':>10s}{'X W err':>10s}{'outliers':>10s}"
          f"{'compute':>10s}{'memory':>10s}")
    print(f"{'eq. 8 / eq. 10':24s}{'':>30s}{input_compute_reduction(S, H, H, r):>9.1f}x"
          f"{activation_compression_ratio(S, H, r, r):>9.1f}x")
    for label, threshold in (("no outlier extraction", None),
                             ("outlier extraction", table["layer"])):
        parts = decompose_batch(x, r, threshold=threshold, method=method)
        recon = np.mean([np.linalg.norm(p.reconstruct() - xi) / np.linalg.norm(xi)
                         for p, xi in zip(parts, x)])
        outputs = [p.matmul(weight) for p in parts]              # decomposed-preserved, eq. 6
        exact = [xi @ weight for xi in x]
        matmul = np.mean([np.linalg.norm(o.reconstruct() - e) / np.linalg.norm(e)
                          for o, e in zip(outputs, exact)])
        n_outliers = np.mean([p.outlier_channels.size for p in parts])
        # MACs of the preserved matmul, V* = V W for every term, against the dense S H W.
        macs = np.mean([sum(t.Vt.shape[0] * t.Vt.shape[1] * H for t in p.terms) for p in parts])
        elements = np.mean([p.n_elements for p in parts])
        print(f"{label:24s}{recon:>10.4f}{matmul:>10.4f}{n_outliers / H:>9.1%} "
              f"{S * H * H / macs:>9.1f}x{S * H / elements:>9.1f}x")


if __name__ == "__main__":
    main()

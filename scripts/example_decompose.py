"""Worked example of the decomposition toolkit (paper sections 3 and 4) on activation-like data.

Usage::

    python scripts/example_decompose.py             # float64 Lanczos
    python scripts/example_decompose.py --hardware  # the bit-exact D-com model (FP32 accumulation)
    python scripts/example_decompose.py --out out/example_decompose  # where the report goes

A synthetic layer input (batch ``B x S x H``: low-rank structure, noise, and 3% of the channels
carrying large, token-dependent outliers, as LLM activations do) is decomposed per prompt at rank
``r``, once plainly and once with channel-wise outlier extraction whose threshold was calibrated
offline on a separate sample batch. For each it prints the reconstruction error, the error of the
decomposed-preserved matmul ``X W`` (eq. 6), the compute reduction of that matmul and the memory
reduction of the stored activation, both from eq. 8 and 10 and counted on the actual factors
(which includes the outlier channels).

Then, for a few fractions of outlier channels (none, 1%, 3%, 5%) and ranks ``r``, one prompt is
decomposed three ways: plain at rank ``r``, outlier extraction plus rank ``r`` (equal rank), and
plain at the largest rank whose storage in FP16 words does not exceed the extraction's (equal
storage). The table is printed and written as ``storage.json``, ``storage.md`` and
``storage-error-vs-storage.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dcom.report import Table, write_report
from dcom.sw.decompose import (activation_compression_ratio, calibrate_thresholds,
                               compare_equal_storage, decompose_batch, input_compute_reduction)

COLUMNS = ["planted", "flagged", "r", "plain words", "plain err", "plain X W err",
           "extr. words", "extr. err", "extr. X W err", "eq. rank", "eq. words", "eq. err",
           "eq. X W err", "gain"]


def layer_input(rng, batch, seq, hidden, outlier_channels):
    """Activation-like batch: rank-12 structure, noise, and large outlier channels."""
    tokens = rng.standard_normal((batch, seq, 12))
    x = tokens @ rng.standard_normal((12, hidden)) * 0.4 + 0.1 * rng.standard_normal(
        (batch, seq, hidden))
    gains = rng.uniform(15.0, 40.0, outlier_channels.size)
    x[:, :, outlier_channels] = gains * (1.0 + rng.standard_normal(
        (batch, seq, outlier_channels.size)))
    return x


class ErrorStorageChart:
    """Reconstruction error against storage, one panel per outlier fraction (for write_report)."""

    title = "Error vs storage"
    slug = "error-vs-storage"

    def __init__(self, results):
        self.results = results

    def save(self, path: Path) -> Path:
        """Render the chart to a PNG file."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fractions = sorted({item["planted_fraction"] for item in self.results})
        fig, axes = plt.subplots(1, len(fractions), figsize=(3.6 * len(fractions), 3.8),
                                 sharey=True, squeeze=False)
        for ax, fraction in zip(axes[0], fractions):
            runs = [item["comparison"] for item in self.results
                    if item["planted_fraction"] == fraction]
            # Plain rank r and plain at equal storage lie on one curve: plain low rank.
            plain = sorted((point["words"] / 1e3, point["error"]) for run in runs
                           for point in (run["plain"], run["equal_storage"]))
            ax.plot(*zip(*plain), color="tab:blue", alpha=0.4)
            ax.plot(*zip(*[(run["extracted"]["words"] / 1e3, run["extracted"]["error"])
                           for run in runs]), color="tab:red", alpha=0.4)
            for key, label, marker, color in (
                    ("plain", "plain, rank r", "o", "tab:blue"),
                    ("extracted", "outliers + rank r", "s", "tab:red"),
                    ("equal_storage", "plain, equal storage", "^", "tab:green")):
                ax.scatter([run[key]["words"] / 1e3 for run in runs],
                           [run[key]["error"] for run in runs], marker=marker, label=label,
                           color=color)
            ax.set_title(f"{fraction:.0%} outlier channels planted")
            ax.set_xlabel("storage (thousand FP16 words)")
            ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("||X - X~||_F / ||X||_F")
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def storage_comparison(args, rng, weight, method: str) -> list:
    """Equal-rank and equal-storage comparison for every outlier fraction and rank."""
    results = []
    for fraction in args.fractions:
        channels = rng.choice(args.hidden, round(fraction * args.hidden), replace=False)
        calibration = layer_input(rng, args.batch, args.seq, args.hidden, channels)
        prompt = layer_input(rng, 1, args.seq, args.hidden, channels)[0]
        # With no outliers planted, the threshold is still calibrated to flag a usual 3%.
        table = calibrate_thresholds({"layer": calibration}, target_fraction=fraction or 0.03)
        for rank in args.ranks:
            comparison = compare_equal_storage(prompt, rank, table["layer"], weight=weight,
                                               method=method)
            results.append({"planted_fraction": fraction, "rank": rank,
                            "threshold": table["layer"], "comparison": comparison.to_dict()})
    return results


def table_rows(results: list, hidden: int) -> list:
    """One row per comparison, in COLUMNS' order."""
    rows = []
    for item in results:
        run = item["comparison"]
        plain, extracted, equal = run["plain"], run["extracted"], run["equal_storage"]
        rows.append([f"{item['planted_fraction']:.0%}",
                     f"{extracted['outlier_channels'] / hidden:.1%}", item["rank"],
                     plain["words"], plain["error"], plain["matmul_error"],
                     extracted["words"], extracted["error"], extracted["matmul_error"],
                     equal["rank"], equal["words"], equal["error"], equal["matmul_error"],
                     equal["error"] / extracted["error"]])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--ranks", type=int, nargs="+", default=[5, 10, 20, 40],
                        help="ranks of the equal-storage comparison")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.01, 0.03, 0.05],
                        help="fractions of outlier channels of the equal-storage comparison")
    parser.add_argument("--out", default="out/example_decompose",
                        help="folder for storage.json, storage.md and the PNG chart")
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


    print("\nequal storage: plain rank r, outliers + rank r (extr.), plain at the largest rank "
          "whose FP16 words fit the extraction's (eq.); gain = eq. err / extr. err")
    results = storage_comparison(args, rng, weight, method)
    rows = table_rows(results, H)
    widths = [max(len(c), 7) + 2 for c in COLUMNS]
    print("".join(f"{c:>{w}s}" for c, w in zip(COLUMNS, widths)))
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        print("".join(f"{c:>{w}s}" for c, w in zip(cells, widths)))
    files = write_report(
        args.out, "storage", "Outlier extraction at equal rank and at equal storage",
        {"shape": [S, H], "method": method, "results": results},
        [Table("Relative errors and storage", COLUMNS, rows,
               notes="err: ||X - X~||_F / ||X||_F; X W err: the same for the decomposed-"
                     "preserved X W (eq. 6); words: FP16 words of U, s, Vt and the outlier "
                     "term with its column indices; gain > 1: extraction beats plain at "
                     "equal storage.")],
        [ErrorStorageChart(results)],
        [f"One {S} x {H} activation-like prompt per outlier fraction, {method} engine."])
    print(f"\nwrote {files.json}, {files.markdown}, {', '.join(map(str, files.charts))}")

if __name__ == "__main__":
    main()

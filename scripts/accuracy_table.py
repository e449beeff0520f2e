"""Measure the accuracy of the golden model's arithmetic variants; prints docs/accuracy.md's table.

Usage::

    python scripts/accuracy_table.py            # about a minute on two cores

For every matrix (rounded to FP16 first, so that all columns see the same input) and every
variant -- float64 Lanczos, FP32 accumulation, FP16 accumulation (FP16 operands and vector
storage in both) -- it runs rank-r Lanczos with k steps and reports, against LAPACK on the same
FP16 matrix in float64:

* ``sv err``: max over the top r of ``|s_i - sigma_i| / sigma_i``;
* ``recon excess``: ``||A - U S V^T||_F / ||A - A_r||_F - 1``, how far the reconstruction error
  is above the Eckart-Young optimum;
* ``orth``: loss of orthogonality ``max|U_k^T U_k - I|`` of the Lanczos basis;
* or where an FP16 run overflowed: the step and kernel the model reported.
"""

from __future__ import annotations

import argparse

import numpy as np

from dcom.config import DcomConfig
from dcom.sw import HardwareOverflowError, hw_lanczos_bidiag, lanczos_bidiag


def low_rank_plus_noise(rng, m, n, rank=16, noise=0.05):
    """Geometrically decaying rank-``rank`` signal (sigma_1 about 60 at 1024) plus noise."""
    left = rng.standard_normal((m, rank)) * np.geomspace(2.0, 0.2, rank)
    return left @ rng.standard_normal((rank, n)) * 0.5 + noise * rng.standard_normal((m, n))


def activation_like(rng, m, n, factor):
    """Low rank plus noise with 3% of the channels (columns) scaled by ``factor``."""
    a = low_rank_plus_noise(rng, m, n)
    a[:, rng.choice(n, round(0.03 * n), replace=False)] *= factor
    return a


def matrices(size: int):
    """(name, FP16 matrix) pairs; every matrix has its own seed.

    Entries of order 1 give sigma_1 near 1000 at size 1024; the "/16" versions are scaled so
    that sigma_1 stays below 256, where FP16 accumulation of the norms can survive.
    """
    half = size // 4
    yield "Gaussian", np.random.default_rng(1).standard_normal((size, size))
    yield "low rank + noise", low_rank_plus_noise(np.random.default_rng(2), size, size)
    yield "low rank + noise, /16", low_rank_plus_noise(np.random.default_rng(2), size, size) / 16
    yield "tall low rank + noise", low_rank_plus_noise(np.random.default_rng(3), 2 * size, half)
    yield "wide low rank + noise", low_rank_plus_noise(np.random.default_rng(4), half, 2 * size)
    yield ("activation, 3% channels x30",
           activation_like(np.random.default_rng(5), size, size, 30))
    for factor in (1, 3, 10, 30, 100):
        yield (f"activation /16, 3% channels x{factor}",
               activation_like(np.random.default_rng(5), size, size, factor) / 16)


def measure(a16, sigma, rank, steps, variant):
    """One table cell group: (sv err, recon excess, orth) or an overflow description.

    ``sigma`` holds the singular values of ``a16`` (LAPACK, float64).
    """
    if variant == "float64":
        U, s, Vt, info = lanczos_bidiag(a16, rank, steps, return_info=True)
    else:
        try:
            U, s, Vt, info = hw_lanczos_bidiag(a16, rank, steps, return_info=True,
                                               config=DcomConfig(acc_format=variant))
        except HardwareOverflowError as err:
            return f"overflow: step {err.step}, {err.kernel}"
    a = a16.astype(np.float64)
    sv_err = np.max(np.abs(s - sigma[:len(s)]) / sigma[:len(s)])
    excess = np.linalg.norm(a - (U * s) @ Vt) / np.sqrt(np.sum(sigma[rank:] ** 2)) - 1
    basis = np.asarray(info.U_basis, dtype=np.float64)
    orth = np.max(np.abs(basis.T @ basis - np.eye(basis.shape[1])))
    return f"{sv_err:.1e} | {excess:.1e} | {orth:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    variants = ("float64", "fp32", "fp16")
    print(f"rank r = {args.rank}, k = {args.steps} steps, {DcomConfig().describe()} "
          f"(accumulation format varied)\n")
    print("| matrix | shape | max abs | sigma_1 | variant | sv err | recon excess | orth |")
    print("|---|---|---|---|---|---|---|---|")
    for name, a in matrices(args.size):
        a16 = a.astype(np.float16)
        sigma = np.linalg.svd(a16.astype(np.float64), compute_uv=False)
        for variant in variants:
            cells = measure(a16, sigma, args.rank, args.steps, variant)
            if cells.startswith("overflow"):
                cells = f"{cells} | | "
            label = {"float64": "float64 Lanczos", "fp32": "FP32 acc",
                     "fp16": "FP16 acc"}[variant]
            print(f"| {name} | {a.shape[0]}x{a.shape[1]} | {np.max(np.abs(a16)):.3g} | "
                  f"{sigma[0]:.4g} | {label} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

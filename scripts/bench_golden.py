"""Time the bit-exact golden model: rank-10 Lanczos (k = 20 steps) on a 4096 x 4096 FP16 matrix.

Usage::

    python scripts/bench_golden.py                 # paper configuration, FP32 accumulation
    python scripts/bench_golden.py --size 2048 --acc fp16
    python scripts/bench_golden.py --check         # also compare with the float64 reference

The matrix is activation-like (low rank plus noise, a few outlier channels) and is built before
the clock starts; the timed region is one ``hw_lanczos_bidiag`` call, including the tiling of A.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dcom.config import DcomConfig
from dcom.sw import hw_lanczos_bidiag, lanczos_bidiag


def activation_like(size: int, seed: int) -> np.ndarray:
    """FP16 ``size x size`` matrix: rank-32 signal, noise, 2% of channels scaled x8."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((size, 32)) @ rng.standard_normal((32, size)) / 8
    a = signal + 0.3 * rng.standard_normal((size, size))
    a[:, rng.choice(size, max(1, size // 50), replace=False)] *= 8
    return a.astype(np.float16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="matrix is SIZE x SIZE")
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20, help="Lanczos steps k")
    parser.add_argument("--acc", choices=["fp32", "fp16"], default="fp32",
                        help="accumulation format")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true",
                        help="compare with float64 Lanczos (same k, same start) after timing")
    args = parser.parse_args()

    config = DcomConfig(acc_format=args.acc)
    a = activation_like(args.size, args.seed)
    start = time.perf_counter()
    _, s, _ = hw_lanczos_bidiag(a, args.rank, args.steps, config=config, seed=args.seed)
    elapsed = time.perf_counter() - start
    print(f"configuration: {config.describe()}")
    print(f"matrix: {args.size} x {args.size} FP16, rank {args.rank}, k = {args.steps} steps")
    print(f"top singular values: {np.array2string(s[:4], precision=4)}")
    print(f"golden model time: {elapsed:.2f} s")
    if args.check:
        _, s64, _ = lanczos_bidiag(a, args.rank, args.steps, seed=args.seed)
        print(f"max relative singular-value difference to float64 Lanczos: "
              f"{np.max(np.abs(s - s64) / s64):.2e}")


if __name__ == "__main__":
    main()

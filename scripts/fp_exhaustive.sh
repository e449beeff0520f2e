#!/usr/bin/env bash
# Full runs of the floating-point units' Verilog against the host's IEEE arithmetic:
# every operand pair of the FP16 multipliers and adder (2^32 each), every FP16 value widened,
# every FP32 value narrowed, the square root and reciprocal of every FP32 value (the scalar
# unit), and 10^9 sampled FP32 additions. Niced, since they take a while.
#
# Usage: scripts/fp_exhaustive.sh [THREADS]    (default 2; extra arguments go to the driver)
set -euo pipefail
threads="${1:-2}"
shift || true
cd "$(dirname "$0")/.."
exec nice -n 10 python -m dcom.tb.fp_exhaustive all --threads "$threads" "$@"

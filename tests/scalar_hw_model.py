"""A slow, scalar re-implementation of docs/arithmetic.md, independent of ``dcom.sw``.

Values are Python floats (IEEE doubles); rounding to FP16/FP32 goes through ``struct`` (C casts
and CPython's own binary16 packer), not NumPy. Sums are formed in double and rounded once, which
is correctly rounded for both formats (53 >= 2 * 24 + 2). Every loop follows the contract's text
literally: clusters, tiles and chunks one at a time. Only tiny cases are practical.
"""

from __future__ import annotations

import math
import struct

NAN = float("nan")


def fp16(x: float) -> float:
    """Round to binary16 (nearest even, overflow to infinity)."""
    if math.isnan(x):
        return NAN
    try:
        return struct.unpack("<e", struct.pack("<e", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def fp32(x: float) -> float:
    """Round to binary32 (nearest even, overflow to infinity)."""
    if math.isnan(x):
        return NAN
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


ROUND = {"fp16": fp16, "fp32": fp32}


def bits16(x: float) -> int:
    """FP16 bit pattern with the canonical NaN."""
    return 0x7E00 if math.isnan(x) else struct.unpack("<H", struct.pack("<e", x))[0]


def bits32(x: float) -> int:
    """FP32 bit pattern with the canonical NaN."""
    return 0x7FC00000 if math.isnan(x) else struct.unpack("<I", struct.pack("<f", x))[0]


class Arith:
    """Scalar operations in one accumulation format."""

    def __init__(self, acc: str):
        self.acc = acc
        self.rnd = ROUND[acc]

    def mul(self, a: float, b: float) -> float:
        return self.rnd(a * b)

    def add(self, a: float, b: float) -> float:
        return self.rnd(a + b)

    def tree(self, xs: list) -> float:
        while len(xs) > 1:
            xs = [self.add(xs[i], xs[i + 1]) for i in range(0, len(xs), 2)]
        return xs[0]

    def icsum(self, xs: list) -> float:
        """The pairwise tree: neighbours added level by level, an odd last element carried."""
        while len(xs) > 1:
            xs = [self.add(xs[i], xs[i + 1]) for i in range(0, len(xs) - 1, 2)] \
                + ([xs[-1]] if len(xs) % 2 else [])
        return xs[0]


class ScalarMachine:
    """The contract's kernels for one configuration and one ``M x N`` matrix."""

    def __init__(self, R, C, P, Q, f, acc, M, N):
        self.R, self.C, self.P, self.Q, self.f = R, C, P, Q, f
        self.ar = Arith(acc)
        self.M, self.N = M, N
        self.Mb = -(-M // (P * R))
        self.Nb = -(-N // (Q * C))
        self.Mp = self.Mb * P * R
        self.Np = self.Nb * Q * C

    def u_owner(self, ti):
        return ti // self.Mb, (ti % self.Mb) % self.C

    def v_owner(self, tj):
        return (tj % self.Nb) % self.R, tj // self.Nb

    def clusters(self):
        return [(r, c) for r in range(self.R) for c in range(self.C)]

    def mv(self, A, x):
        """A: Mp x Np list of lists (FP16 floats), x: Np list -> Mp list."""
        ar, P, Q = self.ar, self.P, self.Q
        y = [0.0] * self.Mp
        for r in range(self.R):
            for i in range(self.Mb):
                ti = r * self.Mb + i
                for p in range(P):
                    partials = []
                    for c in range(self.C):
                        acc = 0.0
                        for j in range(self.Nb):
                            tj = c * self.Nb + j
                            row = A[ti * P + p]
                            acc = ar.add(acc, ar.tree([ar.mul(row[tj * Q + q], x[tj * Q + q])
                                                       for q in range(Q)]))
                        partials.append(acc)
                    y[ti * P + p] = fp16(ar.icsum(partials))
        return y

    def mtv(self, A, y):
        """A: Mp x Np, y: Mp list -> Np list."""
        ar, P, Q = self.ar, self.P, self.Q
        z = [0.0] * self.Np
        for c in range(self.C):
            for j in range(self.Nb):
                tj = c * self.Nb + j
                for q in range(Q):
                    partials = []
                    for r in range(self.R):
                        acc = 0.0
                        for i in range(self.Mb):
                            ti = r * self.Mb + i
                            acc = ar.add(acc, ar.tree([ar.mul(A[ti * P + p][tj * Q + q],
                                                              y[ti * P + p]) for p in range(P)]))
                        partials.append(acc)
                    z[tj * Q + q] = fp16(ar.icsum(partials))
        return z

    def _side(self, side):
        if side == "u":
            return self.P, self.Mb * self.R, self.u_owner
        return self.Q, self.Nb * self.C, self.v_owner

    def dot(self, side, a, b):
        ar = self.ar
        width, n_chunks, owner = self._side(side)
        partials = []
        for cluster in self.clusters():
            acc = 0.0
            for chunk in range(n_chunks):
                if owner(chunk) == cluster:
                    acc = ar.add(acc, ar.tree([ar.mul(a[chunk * width + e], b[chunk * width + e])
                                               for e in range(width)]))
            partials.append(acc)
        C = self.C      # each cluster row's sum, then the rows'
        return ar.icsum([ar.icsum(partials[r * C:(r + 1) * C]) for r in range(self.R)])

    def cgs_pass(self, side, w, basis):
        """basis: list of j vectors (each a list as long as w)."""
        ar = self.ar
        j = len(basis)
        block = self.Q if side == "u" else self.P
        n_blocks = -(-j // block)
        zero = [0.0] * len(w)
        columns = [basis[l] if l < j else zero for l in range(n_blocks * block)]
        coeffs = [fp16(self.dot(side, col, w)) for col in columns]
        out = []
        for e in range(len(w)):
            acc = ar.rnd(w[e])
            for bi in range(n_blocks):
                ls = range(bi * block, (bi + 1) * block)
                acc = ar.add(acc, ar.tree([ar.mul(columns[l][e], -coeffs[l]) for l in ls]))
            out.append(fp16(acc))
        return out

    def norm(self, side, u):
        return fp32(math.sqrt(fp32(self.dot(side, u, u))))

    def scale(self, u, alpha):
        r = fp32(1.0 / alpha)
        hi = fp16(r)
        lo = fp16(fp32(r - hi))
        ar = self.ar
        return [fp16(ar.add(ar.add(0.0, ar.mul(x, hi)), ar.mul(x, lo))) for x in u]

    def lanczos(self, A, z0, k, tol):
        """Algorithm 1 with CGS2; A is M x N and z0 N long (FP16 floats). Returns alphas, betas."""
        A = [list(row) + [0.0] * (self.Np - self.N) for row in A]
        A += [[0.0] * self.Np for _ in range(self.Mp - self.M)]
        z = list(z0) + [0.0] * (self.Np - self.N)
        U, V, alphas, betas = [], [], [], []
        V.append(self.scale(z, self.norm("v", z)))
        for j in range(k):
            if j > 0:
                z = self.mtv(A, U[j - 1])
                z = self.cgs_pass("v", self.cgs_pass("v", z, V), V)
                beta = self.norm("v", z)
                if beta <= tol:
                    break
                betas.append(beta)
                V.append(self.scale(z, beta))
            u = self.mv(A, V[j])
            if j > 0:
                u = self.cgs_pass("u", self.cgs_pass("u", u, U), U)
            alpha = self.norm("u", u)
            if alpha <= tol:
                break
            alphas.append(alpha)
            U.append(self.scale(u, alpha))
        return alphas, betas, U, V

"""``dcom decompose``: the truncated SVD of a user's matrix on one or more engines, with a report.

Engines (:data:`ENGINES`):

* ``float64`` -- the float64 reference Lanczos bidiagonalization (:func:`dcom.sw.lanczos_bidiag`);
* ``golden`` -- the same algorithm in D-com's arithmetic, bit for bit
  (:func:`dcom.sw.hw_lanczos_bidiag`);
* ``isa`` -- the compiled program on the ISA simulator (:func:`dcom.sw.isa_lanczos`);
* ``verilator``, ``icarus`` -- the compiled program on the generated RTL
  (:func:`dcom.tb.decompose.rtl_lanczos`).

The hardware engines (all but ``float64``) agree word for word by construction; when more than
one is run, the report compares their alphas, betas and Lanczos bases bit by bit. Every engine
is measured against LAPACK on the matrix as given: singular values, the reconstruction error of
the rank-r factors, and its excess over the optimal rank-r error. The cycles are the
performance model's (:mod:`dcom.sw.cycles`, equal to the RTL's counters), and an RTL engine's
own counters are reported beside them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dcom.config import DcomConfig
from dcom.report import BarChart, Table, write_report
from dcom.sw.compiler import compile_lanczos, isa_lanczos
from dcom.sw.cycles import program_cycles
from dcom.sw.fparith import round_to
from dcom.sw.hwlanczos import DEFAULT_BREAKDOWN_TOL, hw_lanczos_bidiag
from dcom.sw.lanczos import LanczosInfo, check_lanczos_args, lanczos_bidiag
from dcom.sw.validation import InputError, check_matrix

__all__ = ["ENGINES", "EngineRun", "Decomposition", "load_matrix", "parse_engines", "decompose",
           "write_decomposition"]

ENGINES = ("float64", "golden", "isa", "verilator", "icarus")
#: Engines that compute in D-com's arithmetic, so agree bit for bit.
HARDWARE_ENGINES = ENGINES[1:]


@dataclass(frozen=True)
class EngineRun:
    """One engine's result.

    Attributes
    ----------
    engine : str
    U, s, Vt : numpy.ndarray
        The rank-r factors (fewer triplets after a breakdown).
    info : LanczosInfo
    seconds : float
        Wall time of the run on this machine.
    rtl_cycles : int or None
        The RTL's own cycle counter (RTL engines only).
    """

    engine: str
    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    info: LanczosInfo
    seconds: float
    rtl_cycles: int | None = None


@dataclass(frozen=True)
class Decomposition:
    """The runs of :func:`decompose` and what they are measured against.

    Attributes
    ----------
    a : numpy.ndarray
        The matrix as given (float64).
    rank, steps : int
        Triplets asked for, Lanczos steps run.
    config : DcomConfig
    exact : numpy.ndarray
        LAPACK's singular values of ``a``, all of them, descending.
    runs : list of EngineRun
    cycles : int
        Modelled cycles of the Lanczos program on ``config``, stopped where the first hardware
        engine's run stopped; 0 if only ``float64`` ran.
    """

    a: np.ndarray
    rank: int
    steps: int
    config: DcomConfig
    exact: np.ndarray
    runs: list
    cycles: int

    @property
    def optimal_error(self) -> float:
        """The optimal rank-r error ``||A - A_r||_F / ||A||_F`` (Eckart-Young)."""
        return float(np.sqrt(np.sum(self.exact[self.rank:] ** 2) / np.sum(self.exact ** 2)))

    def reconstruction_error(self, run: EngineRun) -> float:
        """``||A - U diag(s) Vt||_F / ||A||_F`` of a run's factors."""
        residual = self.a - (run.U * run.s) @ run.Vt
        return float(np.linalg.norm(residual) / np.linalg.norm(self.a))

    def singular_value_errors(self, run: EngineRun) -> np.ndarray:
        """``|s_i - sigma_i| / sigma_1`` for the triplets the run found."""
        r = len(run.s)
        return np.abs(run.s - self.exact[:r]) / self.exact[0]


def load_matrix(path: str | Path) -> np.ndarray:
    """Read a matrix from ``.npy``, ``.npz`` (its only array, or the one named ``A``) or
    ``.csv`` (comma-separated numbers, no header).

    Raises
    ------
    InputError
        If the file is missing, of another kind, unreadable, or holds no usable matrix; the
        message names the file and what is accepted.
    """
    path = Path(path)
    accepted = "a .npy, .npz or .csv file holding one 2-D real matrix"
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise InputError("matrix", f"{path} has the suffix {path.suffix or '(none)'}", accepted)
    if not path.is_file():
        raise InputError("matrix", f"{path} is not a file", accepted)
    try:
        if suffix == ".npy":
            a = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                names = list(arrays.files)
                if "A" in names:
                    a = arrays["A"]
                elif len(names) == 1:
                    a = arrays[names[0]]
                else:
                    raise InputError("matrix", f"{path} holds arrays {names}",
                                     "one array, or one named 'A'")
        else:
            a = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise InputError("matrix", f"{path} cannot be read ({exc})", accepted) from None
    if a.dtype.kind in "iu":
        a = a.astype(np.float64)
    return check_matrix(a, "matrix")


def parse_engines(engines: str | Sequence[str]) -> tuple[str, ...]:
    """``"isa,verilator"`` or a sequence of names as a tuple of distinct engines, in order.

    Raises
    ------
    InputError
        For an empty list or a name not in :data:`ENGINES`.
    """
    names = [e.strip() for e in (engines.split(",") if isinstance(engines, str) else engines)]
    if not names or any(name not in ENGINES for name in names):
        raise InputError("engine", repr(engines), "a comma-separated list of " + ", ".join(ENGINES))
    return tuple(dict.fromkeys(names))


def _run_engine(engine: str, a: np.ndarray, rank: int, steps: int, config: DcomConfig, seed,
                breakdown_tol: float) -> EngineRun:
    start = time.monotonic()
    rtl_cycles = None
    if engine == "float64":
        U, s, Vt, info = lanczos_bidiag(a, rank, steps, seed=seed, return_info=True)
    elif engine == "golden":
        U, s, Vt, info = hw_lanczos_bidiag(a, rank, steps, config=config, seed=seed,
                                           breakdown_tol=breakdown_tol, return_info=True)
    elif engine == "isa":
        U, s, Vt, info = isa_lanczos(a, rank, steps, config=config, seed=seed,
                                     breakdown_tol=breakdown_tol, return_info=True)
    else:
        from dcom.tb.decompose import rtl_lanczos
        U, s, Vt, run = rtl_lanczos(a, rank, steps, config=config, sim=engine, seed=seed,
                                    breakdown_tol=breakdown_tol, return_run=True)
        info, rtl_cycles = run.info, run.counters["cycles"]
    return EngineRun(engine, U, s, Vt, info, time.monotonic() - start, rtl_cycles)


def _model_cycles(config: DcomConfig, a: np.ndarray, steps: int, info: LanczosInfo) -> int:
    """Cycles of the Lanczos program when it stops where ``info`` says."""
    compiled = compile_lanczos(config, *a.shape, steps)
    return program_cycles(config, compiled.program, stop=compiled.breakdown_stop(info)).total


def decompose(A, rank: int, *, k: int | None = None, engines: str | Sequence[str] = ("golden",),
              config: DcomConfig | None = None, seed=0,
              breakdown_tol: float = DEFAULT_BREAKDOWN_TOL,
              progress: Callable[[str], None] | None = None) -> Decomposition:
    """Truncated SVD of ``A`` on each engine, measured against LAPACK.

    Parameters
    ----------
    A : array_like
        ``M x N`` real matrix, finite; the hardware engines round it to FP16 (magnitudes up to
        65504).
    rank : int
        Singular triplets, ``1 <= rank <= min(M, N)``.
    k : int, optional
        Lanczos steps, ``rank <= k <= min(M, N)``; default ``min(2 rank, min(M, N))``.
    engines : str or sequence of str
        Names from :data:`ENGINES`, e.g. ``"isa,verilator"``.
    config : DcomConfig, optional
        The instance; default ``DcomConfig()``.
    seed : int
        Seeds the start vector (the same on every engine).
    breakdown_tol : float
        Absolute FP32 breakdown threshold of the hardware engines.
    progress : callable, optional
        Called with a line of text as each step begins and ends.

    Returns
    -------
    Decomposition

    Raises
    ------
    InputError
        On a bad argument (the message names it and the allowed values).
    dcom.sw.CompileError
        If the matrix does not fit the configuration's memories (hardware engines).
    dcom.sw.HardwareOverflowError
        If a hardware engine overflows FP16/FP32.
    """
    a, rank, steps = check_lanczos_args(A, rank, k)
    a = np.asarray(a, dtype=np.float64)
    names = parse_engines(engines)
    config = DcomConfig() if config is None else config
    say = progress or (lambda line: None)
    if any(name in HARDWARE_ENGINES for name in names) and np.max(np.abs(a)) > 65504:
        raise InputError("A", f"has magnitudes up to {np.max(np.abs(a)):.6g}",
                         "magnitudes <= 65504 (FP16) on the hardware engines: scale it down")
    say(f"LAPACK SVD of the {a.shape[0]} x {a.shape[1]} matrix")
    exact = np.linalg.svd(a, compute_uv=False)
    runs = []
    for name in names:
        say(f"{name}: rank {rank}, k = {steps}" + ("" if name == "float64" else
                                                  f" on {config.describe()}"))
        runs.append(_run_engine(name, a, rank, steps, config, seed, breakdown_tol))
        say(f"{name}: {len(runs[-1].s)} triplets in {runs[-1].seconds:.1f} s")
    hardware = [run for run in runs if run.engine in HARDWARE_ENGINES]
    cycles = _model_cycles(config, a, steps, hardware[0].info) if hardware else 0
    return Decomposition(a, rank, steps, config, exact, runs, cycles)


def _differing_words(x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """Words of ``x`` and ``y`` whose bit patterns differ (a shape mismatch counts them all),
    and the words compared."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype != y.dtype:
        return max(x.size, y.size), max(x.size, y.size)
    width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
    return int(np.count_nonzero(x.view(width) != y.view(width))), x.size


def _comparisons(runs: list) -> list[dict]:
    """Every pair of hardware runs, word for word."""
    hardware = [run for run in runs if run.engine in HARDWARE_ENGINES]
    rows = []
    for i, first in enumerate(hardware):
        for second in hardware[i + 1:]:
            row = {"engines": [first.engine, second.engine]}
            for part in ("alphas", "betas", "U_basis", "V_basis"):
                differing, words = _differing_words(getattr(first.info, part),
                                                    getattr(second.info, part))
                row[part] = {"differing": differing, "words": words}
            row["identical"] = all(row[p]["differing"] == 0
                                   for p in ("alphas", "betas", "U_basis", "V_basis"))
            rows.append(row)
    return rows


def write_decomposition(result: Decomposition, out_dir: str | Path, *,
                        source: str = "") -> dict:
    """Write the factors and the report of :func:`decompose` into ``out_dir``.

    Files: ``factors-<engine>.npz`` (``U``, ``s``, ``Vt``) per engine, and ``decompose.json``,
    ``decompose.md`` and a PNG chart of the singular values.

    Returns
    -------
    dict
        The report's data (what ``decompose.json`` holds).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config, rank = result.config, result.rank
    fp16_error = float(np.linalg.norm(result.a - round_to(result.a, "fp16"))
                       / np.linalg.norm(result.a))
    engines = {}
    for run in result.runs:
        np.savez(out_dir / f"factors-{run.engine}.npz", U=run.U, s=run.s, Vt=run.Vt)
        errors = result.singular_value_errors(run)
        recon = result.reconstruction_error(run)
        engines[run.engine] = {
            "triplets": len(run.s), "singular_values": run.s.tolist(),
            "singular_value_errors": errors.tolist(),
            "max_singular_value_error": float(errors.max()) if len(errors) else None,
            "reconstruction_error": recon, "excess_error": recon - result.optimal_error,
            "breakdown": run.info.breakdown, "breakdown_step": run.info.breakdown_step,
            "seconds": run.seconds, "rtl_cycles": run.rtl_cycles,
        }
    comparisons = _comparisons(result.runs)
    modelled_seconds = result.cycles / (config.clock_mhz * 1e6)
    data = {
        "matrix": {"source": source, "rows": result.a.shape[0], "cols": result.a.shape[1],
                   "frobenius_norm": float(np.linalg.norm(result.a)),
                   "fp16_rounding_error": fp16_error},
        "rank": rank, "steps": result.steps, "config": config.to_dict(),
        "lapack_singular_values": result.exact[:max(rank, result.steps)].tolist(),
        "optimal_error": result.optimal_error,
        "engines": engines, "comparisons": comparisons,
        "cycles": result.cycles, "clock_mhz": config.clock_mhz,
        "modelled_seconds": modelled_seconds,
    }
    names = [run.engine for run in result.runs]
    tables = [
        Table("Singular values", ["i", "LAPACK", *names],
              [[i + 1, float(result.exact[i]),
                *[(float(run.s[i]) if i < len(run.s) else "-") for run in result.runs]]
               for i in range(rank)],
              notes="An engine that broke down returns fewer triplets (-)."),
        Table("Accuracy against LAPACK",
              ["engine", "triplets", "max |s_i - sigma_i| / sigma_1",
               "||A - U S Vt||_F / ||A||_F", "excess over optimal", "wall time (s)"],
              [[name, e["triplets"], e["max_singular_value_error"] or "-",
                e["reconstruction_error"], e["excess_error"], e["seconds"]]
               for name, e in engines.items()],
              notes=f"Optimal rank-{rank} error (Eckart-Young): {result.optimal_error:.4g}. "
                    f"Rounding the matrix to FP16 alone changes it by {fp16_error:.2g} "
                    "(relative, Frobenius)."),
    ]
    if result.cycles:
        rtl = [(name, e["rtl_cycles"]) for name, e in engines.items()
               if e["rtl_cycles"] is not None]
        tables.append(Table(
            "Time on the configuration",
            ["", "value"],
            [["configuration", config.describe()], ["modelled cycles", result.cycles],
             ["clock (MHz)", config.clock_mhz], ["modelled time (us)", modelled_seconds * 1e6],
             *[[f"{name} RTL cycle counter", cycles] for name, cycles in rtl]],
            notes="Cycles of the compiled Lanczos program from the cycle model, which equals "
                  "the RTL's counters. After a breakdown, a short program that stores the "
                  "bases found so far follows; it is not counted."))
    if comparisons:
        tables.append(Table(
            "Engines compared word for word",
            ["engines", "alphas", "betas", "U basis", "V basis", "identical"],
            [[" vs ".join(c["engines"]),
              *[f"{c[p]['differing']} of {c[p]['words']} differ"
                for p in ("alphas", "betas", "U_basis", "V_basis")],
              "yes" if c["identical"] else "NO"] for c in comparisons]))
    chart = BarChart("Singular values", [str(i + 1) for i in range(rank)],
                     {"LAPACK": result.exact[:rank].tolist(),
                      **{run.engine: [float(run.s[i]) if i < len(run.s) else 0.0
                                      for i in range(rank)] for run in result.runs}},
                     ylabel="singular value", stacked=False)
    write_report(out_dir, "decompose", f"Rank-{rank} decomposition of {source or 'the matrix'}",
                 data, tables, [chart])
    return data

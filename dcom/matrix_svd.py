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
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dcom.config import DcomConfig
from dcom.report import BarChart, Table, write_report
from dcom.sw.compiler import CompiledLanczos
from dcom.sw.convergence import (DEFAULT_TOL, Convergence, ConvergenceSettings,
                                 ConvergenceWarning, extended_run, fitting_capacity, run_programs)
from dcom.sw.cycles import program_cycles
from dcom.sw.fparith import round_to
from dcom.sw.hwlanczos import RELATIVE_BREAKDOWN_TOL, breakdown_threshold, hardware_scale
from dcom.sw.lanczos import LanczosInfo, singular_triplets
from dcom.sw.validation import FP16_MAX, InputError, check_float, check_matrix

__all__ = ["ENGINES", "EngineRun", "Decomposition", "ConvergenceWarning", "load_matrix",
           "parse_engines", "svds", "decompose", "write_decomposition", "hardware_scale",
           "BREAKDOWN_TOLS"]

ENGINES = ("float64", "golden", "isa", "verilator", "icarus")
#: Engines that compute in D-com's arithmetic, so agree bit for bit.
HARDWARE_ENGINES = ENGINES[1:]
#: Default breakdown tolerances relative to ``||A||_F``, of float64 and the hardware engines.
BREAKDOWN_TOLS = {"float64": 1e-10, "hardware": RELATIVE_BREAKDOWN_TOL}


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
        The RTL's own cycle counters, summed over the programs it ran (RTL engines only).
    convergence : Convergence
        Steps, runs, residual bounds and whether the top ``k`` converged.
    scale_exponent : int
        The hardware engines ran on ``2**scale_exponent * A`` (:func:`hardware_scale`); ``s``
        is scaled back. 0 for ``float64``.
    threshold : float
        The absolute breakdown threshold used (on the scaled matrix).
    """

    engine: str
    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    info: LanczosInfo
    seconds: float
    rtl_cycles: int | None
    convergence: Convergence
    scale_exponent: int
    threshold: float

    def warnings(self, rank: int, tol: float) -> list[str]:
        """What a user must know about this run's triplets when ``rank`` were asked for."""
        conv, messages = self.convergence, []
        if len(self.s) < rank:
            messages.append(
                f"{self.engine}: {len(self.s)} of {rank} triplets: the run broke down "
                f"({self.info.breakdown} at step {self.info.breakdown_step}), so the matrix has "
                f"numerical rank {len(self.s)} at the breakdown tolerance")
        if not conv.converged:
            limit = ""
            if conv.steps >= conv.max_steps:
                limit = f", the most steps allowed ({conv.max_steps})"
            messages.append(
                f"{self.engine}: not converged to tol={tol:g} after {conv.runs} runs and "
                f"{conv.steps} steps{limit}: largest residual {conv.history[-1][1]:.2g} of its "
                "singular value; raise maxiter or ncv")
        return messages


@dataclass(frozen=True)
class Decomposition:
    """The runs of :func:`decompose` and what they are measured against.

    Attributes
    ----------
    a : numpy.ndarray
        The matrix as given (float64).
    rank : int
        Triplets asked for.
    settings : ConvergenceSettings
        ``ncv``, ``tol``, ``maxiter`` and the steps allowed.
    config : DcomConfig
    exact : numpy.ndarray
        LAPACK's singular values of ``a``, all of them, descending.
    runs : list of EngineRun
    cycles : int
        Modelled cycles of the programs the first hardware engine ran on ``config`` (every
        segment of the converged run, and the store); 0 if only ``float64`` ran.
    """

    a: np.ndarray
    rank: int
    settings: ConvergenceSettings
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


def load_matrix(path: str | Path, parameter: str = "matrix", vector: bool = False) -> np.ndarray:
    """Read a matrix from ``.npy``, ``.npz`` (its only array, or the one named ``A``) or
    ``.csv`` (comma-separated numbers, no header); with ``vector``, a vector (1-D, or one row
    or column), returned 1-D. ``parameter`` names the file in errors.

    Raises
    ------
    InputError
        If the file is missing, of another kind, unreadable, or holds no usable matrix; the
        message names the file and what is accepted.
    """
    path = Path(path)
    accepted = (f"a .npy, .npz or .csv file holding one real {'vector' if vector else '2-D matrix'}")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise InputError(parameter, f"{path} has the suffix {path.suffix or '(none)'}", accepted)
    if not path.is_file():
        raise InputError(parameter, f"{path} is not a file", accepted)
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
                    raise InputError(parameter, f"{path} holds arrays {names}",
                                     "one array, or one named 'A'")
        else:
            a = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(parameter, f"{path} cannot be read ({exc})", accepted) from None
    if a.dtype.kind in "iu":
        a = a.astype(np.float64)
    if vector:
        if a.ndim not in (1, 2) or a.ndim == 2 and min(a.shape) != 1:
            raise InputError(parameter, f"{path} holds an array of shape {a.shape}", accepted)
        return check_matrix(a.reshape(1, -1), parameter).ravel()
    return check_matrix(a, parameter)


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


@dataclass(frozen=True)
class _Job:
    """What every engine of one :func:`decompose` shares."""

    a: np.ndarray
    settings: ConvergenceSettings         # max_steps: the memories' capacity on hardware
    config: DcomConfig
    seed: int
    v0: np.ndarray | None
    breakdown_tol: float | None
    scale: bool
    #: The program for ``settings.max_steps`` (hardware engines only).
    compiled: CompiledLanczos | None = None


def _run_engine(engine: str, job: _Job, progress) -> EngineRun:
    start = time.monotonic()
    rtl_cycles, a = None, job.a
    exponent = hardware_scale(a) if engine in HARDWARE_ENGINES and job.scale else 0
    relative = job.breakdown_tol
    if relative is None:
        relative = BREAKDOWN_TOLS["float64" if engine == "float64" else "hardware"]
    if engine == "float64":
        threshold = relative * float(np.linalg.norm(a))
    else:
        a = np.ldexp(a, exponent)
        if np.max(np.abs(a)) > FP16_MAX:
            raise InputError("A", f"has magnitudes up to {np.max(np.abs(job.a)):.6g}",
                             f"magnitudes <= {FP16_MAX:g} (FP16) on the hardware engines: "
                             "scale it down, or leave scale on")
        a = round_to(a, "fp16").astype(np.float64)
        threshold = breakdown_threshold(a, relative)
    kwargs = dict(config=job.config, seed=job.seed, v0=job.v0, threshold=threshold)
    if engine in ("float64", "golden", "isa"):
        info, convergence, _ = extended_run(engine, a, job.settings, progress=progress, **kwargs)
    else:
        from dcom.tb.decompose import rtl_extended_run
        info, convergence, _, run = rtl_extended_run(a, job.settings, sim=engine, **kwargs)
        rtl_cycles = run.counters["cycles"]
    U, s, Vt = singular_triplets(info, job.settings.rank)
    return EngineRun(engine, U, np.ldexp(s, -exponent), Vt, info, time.monotonic() - start,
                     rtl_cycles, convergence, exponent, threshold)


def _job(A, k, ncv, tol, maxiter, v0, engines, config, seed, breakdown_tol, scale):
    """Check the arguments of :func:`svds` and :func:`decompose`."""
    a = np.asarray(check_matrix(A, "A"), dtype=np.float64)
    config = DcomConfig() if config is None else config
    if breakdown_tol is not None:
        breakdown_tol = check_float(breakdown_tol, "breakdown_tol", 0.0, inclusive=False)
    settings = ConvergenceSettings.check(a.shape, k, ncv, tol, maxiter)
    compiled = None
    if any(name in HARDWARE_ENGINES for name in engines):
        # Every engine takes the same steps, so that the hardware engines agree word for word.
        compiled = fitting_capacity(config, *a.shape, settings)
        settings = replace(settings, max_steps=compiled.max_steps)
    return _Job(a, settings, config, int(seed), v0, breakdown_tol, bool(scale), compiled)


def svds(A, k: int = 6, ncv: int | None = None, tol: float = DEFAULT_TOL, v0=None,
         maxiter: int | None = None, *, engine: str = "golden", config: DcomConfig | None = None,
         seed: int = 0, breakdown_tol: float | None = None, scale: bool = True,
         return_run: bool = False):
    """The ``k`` largest singular triplets of ``A``, converged, on one engine.

    The shape is SciPy's :func:`scipy.sparse.linalg.svds`: a Lanczos run of ``ncv`` steps is
    extended (not restarted) until the Ritz residual bounds of the top ``k`` are within ``tol``
    (:mod:`dcom.sw.convergence`), on the hardware engines by resuming the program where it
    stopped.

    Parameters
    ----------
    A : array_like
        ``M x N`` real matrix, finite.
    k : int
        Singular triplets, ``1 <= k <= min(M, N)``.
    ncv : int, optional
        Lanczos steps (Krylov dimension) of the first run, ``k <= ncv <= min(M, N)``; default
        ``min(min(M, N), max(2 k + 1, 20))``.
    tol : float
        Relative accuracy: triplet ``i`` has converged when its residual bound is at most
        ``tol * s_i``; 0 runs to ``maxiter``. Default 1e-3.
    v0 : array_like, optional
        Start vector, length ``N``; default the seeded random one.
    maxiter : int, optional
        Runs at most, the first and its extensions (each adds ``max(k, 10)`` steps); default
        10. The hardware engines also stop at the steps their memories hold.
    engine : str
        One of :data:`ENGINES`.
    config : DcomConfig, optional
        The instance of the hardware engines; default ``DcomConfig()``.
    seed : int
        Seeds the start vector when ``v0`` is not given.
    breakdown_tol : float, optional
        Breakdown tolerance relative to ``||A||_F``: a norm at or below it ends the run (an
        invariant subspace; fewer than ``k`` triplets then exist). Default
        :data:`BREAKDOWN_TOLS`; on the hardware at least ``2**-15`` absolute.
    scale : bool
        Run the hardware engines on ``2**e A`` (:func:`hardware_scale`), which keeps any
        matrix inside FP16's range; the singular values are scaled back.
    return_run : bool
        Also return the :class:`EngineRun`.

    Returns
    -------
    U : numpy.ndarray
        ``M x k`` left singular vectors.
    s : numpy.ndarray
        ``k`` singular values, descending.
    Vt : numpy.ndarray
        ``k x N`` right singular vectors.
    run : EngineRun
        Only if ``return_run``.

    Warns
    -----
    ConvergenceWarning
        When fewer than ``k`` triplets exist, or they did not converge to ``tol``.

    Raises
    ------
    InputError
        On a bad argument (the message names it and the allowed values).
    dcom.sw.CompileError
        If not even ``ncv`` steps fit the configuration's memories (hardware engines).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).standard_normal((60, 40))
    >>> U, s, Vt = svds(a, k=3, engine="float64", tol=1e-8)
    >>> bool(np.allclose(s, np.linalg.svd(a, compute_uv=False)[:3]))
    True
    """
    (engine,) = parse_engines([engine])
    job = _job(A, k, ncv, tol, maxiter, v0, (engine,), config, seed, breakdown_tol, scale)
    run = _run_engine(engine, job, None)
    for message in run.warnings(job.settings.rank, job.settings.tol):
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return (run.U, run.s, run.Vt) + ((run,) if return_run else ())


def _model_cycles(job: _Job, run: EngineRun) -> int:
    """Cycles of every program a hardware run executed (its segments and the store)."""
    return sum(program_cycles(job.config, program, stop=stop).total
               for program, stop in run_programs(job.compiled, run.convergence, run.info))


def decompose(A, rank: int, *, ncv: int | None = None, tol: float = DEFAULT_TOL,
              maxiter: int | None = None, v0=None,
              engines: str | Sequence[str] = ("golden",), config: DcomConfig | None = None,
              seed=0, breakdown_tol: float | None = None, scale: bool = True,
              progress: Callable[[str], None] | None = None) -> "Decomposition":
    """Truncated SVD of ``A`` on each engine (as :func:`svds`), measured against LAPACK.

    Parameters
    ----------
    A : array_like
        ``M x N`` real matrix, finite.
    rank : int
        Singular triplets, ``1 <= rank <= min(M, N)`` (:func:`svds`'s ``k``).
    ncv, tol, maxiter, v0, config, seed, breakdown_tol, scale
        As for :func:`svds`; ``maxiter=1`` runs exactly ``ncv`` steps.
    engines : str or sequence of str
        Names from :data:`ENGINES`, e.g. ``"isa,verilator"``.
    progress : callable, optional
        Called with a line of text as each engine begins, extends and ends.

    Returns
    -------
    Decomposition

    Raises
    ------
    InputError
        On a bad argument (the message names it and the allowed values).
    dcom.sw.CompileError
        If not even ``ncv`` steps fit the configuration's memories (hardware engines).
    dcom.sw.HardwareOverflowError
        If a hardware engine overflows FP16/FP32.
    """
    names = parse_engines(engines)
    job = _job(A, rank, ncv, tol, maxiter, v0, names, config, seed, breakdown_tol, scale)
    say = progress or (lambda line: None)
    settings, a = job.settings, job.a
    say(f"LAPACK SVD of the {a.shape[0]} x {a.shape[1]} matrix")
    exact = np.linalg.svd(a, compute_uv=False)
    runs = []
    for name in names:
        say(f"{name}: rank {settings.rank}, {settings.ncv} steps, tol {settings.tol:g}, at most "
            f"{settings.max_steps} steps" + ("" if name == "float64" else
                                             f" on {job.config.describe()}"))
        run = _run_engine(name, job, say)
        runs.append(run)
        say(f"{name}: {len(run.s)} triplets after {run.convergence.steps} steps in "
            f"{run.seconds:.1f} s" + ("" if run.convergence.converged else " (not converged)"))
    hardware = [run for run in runs if run.engine in HARDWARE_ENGINES]
    cycles = _model_cycles(job, hardware[0]) if hardware else 0
    return Decomposition(a, settings.rank, settings, job.config, exact, runs, cycles)


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
            "steps": run.convergence.steps, "runs": run.convergence.runs,
            "converged": run.convergence.converged,
            "residual_bounds": np.ldexp(run.convergence.residuals, -run.scale_exponent).tolist(),
            "relative_residuals": run.convergence.relative_residuals.tolist(),
            "history": [{"steps": steps, "max_relative_residual": worst}
                        for steps, worst in run.convergence.history],
            "scale_exponent": run.scale_exponent, "breakdown_threshold": run.threshold,
            "warnings": run.warnings(rank, result.settings.tol),
        }
    comparisons = _comparisons(result.runs)
    modelled_seconds = result.cycles / (config.clock_mhz * 1e6)
    data = {
        "matrix": {"source": source, "rows": result.a.shape[0], "cols": result.a.shape[1],
                   "frobenius_norm": float(np.linalg.norm(result.a)),
                   "fp16_rounding_error": fp16_error},
        "rank": rank, "ncv": result.settings.ncv, "tol": result.settings.tol,
        "maxiter": result.settings.maxiter, "max_steps": result.settings.max_steps,
        "config": config.to_dict(),
        "lapack_singular_values": result.exact[:max(rank, result.settings.max_steps)].tolist(),
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
        Table("Convergence",
              ["engine", "steps", "runs", "converged", "largest residual / s_i",
               "steps per run", "scale 2^e", "warnings"],
              [[name, e["steps"], e["runs"], "yes" if e["converged"] else "NO",
                max(e["relative_residuals"], default=0.0),
                ", ".join(str(h["steps"]) for h in e["history"]), e["scale_exponent"],
                "; ".join(e["warnings"]) or "-"] for name, e in engines.items()],
              notes=f"Converged: every one of the top {rank} Ritz triplets has a residual bound "
                    f"at most tol={result.settings.tol:g} times its singular value. A run starts "
                    f"with ncv={result.settings.ncv} steps and is extended (resumed, not "
                    f"restarted) up to maxiter={result.settings.maxiter} runs or "
                    f"{result.settings.max_steps} steps. The hardware engines run on 2^e A."),
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
            notes="Cycles of the compiled Lanczos programs (every run of the extended "
                  "Lanczos process, and the store of the bases) from the cycle model, which "
                  "equals the RTL's counters."))
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

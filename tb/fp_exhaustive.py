"""Exhaustive and large sampled checks of the floating-point units' Verilog.

Each unit's Verilog (combinational, :data:`LANES` copies side by side in one ``fp_lanes``
module) is compiled by Verilator together with ``fp_harness.cpp``, which compares every lane
with the host CPU's IEEE 754 arithmetic. The multi-cycle scalar unit's two operations
(``sqrt_fp32``, ``recip_fp32``) run the same way on :class:`~dcom.tb.fp_designs.ScalarLanes`
(:data:`SCALAR_LANES` copies): every lane is started at once and clocked to its done, whose
timing is checked too. Builds are cached under ``<build root>/fp_harness/``
(:func:`~dcom.tb.cosim.build_root`), keyed by the Verilog, the harness source and the build
options; as with the cocotb builds, a stamp records the harness binary's size and hash, and a
binary that no longer matches it is rebuilt.

Full runs (:data:`FULL_RUNS`): every operand pair of the FP16-operand units (2**32 vectors),
every FP16 value widened and every FP32 value narrowed, every FP32 value's square root and
reciprocal, and 10**9 sampled FP32 additions (uniform bit patterns and every pairing of
special classes).

Command line::

    python -m dcom.tb.fp_exhaustive all --threads 2          # the full runs
    python -m dcom.tb.fp_exhaustive add_fp32 --count 1e7 --seed 5
    python -m dcom.tb.fp_exhaustive mul_fp16 --sample --count 16777216
    python -m dcom.tb.fp_exhaustive recip_fp32 --start 0x7e000000 --count 16777216

It prints, per unit, the vectors checked, vectors per second and mismatches, with the first
mismatches in hex, and exits with status 1 if any vector mismatched.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dcom.simulators import find
from dcom.tb.cosim import (BUILD_STAMP, HdlDesign, _locked, _record_build, _reusable,
                           amaranth_emitter, build_root, crash_note, write_verilog)
from dcom.tb.fp_designs import FPLanes, ScalarLanes
from dcom.tb.fp_reference import SCALAR_OPS, UNITS

__all__ = ["LANES", "SCALAR_LANES", "HARNESS_UNITS", "FULL_RUNS", "HarnessResult", "build_harness",
           "run_harness", "main"]

#: Copies of a combinational unit evaluated per model evaluation.
LANES = 16

#: Scalar units per model. Fewer lanes keep the model's code in the instruction cache: 8 check
#: vectors 1.2 times faster than 16, and 1.6 times faster than 32.
SCALAR_LANES = 8

#: Everything the harness checks: the combinational units and the scalar unit's operations.
HARNESS_UNITS = (*UNITS, *SCALAR_OPS)

#: Mode and vector count of each unit's full run.
FULL_RUNS = {
    "mul_fp32": ("exhaustive", 1 << 32),
    "mul_fp16": ("exhaustive", 1 << 32),
    "add_fp16": ("exhaustive", 1 << 32),
    "add_fp32": ("sample", 10 ** 9),
    "widen": ("exhaustive", 1 << 16),
    "narrow": ("exhaustive", 1 << 32),
    "sqrt_fp32": ("exhaustive", 1 << 32),
    "recip_fp32": ("exhaustive", 1 << 32),
}

_UNIT_CODES = {name: code for code, name in enumerate(
    ("mul_fp32", "mul_fp16", "add_fp16", "add_fp32", "widen", "narrow", "sqrt_fp32",
     "recip_fp32"))}
_TOP = "fp_lanes"
# Verilator's own optimizations, plus -O2 for the C++ of the model (its default is -Os).
_VERILATOR_ARGS = ["-O3", "--no-timing", "-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"]
_MAKEFLAGS = "OPT_FAST=-O2 OPT_SLOW=-O1 OPT_GLOBAL=-O1"
_BUILD_JOBS = 2
# Verilator's runtime library, the same in every harness build: compiled once and reused.
_RUNTIME_OBJECTS = ("verilated.o", "verilated_threads.o")


@dataclass
class HarnessResult:
    """What one harness run reported."""

    unit: str
    mode: str
    vectors: int
    mismatches: int
    seconds: float
    vectors_per_second: float
    returncode: int
    shown: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def passed(self) -> bool:
        """Whether every vector matched and the harness exited cleanly."""
        return self.returncode == 0 and self.mismatches == 0

    def summary(self) -> str:
        """One line: unit, mode, vectors, rate, mismatches."""
        return (f"{self.unit}: {self.mode} {self.vectors} vectors in {self.seconds:.1f} s "
                f"({self.vectors_per_second / 1e6:.1f} M vectors/s), "
                f"{self.mismatches} mismatches")


def _harness_source() -> str:
    return resources.files("dcom.tb").joinpath("fp_harness.cpp").read_text()


def build_harness(unit: str, lanes: int | None = None, fault: bool = False) -> Path:
    """Build (once) the harness binary of ``unit`` and return its path.

    Parameters
    ----------
    unit : str
        One of :data:`HARNESS_UNITS`.
    lanes : int, optional
        Copies of the unit per model evaluation; :data:`SCALAR_LANES` for the scalar unit's
        operations and :data:`LANES` for the others by default.
    fault : bool
        Build a deliberately wrong unit (see :class:`~dcom.tb.fp_designs.FPLanes` and
        :class:`~dcom.tb.fp_designs.ScalarLanes`).
    """
    if lanes is None:
        lanes = SCALAR_LANES if unit in SCALAR_OPS else LANES
    if unit in SCALAR_OPS:
        # Both operations share the Verilog; the harness drives the op port.
        make, arity = (lambda: ScalarLanes(lanes, fault)), 1
        clocked = f" -DDCOM_LATENCY={ScalarLanes.latency}"
        params = {"unit": "scalar", "lanes": lanes, "fault": fault}
    else:
        spec = UNITS[unit]
        make, arity, clocked = (lambda: FPLanes(spec, lanes, fault)), spec.arity, ""
        params = {"unit": unit, "lanes": lanes, "fault": fault}
    design = HdlDesign(_TOP, amaranth_emitter(make, _TOP), params)
    files, verilog_hash = write_verilog(design)
    verilator = find("verilator")
    source = _harness_source()
    cflags = (f"-std=c++17 -O2 -DDCOM_UNIT={_UNIT_CODES[unit]} -DDCOM_LANES={lanes} "
              f"-DDCOM_ARITY={arity}{clocked}")
    key = hashlib.sha256("\0".join(
        [verilog_hash, source, cflags, _MAKEFLAGS, verilator.version_text, *_VERILATOR_ARGS]
    ).encode()).hexdigest()[:16]
    build_dir = build_root() / "fp_harness" / f"{unit}{'-fault' if fault else ''}-{key}"
    binary = build_dir / "fp_harness"
    with _locked(build_dir.with_suffix(".lock")):
        if _reusable(build_dir, [binary]):
            return binary
        build_dir.mkdir(parents=True, exist_ok=True)
        cpp = build_dir / "fp_harness.cpp"
        cpp.write_text(source)
        # Verilator's runtime library is the same in every harness build: once compiled, its
        # objects are linked in and make is told not to build them again.
        runtime = _runtime_dir(verilator.version_text)
        reuse = all((runtime / name).is_file() for name in _RUNTIME_OBJECTS)
        makeflags = _MAKEFLAGS + (" VM_GLOBAL_FAST= VM_GLOBAL_SLOW=" if reuse else "")
        ldflags = " ".join(["-pthread", *(str(runtime / name) for name in _RUNTIME_OBJECTS
                                          if reuse)])
        command = [str(verilator.executable), "--cc", "--exe", "--build", *_VERILATOR_ARGS,
                   "--top-module", _TOP, "--prefix", "Vfp_lanes", "--Mdir", str(build_dir / "obj"),
                   "-o", str(binary), "-j", str(_BUILD_JOBS), "-MAKEFLAGS", makeflags,
                   "-CFLAGS", cflags, "-LDFLAGS", ldflags, *map(str, files), str(cpp)]
        log = build_dir / "build.log"
        with open(log, "w") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, **verilator.env}, check=False)
        if done.returncode or not binary.is_file():
            raise RuntimeError(f"Verilator build of the {unit} harness failed; log: {log}")
        if not reuse:
            _keep_runtime(build_dir / "obj", runtime)
        _record_build(build_dir / BUILD_STAMP, [binary])
    return binary


def _runtime_dir(verilator_version: str) -> Path:
    key = hashlib.sha256("\0".join([verilator_version, _MAKEFLAGS, *_VERILATOR_ARGS]).encode())
    return build_root() / "fp_harness" / f"runtime-{key.hexdigest()[:16]}"


def _keep_runtime(obj_dir: Path, runtime: Path) -> None:
    runtime.mkdir(parents=True, exist_ok=True)
    for name in _RUNTIME_OBJECTS:
        staged = runtime / f".{name}.{os.getpid()}"
        shutil.copy(obj_dir / name, staged)
        os.replace(staged, runtime / name)


_RESULT = re.compile(r"^result: .*vectors=(\d+) mismatches=(\d+) seconds=([\d.]+) "
                     r"vectors_per_second=([\d.]+)", re.M)


def run_harness(unit: str, count: int, *, mode: str = "sample", start: int = 0, seed: int = 1,
                threads: int = 1, show: int = 10, lanes: int | None = None,
                fault: bool = False) -> HarnessResult:
    """Check ``count`` vectors of ``unit`` from index ``start``; build the harness if needed.

    Parameters
    ----------
    unit : str
        A key of :data:`dcom.tb.fp_reference.UNITS`.
    count : int
        Vectors to check.
    mode : str
        ``"exhaustive"`` (vector ``i`` is operand pair ``(i >> 16, i & 0xffff)``, or the single
        operand ``i``) or ``"sample"`` (seeded random vectors and special-class pairs).
    start : int
        First vector index.
    seed : int
        Seed of the sampled vectors.
    threads : int
        Verilated models run in parallel, one thread each.
    show : int
        Mismatches to report in full.
    lanes, fault
        See :func:`build_harness`.
    """
    binary = build_harness(unit, lanes, fault)
    done = subprocess.run([str(binary), mode, str(start), str(count), str(seed), str(threads),
                           str(show)], capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    match = _RESULT.search(done.stdout)
    if match is None:
        crash = crash_note(done.returncode, binary.parent)
        raise RuntimeError(f"the {unit} harness exited with {done.returncode} without a "
                           f"result line{'; ' + crash if crash else ''}:\n{output}")
    shown = [line for line in done.stdout.splitlines() if line.startswith("mismatch:")]
    return HarnessResult(unit, mode, int(match[1]), int(match[2]), float(match[3]),
                         float(match[4]), done.returncode, shown, output)


def _count(text: str) -> int:
    """An integer written in decimal, hex (a bit pattern, ``0x7e000000``) or as ``1e9``."""
    try:
        return int(text, 0)
    except ValueError:
        return int(float(text))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 on any mismatch)."""
    parser = argparse.ArgumentParser(prog="python -m dcom.tb.fp_exhaustive",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("units", nargs="+", choices=[*HARNESS_UNITS, "all"], metavar="UNIT",
                        help=f"units to check: {', '.join(HARNESS_UNITS)}, or all")
    parser.add_argument("--count", type=_count,
                        help="vectors per unit (default: the unit's full run)")
    parser.add_argument("--start", type=_count, default=0, help="first vector index")
    parser.add_argument("--sample", action="store_true",
                        help="seeded random vectors and special-class pairs, not exhaustive")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sampled vectors")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="Verilated models run in parallel (default: up to 2)")
    parser.add_argument("--lanes", type=int,
                        help=f"copies of the unit per eval (default: {SCALAR_LANES} for the "
                             f"scalar unit's operations, else {LANES})")
    parser.add_argument("--show", type=int, default=10, help="mismatches to print")
    parser.add_argument("--inject-fault", action="store_true",
                        help="check a deliberately wrong unit: the run must fail")
    args = parser.parse_args(argv)
    units = list(HARNESS_UNITS) if "all" in args.units else args.units

    status = 0
    for unit in units:
        full_mode, full_count = FULL_RUNS[unit]
        mode = "sample" if args.sample else full_mode
        if args.count is not None:
            count = args.count
        else:
            count = full_count - args.start if mode == "exhaustive" else full_count
        started = time.monotonic()
        build_harness(unit, args.lanes, args.inject_fault)
        built = time.monotonic() - started
        result = run_harness(unit, count, mode=mode, start=args.start, seed=args.seed,
                             threads=args.threads, show=args.show, lanes=args.lanes,
                             fault=args.inject_fault)
        for line in result.shown:
            print(f"  {line}")
        print(f"{result.summary()}; build {built:.1f} s", flush=True)
        if not result.passed:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

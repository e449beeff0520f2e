"""Random D-com programs for differential testing of the RTL against the ISA simulator.

:func:`fuzz_case` draws a program of random instructions whose fields lie within their legal
ranges (or, when asked, occasionally outside them), random bank contents with special FP16 values
mixed in, and a breakdown threshold. The RTL testbench runs the program on the RTL and on
:class:`dcom.sw.isasim.IsaSimulator`, then the :attr:`FuzzCase.dump` program that stores the
buffer words the program uses into the banks, and compares everything the host can read: banks,
broadcast memory, status and stop pc.

The programs are small: counts below 4 and a window of buffer words, so that one runs in a few
thousand cycles on a 1x1 or 2x2 array with a small buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcom.config import DcomConfig
from dcom.isa import OPERANDS, SIDED_OPCODES, Instruction, Opcode, Side, Status, field_roles
from dcom.sw.isasim import check_instruction
from dcom.sw.validation import InputError, check_float, check_int

__all__ = ["FuzzCase", "fuzz_case", "random_words", "SPECIAL_FP16"]

#: FP16 bit patterns mixed into random words: signed zeros, subnormals, the normal range's
#: edges, infinities, the canonical NaN and NaNs with other signs and payloads.
SPECIAL_FP16 = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00,
                         0xBC00, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7FFF],
                        dtype=np.uint16)


def _roles(op: Opcode) -> dict[str, str]:
    """What each field of ``op`` holds (:func:`~dcom.isa.field_roles`), to draw it from a
    sensible distribution: the space of the operand it starts (the scalar words of NORM and
    SCALE apart), a small count or a stride. Fields not listed are unused: they get random
    bits, which the controller must ignore."""
    roles = field_roles(op)
    for operand in OPERANDS[op]:
        if operand.name == "scalars":
            roles[operand.first] = "scalars"
    return roles


_FIELDS = {op: _roles(op) for op in Opcode}
_BODY_OPCODES = [op for op in Opcode if op != Opcode.HALT]
_COUNTS = np.array([0, 1, 2, 3])
_COUNT_WEIGHTS = np.array([0.1, 0.4, 0.3, 0.2])
#: Breakdown thresholds drawn (FP32): most let NORMs pass, some stop every NORM or none.
_TOLS = np.array([0.0, 2.0 ** -15, 1e-3, 0.25, 1.0, 1e4, -1.0, np.nan], dtype=np.float32)
_TOL_WEIGHTS = np.array([0.2, 0.2, 0.2, 0.1, 0.1, 0.05, 0.1, 0.05])
_INVALID_KINDS = ("opcode", "side", "address")


@dataclass(frozen=True, eq=False)
class FuzzCase:
    """One random program with its inputs.

    Attributes
    ----------
    config : DcomConfig
        The instance it was drawn for.
    banks : numpy.ndarray
        ``(C, bank_depth, P*Q)`` uint16 bank contents to write before the start.
    program : tuple of Instruction
        LOADs filling the buffer window of every cluster, random instructions, HALT.
    tol : float
        The breakdown threshold (an FP32 value).
    window : int
        Buffer words ``0 .. window-1``: most instructions stay inside them.
    dump : tuple of Instruction
        STOREs of every cluster's window to the banks' top ``R * window`` words, then HALT. Run
        after :attr:`program` (whatever its status), it makes the buffers visible to the host.
    """

    config: DcomConfig
    banks: np.ndarray
    program: tuple
    tol: float
    window: int
    dump: tuple


def random_words(rng: np.random.Generator, shape, special_rate: float = 0.05) -> np.ndarray:
    """Random FP16 bit patterns: normal deviates scaled by ``2**-6`` to ``2**2``, with a
    fraction ``special_rate`` replaced by :data:`SPECIAL_FP16` patterns.

    Returns
    -------
    numpy.ndarray
        uint16 array of ``shape``.
    """
    values = rng.standard_normal(shape) * 2.0 ** rng.integers(-6, 3, shape)
    words = values.astype(np.float16).view(np.uint16)
    special = rng.random(shape) < special_rate
    words[special] = rng.choice(SPECIAL_FP16, int(special.sum()))
    return words


def _draw(rng, config: DcomConfig, op: Opcode, bounds: dict, scalars: int | None = None,
          stretch: int = 1) -> Instruction:
    """An instruction of opcode ``op``, its ``_FIELDS`` drawn below ``bounds`` (per role) and
    SCALE lanes below ``stretch`` times the lanes; NORM and SCALE mostly use the scalar words
    at ``scalars``."""
    side = int(rng.integers(0, 2))
    fields = {name: int(rng.integers(0, 1 << 16)) for name in "abcdnm"}
    lanes = config.grid_rows if side == Side.V else config.grid_cols
    for name, role in _FIELDS[op].items():
        if role == "count":
            fields[name] = int(rng.choice(_COUNTS, p=_COUNT_WEIGHTS))
        elif role == "stride":
            fields[name] = int(rng.integers(0, 4))
        elif role == "lane":
            fields[name] = int(rng.integers(0, stretch * lanes))
        elif role == "scalars":
            fields[name] = (scalars if scalars is not None and rng.random() < 0.7
                            else int(rng.integers(0, bounds["buffer"])))
        else:
            fields[name] = int(rng.integers(0, bounds[role]))
    if op not in SIDED_OPCODES:
        side = int(rng.integers(0, 1 << 8))     # ignored by the controller
    return Instruction(op, side=side, **fields)


def _bounds(config: DcomConfig, stretch: int = 1) -> dict:
    return {"buffer": stretch * config.buffer_depth, "bank": stretch * config.bank_depth,
            "cluster_row": stretch * config.cluster_rows,
            "broadcast": stretch * config.broadcast_depth}


def _valid(rng, config: DcomConfig, op: Opcode, window_config: DcomConfig,
           scalars: int) -> Instruction:
    """A valid instruction of opcode ``op``, inside the window (one in ten may go beyond)."""
    target = config if rng.random() < 0.1 else window_config
    while True:
        ins = _draw(rng, config, op, _bounds(target), scalars)
        if check_instruction(target, ins) is None:
            return ins


def _invalid(rng, config: DcomConfig) -> Instruction:
    """An instruction the controller refuses: undefined opcode, bad side or bad address."""
    kind = _INVALID_KINDS[int(rng.integers(0, len(_INVALID_KINDS)))]
    if kind == "opcode":
        return Instruction(int(rng.integers(max(Opcode) + 1, 1 << 8)))
    if kind == "side":
        op = sorted(SIDED_OPCODES)[int(rng.integers(0, len(SIDED_OPCODES)))]
        return Instruction(op, side=int(rng.integers(2, 1 << 8)))
    # Fields drawn from twice their legal ranges until one falls outside.
    candidates = [op for op in _BODY_OPCODES if _FIELDS[op]]
    while True:
        op = candidates[int(rng.integers(0, len(candidates)))]
        ins = _draw(rng, config, op, _bounds(config, 2), stretch=2)
        if check_instruction(config, ins) == Status.BAD_ADDRESS:
            return ins


def fuzz_case(config: DcomConfig, seed=0, *, length: int = 24, invalid_rate: float = 0.0,
              special_rate: float = 0.05, window: int | None = None) -> FuzzCase:
    """Draw a random program, bank contents and threshold for ``config``.

    Parameters
    ----------
    config : DcomConfig
        The instance (small: 1x1 or 2x2 clusters, tens of buffer words).
    seed : int or numpy.random.Generator
        Seeds every draw.
    length : int
        Random instructions between the LOADs and the HALT; every run of ten covers all ten
        opcodes other than HALT.
    invalid_rate : float
        Probability that an instruction is invalid (BAD_OPCODE or BAD_ADDRESS); the first one
        stops the program.
    special_rate : float
        Fraction of bank lanes holding special values (:data:`SPECIAL_FP16`).
    window : int, optional
        Buffer words most instructions use and :attr:`FuzzCase.dump` stores; default
        ``min(buffer_depth, bank_depth // (2 R))``.

    Returns
    -------
    FuzzCase

    Raises
    ------
    InputError
        On a bad argument (a ``length`` whose program would not fit ``program_depth``), or a
        configuration whose banks cannot hold the window of every cluster row besides the data
        words.
    """
    if not isinstance(config, DcomConfig):
        raise InputError("config", f"{type(config).__name__} is not a configuration",
                         "dcom.config.DcomConfig instances")
    rng = np.random.default_rng(seed)
    length = check_int(length, "length", 0, config.program_depth - config.cluster_rows - 1)
    invalid_rate = check_float(invalid_rate, "invalid_rate", 0.0)
    special_rate = check_float(special_rate, "special_rate", 0.0)
    R, C = config.cluster_rows, config.cluster_cols
    most = min(config.buffer_depth, config.bank_depth // (2 * R))
    if most < 2:
        raise InputError("config", f"bank_depth={config.bank_depth} leaves no room for a "
                         f"buffer window of 2 words per cluster row besides the data",
                         f"bank_depth >= {4 * R} and buffer_depth >= 2")
    window = most if window is None else check_int(window, "window", 2, most)
    data_words = config.bank_depth - R * window
    # Valid here means valid in config, touching only the window and the banks' data words.
    window_config = config.replace(buffer_depth=window, bank_depth=data_words)
    scalars = int(rng.integers(0, window - 1))

    program = [Instruction(Opcode.LOAD, a=int(rng.integers(0, data_words - window + 1)), b=0,
                           n=window, m=r) for r in range(R)]
    for start in range(0, length, len(_BODY_OPCODES)):
        for op in rng.permutation(_BODY_OPCODES)[:length - start]:
            if rng.random() < invalid_rate:
                program.append(_invalid(rng, config))
            else:
                program.append(_valid(rng, config, Opcode(op), window_config, scalars))
    program.append(_draw(rng, config, Opcode.HALT, {}))     # unused fields hold random bits

    dump = [Instruction(Opcode.STORE, a=0, b=data_words + r * window, n=window, m=r)
            for r in range(R)] + [Instruction(Opcode.HALT)]
    banks = random_words(rng, (C, config.bank_depth, config.macs_per_cluster), special_rate)
    tol = float(rng.choice(_TOLS, p=_TOL_WEIGHTS))
    return FuzzCase(config, banks, tuple(program), tol, window, tuple(dump))

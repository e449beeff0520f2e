"""Instruction-level simulator of a whole D-com instance, bit for bit (docs/isa.md).

:class:`IsaSimulator` holds the state the instruction set defines -- memory banks, cluster
buffers, broadcast memory, the breakdown threshold, program memory, status and program counter
(the accumulators hold nothing an instruction leaves behind) -- and executes a program one instruction at a time. Every
instruction is executed whole, vectorized over clusters and over its steps, with the primitives
of :mod:`dcom.sw.fparith`, so that each expanded cluster command computes exactly what
:class:`dcom.sw.clustermodel.ClusterModel` computes: trees over the grid axis of a path,
``RESTART`` as ``+0 ⊕ t``, ``PRELOAD`` as ``widen``, write-backs rounded to FP16 with the
canonical NaN; reductions across a cluster row or column are :func:`~dcom.sw.fparith.icsum` in
cluster order, across all clusters :func:`~dcom.sw.fparith.grid_icsum`.

Conventions shared with the RTL controller (``dcom.hw.top``), from docs/isa.md
("Clarifications"):

* A row-path command broadcasts row 0 of its B word down the grid columns (``Broadcast.ROW``), a
  column-path command column 0 along the grid rows (``Broadcast.COL``). Row-path results (one
  per grid row) are written to a column of a word, column-path results to a row.
* The steps of an instruction (MV: tile rows; MTV: tile columns; PROJ: blocks; UPDATE and SCALE:
  slots; BCAST: copies, source inner) take effect in order: a step reads what earlier steps
  wrote. The simulator executes all steps at once unless one step could read or overwrite a word
  another step writes (:func:`dcom.isa.steps_interfere`), in which case it runs them one by
  one.
* An MV, MTV, PROJ or NORM whose loops are empty does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcom.config import DcomConfig
from dcom.isa import (OPERANDS, SIDED_OPCODES, Instruction, Opcode, Side, Status,
                      steps_interfere)
from dcom.sw.fparith import (fold_sum, grid_icsum, icsum, multiply, round_to, to_bits,
                             tree_sum)
from dcom.sw.hwkernels import reciprocal_split
from dcom.sw.validation import InputError

__all__ = ["IsaSimulator", "Span", "footprint", "check_instruction"]

# Cluster paths, named after the broadcast each uses (clustermodel.BROADCASTS).
_ROW, _COL = "ROW", "COL"
_SIGN = np.uint16(0x8000)
#: Every FP16 bit pattern's value in float32 (exact): widening by table lookup is about twice
#: as fast as NumPy's float16 conversion, and ``multiply`` takes pre-widened operands.
_WIDEN = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)


@dataclass(frozen=True)
class Span:
    """Words (or indices) of one space that an instruction touches: an
    :class:`~dcom.isa.Operand` evaluated for one instruction.

    Attributes
    ----------
    space : str
        ``"buffer"`` (every cluster's buffer, same addresses), ``"bank"``, ``"broadcast"``,
        ``"cluster_row"`` (a LOAD/STORE row ``m``) or ``"lane"`` (a SCALE lane ``m``).
    first : int
        First word.
    count : int
        Number of words.
    stride : int or None
        ``None`` for ``first .. first+count-1``; else the words ``first + s * stride``.
    access : str
        ``"read"``, ``"write"``, or ``"update"`` (read and written back by the same step).
    """

    space: str
    first: int
    count: int
    stride: int | None = None
    access: str = "read"

    @property
    def last(self) -> int:
        """Last word touched (``first - 1`` when empty)."""
        return self.first + (self.count - 1) * (1 if self.stride is None else self.stride)


def footprint(config: DcomConfig, ins: Instruction) -> tuple[Span, ...]:
    """Every span instruction ``ins`` touches (its :data:`~dcom.isa.OPERANDS`), for step
    ordering and hazards.

    Parameters
    ----------
    config : DcomConfig
    ins : Instruction
        An instruction with a defined opcode.

    Returns
    -------
    tuple of Span
    """
    return tuple(Span(operand.space, getattr(ins, operand.first),
                      operand.count.evaluate(ins, config),
                      None if operand.stride is None else getattr(ins, operand.stride),
                      operand.access)
                 for operand in OPERANDS[Opcode(ins.op)])


def check_instruction(config: DcomConfig, ins: Instruction) -> Status | None:
    """The controller's checks before executing ``ins`` (docs/isa.md, "Errors").

    Returns
    -------
    Status or None
        ``BAD_OPCODE`` for an undefined opcode or a side other than 0 and 1 on an opcode that
        has a side; ``BAD_ADDRESS`` if an operand does not fit its space
        (:meth:`~dcom.isa.Operand.fits`); ``None`` if ``ins`` may execute.
    """
    if ins.opcode is None or (ins.opcode in SIDED_OPCODES and ins.side > Side.V):
        return Status.BAD_OPCODE
    if not all(operand.fits(ins, config) for operand in OPERANDS[ins.opcode]):
        return Status.BAD_ADDRESS
    return None


class IsaSimulator:
    """The architectural state of a D-com instance and an interpreter of its instructions.

    Parameters
    ----------
    config : DcomConfig
        The instance.
    vectorize : bool
        Execute the steps of an instruction together when they cannot interfere (the default).
        ``False`` runs every step on its own: slower, and a check of the former.

    Attributes
    ----------
    banks : numpy.ndarray
        ``(C, bank_depth, P*Q)`` uint16: FP16 bit patterns of the memory banks, one per cluster
        column; the host reads and writes them directly.
    buffers : numpy.ndarray
        ``(R, C, buffer_depth, P*Q)`` uint16: the clusters' shared buffers, lane ``i Q + j`` at
        grid position ``(i, j)``.
    broadcast : numpy.ndarray
        ``(broadcast_depth,)`` uint32: FP32 bit patterns of the broadcast memory.
    program : list of Instruction
        Program memory (``program_depth`` entries, all-zero words, i.e. HALT, after reset).
    tol : numpy.float32
        The breakdown threshold register.
    status : Status
        ``IDLE`` after reset, ``BUSY`` while a program runs, then the reason it stopped.
    pc : int
        Program counter: the next instruction.
    stop_pc : int
        Where the program stopped: the HALT, the failing instruction, the NORM that stopped it,
        or ``program_depth`` for ``BAD_PC``.
    executed : int
        Instructions executed since the last start (a failing one does not count).
    """

    def __init__(self, config: DcomConfig, *, vectorize: bool = True):
        if not isinstance(config, DcomConfig):
            raise InputError("config", f"{type(config).__name__} is not a configuration",
                             "dcom.config.DcomConfig instances")
        self.config = config
        self.vectorize = bool(vectorize)
        R, C = config.cluster_rows, config.cluster_cols
        lanes = config.macs_per_cluster
        self.banks = np.zeros((C, config.bank_depth, lanes), dtype=np.uint16)
        self.buffers = np.zeros((R, C, config.buffer_depth, lanes), dtype=np.uint16)
        self.broadcast = np.zeros(config.broadcast_depth, dtype=np.uint32)
        self.program = [Instruction(Opcode.HALT)] * config.program_depth
        self.tol = np.float32(0)
        self.status = Status.IDLE
        self.pc = 0
        self.stop_pc = 0
        self.executed = 0
        self._execute = {
            Opcode.HALT: self._halt, Opcode.ZERO: self._zero, Opcode.LOAD: self._load,
            Opcode.STORE: self._store, Opcode.MV: self._mv, Opcode.MTV: self._mtv,
            Opcode.PROJ: self._proj, Opcode.UPDATE: self._update, Opcode.NORM: self._norm,
            Opcode.SCALE: self._scale, Opcode.BCAST: self._bcast,
        }

    # ---- host side ---------------------------------------------------------------------------

    def write_banks(self, images, address: int = 0) -> None:
        """Host writes: ``images[c]`` (``words x P*Q`` uint16) into bank ``c`` from ``address``.

        Raises
        ------
        InputError
            If the images do not have one word array per bank or do not fit.
        """
        images = np.asarray(images)
        C, depth, lanes = self.banks.shape
        if images.ndim != 3 or images.shape[0] != C or images.shape[2] != lanes:
            raise InputError("images", f"shape {images.shape} is not one word array per bank",
                             f"arrays of shape ({C}, words, {lanes})")
        if not 0 <= address <= depth - images.shape[1]:
            raise InputError("address", f"{images.shape[1]} words from {address} do not fit",
                             f"0 to {depth - images.shape[1]}")
        self.banks[:, address:address + images.shape[1]] = images

    def broadcast_values(self) -> np.ndarray:
        """The broadcast memory as float32 values."""
        return self.broadcast.view(np.float32)

    def load_program(self, program) -> None:
        """Host writes: ``program`` (Instructions or encoded integers) into program memory from
        address 0; later entries keep their contents.

        Raises
        ------
        InputError
            If the program is longer than ``program_depth``.
        """
        program = [ins if isinstance(ins, Instruction) else Instruction.decode(int(ins))
                   for ins in program]
        if len(program) > self.config.program_depth:
            raise InputError("program", f"has {len(program)} instructions",
                             f"at most program_depth={self.config.program_depth}")
        self.program[:len(program)] = program

    def run(self, program=None, tol=None, max_instructions: int | None = None) -> Status:
        """Start at pc 0 and execute until the program stops.

        Parameters
        ----------
        program : sequence of Instruction or int, optional
            Loaded first with :meth:`load_program`; by default program memory is run as it is.
        tol : float, optional
            New value of the breakdown threshold register (rounded to FP32); by default the
            register keeps its value.
        max_instructions : int, optional
            Pause after this many instructions (status stays ``BUSY``; :meth:`resume`
            continues). Programs always end: there are no jumps.

        Returns
        -------
        Status
        """
        if program is not None:
            self.load_program(program)
        if tol is not None:
            self.tol = np.float32(tol)
        self.status, self.pc, self.stop_pc, self.executed = Status.BUSY, 0, 0, 0
        return self.resume(max_instructions)

    def resume(self, max_instructions: int | None = None) -> Status:
        """Execute until the program stops, or for at most ``max_instructions`` instructions."""
        count = 0
        while self.status == Status.BUSY and (max_instructions is None
                                              or count < max_instructions):
            self.step()
            count += 1
        return self.status

    def step(self) -> None:
        """Check and execute the instruction at ``pc`` (does nothing unless ``BUSY``)."""
        if self.status != Status.BUSY:
            return
        if self.pc >= self.config.program_depth:
            self._stop(Status.BAD_PC, self.pc)
            return
        ins = self.program[self.pc]
        error = check_instruction(self.config, ins)
        if error is not None:
            self._stop(error, self.pc)
            return
        self.pc += 1
        self.executed += 1
        self._execute[ins.op](ins)

    def _stop(self, status: Status, pc: int) -> None:
        self.status, self.stop_pc = status, pc

    # ---- datapath helpers ---------------------------------------------------------------------

    def _trees(self, a_words, b_words, path: str, negate: bool = False) -> np.ndarray:
        """Tree outputs of MULTIPLY commands on A words and B words (broadcast against each
        other): ``(..., P)`` row sums for the row path, ``(..., Q)`` column sums otherwise."""
        P, Q = self.config.grid_rows, self.config.grid_cols
        a = _WIDEN[a_words].reshape(a_words.shape[:-1] + (P, Q))
        b = _WIDEN[b_words ^ _SIGN if negate else b_words]
        operand = b[..., None, :Q] if path == _ROW else b[..., ::Q, None]
        return tree_sum(multiply(a, operand, self.config.acc_format),
                        axis=-1 if path == _ROW else -2)

    def _lanes(self, path: str, lane: int) -> np.ndarray:
        """Lanes a path's accumulators are written to (and preloaded from): column ``lane``
        for the row path (WRITE_ROWS), row ``lane`` for the column path (WRITE_COLS)."""
        P, Q = self.config.grid_rows, self.config.grid_cols
        if path == _ROW:
            return np.arange(P) * Q + lane
        return lane * Q + np.arange(Q)

    def _grid(self, first: int, outer: int, inner: int, stride: int | None = None) -> np.ndarray:
        """Words ``first + o stride + i`` (``stride`` defaults to ``inner``) as an
        ``(R, C, outer, inner, P*Q)`` array."""
        stride = inner if stride is None else stride
        words = first + stride * np.arange(outer)[:, None] + np.arange(inner)[None, :]
        return self.buffers[:, :, words]

    def _in_steps(self, ins: Instruction, count: int, body) -> None:
        """Run ``body(steps)`` for the steps ``0 .. count-1`` (a slice): all at once, or one at
        a time when they may interfere, so that each sees the writes of the earlier ones."""
        if count == 0:
            return
        if self.vectorize and not steps_interfere(ins, self.config):
            body(slice(0, count))
        else:
            for step in range(count):
                body(slice(step, step + 1))

    @staticmethod
    def _fp16_bits(values) -> np.ndarray:
        return to_bits(round_to(values, "fp16"))

    # ---- instructions --------------------------------------------------------------------------

    def _halt(self, ins):
        self._stop(Status.DONE, self.pc - 1)

    def _zero(self, ins):
        self.buffers[:, :, ins.a:ins.a + ins.n] = 0

    def _load(self, ins):
        self.buffers[ins.m, :, ins.b:ins.b + ins.n] = self.banks[:, ins.a:ins.a + ins.n]

    def _store(self, ins):
        self.banks[:, ins.b:ins.b + ins.n] = self.buffers[ins.m, :, ins.a:ins.a + ins.n]

    def _mv(self, ins):
        a, b, c, n, m = ins.a, ins.b, ins.c, ins.n, ins.m
        R, C = self.config.cluster_rows, self.config.cluster_cols
        if m == 0:
            return

        def tile_rows(steps):
            i = np.arange(n)[steps]
            tiles = self._grid(a, n, m)[:, :, steps]                         # (R, C, k, m, PQ)
            x = self.buffers[:, :, None, b:b + m]                            # (R, C, 1, m, PQ)
            partial = fold_sum(self._trees(tiles, x, _ROW), axis=3)          # (R, C, k, P)
            y = icsum(partial, axis=1)                                       # (R, k, P)
            # Owner of tile row i in cluster row r: (r, i mod C), slot i div C, column 0.
            self.buffers[np.arange(R)[:, None, None], (i % C)[None, :, None],
                         (c + i // C)[None, :, None], self._lanes(_ROW, 0)] = self._fp16_bits(y)

        self._in_steps(ins, n, tile_rows)

    def _mtv(self, ins):
        a, b, c, n, m = ins.a, ins.b, ins.c, ins.n, ins.m
        R, C = self.config.cluster_rows, self.config.cluster_cols
        if n == 0:
            return

        def tile_cols(steps):
            j = np.arange(m)[steps]
            tiles = self._grid(a, n, m)[:, :, :, steps]                      # (R, C, n, k, PQ)
            y = self.buffers[:, :, b:b + n, None]                            # (R, C, n, 1, PQ)
            partial = fold_sum(self._trees(tiles, y, _COL), axis=2)          # (R, C, k, Q)
            z = icsum(partial, axis=0)                                       # (C, k, Q)
            # Owner of tile column j in cluster column c: (j mod R, c), slot j div R, row 0.
            self.buffers[(j % R)[None, :, None], np.arange(C)[:, None, None],
                         (c + j // R)[None, :, None], self._lanes(_COL, 0)] = self._fp16_bits(z)

        self._in_steps(ins, m, tile_cols)

    def _proj(self, ins):
        a, b, c, d, n, m = ins.a, ins.b, ins.c, ins.d, ins.n, ins.m
        path = _COL if ins.side == Side.U else _ROW     # a dot product along the vector's chunk
        if n == 0:
            return

        def blocks(steps):
            basis = self._grid(a, n, m, d)[:, :, :, steps]                   # (R, C, n, kk, PQ)
            vec = self.buffers[:, :, b:b + n, None]                          # (R, C, n, 1, PQ)
            partial = fold_sum(self._trees(basis, vec, path), axis=2)        # (R, C, kk, L)
            coefficients = grid_icsum(partial)                               # (kk, L)
            # U coefficients go to row 0 of the word, V coefficients to column 0.
            self.buffers[:, :, c + np.arange(m)[steps, None], self._lanes(path, 0)] = \
                self._fp16_bits(coefficients)

        self._in_steps(ins, m, blocks)

    def _update(self, ins):
        a, b, c, d, n, m = ins.a, ins.b, ins.c, ins.d, ins.n, ins.m
        path = _ROW if ins.side == Side.U else _COL     # elementwise along the vector's chunk
        lanes = self._lanes(path, 0)

        def slots(steps):
            vectors = self.buffers[:, :, c:c + n][:, :, steps]               # (R, C, k, PQ)
            preload = round_to(vectors[..., lanes].view(np.float16), self.config.acc_format)
            basis = self._grid(a, n, m, d)[:, :, steps]                      # (R, C, k, m, PQ)
            coefficients = self.buffers[:, :, None, b:b + m]                 # (R, C, 1, m, PQ)
            acc = fold_sum(self._trees(basis, coefficients, path, negate=True), axis=3,
                           init=preload)
            vectors[..., lanes] = self._fp16_bits(acc)

        self._in_steps(ins, n, slots)

    def _norm(self, ins):
        a, b, n, m = ins.a, ins.b, ins.n, ins.m
        path = _COL if ins.side == Side.U else _ROW
        if n == 0:
            return
        vec = self.buffers[:, :, a:a + n]                                    # (R, C, n, PQ)
        partial = fold_sum(self._trees(vec, vec, path), axis=2)              # (R, C, L)
        square = grid_icsum(partial[..., 0])
        with np.errstate(invalid="ignore"):
            alpha = round_to(np.sqrt(round_to(square, "fp32")), "fp32")
        self.broadcast[m] = to_bits(alpha)
        if not np.isfinite(alpha):
            self._stop(Status.OVERFLOW, self.pc - 1)
        elif alpha <= self.tol:
            self._stop(Status.BREAKDOWN, self.pc - 1)
        else:
            for offset, part in enumerate(reciprocal_split(alpha)):
                self.buffers[:, :, b + offset] = 0
                self.buffers[:, :, b + offset, 0] = to_bits(part)

    def _scale(self, ins):
        a, b, c, d, n, m = ins.a, ins.b, ins.c, ins.d, ins.n, ins.m
        path = _ROW if ins.side == Side.U else _COL

        def slots(steps):
            s = np.arange(n)[steps]
            vectors = self.buffers[:, :, a:a + n][:, :, steps]               # (R, C, k, PQ)
            scalars = self.buffers[:, :, None, b:b + 2]                      # (R, C, 1, 2, PQ)
            acc = fold_sum(self._trees(vectors[:, :, :, None], scalars, path), axis=3)
            bits = self._fp16_bits(acc)                                      # (R, C, k, L)
            vectors[..., self._lanes(path, 0)] = bits
            self.buffers[:, :, (c + s * d)[:, None], self._lanes(path, m)] = bits

        self._in_steps(ins, n, slots)

    def _bcast(self, ins):
        a, b, n = ins.a, ins.b, ins.n
        R, C = self.config.cluster_rows, self.config.cluster_cols
        sources = R if ins.side == Side.V else C

        def copies(steps):
            t = np.arange(n * sources)[steps]
            slot, source = t // sources, t % sources
            if ins.side == Side.U:      # word a+slot of (r, source) to all of cluster row r
                words = self.buffers[:, source, a + slot][:, None]           # (R, 1, k, PQ)
            else:                       # word a+slot of (source, c) to all of cluster column c
                words = self.buffers[source, :, a + slot].transpose(1, 0, 2)[None]
            self.buffers[:, :, b + t] = words

        self._in_steps(ins, n * sources, copies)


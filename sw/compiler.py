"""Compiles Lanczos bidiagonalization into a D-com program (docs/isa.md), and runs it.

:func:`compile_lanczos` lays out every cluster's buffer and the memory banks for an ``M x N``
matrix and ``k`` steps, and emits the program: the recurrence of
:func:`dcom.sw.lanczos.golub_kahan`, step for step, with the kernels of docs/arithmetic.md. The
host writes :meth:`CompiledLanczos.bank_images`, the breakdown threshold and the program, starts
it, and turns what the program leaves in the banks and the broadcast memory into a
:class:`~dcom.sw.lanczos.LanczosInfo` with :meth:`CompiledLanczos.extract`. :func:`isa_lanczos`
does all of that on the ISA simulator and returns what :func:`dcom.sw.hw_lanczos_bidiag` returns,
bit for bit.

The program, with ``S_u``/``S_v`` the vector slots a cluster owns and ``B_u = ceil(k/Q)``,
``B_v = ceil(k/P)`` the coefficient blocks of the U and V bases::

    LOAD (one per cluster row: A tiles and the start vector's chunks)
    ZERO (u slots and both bases)
    NORM V -> result 0; SCALE V -> V basis row 0
    for j in 0 .. k-1:
        if j > 0:
            BCAST U (u_{j-1} to the y words); MTV -> v slots
            (PROJ V, UPDATE V) twice; NORM V -> beta_{j-1}; SCALE V -> V basis row j
        BCAST V (v_j to the x words); MV -> u slots
        if j > 0: (PROJ U, UPDATE U) twice
        NORM U -> alpha_j; SCALE U -> U basis column j
    STORE (one per cluster row: both bases); HALT

PROJ and UPDATE address basis word ``(slot s, block b)`` as ``a + s m + b``: the slot stride is
the block count ``m``. A basis that grows by blocks cannot keep one layout under a stride that
changes, so every PROJ and UPDATE covers all ``B`` blocks of the final basis. The blocks not yet
written hold +0: their coefficients come out +0 and their update terms are -0, which leave every
finite accumulator unchanged, so the results equal those of ``ceil(j/Q)`` blocks bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcom.config import DcomConfig
from dcom.isa import FIELDS, Instruction, IsaError, Opcode, ResultIndex, Side, Status
from dcom.sw.fparith import from_bits, round_to, to_bits
from dcom.sw.hwkernels import TiledMatrix
from dcom.sw.hwlanczos import (DEFAULT_BREAKDOWN_TOL, MIN_BREAKDOWN_TOL, HardwareOverflowError,
                               start_vector)
from dcom.sw.isasim import IsaSimulator
from dcom.sw.lanczos import LanczosInfo, check_lanczos_args, singular_triplets
from dcom.sw.mapping import MatrixMapping
from dcom.sw.validation import InputError, check_float, check_int

__all__ = ["CompileError", "Region", "CompiledLanczos", "compile_lanczos", "isa_lanczos"]


class CompileError(ValueError):
    """A matrix, step count or configuration the compiler cannot fit into the machine.

    Attributes
    ----------
    parameter : str
        The configuration parameter (or instruction field) that is too small.
    needed : int
        The value the program needs.
    available : int
        The value there is.
    """

    def __init__(self, parameter: str, needed: int, available: int, message: str):
        self.parameter = parameter
        self.needed = needed
        self.available = available
        super().__init__(message)


@dataclass(frozen=True)
class Region:
    """Words ``start .. start+size-1`` of a memory."""

    start: int
    size: int

    @property
    def stop(self) -> int:
        """One past the last word."""
        return self.start + self.size


def _instruction(op: Opcode, **fields) -> Instruction:
    """An Instruction, or a CompileError naming the field that cannot hold its value."""
    try:
        return Instruction(op, **fields)
    except IsaError:
        widths = dict(FIELDS)
        name, value = next((k, v) for k, v in fields.items() if v >= 1 << widths[k])
        limit = (1 << widths[name]) - 1
        raise CompileError(f"{op.name}.{name}", value, limit,
                           f"instruction field {name} of {op.name} would need {value}, beyond "
                           f"its {widths[name]} bits (at most {limit})") from None


def _owner_chunks(mapping: MatrixMapping, side: str) -> np.ndarray:
    """``(R, C, slots)``: the chunk each owner slot holds, ``-1`` where it holds none."""
    count = mapping.n_chunks(side)
    return mapping.chunks_by_cluster(side, np.arange(1, count + 1)) - 1


@dataclass(frozen=True, eq=False)
class CompiledLanczos:
    """A compiled Lanczos run: program, memory maps, and the host's input and output formats.

    Attributes
    ----------
    mapping : MatrixMapping
        Placement of the matrix (and the configuration, ``mapping.config``).
    steps : int
        Lanczos steps ``k``.
    program : tuple of Instruction
        The whole run, ending in the STOREs of both bases and HALT.
    store_program : tuple of Instruction
        Those STOREs and HALT alone: after a BREAKDOWN stop the host runs it to bring the
        bases found so far to the banks (the buffers keep their contents between programs).
    buffer_map : dict of str to Region
        Every cluster's buffer, in words: ``tiles`` (``A`` tile ``(i, j)`` at ``i Nb + j``),
        ``v_slots`` (owned v chunks, row 0), ``u_slots`` (owned u chunks, column 0),
        ``u_basis`` (slot-major, ``u_blocks`` words per slot, column ``l`` of block ``b`` is
        ``u_{b Q + l}``), ``v_basis`` (likewise with rows, ``v_blocks`` per slot), ``x_words``
        (the v chunks of the cluster column, for MV), ``y_words`` (the u chunks of the cluster
        row, for MTV), ``coefficients`` (PROJ results) and ``scalars`` (NORM's hi, lo).
    bank_map : dict of str to Region
        Every bank, in words: ``load`` (what the host writes: per cluster row ``r``, the tiles
        and v slots of cluster ``(r, c)`` in buffer order) and ``store`` (what the program
        leaves: per cluster row, the U and V basis words).
    u_slots, v_slots : int
        Vector slots per cluster.
    u_blocks, v_blocks : int
        Coefficient blocks of the bases.
    max_steps : int
        Steps the layout holds (``steps`` unless compiled with ``max_steps``).
    v_capacity : int
        ``v`` vectors the layout holds: ``max_steps``, plus one for the residual half step when
        compiled with ``max_steps`` and ``max_steps < N``.
    """

    mapping: MatrixMapping
    steps: int
    program: tuple
    store_program: tuple
    buffer_map: dict
    bank_map: dict
    u_slots: int
    v_slots: int
    u_blocks: int
    v_blocks: int
    max_steps: int
    v_capacity: int

    @property
    def config(self) -> DcomConfig:
        """The instance compiled for."""
        return self.mapping.config

    def segment(self, first: int, last: int, residual: bool) -> tuple:
        """A program that takes the run from ``first`` to ``last`` steps and halts.

        With ``first = 0`` it begins with the loads; with ``first > 0`` it continues what an
        earlier segment, ending at ``first`` with its residual half step, left in the buffers
        (the buffers and the broadcast memory keep their contents between programs). With
        ``residual`` it ends with the first half of step ``last``: ``beta_{last-1}`` (result
        ``2 last``) and ``v_last``, for :func:`dcom.sw.lanczos.ritz_residuals`. The bases stay
        in the buffers: :attr:`store_program` brings them to the banks.

        Raises
        ------
        InputError
            If ``first < last <= max_steps`` does not hold, or ``residual`` needs a ``v``
            vector the layout has no room for.
        CompileError
            If the program does not fit ``program_depth``.
        """
        last = check_int(last, "last", 1, self.max_steps)
        first = check_int(first, "first", 0, last - 1)
        if residual and last >= self.v_capacity:
            raise InputError("residual", f"after step {last}",
                             f"a residual half step after at most {self.v_capacity - 1} steps "
                             "(compile with max_steps, below the column count)")
        emitter = _Emitter(self.config, self.buffer_map, self.bank_map, self.u_slots,
                           self.v_slots, self.u_blocks, self.v_blocks, self.mapping.row_tiles,
                           self.mapping.col_tiles)
        if first == 0:
            emitter.prologue()
        for j in range(first, last):
            if 0 < j != first:
                emitter.next_v(j)
            emitter.next_u(j)
        if residual:
            emitter.next_v(last)
        emitter.emit(Opcode.HALT)
        return emitter.take(f"steps {first} to {last}")

    def bank_images(self, a, start_vector) -> np.ndarray:
        """The words the host writes into the banks before starting the program.

        Parameters
        ----------
        a : array_like
            The ``M x N`` matrix; rounded to FP16 unless it is float16 already.
        start_vector : array_like
            The ``N`` elements of the (unnormalized) start vector, rounded likewise.

        Returns
        -------
        numpy.ndarray
            ``(C, words, P*Q)`` uint16: ``[c]`` goes to bank ``c`` from address 0; ``words``
            is the size of ``bank_map["load"]``. LOAD with cluster row ``r`` moves row ``r``'s
            part to the tiles and v slots of clusters ``(r, *)``.

        Raises
        ------
        InputError
            If a shape does not match the compiled matrix.
        """
        cfg, mapping = self.config, self.mapping
        R, C, P, Q = cfg.cluster_rows, cfg.cluster_cols, cfg.grid_rows, cfg.grid_cols
        a = round_to(np.asarray(a), "fp16")
        start = round_to(np.asarray(start_vector), "fp16")
        if start.ndim != 1:
            raise InputError("start_vector", f"has shape {start.shape}",
                             f"vectors of length {mapping.cols}")
        tiles = to_bits(mapping.tiles(mapping.pad_matrix(a)))          # (R, Mb, P, C, Nb, Q)
        tiles = tiles.transpose(3, 0, 1, 4, 2, 5).reshape(C, R, -1, P * Q)
        chunks = mapping.pad_vector("v", start).reshape(-1, Q)
        slots = np.zeros((R, C, self.v_slots, P * Q), dtype=np.uint16)
        slots[..., :Q] = to_bits(mapping.chunks_by_cluster("v", chunks))   # row 0
        images = np.concatenate([tiles, slots.transpose(1, 0, 2, 3)], axis=2)
        return images.reshape(C, -1, P * Q)

    def extract(self, banks, broadcast, status: Status, stop_pc: int, *,
                program=None, steps: int | None = None,
                residual: bool = False) -> LanczosInfo:
        """The results of a run, as :func:`dcom.sw.hw_lanczos_bidiag` reports them.

        Parameters
        ----------
        banks : numpy.ndarray or None
            ``(C, words, P*Q)`` uint16 bank contents from address 0, covering
            ``bank_map["store"]``, after the program and the :attr:`store_program` ran; None
            reads the norms only, and the bases come out +0 (between the segments of an
            extended run, whose convergence test needs only ``B``).
        broadcast : numpy.ndarray
            FP32 bit patterns (uint32) of the broadcast memory from word 0.
        status : Status
            How the program stopped.
        stop_pc : int
            Where it stopped.
        program : sequence of Instruction, optional
            The program that stopped (default :attr:`program`; a :meth:`segment` for an
            extended run).
        steps : int, optional
            Steps a program that ran to its end completed (default :attr:`steps`).
        residual : bool
            That program ended with a residual half step: ``beta_{steps-1}`` becomes
            ``residual_beta``.

        Returns
        -------
        LanczosInfo
            FP32 ``alphas``/``betas``, FP16 bases, rank and breakdown as in
            :func:`dcom.sw.lanczos.golub_kahan`.

        Raises
        ------
        HardwareOverflowError
            If the program stopped with OVERFLOW; it names the step and the NORM
            (``norm_u``/``norm_v``) that found the infinity or NaN.
        InputError
            If the program stopped in another way than DONE or BREAKDOWN at one of its NORMs.
        """
        program = self.program if program is None else program
        steps = self.steps if steps is None else steps
        breakdown, step, results = None, None, 2 * steps + residual
        if status in (Status.BREAKDOWN, Status.OVERFLOW):
            norm = program[stop_pc] if 0 <= stop_pc < len(program) else None
            if norm is None or norm.op != Opcode.NORM:
                raise InputError("stop_pc", f"{stop_pc} is not a NORM of this program",
                                 "the stop pc the program reported")
            results = norm.m
            step = results // 2
            kind = "start" if results == 0 else ("alpha" if results % 2 else "beta")
            if status == Status.OVERFLOW:
                raise HardwareOverflowError(step, "norm_u" if kind == "alpha" else "norm_v",
                                            self.config.acc_format)
            breakdown = kind
        elif status != Status.DONE:
            raise InputError("status", f"the program stopped with {Status(status).name} at "
                             f"pc {stop_pc}", "DONE, BREAKDOWN or OVERFLOW")
        values = from_bits(np.asarray(broadcast)[:results], "fp32")
        alphas, betas = values[1::2], values[2::2]
        residual_beta = None
        if breakdown is None and residual:
            residual_beta, betas = betas[-1], betas[:-1]
        v_count = 0 if breakdown == "start" else len(alphas) + (breakdown == "alpha")
        if banks is None:
            u_basis = np.zeros((self.mapping.rows, len(alphas)), dtype=np.float16)
            v_basis = np.zeros((self.mapping.cols, v_count), dtype=np.float16)
        else:
            u_basis, v_basis = self._bases(np.asarray(banks))
        return LanczosInfo(alphas.copy(), betas.copy(), len(alphas), breakdown, step,
                           u_basis[:, :len(alphas)], v_basis[:, :v_count], residual_beta)

    def breakdown_stop(self, info: LanczosInfo, program=None) -> tuple[Status, int] | None:
        """Where ``program`` (default :attr:`program`) stops for the run ``info`` describes:
        ``(Status.BREAKDOWN, pc of the NORM that found it)``, or None if every step ran (the
        inverse of :meth:`extract`'s reading of the stop, for
        :func:`dcom.sw.cycles.program_cycles`)."""
        if info.breakdown is None:
            return None
        program = self.program if program is None else program
        results = {"start": 0, "alpha": 2 * info.breakdown_step + 1,
                   "beta": 2 * info.breakdown_step}[info.breakdown]
        pcs = [pc for pc, ins in enumerate(program)
               if ins.op == Opcode.NORM and ins.m == results]
        if len(pcs) != 1:
            raise InputError("info", f"a {info.breakdown} breakdown at step "
                             f"{info.breakdown_step}", "a stop of this program")
        return Status.BREAKDOWN, pcs[0]

    def _bases(self, banks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored bases as ``M x (B_u Q)`` and ``N x (B_v P)`` float16 arrays."""
        cfg, mapping = self.config, self.mapping
        R, C, P, Q = cfg.cluster_rows, cfg.cluster_cols, cfg.grid_rows, cfg.grid_cols
        store = self.bank_map["store"]
        words = banks[:, store.start:store.stop].reshape(C, R, -1, P, Q).transpose(1, 0, 2, 3, 4)
        u_words = self.u_slots * self.u_blocks
        bases = []
        for side, part, blocks, rows in (("u", words[:, :, :u_words], self.u_blocks, P),
                                         ("v", words[:, :, u_words:], self.v_blocks, Q)):
            part = part.reshape(R, C, -1, blocks, P, Q)          # (r, c, slot, block, p, q)
            owner = _owner_chunks(mapping, side)
            held = owner >= 0
            # u: element p of chunk, column b Q + q; v: element q of chunk, row b P + p.
            per_chunk = part[held].transpose((0, 2, 1, 3) if side == "u" else (0, 3, 1, 2))
            chunks = np.zeros((mapping.n_chunks(side),) + per_chunk.shape[1:], dtype=np.uint16)
            chunks[owner[held]] = per_chunk
            full = chunks.reshape(mapping.length(side), -1)
            bases.append(mapping.unpad_vector(side, from_bits(full, "fp16")))
        return bases[0], bases[1]


class _Emitter:
    """Builds the pieces of Lanczos programs for one layout (see the module docstring)."""

    def __init__(self, config: DcomConfig, buf: dict, banks: dict, u_slots: int, v_slots: int,
                 u_blocks: int, v_blocks: int, mb: int, nb: int):
        self.config, self.buf, self.banks = config, buf, banks
        self.u_slots, self.v_slots = u_slots, v_slots
        self.u_blocks, self.v_blocks, self.mb, self.nb = u_blocks, v_blocks, mb, nb
        self.load_words = buf["v_slots"].stop - buf["tiles"].start       # per cluster row
        self.store_words = buf["v_basis"].stop - buf["u_basis"].start
        self.program: list = []

    def emit(self, op, **fields) -> None:
        self.program.append(_instruction(op, **fields))

    def _reorthogonalize(self, side: Side, j: int) -> None:
        # Against the j vectors stored so far: their blocks, at the basis' slot stride.
        slots, basis, lanes, blocks = self._side(side)
        for _ in range(2):              # CGS2
            self.emit(Opcode.PROJ, side=side, a=basis.start, b=slots.start,
                      c=self.buf["coefficients"].start, d=blocks, n=slots.size, m=-(-j // lanes))
            self.emit(Opcode.UPDATE, side=side, a=basis.start, b=self.buf["coefficients"].start,
                      c=slots.start, d=blocks, n=slots.size, m=-(-j // lanes))

    def _normalize(self, side: Side, j: int, index: int) -> None:
        slots, basis, lanes, blocks = self._side(side)
        scalars = self.buf["scalars"].start
        self.emit(Opcode.NORM, side=side, a=slots.start, b=scalars, n=slots.size, m=index)
        self.emit(Opcode.SCALE, side=side, a=slots.start, b=scalars, c=basis.start + j // lanes,
                  d=blocks, n=slots.size, m=j % lanes)

    def _side(self, side: Side):
        if side == Side.U:
            return self.buf["u_slots"], self.buf["u_basis"], self.config.grid_cols, self.u_blocks
        return self.buf["v_slots"], self.buf["v_basis"], self.config.grid_rows, self.v_blocks

    def prologue(self) -> None:
        """LOAD, ZERO and ``v_0``."""
        buf = self.buf
        for r in range(self.config.cluster_rows):
            self.emit(Opcode.LOAD, a=r * self.load_words, b=buf["tiles"].start,
                      n=self.load_words, m=r)
        self.emit(Opcode.ZERO, a=buf["u_slots"].start,
                  n=buf["v_basis"].stop - buf["u_slots"].start)
        self._normalize(Side.V, 0, ResultIndex.START)

    def next_v(self, j: int) -> None:
        """``beta_{j-1}`` and ``v_j`` (``j >= 1``)."""
        buf = self.buf
        self.emit(Opcode.BCAST, side=Side.U, a=buf["u_slots"].start, b=buf["y_words"].start,
                  n=self.u_slots)
        self.emit(Opcode.MTV, a=buf["tiles"].start, b=buf["y_words"].start,
                  c=buf["v_slots"].start, n=self.mb, m=self.nb)
        self._reorthogonalize(Side.V, j)
        self._normalize(Side.V, j, ResultIndex.beta(j - 1))

    def next_u(self, j: int) -> None:
        """``alpha_j`` and ``u_j``."""
        buf = self.buf
        self.emit(Opcode.BCAST, side=Side.V, a=buf["v_slots"].start, b=buf["x_words"].start,
                  n=self.v_slots)
        self.emit(Opcode.MV, a=buf["tiles"].start, b=buf["x_words"].start,
                  c=buf["u_slots"].start, n=self.mb, m=self.nb)
        if j > 0:
            self._reorthogonalize(Side.U, j)
        self._normalize(Side.U, j, ResultIndex.alpha(j))

    def store(self) -> None:
        """Both bases to the banks, then HALT."""
        for r in range(self.config.cluster_rows):
            self.emit(Opcode.STORE, a=self.buf["u_basis"].start,
                      b=self.banks["store"].start + r * self.store_words, n=self.store_words, m=r)
        self.emit(Opcode.HALT)

    def take(self, what: str) -> tuple:
        """The program built so far (checked against ``program_depth``), and a new one begun."""
        program, self.program = tuple(self.program), []
        if len(program) > self.config.program_depth:
            raise CompileError("program_depth", len(program), self.config.program_depth,
                               f"program_depth={self.config.program_depth} is too small: "
                               f"{what} needs {len(program)} instructions")
        return program


def compile_lanczos(config: DcomConfig, rows: int, cols: int, steps: int, *,
                    max_steps: int | None = None) -> CompiledLanczos:
    """Compile ``steps`` steps of Lanczos bidiagonalization of an ``rows x cols`` matrix.

    Parameters
    ----------
    config : DcomConfig
        The instance.
    rows, cols : int
        Matrix shape ``M x N`` (padded per :class:`~dcom.sw.mapping.MatrixMapping`).
    steps : int
        Lanczos steps ``k``, ``1 <= k <= min(M, N)``.
    max_steps : int, optional
        Lay the memories out for extending the run up to this many steps
        (:meth:`CompiledLanczos.segment`), with room for the ``v`` vector of the residual half
        step after the last; ``steps <= max_steps <= min(M, N)``. By default the layout holds
        ``steps`` steps and no more.

    Returns
    -------
    CompiledLanczos

    Raises
    ------
    CompileError
        If the run does not fit: buffer_depth, bank_depth, broadcast_depth or program_depth too
        small, or an address or count beyond the 16-bit instruction fields. The message names
        the parameter, what is needed and what there is.
    InputError
        On a bad argument.
    """
    mapping = MatrixMapping(config, rows, cols)
    steps = check_int(steps, "steps", 1, min(rows, cols))
    extendable = max_steps is not None
    capacity = check_int(max_steps, "max_steps", steps, min(rows, cols)) if extendable else steps
    v_count = min(capacity + 1, cols) if extendable else capacity
    results = capacity + v_count
    R, C, P, Q = config.cluster_rows, config.cluster_cols, config.grid_rows, config.grid_cols
    Mb, Nb = mapping.row_tiles, mapping.col_tiles
    u_slots, v_slots = mapping.chunks_per_cluster("u"), mapping.chunks_per_cluster("v")
    u_blocks, v_blocks = -(-capacity // Q), -(-v_count // P)
    what = f"this {rows}x{cols} matrix with {capacity} Lanczos steps"

    sizes = {"tiles": Mb * Nb, "v_slots": v_slots, "u_slots": u_slots,
             "u_basis": u_slots * u_blocks, "v_basis": v_slots * v_blocks,
             "x_words": v_slots * R, "y_words": u_slots * C,
             "coefficients": max(u_blocks, v_blocks), "scalars": 2}
    buf, start = {}, 0
    for name, size in sizes.items():
        buf[name] = Region(start, size)
        start += size
    if start > config.buffer_depth:
        raise CompileError("buffer_depth", start, config.buffer_depth,
                           f"buffer_depth={config.buffer_depth} is too small: {what} needs "
                           f"{start} words per cluster")
    load_words = buf["v_slots"].stop - buf["tiles"].start
    store_words = buf["v_basis"].stop - buf["u_basis"].start
    banks = {"load": Region(0, R * load_words), "store": Region(R * load_words, R * store_words)}
    if banks["store"].stop > config.bank_depth:
        raise CompileError("bank_depth", banks["store"].stop, config.bank_depth,
                           f"bank_depth={config.bank_depth} is too small: {what} needs "
                           f"{banks['store'].stop} words per bank")
    if results > config.broadcast_depth:
        raise CompileError("broadcast_depth", results, config.broadcast_depth,
                           f"broadcast_depth={config.broadcast_depth} is too small: {capacity} "
                           f"Lanczos steps need {results} words for the norms")

    emitter = _Emitter(config, buf, banks, u_slots, v_slots, u_blocks, v_blocks, Mb, Nb)
    emitter.prologue()
    for j in range(steps):
        if j > 0:
            emitter.next_v(j)
        emitter.next_u(j)
    emitter.store()
    program = emitter.take(what)
    emitter.store()
    return CompiledLanczos(mapping, steps, program, emitter.take(what), buf, banks, u_slots,
                           v_slots, u_blocks, v_blocks, capacity, v_count)


def prepare_lanczos(A, rank: int, k: int | None, config: DcomConfig | None, seed,
                    breakdown_tol: float) -> tuple[CompiledLanczos, np.ndarray, int, float]:
    """Check the arguments of a compiled Lanczos run (as :func:`isa_lanczos` takes them) and
    compile it; ``(compiled, bank images, rank, breakdown threshold)``."""
    a, rank, steps = check_lanczos_args(A, rank, k)
    config = DcomConfig() if config is None else config
    tol = check_float(breakdown_tol, "breakdown_tol", MIN_BREAKDOWN_TOL)
    compiled = compile_lanczos(config, *a.shape, steps)
    images = compiled.bank_images(TiledMatrix(a, config).values, start_vector(a.shape[1], seed))
    return compiled, images, rank, tol


def isa_lanczos(A, rank: int, k: int | None = None, *, config: DcomConfig | None = None,
                seed=0, breakdown_tol: float = DEFAULT_BREAKDOWN_TOL, return_info: bool = False):
    """Truncated SVD by Lanczos bidiagonalization, compiled and run on the ISA simulator.

    The conventions are those of :func:`dcom.sw.hw_lanczos_bidiag`, and so are the values, bit
    for bit (``alphas``, ``betas`` and the FP16 bases): the same start vector, the same kernels,
    the same breakdown test on the FP32 norms (the threshold register holds ``breakdown_tol``
    rounded to FP32, as NumPy compares it with a float32 norm).

    Parameters
    ----------
    A : array_like
        ``M x N`` real matrix, finite, magnitudes <= 65504; rounded to FP16.
    rank : int
        Singular triplets to return, ``1 <= rank <= min(M, N)``.
    k : int, optional
        Lanczos steps, ``rank <= k <= min(M, N)``; default ``min(2 rank, min(M, N))``.
    config : DcomConfig, optional
        The instance; default ``DcomConfig()``.
    seed : int or numpy.random.Generator
        Seeds the start vector.
    breakdown_tol : float
        Absolute FP32 breakdown threshold, at least ``2**-15``.
    return_info : bool
        Also return the :class:`LanczosInfo`.

    Returns
    -------
    U, s, Vt : numpy.ndarray
        float64 singular triplets (fewer than ``rank`` after a breakdown).
    info : LanczosInfo
        Only if ``return_info``.

    Raises
    ------
    HardwareOverflowError
        When a NORM finds an infinity or NaN. The NORM follows the kernel that overflowed in the
        same step, so the step is the golden model's; the kernel is named ``norm_u`` or
        ``norm_v``.
    CompileError
        If the run does not fit the configuration.
    InputError
        On a bad argument.
    """
    compiled, images, rank, tol = prepare_lanczos(A, rank, k, config, seed, breakdown_tol)
    sim = IsaSimulator(compiled.config)
    sim.write_banks(images)
    status = sim.run(compiled.program, tol)
    stop_pc = sim.stop_pc
    if status == Status.BREAKDOWN:
        sim.run(compiled.store_program)
    info = compiled.extract(sim.banks, sim.broadcast, status, stop_pc)
    result = singular_triplets(info, rank)
    return result + (info,) if return_info else result

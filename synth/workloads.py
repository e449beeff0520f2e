"""The workloads whose simulated activity gives the power figures: one Lanczos step.

Power is measured on what D-com exists for: the two matrix-vector products of a Lanczos
bidiagonalization step, ``A v`` (MV) and ``A^T u`` (MTV), on an activation-like FP16 matrix
(low rank plus noise, with a few outlier channels, the structure the paper decomposes) and on
real Lanczos vectors (``v`` a random unit vector, ``u = A v / ||A v||``).

For a cluster the command streams are those the ISA's MV and MTV expand to (``docs/isa.md``):
per tile row, ``MULTIPLY ROW`` with ``RESTART`` then ``ACCUMULATE`` over the tile columns and
a write-back of the row partials; per tile column the same on the column path with ``COL``.
The systolic array (``dcom.hw.systolic``) computes the same two products on the same matrix
and vectors, with its weight tiles loaded from ``A^T`` (for MV) and ``A`` (for MTV).

The tiles and vectors are first written into the buffer through the fill port; that phase is
outside the measured window, which covers the commands until the last one retires. The results
are read back afterwards and checked against the golden models (``dcom.sw.clustermodel``,
``dcom.sw.systolicmodel``).

A whole instance (``dcom.hw.top``) runs a compiled Lanczos bidiagonalization instead: the host
writes the banks and the program, starts it, and the window runs from the start to the stop,
so that the banks, the broadcast memory, the buses, the reduction network, the controller and
the scalar unit all take part; the norms and stored bases are checked against the ISA
simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from dcom.config import DcomConfig
from dcom.hw.cluster import encode_command
from dcom.isa import Register, Space, Status
from dcom.hw.systolic import SystolicArray, encode_systolic_command, systolic_command_layout
from dcom.sw.clustermodel import ClusterCommand, ClusterModel
from dcom.sw.compiler import compile_lanczos
from dcom.sw.cycles import program_cycles
from dcom.sw.fparith import round_to, to_bits
from dcom.sw.hwkernels import TiledMatrix
from dcom.sw.hwlanczos import DEFAULT_BREAKDOWN_TOL, start_vector
from dcom.sw.isasim import IsaSimulator
from dcom.sw.systolicmodel import SystolicModel, matrix_vector_schedule, matrix_vector_tiles

from .gatesim import GateSimError, Stimulus

__all__ = ["activation_matrix", "LanczosStep", "lanczos_step", "Workload", "cluster_workload",
           "systolic_workload", "top_workload"]


def activation_matrix(rows: int, cols: int, rng: np.random.Generator, rank: int = 8,
                      noise: float = 0.05, outlier_fraction: float = 0.03,
                      outlier_scale: float = 30.0) -> np.ndarray:
    """An FP16 matrix shaped like an LLM activation: low rank plus noise, with outlier
    channels.

    A geometrically decaying rank-``rank`` signal plus Gaussian noise; ``outlier_fraction`` of
    the columns (channels) are scaled by ``outlier_scale``, the structure the paper's outlier
    extraction targets; by default 3 % of the channels at x30 (docs/power.md, "The workload").
    """
    left = rng.standard_normal((rows, rank)) * np.geomspace(2.0, 0.2, rank)
    a = left @ rng.standard_normal((rank, cols)) * 0.5 + noise * rng.standard_normal((rows, cols))
    outliers = rng.choice(cols, max(1, round(outlier_fraction * cols)), replace=False)
    a[:, outliers] *= outlier_scale
    return round_to(a, "fp16")


@dataclass(frozen=True)
class LanczosStep:
    """The operands of one Lanczos step: an activation block ``a`` and the vectors ``v``
    (random, unit) and ``u = A v / ||A v||``, all FP16."""

    a: np.ndarray
    v: np.ndarray
    u: np.ndarray


def lanczos_step(rows: int, cols: int, seed: int = 1) -> LanczosStep:
    """An activation-like ``rows x cols`` matrix and the vectors of its first Lanczos step."""
    rng = np.random.default_rng(seed)
    a = activation_matrix(rows, cols, rng)
    v = rng.standard_normal(cols)
    v /= np.linalg.norm(v)
    v = round_to(v, "fp16")
    u = a.astype(np.float64) @ v.astype(np.float64)
    return LanczosStep(a, v, round_to(u / np.linalg.norm(u), "fp16"))


@dataclass
class Workload:
    """Stimulus of a design running one Lanczos step, and what it must produce.

    Attributes
    ----------
    stimulus : Stimulus
    readback : dict
        Cycle -> ``(output port, expected value)``: words read back after the window.
    macs : int
        Multiply-accumulates of the step.
    description : str
        What the step is, in words.
    """

    stimulus: Stimulus
    readback: dict[int, tuple[str, int]]
    macs: int
    description: str

    def check(self, trace: Path, outputs: list[str], what: str) -> None:
        """Check the read-back words in a trace of ``outputs`` (one line per cycle).

        Raises
        ------
        GateSimError
            At the first word that differs from the golden model's.
        """
        lines = trace.read_text().splitlines()
        for cycle, (port, want) in self.readback.items():
            got = lines[cycle].split()[outputs.index(port)]
            if "x" in got or int(got, 16) != want:
                raise GateSimError(f"{what}: {port} at cycle {cycle} is {got}, the golden model "
                                   f"says {want:x} ({trace})")


def cluster_workload(config: DcomConfig, widths: dict[str, int], step: LanczosStep,
                     latency: int) -> Workload:
    """The cluster's MV and MTV on ``step``'s block, as ``P x Q`` tiles.

    Parameters
    ----------
    config : DcomConfig
    widths : dict
        The cluster's input ports and widths (clock and reset excluded).
    step : LanczosStep
        Its matrix's sides must be multiples of ``P`` and ``Q``.
    latency : int
        The cluster's command latency (:attr:`dcom.hw.cluster.Cluster.latency`).

    Raises
    ------
    ValueError
        If the tiles, vectors and results do not fit in the buffer.
    """
    P, Q = config.grid_rows, config.grid_cols
    lanes = P * Q
    a, v, u = step.a, step.v, step.u
    tile_rows, tile_cols = a.shape[0] // P, a.shape[1] // Q
    tiles = tile_rows * tile_cols
    x_base, y_base = tiles, tiles + tile_cols
    out_u = y_base + tile_rows
    out_v = out_u + -(-tile_rows // Q)
    words = out_v + -(-tile_cols // P)
    if words > config.buffer_depth:
        raise ValueError(f"a {tile_rows} x {tile_cols}-tile workload needs {words} buffer words; "
                         f"buffer_depth is {config.buffer_depth}")
    fills = {}
    for i in range(tile_rows):
        for j in range(tile_cols):
            fills[i * tile_cols + j] = a[i * P:(i + 1) * P, j * Q:(j + 1) * Q].reshape(-1)
    for j in range(tile_cols):       # v-side chunks in row 0 of a word
        word = np.zeros(lanes, np.float16)
        word[:Q] = v[j * Q:(j + 1) * Q]
        fills[x_base + j] = word
    for i in range(tile_rows):       # u-side chunks in column 0 of a word
        word = np.zeros(lanes, np.float16)
        word[::Q] = u[i * P:(i + 1) * P]
        fills[y_base + i] = word

    # As the controller issues them: the sums of a batch of tile rows (columns) interleaved,
    # each in its own accumulator set, the write-backs once the last update has landed.
    commands = []
    for path, sums, terms in (("ROW", tile_rows, tile_cols), ("COL", tile_cols, tile_rows)):
        for first in range(0, sums, config.batch):
            batch = range(first, min(first + config.batch, sums))
            for t in range(terms):
                for k, g in enumerate(batch):
                    i, j = (g, t) if path == "ROW" else (t, g)
                    mode = "RESTART" if t == 0 else "ACCUMULATE"
                    commands.append(ClusterCommand(
                        "MULTIPLY", path, acc_set=k, a_addr=i * tile_cols + j,
                        b_addr=x_base + j if path == "ROW" else y_base + i,
                        **{"row_acc" if path == "ROW" else "col_acc": mode}))
                # A set is read again acc_latency cycles after its update at the earliest.
                commands += [None] * max(0, config.acc_latency - len(batch))
            for k, g in enumerate(batch):
                if path == "ROW":
                    commands.append(ClusterCommand("WRITE_ROWS", lane=g % Q, acc_set=k,
                                                   a_addr=out_u + g // Q))
                else:
                    commands.append(ClusterCommand("WRITE_COLS", lane=g % P, acc_set=k,
                                                   a_addr=out_v + g // P))

    model = ClusterModel(config)
    stimulus = Stimulus(dict(widths))
    for addr, values in fills.items():
        stimulus.add(fill__valid=1, fill__addr=addr, fill__lanes=(1 << lanes) - 1,
                     fill__data=_word(to_bits(values)))
        model.fill(addr, to_bits(values))
    start = len(stimulus.cycles)
    for cmd in commands:
        if cmd is None:
            stimulus.add()
            continue
        stimulus.add(cmd__valid=1, cmd__payload=encode_command(config, cmd))
        model.execute(cmd)
    for _ in range(latency):
        stimulus.add()
    stimulus.window = (start, len(stimulus.cycles))
    readback = {stimulus.add(read__valid=1, read__addr=addr): ("read__data",
                                                               _word(model.buffer[addr]))
                for addr in range(out_u, words)}
    stimulus.add()
    return Workload(stimulus, readback, 2 * tiles * lanes,
                    f"MV and MTV on a {a.shape[0]} x {a.shape[1]} activation-like FP16 block, "
                    f"{tile_rows} x {tile_cols} tiles: "
                    f"{sum(cmd is not None for cmd in commands)} commands")


def _word(lanes: np.ndarray) -> int:
    """A buffer word's value from its ``uint16`` lanes, lane 0 in the low bits."""
    return int.from_bytes(lanes.astype("<u2").tobytes(), "little")


def systolic_workload(array: SystolicArray, widths: dict[str, int], step: LanczosStep
                      ) -> Workload:
    """The systolic array's MV and MTV on ``step``'s matrix.

    Weight tiles are ``A^T`` blocks for ``A v`` and ``A`` blocks for ``A^T u``: a
    weight-stationary array needs the matrix in both layouts (see :mod:`dcom.hw.systolic`).
    Loads and waves follow :func:`~dcom.sw.systolicmodel.matrix_vector_schedule`.

    Raises
    ------
    ValueError
        If the two layouts, vectors and results do not fit in the buffer.
    """
    rows, cols = array.rows, array.cols
    bits = to_bits(step.a)
    mv = matrix_vector_tiles(bits, rows, cols)
    mtv = matrix_vector_tiles(bits.T, rows, cols, base=mv[3][-1] + 1)
    needed = mtv[3][-1] + 1
    if needed > array.buffer_depth:
        raise ValueError(f"the systolic workload needs {needed} buffer words; the array has "
                         f"{array.buffer_depth}")
    model = SystolicModel(rows, cols, array.buffer_depth, array.acc_format)
    stimulus = Stimulus(dict(widths))

    def fill(addr, lanes):
        stimulus.add(fill__valid=1, fill__addr=addr, fill__lanes=(1 << array.lanes) - 1,
                     fill__data=_word(lanes))
        model.fill(addr, lanes)

    for (words, _, x_addrs, _), vector in ((mv, step.v), (mtv, step.u)):
        for addr, lanes in words.items():
            fill(addr, lanes)
        chunks = to_bits(vector)
        for k, addr in enumerate(x_addrs):
            lanes = np.zeros(array.lanes, np.uint16)
            lanes[:rows] = chunks[k * rows:(k + 1) * rows]
            fill(addr, lanes)
    layout = systolic_command_layout(rows, cols, array.buffer_depth)
    start = len(stimulus.cycles)
    for cmd in matrix_vector_schedule(mv[1] + mtv[1], rows, cols, array.mul_stages):
        if cmd is None:
            stimulus.add()
        else:
            stimulus.add(cmd__valid=1, cmd__payload=encode_systolic_command(layout, cmd))
            model.execute(cmd)
    for _ in range(array.latency):
        stimulus.add()
    stimulus.window = (start, len(stimulus.cycles))
    readback = {stimulus.add(read__valid=1, read__addr=addr): ("read__data",
                                                               _word(model.buffer[addr]))
                for addr in mv[3] + mtv[3]}
    stimulus.add()
    return Workload(stimulus, readback, 2 * step.a.size,
                    f"MV and MTV on a {step.a.shape[0]} x {step.a.shape[1]} block, "
                    f"{len(mv[1]) + len(mtv[1])} weight tiles of {rows} x {cols}")


def top_workload(config: DcomConfig, widths: dict[str, int], a: np.ndarray, steps: int,
                 seed: int = 0) -> Workload:
    """A whole instance running compiled Lanczos bidiagonalization of ``a`` for ``steps``
    steps, through its host port (see the module docstring).

    Parameters
    ----------
    config : DcomConfig
    widths : dict
        The top level's input ports and widths (clock and reset excluded).
    a : numpy.ndarray
        The ``M x N`` matrix, FP16 values.
    steps : int
        Lanczos steps.
    seed : int
        Seeds the start vector.

    Raises
    ------
    ValueError
        If the run does not end with ``DONE`` on the ISA simulator (a breakdown).
    dcom.sw.CompileError
        If it does not fit the configuration.
    """
    rows, cols = a.shape
    compiled = compile_lanczos(config, rows, cols, steps)
    images = compiled.bank_images(TiledMatrix(a, config).values, start_vector(cols, seed))
    tol = np.float32(DEFAULT_BREAKDOWN_TOL)
    sim = IsaSimulator(config)
    sim.write_banks(images)
    status = sim.run(compiled.program, float(tol))
    if status != Status.DONE:
        raise ValueError(f"the power workload's Lanczos run ends with {status.name}; choose "
                         f"another matrix or fewer steps")
    cycles = program_cycles(config, compiled.program).total
    stimulus = Stimulus(dict(widths))

    def request(space: Space, addr: int, index: int = 0, data: int | None = None) -> int:
        return stimulus.add(host__valid=1, host__write=int(data is not None),
                            host__space=int(space), host__addr=addr, host__index=index,
                            host__wdata=data or 0)

    for column, image in enumerate(images):
        for addr, word in enumerate(image):
            request(Space.BANK, addr, column, _word(word))
    for addr, inst in enumerate(compiled.program):
        request(Space.PROGRAM, addr, data=inst.encode())
    request(Space.CONTROL, int(Register.TOL), data=int(tol.view(np.uint32)))
    start = request(Space.CONTROL, int(Register.START), data=1) + 1
    for _ in range(cycles):
        stimulus.add()
    stimulus.window = (start, len(stimulus.cycles))
    stimulus.add()
    readback = {request(Space.CONTROL, int(Register.STATUS)): ("host__rdata", int(Status.DONE)),
                request(Space.CONTROL, int(Register.CYCLES)): ("host__rdata", cycles)}
    for index in range(2 * steps + 1):
        readback[request(Space.BROADCAST, index)] = ("host__rdata", int(sim.broadcast[index]))
    stored = compiled.bank_map["store"]
    for column in range(config.cluster_cols):
        for addr in range(stored.start, stored.stop):
            readback[request(Space.BANK, addr, column)] = ("host__rdata",
                                                           _word(sim.banks[column][addr]))
    stimulus.add()
    return Workload(stimulus, readback, 2 * rows * cols * steps,
                    f"{steps} steps of Lanczos bidiagonalization of a {rows} x {cols} "
                    f"activation-like FP16 matrix: {len(compiled.program)} instructions, "
                    f"{cycles} cycles from the start to the stop")

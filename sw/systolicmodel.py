"""Golden model and command schedules of the weight-stationary systolic array.

The array (``dcom.hw.systolic``) is the baseline of the paper's area and power comparison. Its
model executes the same commands with the same arithmetic as :mod:`dcom.sw.fparith`: products
exact in FP32 (or rounded to FP16), and each column's sum chained from the top row down,
``(((+0 + w_0j a_0) + w_1j a_1) + ...)``, then added to the column's accumulator.

:func:`matrix_vector_schedule` turns a matrix-vector product into a command stream that keeps
the array's weight-loading rule: a load into a bank waits until the last wave using that bank
has passed every PE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcom.sw.fparith import add, float_dtype, from_bits, multiply, round_to, to_bits

__all__ = ["SystolicCommand", "SystolicModel", "TileProduct", "matrix_vector_schedule",
           "matrix_vector_tiles", "weight_words", "systolic_latency"]


def systolic_latency(rows: int, cols: int, mul_stages: int) -> int:
    """Cycles from a command's issue until it has retired (``SystolicArray.latency``): the
    read (1), stage 1 (1), the skew and PE hops to the bottom row (``rows - 1``), the
    multiplier and the partial-sum register (``mul_stages + 1``), a cycle per column, then
    the write."""
    return rows + mul_stages + cols + 1


@dataclass(frozen=True)
class SystolicCommand:
    """One command (see ``dcom.hw.systolic.systolic_command_layout``); fields of an unused
    part are ignored."""

    load: bool = False
    load_bank: int = 0
    w_addr: int = 0
    multiply: bool = False
    bank: int = 0
    acc: str = "HOLD"
    x_addr: int = 0
    write: bool = False
    out_addr: int = 0


class SystolicModel:
    """State of the array: its buffer, two weight banks and the column accumulators.

    Parameters
    ----------
    rows, cols, depth : int
        PE grid and buffer words (``max(rows, cols)`` FP16 lanes each).
    acc_format : str
    """

    def __init__(self, rows: int, cols: int, depth: int, acc_format: str = "fp32"):
        self.rows, self.cols, self.acc_format = rows, cols, acc_format
        self.lanes = max(rows, cols)
        self.buffer = np.zeros((depth, self.lanes), dtype=np.uint16)
        self.weights = np.zeros((2, rows, cols), dtype=np.uint16)
        self.acc = np.zeros(cols, dtype=float_dtype(acc_format))

    def fill(self, addr: int, data, lanes: int | None = None) -> None:
        """Host write of ``data`` (uint16 lanes) into word ``addr``, lanes by bit mask."""
        data = np.asarray(data, dtype=np.uint16)
        enabled = np.ones(self.lanes, bool) if lanes is None else \
            (lanes >> np.arange(self.lanes)) & 1 == 1
        self.buffer[addr, enabled] = data[enabled]

    def column_sums(self, bank: int, x_addr: int) -> np.ndarray:
        """What the columns deliver for the vector in word ``x_addr`` with bank ``bank``."""
        w = from_bits(self.weights[bank], "fp16")
        a = from_bits(self.buffer[x_addr, :self.rows], "fp16")
        products = multiply(w, a[:, None], self.acc_format)
        total = np.zeros(self.cols, dtype=float_dtype(self.acc_format))
        for row in products:
            total = add(total, row)
        return total

    def execute(self, cmd: SystolicCommand) -> None:
        """Apply ``cmd``: its load, multiply and write, in that order."""
        if cmd.load:
            bank = self.weights[cmd.load_bank]
            bank[1:] = bank[:-1].copy()
            bank[0] = self.buffer[cmd.w_addr, :self.cols]
        if cmd.multiply and cmd.acc != "HOLD":
            start = np.zeros_like(self.acc) if cmd.acc == "RESTART" else self.acc
            self.acc = add(start, self.column_sums(cmd.bank, cmd.x_addr))
        if cmd.write:
            self.buffer[cmd.out_addr, :self.cols] = to_bits(round_to(self.acc, "fp16"))


def weight_words(tile: np.ndarray) -> list[np.ndarray]:
    """The rows of a weight tile in loading order: the last row first, since the first word
    loaded ends at the bottom of the array."""
    return [tile[r] for r in range(tile.shape[0] - 1, -1, -1)]


@dataclass(frozen=True)
class TileProduct:
    """One weight tile times one vector word.

    ``w_addrs`` are the buffer words of the tile's rows in loading order (see
    :func:`weight_words`); ``write`` is the word the accumulators go to afterwards, if any.
    """

    w_addrs: tuple[int, ...]
    x_addr: int
    acc: str
    write: int | None = None


def matrix_vector_schedule(products: list[TileProduct], rows: int, cols: int,
                           mul_stages: int) -> list[SystolicCommand | None]:
    """Commands (None: an idle cycle) computing ``products`` in order, double-buffered.

    Tile ``k`` loads into bank ``k mod 2`` while tile ``k - 1`` computes: its first load shares
    a cycle with the previous tile's multiply. A load into a bank starts only once the last
    wave that used the bank has passed every PE (``rows + cols + mul_stages`` cycles after that
    wave issued).
    """
    wave_cycles = rows + cols + mul_stages
    cycles: list[dict] = []
    bank_free = [0, 0]   # first cycle a load may write each bank

    def at(cycle: int) -> dict:
        while len(cycles) <= cycle:
            cycles.append({})
        return cycles[cycle]

    cycle = 0
    for k, product in enumerate(products):
        bank = k % 2
        cycle = max(cycle, bank_free[bank])
        for w_addr in product.w_addrs:
            at(cycle).update(load=True, load_bank=bank, w_addr=w_addr)
            cycle += 1
        command = at(cycle)
        command.update(multiply=True, bank=bank, acc=product.acc, x_addr=product.x_addr)
        if product.write is not None:
            command.update(write=True, out_addr=product.write)
        bank_free[bank] = cycle + wave_cycles
    return [SystolicCommand(**c) if c else None for c in cycles]


def matrix_vector_tiles(a_bits: np.ndarray, rows: int, cols: int, base: int = 0):
    """Buffer words and tile products for ``y = A x`` with ``A`` given as FP16 bits.

    ``A`` (``M x N``, ``M`` a multiple of ``cols``, ``N`` of ``rows``) is loaded transposed:
    weight tile ``(bi, bj)`` is ``A^T[bi rows.., bj cols..]``, so column ``j`` of the array
    delivers output ``bj cols + j``. Returns ``(words, products, x_addrs, y_addrs)``: ``words``
    maps buffer addresses from ``base`` on to the weight rows; the ``N / rows`` vector words and
    ``M / cols`` output words follow them.
    """
    m, n = a_bits.shape
    lanes = max(rows, cols)
    weights = a_bits.T
    words, products = {}, []
    addr = base
    tile_rows, tile_cols = n // rows, m // cols
    x_addrs = [base + tile_rows * tile_cols * rows + i for i in range(tile_rows)]
    y_addrs = [x_addrs[-1] + 1 + j for j in range(tile_cols)]
    for bj in range(tile_cols):
        for bi in range(tile_rows):
            tile = weights[bi * rows:(bi + 1) * rows, bj * cols:(bj + 1) * cols]
            w_addrs = []
            for row in weight_words(tile):
                word = np.zeros(lanes, np.uint16)
                word[:cols] = row
                words[addr] = word
                w_addrs.append(addr)
                addr += 1
            products.append(TileProduct(tuple(w_addrs), x_addrs[bi],
                                        "RESTART" if bi == 0 else "ACCUMULATE",
                                        y_addrs[bj] if bi == tile_rows - 1 else None))
    return words, products, x_addrs, y_addrs

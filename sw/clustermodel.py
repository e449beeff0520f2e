"""Command-level golden model of one D-com cluster (``dcom.hw.cluster``).

It executes the cluster's commands with the datapath arithmetic of :mod:`dcom.sw.fparith`, so
the cluster testbenches (and the ISA simulator) can check the RTL bit for bit. Commands take
effect in issue order; the RTL's timing rules (``docs/isa.md``) make that order hold in
hardware: a command reading an accumulator set waits for the one before that updated it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcom.config import DcomConfig
from dcom.sw.fparith import add, float_dtype, from_bits, multiply, round_to, to_bits, tree_sum

__all__ = ["ClusterCommand", "ClusterModel", "OPS", "BROADCASTS", "ACC_MODES"]

#: Names of the command fields' values, in the order of their encodings in the RTL enums.
OPS = ("MULTIPLY", "PRELOAD", "WRITE_ROWS", "WRITE_COLS")
BROADCASTS = ("ROW", "COL", "SCALAR", "ELEMENT")
ACC_MODES = ("HOLD", "ACCUMULATE", "RESTART")

_SIGN = np.uint16(0x8000)


@dataclass(frozen=True)
class ClusterCommand:
    """One cluster command (see ``dcom.hw.cluster.command_layout``)."""

    op: str = "MULTIPLY"
    broadcast: str = "ROW"
    negate: bool = False
    row_acc: str = "HOLD"
    col_acc: str = "HOLD"
    lane: int = 0
    acc_set: int = 0
    a_addr: int = 0
    b_addr: int = 0

    def reads(self) -> set[int]:
        """Buffer words this command reads when it issues."""
        if self.op == "MULTIPLY":
            return {self.a_addr, self.b_addr}
        return {self.b_addr} if self.op == "PRELOAD" else set()

    def writes(self) -> int | None:
        """Buffer word this command writes when it retires, if any."""
        return self.a_addr if self.op in ("WRITE_ROWS", "WRITE_COLS") else None

    def reads_accumulators(self) -> tuple[str, ...]:
        """The paths (``"row_acc"``, ``"col_acc"``) of its set whose values it uses."""
        if self.op == "WRITE_ROWS":
            return ("row_acc",)
        if self.op == "WRITE_COLS":
            return ("col_acc",)
        if self.op == "MULTIPLY":
            return tuple(path for path in ("row_acc", "col_acc")
                         if getattr(self, path) == "ACCUMULATE")
        return ()

    def updates_accumulators(self) -> tuple[str, ...]:
        """The paths of its set it changes (``MULTIPLY`` and ``PRELOAD``, mode not ``HOLD``)."""
        if self.op not in ("MULTIPLY", "PRELOAD"):
            return ()
        return tuple(path for path in ("row_acc", "col_acc") if getattr(self, path) != "HOLD")


class ClusterModel:
    """State and behaviour of one cluster: its buffer and its accumulator sets.

    Parameters
    ----------
    config : DcomConfig
        Grid ``P x Q``, buffer depth and accumulation format.

    Attributes
    ----------
    buffer : numpy.ndarray
        ``(buffer_depth, P * Q)`` uint16 FP16 bit patterns, lane ``i Q + j`` at grid ``(i, j)``.
    row_acc, col_acc : numpy.ndarray
        ``(acc_sets, P)`` and ``(acc_sets, Q)`` accumulators (float32 or float16 as the
        accumulation format).
    """

    def __init__(self, config: DcomConfig):
        self.config = config
        self.rows, self.cols = config.grid_rows, config.grid_cols
        self.acc_dtype = float_dtype(config.acc_format)
        self.buffer = np.zeros((config.buffer_depth, self.rows * self.cols), dtype=np.uint16)
        self.row_acc = np.zeros((config.acc_sets, self.rows), dtype=self.acc_dtype)
        self.col_acc = np.zeros((config.acc_sets, self.cols), dtype=self.acc_dtype)

    def fill(self, addr: int, data, lanes: int | None = None) -> None:
        """Host write of ``data`` (``P * Q`` uint16) into word ``addr``, lanes by bit mask."""
        data = np.asarray(data, dtype=np.uint16)
        if lanes is None:
            self.buffer[addr] = data
            return
        enabled = np.array([(lanes >> k) & 1 for k in range(self.rows * self.cols)], dtype=bool)
        self.buffer[addr, enabled] = data[enabled]

    def _operand_grid(self, cmd: ClusterCommand) -> np.ndarray:
        word = self.buffer[cmd.b_addr]
        P, Q = self.rows, self.cols
        if cmd.broadcast == "ROW":
            grid = np.broadcast_to(word[:Q], (P, Q))
        elif cmd.broadcast == "COL":
            grid = np.broadcast_to(word[::Q][:, None], (P, Q))
        elif cmd.broadcast == "SCALAR":
            grid = np.full((P, Q), word[cmd.lane % (P * Q)], dtype=np.uint16)
        else:
            grid = word.reshape(P, Q)
        return grid ^ _SIGN if cmd.negate else grid

    def _update(self, acc: np.ndarray, mode: str, value: np.ndarray) -> np.ndarray:
        if mode == "HOLD":
            return acc
        start = np.zeros_like(acc) if mode == "RESTART" else acc
        return add(start, value)

    def execute(self, cmd: ClusterCommand) -> None:
        """Apply ``cmd`` as the cluster does when it retires."""
        P, Q = self.rows, self.cols
        acc_fmt = self.config.acc_format
        k = cmd.acc_set
        if not 0 <= k < self.config.acc_sets:
            raise ValueError(f"acc_set={k!r} is not an accumulator set; allowed values: 0 to "
                             f"{self.config.acc_sets - 1}")
        if cmd.op == "MULTIPLY":
            a = from_bits(self.buffer[cmd.a_addr].reshape(P, Q), "fp16")
            b = from_bits(self._operand_grid(cmd), "fp16")
            products = multiply(a, b, acc_fmt)
            self.row_acc[k] = self._update(self.row_acc[k], cmd.row_acc,
                                           tree_sum(products, axis=1))
            self.col_acc[k] = self._update(self.col_acc[k], cmd.col_acc,
                                           tree_sum(products, axis=0))
        elif cmd.op == "PRELOAD":
            word = from_bits(self.buffer[cmd.b_addr], "fp16")
            if cmd.row_acc != "HOLD":
                self.row_acc[k] = round_to(word[::Q], acc_fmt)
            if cmd.col_acc != "HOLD":
                self.col_acc[k] = round_to(word[:Q], acc_fmt)
        elif cmd.op == "WRITE_ROWS":
            if cmd.lane < Q:
                self.buffer[cmd.a_addr, np.arange(P) * Q + cmd.lane] = \
                    to_bits(round_to(self.row_acc[k], "fp16"))
        elif cmd.op == "WRITE_COLS":
            if cmd.lane < P:
                self.buffer[cmd.a_addr, cmd.lane * Q + np.arange(Q)] = \
                    to_bits(round_to(self.col_acc[k], "fp16"))
        else:
            raise ValueError(f"op={cmd.op!r} is not a cluster operation; allowed values: "
                             f"{', '.join(OPS)}")

    def accumulator_bits(self, acc_set: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Bit patterns of the row and column accumulators of set ``acc_set`` (NaNs
        canonical)."""
        return to_bits(self.row_acc[acc_set]), to_bits(self.col_acc[acc_set])

"""The one configuration object that describes a D-com instance.

The generator (``dcom.hw``), the golden model and compiler (``dcom.sw``), the performance model
and the synthesis flow (``dcom.synth``) all take a :class:`DcomConfig`, so a parameter or a
derived quantity (tree depth, latency, bank bandwidth) is defined here once and cannot drift
between them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["ConfigError", "DcomConfig", "FORMATS", "batch_size", "parse_dims"]


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE 754 binary interchange format.

    Parameters
    ----------
    name : str
        Short name (``"fp16"``, ``"fp32"``).
    exp_bits : int
        Width of the biased exponent field.
    man_bits : int
        Width of the stored significand field (without the hidden bit).
    """

    name: str
    exp_bits: int
    man_bits: int

    @property
    def width(self) -> int:
        """Total width in bits."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        """Exponent bias."""
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self) -> int:
        """All-ones exponent field (infinities and NaN)."""
        return (1 << self.exp_bits) - 1

    @property
    def quiet_nan(self) -> int:
        """The canonical NaN every dcom unit outputs: positive sign, quiet bit set, zero payload."""
        return (self.exp_max << self.man_bits) | (1 << (self.man_bits - 1))


FORMATS = {
    "fp16": FloatFormat("fp16", exp_bits=5, man_bits=10),
    "fp32": FloatFormat("fp32", exp_bits=8, man_bits=23),
}


class ConfigError(ValueError):
    """A configuration parameter has a value dcom cannot build."""

    def __init__(self, parameter: str, value, allowed: str):
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"{parameter}={value!r} is not allowed; allowed values: {allowed}")


#: Largest depth of a memory: its words are addressed by the instructions' 16-bit fields.
MAX_DEPTH = 1 << 16
#: Most pipeline stages of an FP unit (an FP32 adder has about a dozen gate levels a stage
#: apart at this count already).
MAX_STAGES = 16
#: Clock range accepted for performance and power figures, in MHz.
MIN_CLOCK_MHZ, MAX_CLOCK_MHZ = 1.0, 100_000.0


def _is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def parse_dims(text: str, parameter: str) -> tuple[int, int]:
    """Parse ``"RxC"`` (e.g. ``"16x16"``) into two integers.

    Raises
    ------
    ConfigError
        If ``text`` is not two positive integers joined by ``x``.
    """
    parts = str(text).lower().split("x")
    try:
        rows, cols = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(parameter, text, "ROWSxCOLS with positive integers, e.g. 16x16") from None
    return rows, cols


@dataclass(frozen=True)
class DcomConfig:
    """A validated, immutable description of one D-com instance.

    The defaults are the paper's design point (section 5): 16 x 16 clusters, each an 8 x 8 grid
    of FP16 multipliers, with FP32 accumulation (docs/arithmetic.md, "Why FP32 accumulation").

    Parameters
    ----------
    cluster_rows, cluster_cols : int
        The cluster array ``R x C``. Each column of clusters shares one memory bank.
    grid_rows, grid_cols : int
        The multiplier grid ``P x Q`` of one cluster; powers of two, since every row and column
        feeds a binary reduction tree.
    mul_format : str
        Operand format of the multipliers. Only ``"fp16"``.
    acc_format : str
        Format of products, tree sums and accumulators: ``"fp32"`` (the product of two FP16
        values is exact in FP32) or ``"fp16"`` (every product and sum rounded to FP16).
    buffer_depth : int
        Shared-buffer depth per cluster, in words of ``P x Q`` FP16 lanes (one tile a word).
    bank_depth : int
        Memory-bank depth per cluster column, in the same words.
    bank_width : int
        Bits a bank delivers per cycle, a multiple of 16; moving one word between a bank and a
        cluster takes ``ceil(16 P Q / bank_width)`` cycles.
    broadcast_depth : int
        FP32 words of the global broadcast memory, which keeps the norms (alpha, beta) that
        the scalar unit computes.
    program_depth : int
        Instructions the controller's program memory holds.
    expansion : int
        Expansion factor ``f`` (paper section 5.3): partial sums are reduced within groups of
        ``f`` clusters before one global combine. A power of two dividing ``R * C``.
    mul_stages : int
        Pipeline registers inside each multiplier (0 = combinational).
    add_stages : int
        Pipeline registers inside each adder of the reduction trees (0 = combinational).
    acc_sets : int
        Accumulator sets per cluster (each ``P`` row and ``Q`` column accumulators). Several
        sets let the sums of different tile rows (or columns, blocks, slots) interleave and
        one set's partials be reduced while others accumulate.
    acc_stages : int
        Pipeline registers inside the accumulators' adders (0 = combinational). A command
        may only read a set :attr:`acc_latency` cycles after the previous command updating it.
    tree_registers : bool
        Whether a register follows every level of the reduction trees.
    bus_segment : int
        Tiles a cluster-row or cluster-column bus passes through before its chain restarts;
        the chains' ends are ORed, so a bus word crosses ``bus_segment`` tiles and
        ``log2(R / bus_segment)`` OR levels in one cycle. No effect on cycles.
    clock_mhz : float
        Clock frequency assumed by the performance model and the power report.
    """

    cluster_rows: int = 16
    cluster_cols: int = 16
    grid_rows: int = 8
    grid_cols: int = 8
    mul_format: str = "fp16"
    acc_format: str = "fp32"
    buffer_depth: int = 2048
    bank_depth: int = 32768
    bank_width: int = 1024
    broadcast_depth: int = 256
    program_depth: int = 1024
    expansion: int = 8
    mul_stages: int = 2
    add_stages: int = 4
    acc_sets: int = 12
    acc_stages: int = 5
    tree_registers: bool = True
    bus_segment: int = 8
    clock_mhz: float = 1000.0

    def __post_init__(self):
        for name in ("cluster_rows", "cluster_cols"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(name, value, "integers >= 1")
        for name in ("buffer_depth", "bank_depth", "broadcast_depth", "program_depth"):
            value = getattr(self, name)
            if not _is_int(value) or not 1 <= value <= MAX_DEPTH:
                raise ConfigError(name, value, f"integers from 1 to {MAX_DEPTH} (the "
                                               "instructions' 16-bit address fields)")
        for name in ("grid_rows", "grid_cols"):
            value = getattr(self, name)
            if not _is_int(value) or not _is_pow2(value):
                raise ConfigError(name, value, "powers of two: 1, 2, 4, 8, 16, ...")
        if self.mul_format not in ("fp16",):
            raise ConfigError("mul_format", self.mul_format, "'fp16'")
        if self.acc_format not in ("fp32", "fp16"):
            raise ConfigError("acc_format", self.acc_format, "'fp32', 'fp16'")
        if not _is_int(self.bank_width) or self.bank_width < 16 or self.bank_width % 16:
            raise ConfigError("bank_width", self.bank_width, "multiples of 16 bits: 16, 32, ...")
        if not _is_int(self.expansion) or self.expansion not in self.expansion_factors:
            allowed = ", ".join(map(str, self.expansion_factors))
            raise ConfigError("expansion", self.expansion,
                              f"powers of two that divide the {self.n_clusters} clusters: "
                              f"{allowed}")
        if not _is_int(self.acc_sets) or not 1 <= self.acc_sets <= 64:
            raise ConfigError("acc_sets", self.acc_sets, "integers from 1 to 64")
        for name in ("mul_stages", "add_stages", "acc_stages"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= MAX_STAGES:
                raise ConfigError(name, value, f"integers from 0 to {MAX_STAGES}")
        if not isinstance(self.tree_registers, bool):
            raise ConfigError("tree_registers", self.tree_registers, "True, False")
        if not _is_int(self.bus_segment) or self.bus_segment < 1:
            raise ConfigError("bus_segment", self.bus_segment, "integers >= 1")
        if (isinstance(self.clock_mhz, bool) or not isinstance(self.clock_mhz, (int, float))
                or not MIN_CLOCK_MHZ <= self.clock_mhz <= MAX_CLOCK_MHZ):
            raise ConfigError("clock_mhz", self.clock_mhz,
                              f"numbers from {MIN_CLOCK_MHZ:g} to {MAX_CLOCK_MHZ:g} (MHz)")

    # Derived quantities: the only place they are computed.

    @property
    def n_clusters(self) -> int:
        """Number of clusters, ``R * C``."""
        return self.cluster_rows * self.cluster_cols

    @property
    def macs_per_cluster(self) -> int:
        """Multipliers per cluster, ``P * Q``."""
        return self.grid_rows * self.grid_cols

    @property
    def n_multipliers(self) -> int:
        """Multipliers in the whole array."""
        return self.n_clusters * self.macs_per_cluster

    @property
    def operand(self) -> FloatFormat:
        """Multiplier operand format."""
        return FORMATS[self.mul_format]

    @property
    def acc(self) -> FloatFormat:
        """Accumulation format (products, tree sums, accumulators)."""
        return FORMATS[self.acc_format]

    @property
    def row_tree_levels(self) -> int:
        """Adder levels of a row tree (it sums the ``Q`` products of one grid row)."""
        return self.grid_cols.bit_length() - 1

    @property
    def col_tree_levels(self) -> int:
        """Adder levels of a column tree (it sums the ``P`` products of one grid column)."""
        return self.grid_rows.bit_length() - 1

    def tree_latency(self, levels: int) -> int:
        """Cycles through a reduction tree of ``levels`` adder levels."""
        return levels * (self.add_stages + int(self.tree_registers))

    @property
    def cluster_latency(self) -> int:
        """Cycles from a command's issue to its results at the cluster's tree outputs: the
        operand read, the operand register, the multiplier, then the deeper of the row and
        column trees."""
        return 2 + self.mul_stages + max(self.tree_latency(self.row_tree_levels),
                                         self.tree_latency(self.col_tree_levels))

    @property
    def write_latency(self) -> int:
        """Cycles from a write-back command's issue to its buffer write: the cluster latency,
        then a register for the set's accumulators and one for them rounded to FP16."""
        return self.cluster_latency + 2

    @property
    def acc_latency(self) -> int:
        """Cycles from a command updating an accumulator set to the next that may read it: the
        accumulator adder's registers and the accumulator itself."""
        return self.acc_stages + 1

    @property
    def scalar_latency(self) -> int:
        """Cycles of one square root or reciprocal of the scalar unit (``dcom.hw.scalar``, FP32
        in every configuration): one to register the operand, one to unpack it, one per result
        bit -- the 24-bit significand, a guard bit and an integer bit -- and one to round."""
        return 2 + FORMATS["fp32"].man_bits + 3 + 1

    @property
    def batch(self) -> int:
        """Sums the controller interleaves command by command, each in its own accumulator
        set: ``acc_latency``, so that a set is never read too early, but at most half the
        sets, so that a batch accumulates while the previous one is reduced."""
        return max(1, min(self.acc_latency, self.acc_sets // 2))

    @property
    def expansion_levels(self) -> int:
        """Adder levels of the inter-cluster tree that sums a group of ``f`` partials."""
        return self.expansion.bit_length() - 1

    @property
    def expansion_factors(self) -> tuple[int, ...]:
        """The expansion factors this array allows: the powers of two dividing ``R C``."""
        n = self.n_clusters
        return tuple(1 << i for i in range(n.bit_length()) if n % (1 << i) == 0)

    def reduction_group(self, partials: int) -> int:
        """Partials summed by one group of the inter-cluster tree when ``partials`` clusters
        (a cluster row, a cluster column, all) reduce: ``gcd(f, partials)``."""
        return math.gcd(self.expansion, partials)

    @property
    def reduction_group_sizes(self) -> tuple[int, int]:
        """Group sizes of a cluster row's and a cluster column's reduction."""
        return self.reduction_group(self.cluster_cols), self.reduction_group(self.cluster_rows)

    @property
    def reduction_group_counts(self) -> tuple[int, int]:
        """Groups the network takes for the cluster rows' and the cluster columns' reductions
        (one a cycle, the rows or the columns side by side). A reduction of all clusters takes
        the rows' groups, then sums the row sums."""
        g_row, g_col = self.reduction_group_sizes
        return self.cluster_cols // g_row, self.cluster_rows // g_col

    @property
    def max_reduction_groups(self) -> int:
        """The most groups one reduction feeds to the network."""
        return max(self.reduction_group_counts)

    @property
    def network_slices(self) -> int:
        """Reductions the network carries side by side: one per cluster row (MV, PROJ, NORM)
        or cluster column (MTV)."""
        return max(self.cluster_rows, self.cluster_cols)

    @property
    def stream_levels(self) -> int:
        """Adder levels that sum a reduction's groups as they stream in: one per doubling of
        :attr:`max_reduction_groups`."""
        return (self.max_reduction_groups - 1).bit_length()

    @property
    def cross_levels(self) -> int:
        """Adder levels that sum the ``R`` row sums of a reduction of all clusters."""
        return (self.cluster_rows - 1).bit_length()

    @property
    def network_latency(self) -> int:
        """Cycles from a group entering the reduction network to its row or column sum
        leaving it: the input register, the group tree of ``log2 f`` levels and one level of
        the stream tree per doubling of :attr:`max_reduction_groups`."""
        return (1 + self.tree_latency(self.expansion_levels)
                + self.stream_levels * (self.add_stages + 1))

    @property
    def cross_latency(self) -> int:
        """Further cycles of a reduction of all clusters (PROJ, NORM): the
        :attr:`cross_levels`."""
        return self.cross_levels * (self.add_stages + 1)

    @property
    def check_cycles(self) -> int:
        """Cycles the controller checks a decoded instruction: registers for the operands of
        its products of two fields, their halves' partial products, the products, every term
        of the checks, and the checks' results."""
        return 5

    @property
    def norm_split_latency(self) -> int:
        """Cycles from NORM's reciprocal to its FP16 ``hi`` and ``lo`` words: ``hi`` is
        registered and widened into a register, then ``lo = fp16(r - hi)`` takes an FP32 adder
        of ``add_stages``, a register for its sum and one for the rounded word."""
        return 3 + self.add_stages

    @property
    def word_bits(self) -> int:
        """Bits of one buffer or bank word (``P x Q`` FP16 lanes)."""
        return 16 * self.macs_per_cluster

    @property
    def bank_cycles_per_word(self) -> int:
        """Cycles a bank needs to deliver one word, ``ceil(word_bits / bank_width)``."""
        return -(-self.word_bits // self.bank_width)

    def replace(self, **changes) -> "DcomConfig":
        """Return a copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain-dict form, for manifests and reports."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "DcomConfig":
        """Build from :meth:`to_dict` output, refusing unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], data[unknown[0]], ", ".join(sorted(known)))
        return cls(**data)

    def describe(self) -> str:
        """One line, e.g. ``16x16 clusters of 8x8 fp16 multipliers, fp32 accumulation, f=8``."""
        return (f"{self.cluster_rows}x{self.cluster_cols} clusters of "
                f"{self.grid_rows}x{self.grid_cols} {self.mul_format} multipliers, "
                f"{self.acc_format} accumulation, f={self.expansion}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def batch_size(remaining: int, batch: int) -> int:
    """Sums in the next batch when ``remaining`` are left: ``batch``, except that the last
    batch takes what is left when that is less than two batches. A short last batch would
    stall on its sets (``acc_latency`` cycles between updates of a set); a longer one takes
    at most ``2 batch - 1 <= acc_sets - 1`` sets."""
    return remaining if remaining < 2 * batch else batch

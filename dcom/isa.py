"""The D-com instruction set: the one definition of opcodes, fields, encodings and operands.

The controller's decoder (``dcom.hw.top``) builds its instruction layout from :data:`FIELDS` and
:class:`Opcode`, and the compiler and ISA simulator encode and decode with :class:`Instruction`,
so hardware and software cannot disagree on an encoding. ``docs/isa.md`` gives the semantics.

:data:`OPERANDS` says, per opcode, which words of which memory an instruction touches, as
expressions of its fields and the configuration (:class:`Expr`). Evaluated on Python ints, the
table gives the ISA simulator's footprints and checks, the fuzzer's field roles and the
performance model's hazard tests; elaborated on Amaranth values, the controller's address
checks. So the rules of docs/isa.md ("Checks") are written once.
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, fields

from dcom.config import DcomConfig

__all__ = ["FIELDS", "INSTRUCTION_BITS", "Instruction", "Opcode", "Side", "Status",
           "ResultIndex", "IsaError", "Space", "Register", "HostError", "InstructionClass",
           "instruction_class", "Expr", "Field", "Param", "BySide", "CeilDiv", "BlockSpan",
           "Operand", "OPERANDS", "SPACE_SIZES", "SIDED_OPCODES", "field_roles", "steps_interfere",
           "elaborate_steps_interfere", "touches_writes_of", "elaborate_touches_writes_of"]


class Opcode(enum.IntEnum):
    """Operation codes (field ``op``)."""

    HALT = 0
    ZERO = 1
    LOAD = 2
    STORE = 3
    MV = 4
    MTV = 5
    PROJ = 6
    UPDATE = 7
    NORM = 8
    SCALE = 9
    BCAST = 10


class Side(enum.IntEnum):
    """Which vectors an instruction works on (field ``side``).

    ``U`` vectors have the matrix's row count and sit in column 0 of a word; ``V`` vectors have
    its column count and sit in row 0 (docs/arithmetic.md, "Words and vector layouts").
    """

    U = 0
    V = 1


class Status(enum.IntEnum):
    """Controller status, readable by the host."""

    IDLE = 0
    BUSY = 1
    DONE = 2
    BREAKDOWN = 3
    OVERFLOW = 4
    BAD_OPCODE = 5
    BAD_ADDRESS = 6
    BAD_PC = 7

    @property
    def is_error(self) -> bool:
        """An error state: the program was malformed."""
        return self >= Status.BAD_OPCODE


class Space(enum.IntEnum):
    """Address spaces of the host port."""

    BANK = 0
    PROGRAM = 1
    BROADCAST = 2
    CONTROL = 3


class Register(enum.IntEnum):
    """Control registers (host space ``CONTROL``)."""

    START = 0
    TOL = 1
    STATUS = 2
    STOP_PC = 3
    HOST_ERROR = 4
    CYCLES = 5
    CYCLES_MV = 6
    CYCLES_MTV = 7
    CYCLES_REORTH = 8
    CYCLES_NORM = 9
    CYCLES_BCAST = 10
    CYCLES_MEMORY = 11


class HostError(enum.IntEnum):
    """Sticky code of the last host request the top level refused."""

    NONE = 0
    BUSY = 1
    BAD_ADDRESS = 2


class InstructionClass(enum.IntEnum):
    """Instruction classes with their own cycle counter (``Register.CYCLES_*``)."""

    MV = 0
    MTV = 1
    REORTH = 2
    NORM = 3
    BCAST = 4
    MEMORY = 5


def instruction_class(op: int) -> InstructionClass | None:
    """Cycle-counter class of opcode ``op`` (``None`` for HALT and undefined opcodes)."""
    return {Opcode.MV: InstructionClass.MV, Opcode.MTV: InstructionClass.MTV,
            Opcode.PROJ: InstructionClass.REORTH, Opcode.UPDATE: InstructionClass.REORTH,
            Opcode.NORM: InstructionClass.NORM, Opcode.SCALE: InstructionClass.NORM,
            Opcode.BCAST: InstructionClass.BCAST, Opcode.ZERO: InstructionClass.MEMORY,
            Opcode.LOAD: InstructionClass.MEMORY,
            Opcode.STORE: InstructionClass.MEMORY}.get(op)


#: Instruction fields, least significant first: (name, width in bits).
FIELDS = (
    ("op", 8),
    ("side", 8),
    ("a", 16),
    ("b", 16),
    ("c", 16),
    ("d", 16),
    ("n", 16),
    ("m", 16),
)

#: Width of an encoded instruction (the fields, padded to a power of two).
INSTRUCTION_BITS = 128


class IsaError(ValueError):
    """An instruction that cannot be encoded; the message names the field."""


class ResultIndex:
    """Where NORM results go in the broadcast memory, for a Lanczos program.

    Index 0 is the norm of the start vector, ``2 j + 1`` is ``alpha_j`` and ``2 j + 2`` is
    ``beta_j``.
    """

    START = 0

    @staticmethod
    def alpha(step: int) -> int:
        return 2 * step + 1

    @staticmethod
    def beta(step: int) -> int:
        return 2 * step + 2


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction; field meanings per opcode are in ``docs/isa.md``."""

    op: int
    side: int = 0
    a: int = 0
    b: int = 0
    c: int = 0
    d: int = 0
    n: int = 0
    m: int = 0

    def __post_init__(self):
        for name, width in FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < (1 << width):
                raise IsaError(f"{name}={value!r} does not fit the {width}-bit field; "
                               f"allowed values: 0 to {(1 << width) - 1}")

    def encode(self) -> int:
        """The instruction as an integer of :data:`INSTRUCTION_BITS` bits."""
        word, offset = 0, 0
        for name, width in FIELDS:
            word |= getattr(self, name) << offset
            offset += width
        return word

    @classmethod
    def decode(cls, word: int) -> "Instruction":
        """Inverse of :meth:`encode`; any bit pattern decodes (the opcode may be invalid)."""
        values, offset = {}, 0
        for name, width in FIELDS:
            values[name] = (word >> offset) & ((1 << width) - 1)
            offset += width
        return cls(**values)

    @property
    def opcode(self) -> Opcode | None:
        """The :class:`Opcode`, or ``None`` for an undefined one."""
        try:
            return Opcode(self.op)
        except ValueError:
            return None

    def __str__(self) -> str:
        name = self.opcode.name if self.opcode is not None else f"op{self.op}"
        args = ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self)[1:]
                         if getattr(self, f.name))
        return f"{name}({args})"


assert sum(width for _, width in FIELDS) <= INSTRUCTION_BITS


# ---- Operands ----------------------------------------------------------------------------------

class _Ints:
    """Evaluation on Python ints: an instruction's fields."""

    @staticmethod
    def select(condition, then, otherwise):
        return then if condition else otherwise

    @staticmethod
    def is_v(side):
        return side == Side.V

    @staticmethod
    def ceil_div(numerator, denominator):
        return -(-numerator // denominator)

    multiply = staticmethod(operator.mul)


class _Values:
    """Elaboration on Amaranth values: the decoder's fields, in combinational logic.

    ``multiply``, if given, forms the product of two non-constant values instead of ``*``
    (the controller registers its products, so that a check takes two cycles).
    """

    def __init__(self, multiply=None):
        self._multiply = multiply

    def multiply(self, left, right):
        if self._multiply is None or isinstance(left, int) or isinstance(right, int):
            return left * right
        return self._multiply(left, right)

    @staticmethod
    def select(condition, then, otherwise):
        # Imported here: the software models evaluate the table without loading Amaranth.
        from amaranth.hdl import Mux

        return Mux(condition, then, otherwise)

    @staticmethod
    def is_v(side):
        # Only bit 0 decides: a larger side stops the instruction with BAD_OPCODE anyway.
        return side[0]

    @staticmethod
    def ceil_div(numerator, denominator):
        raise TypeError("the controller has no divider: a CeilDiv count is only checked "
                        "(Operand.elaborate_fits), never elaborated")


class Expr:
    """An integer expression of instruction fields and configuration parameters.

    Built from :class:`Field`, :class:`Param`, ints, ``+``, ``-``, ``*`` and the nodes
    :class:`BySide`, :class:`CeilDiv` and :class:`BlockSpan`. :meth:`evaluate` computes it for
    one instruction on Python ints; :meth:`elaborate` builds it as an Amaranth expression of
    decoded fields, with the operations the ints use, so both give the same numbers.
    """

    def __add__(self, other):
        return _Binary(operator.add, self, _expr(other))

    def __radd__(self, other):
        return _Binary(operator.add, _expr(other), self)

    def __sub__(self, other):
        return _Binary(operator.sub, self, _expr(other))

    def __rsub__(self, other):
        return _Binary(operator.sub, _expr(other), self)

    def __mul__(self, other):
        return _Binary(operator.mul, self, _expr(other))

    def __rmul__(self, other):
        return _Binary(operator.mul, _expr(other), self)

    def evaluate(self, ins: Instruction, config: DcomConfig) -> int:
        """The value for instruction ``ins`` on ``config``."""
        return self._value(ins, config, _Ints)

    def elaborate(self, fields, config: DcomConfig, multiply=None):
        """The value as an Amaranth expression of ``fields`` (anything with the attributes of
        :data:`FIELDS` as Amaranth values, e.g. a view of the instruction layout); products of
        two fields through ``multiply(left, right)`` if given."""
        return self._value(fields, config, _Values(multiply))

    def fields(self) -> dict[str, str]:
        """The instruction fields the expression reads, each with what it holds there:
        ``"count"`` or ``"stride"``."""
        raise NotImplementedError

    def _value(self, fields, config, world):
        raise NotImplementedError

    def _fits(self, first, size, fields, config, world):
        """``first + self <= size``: the range of ``self`` words from ``first`` lies below
        ``size`` (also when it is empty)."""
        return first + self._value(fields, config, world) <= size


def _expr(value) -> Expr:
    return value if isinstance(value, Expr) else _Const(value)


@dataclass(frozen=True)
class _Const(Expr):
    value: int

    def fields(self):
        return {}

    def _value(self, fields, config, world):
        return self.value


@dataclass(frozen=True)
class _Binary(Expr):
    operation: object
    left: Expr
    right: Expr

    def fields(self):
        return {**self.left.fields(), **self.right.fields()}

    def _value(self, fields, config, world):
        left = self.left._value(fields, config, world)
        right = self.right._value(fields, config, world)
        if self.operation is operator.mul:
            return world.multiply(left, right)
        return self.operation(left, right)


@dataclass(frozen=True)
class Field(Expr):
    """The instruction field ``name`` (one of :data:`FIELDS`): a count, unless it is the stride
    of a :class:`BlockSpan`."""

    name: str

    def fields(self):
        return {self.name: "count"}

    def _value(self, fields, config, world):
        return getattr(fields, self.name)


@dataclass(frozen=True)
class Param(Expr):
    """The configuration quantity ``name`` (an attribute of ``DcomConfig``), a constant of the
    hardware."""

    name: str

    def fields(self):
        return {}

    def _value(self, fields, config, world):
        return getattr(config, self.name)


@dataclass(frozen=True)
class BySide(Expr):
    """``u`` for side U, ``v`` for side V (field ``side``)."""

    u: Expr
    v: Expr

    def fields(self):
        return {**self.u.fields(), **self.v.fields()}

    def _value(self, fields, config, world):
        return world.select(world.is_v(fields.side), self.v._value(fields, config, world),
                            self.u._value(fields, config, world))


@dataclass(frozen=True)
class CeilDiv(Expr):
    """``ceil(numerator / denominator)``, ``denominator`` a positive :class:`Param`: the words
    that hold ``numerator`` results, ``denominator`` of them to a word.

    The controller has no divider: it checks a range of such a count with the equivalent
    ``first <= size and numerator <= (size - first) * denominator``.
    """

    numerator: Expr
    denominator: Expr

    def fields(self):
        return {**self.numerator.fields(), **self.denominator.fields()}

    def _value(self, fields, config, world):
        return world.ceil_div(self.numerator._value(fields, config, world),
                              self.denominator._value(fields, config, world))

    def _fits(self, first, size, fields, config, world):
        numerator = self.numerator._value(fields, config, world)
        denominator = self.denominator._value(fields, config, world)
        return (first <= size) & (numerator <= (size - first) * denominator)


@dataclass(frozen=True)
class BlockSpan(Expr):
    """The words from the first to the last of ``slots`` blocks of ``block`` consecutive words,
    block ``s`` ``s * stride`` words after the first: ``(slots - 1) stride + block``, and ``0``
    when there are no words (``slots`` or ``block`` is 0)."""

    slots: Expr
    stride: Expr
    block: Expr

    def fields(self):
        strides = dict.fromkeys(self.stride.fields(), "stride")
        return {**self.slots.fields(), **self.block.fields(), **strides}

    def _value(self, fields, config, world):
        slots = self.slots._value(fields, config, world)
        block = self.block._value(fields, config, world)
        return world.select((slots == 0) | (block == 0), 0,
                            world.multiply(slots - 1, self.stride._value(fields, config, world)) + block)


#: The memories an operand may lie in, and their sizes: every cluster's buffer (all clusters
#: alike), a memory bank, the broadcast memory, the cluster rows (a LOAD or STORE row) and the
#: lanes a SCALE may write (a column of a word for side U, a row for V).
SPACE_SIZES = {
    "buffer": Param("buffer_depth"),
    "bank": Param("bank_depth"),
    "broadcast": Param("broadcast_depth"),
    "cluster_row": Param("cluster_rows"),
    "lane": BySide(u=Param("grid_cols"), v=Param("grid_rows")),
}


@dataclass(frozen=True)
class Operand:
    """Words (or indices) of one space that an instruction touches.

    Attributes
    ----------
    name : str
        What the words hold (``"basis"``, ``"scalars"``, ...), as docs/isa.md calls them.
    space : str
        A key of :data:`SPACE_SIZES`.
    first : str
        The field that holds the first word.
    count : Expr
        Number of words (an int is taken as a constant).
    stride : str or None
        ``None`` for ``first .. first+count-1``; else the field that holds the stride of the
        words ``first + s * stride``, ``s < count``.
    access : str
        ``"read"``, ``"write"``, or ``"update"`` (read and written back by the same step).
    """

    name: str
    space: str
    first: str
    count: Expr
    stride: str | None = None
    access: str = "read"

    def __post_init__(self):
        object.__setattr__(self, "count", _expr(self.count))

    def fields(self) -> dict[str, str]:
        """The fields the operand reads, each with what it holds: the operand's space (its
        first word), ``"count"`` or ``"stride"``."""
        roles = self.count.fields()
        if self.stride is not None:
            roles[self.stride] = "stride"
        roles[self.first] = self.space
        return roles

    def fits(self, ins: Instruction, config: DcomConfig) -> bool:
        """The bounds check of docs/isa.md ("Checks") for instruction ``ins``: ``first + count
        <= size`` for a contiguous operand (also when it is empty), ``count == 0`` or its last
        word below ``size`` for a strided one."""
        return bool(self._fits(ins, config, _Ints))

    def elaborate_fits(self, fields, config: DcomConfig, multiply=None):
        """:meth:`fits` as a one-bit Amaranth expression of decoded ``fields`` (see
        :meth:`Expr.elaborate`)."""
        return self._fits(fields, config, _Values(multiply))

    def _fits(self, fields, config, world):
        first = getattr(fields, self.first)
        size = SPACE_SIZES[self.space]._value(fields, config, world)
        if self.stride is None:
            return self.count._fits(first, size, fields, config, world)
        count = self.count._value(fields, config, world)
        return (count == 0) | (first + world.multiply(count - 1, getattr(fields, self.stride)) < size)

    def _nonempty(self, fields, config, world):
        """Whether the operand touches any word."""
        return _count_nonzero(self.count, fields, config, world)

    def _before_end(self, x, fields, config, world):
        """Whether word ``x`` lies below the operand's last word plus one (for a strided
        operand, the interval from its first to its last word)."""
        first = getattr(fields, self.first)
        if self.stride is not None:
            count = self.count._value(fields, config, world)
            return x < first + world.multiply(count - 1, getattr(fields, self.stride)) + 1
        if isinstance(self.count, CeilDiv):
            numerator = self.count.numerator._value(fields, config, world)
            denominator = self.count.denominator._value(fields, config, world)
            return world.select(x < first, True, (x - first) * denominator < numerator)
        return x < first + self.count._value(fields, config, world)


_N, _M, _D = Field("n"), Field("m"), Field("d")
#: PROJ and UPDATE read basis words ``a + s d + k`` (slot ``s < n``, block ``k < m``): the
#: interval from the first to the last.
_BASIS = BlockSpan(_N, _D, _M)

#: The operands of every opcode (docs/isa.md, "Checks"), in the order the steps use them.
OPERANDS = {
    Opcode.HALT: (),
    Opcode.ZERO: (Operand("words", "buffer", "a", _N, access="write"),),
    Opcode.LOAD: (Operand("bank", "bank", "a", _N),
                  Operand("buffer", "buffer", "b", _N, access="write"),
                  Operand("row", "cluster_row", "m", 1)),
    Opcode.STORE: (Operand("buffer", "buffer", "a", _N),
                   Operand("bank", "bank", "b", _N, access="write"),
                   Operand("row", "cluster_row", "m", 1)),
    Opcode.MV: (Operand("tiles", "buffer", "a", _N * _M),
                Operand("x", "buffer", "b", _M),
                Operand("outputs", "buffer", "c", CeilDiv(_N, Param("cluster_cols")),
                        access="write")),
    Opcode.MTV: (Operand("tiles", "buffer", "a", _N * _M),
                 Operand("y", "buffer", "b", _N),
                 Operand("outputs", "buffer", "c", CeilDiv(_M, Param("cluster_rows")),
                         access="write")),
    Opcode.PROJ: (Operand("basis", "buffer", "a", _BASIS),
                  Operand("vector", "buffer", "b", _N),
                  Operand("coefficients", "buffer", "c", _M, access="write")),
    Opcode.UPDATE: (Operand("basis", "buffer", "a", _BASIS),
                    Operand("coefficients", "buffer", "b", _M),
                    Operand("vector", "buffer", "c", _N, access="update")),
    Opcode.NORM: (Operand("vector", "buffer", "a", _N),
                  Operand("scalars", "buffer", "b", 2, access="write"),
                  Operand("result", "broadcast", "m", 1, access="write")),
    Opcode.SCALE: (Operand("vector", "buffer", "a", _N, access="update"),
                   Operand("scalars", "buffer", "b", 2),
                   Operand("basis", "buffer", "c", _N, stride="d", access="write"),
                   Operand("lane", "lane", "m", 1)),
    Opcode.BCAST: (Operand("source", "buffer", "a", _N),
                   Operand("destination", "buffer", "b",
                           _N * BySide(u=Param("cluster_cols"), v=Param("cluster_rows")),
                           access="write")),
}

#: Opcodes whose ``side`` field is used (and checked); the others ignore it.
SIDED_OPCODES = frozenset({Opcode.PROJ, Opcode.UPDATE, Opcode.NORM, Opcode.SCALE, Opcode.BCAST})


def field_roles(op: Opcode) -> dict[str, str]:
    """What each field opcode ``op`` uses holds, from :data:`OPERANDS` (:meth:`Operand.fields`),
    in :data:`FIELDS` order; fields it does not use (and ``side``) are absent."""
    roles = {}
    for operand in OPERANDS[op]:
        roles.update(operand.fields())
    return {name: roles[name] for name, _ in FIELDS if name in roles}


def _count_nonzero(count: Expr, fields, config, world):
    if isinstance(count, CeilDiv):
        return count.numerator._value(fields, config, world) != 0
    return count._value(fields, config, world) != 0


def _overlap(one: Operand, one_fields, other: Operand, other_fields, config, world):
    return (one._nonempty(one_fields, config, world)
            & other._nonempty(other_fields, config, world)
            & one._before_end(getattr(other_fields, other.first), one_fields, config, world)
            & other._before_end(getattr(one_fields, one.first), other_fields, config, world))


def _interfere(op: Opcode, fields, config, world):
    buffer = [operand for operand in OPERANDS[op] if operand.space == "buffer"]
    terms = []
    for k, operand in enumerate(buffer):
        if operand.access == "read":
            continue
        if operand.stride is not None:
            terms.append((getattr(fields, operand.stride) == 0)
                         & (operand.count._value(fields, config, world) > 1))
        for other in buffer[:k] + buffer[k + 1:]:
            terms.append(_overlap(operand, fields, other, fields, config, world))
    return terms


def steps_interfere(ins: Instruction, config) -> bool:
    """Whether the steps of ``ins`` may read or overwrite each other's words: a buffer operand
    it writes overlaps another of its buffer operands (as intervals), or a strided write hits
    one word twice. The ISA simulator then runs the steps one by one, and the controller one
    sum at a time, each finished before the next."""
    return any(bool(term) for term in _interfere(Opcode(ins.op), ins, config, _Ints))


def elaborate_steps_interfere(op: Opcode, fields, config, multiply=None) -> list:
    """:func:`steps_interfere` for opcode ``op`` as one-bit Amaranth terms of decoded
    ``fields``, any of which set means interference (products of two fields through
    ``multiply``, see :meth:`Expr.elaborate`)."""
    return _interfere(op, fields, config, _Values(multiply))


def _writes_overlap(op: Opcode, fields, earlier: Opcode, earlier_fields, config, world):
    return [_overlap(operand, fields, written, earlier_fields, config, world)
            for operand in OPERANDS[op] if operand.space == "buffer"
            for written in OPERANDS[earlier]
            if written.space == "buffer" and written.access != "read"]


def touches_writes_of(ins: Instruction, earlier: Instruction, config) -> bool:
    """Whether a buffer operand of ``ins`` overlaps a buffer operand that ``earlier`` writes:
    the controller then starts ``ins`` only once ``earlier``'s results are all written."""
    return any(bool(term) for term in _writes_overlap(Opcode(ins.op), ins, Opcode(earlier.op),
                                                      earlier, config, _Ints))


def elaborate_touches_writes_of(op: Opcode, fields, earlier: Opcode, earlier_fields, config,
                                multiply=None) -> list:
    """:func:`touches_writes_of` for opcodes ``op`` and ``earlier`` as one-bit Amaranth terms
    of their decoded fields, any of which set means an overlap."""
    return _writes_overlap(op, fields, earlier, earlier_fields, config, _Values(multiply))

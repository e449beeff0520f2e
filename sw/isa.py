"""The D-com instruction set: the one definition of opcodes, fields and encodings.

The controller's decoder (``dcom.hw.top``) builds its instruction layout from :data:`FIELDS` and
:class:`Opcode`, and the compiler and ISA simulator encode and decode with :class:`Instruction`,
so hardware and software cannot disagree on an encoding. ``docs/isa.md`` gives the semantics.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

__all__ = ["FIELDS", "INSTRUCTION_BITS", "Instruction", "Opcode", "Side", "Status",
           "ResultIndex", "IsaError", "Space", "Register", "HostError", "InstructionClass",
           "instruction_class"]


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

"""The host port of the top level: banks, program memory, broadcast memory, control registers.

One request a cycle; a read's data comes the next cycle (docs/isa.md, "Host interface").
Requests the controller cannot honour set a sticky error code instead of doing anything: a
start, or a bank or program write, while a program runs, or an address beyond the memory.
"""

from __future__ import annotations

from amaranth import Array, Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dcom.config import DcomConfig
from dcom.hw.controller import COUNTER_BITS
from dcom.isa import INSTRUCTION_BITS, HostError, InstructionClass, Register, Space, Status

__all__ = ["HostPort", "host_signature", "host_data_bits"]


def host_data_bits(config: DcomConfig) -> int:
    """Width of the host data port: a buffer word or an instruction, whichever is wider."""
    return max(config.word_bits, INSTRUCTION_BITS, COUNTER_BITS)


def host_signature(config: DcomConfig) -> wiring.Signature:
    """The host port, from the host's side: one request a cycle, read data the next cycle."""
    return wiring.Signature({
        "valid": Out(1),
        "write": Out(1),
        "space": Out(2),
        "index": Out(16),
        "addr": Out(32),
        "wdata": Out(host_data_bits(config)),
        "rvalid": In(1),
        "rdata": In(host_data_bits(config)),
    })


class HostPort(wiring.Component):
    """Decodes host requests into memory and register accesses.

    Ports
    -----
    host : the host's requests (:func:`host_signature`).
    busy, status, stop_pc, cycles, class_cycles : the controller's state, readable.
    start, tol : a start (pulse) and the breakdown threshold register, to the controller.
    bank_read_addr, bank_read_data, bank_write : bank ports used while no program runs
        (``bank_write`` names the column in ``index``).
    program_write, broadcast_read_addr, broadcast_read_data : the program memory's write port
        and the broadcast memory's read port.
    """

    def __init__(self, config: DcomConfig):
        self.config = config
        bank_addr = max(1, (config.bank_depth - 1).bit_length())
        super().__init__({
            "host": In(host_signature(config)),
            "busy": In(1),
            "status": In(range(max(Status) + 1)),
            "stop_pc": In(range(config.program_depth + 1)),
            "cycles": In(COUNTER_BITS),
            "class_cycles": In(data.ArrayLayout(COUNTER_BITS, len(InstructionClass))),
            "start": Out(1),
            "tol": Out(32),
            "bank_read_addr": Out(bank_addr),
            "bank_read_data": In(data.ArrayLayout(config.word_bits, config.cluster_cols)),
            "bank_write": Out(wiring.Signature({
                "en": Out(1), "index": Out(16), "addr": Out(bank_addr),
                "data": Out(config.word_bits)})),
            "program_write": Out(wiring.Signature({
                "en": Out(1), "addr": Out(range(config.program_depth)),
                "data": Out(INSTRUCTION_BITS)})),
            "broadcast_read_addr": Out(range(config.broadcast_depth)),
            "broadcast_read_data": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        config, host = self.config, self.host
        C = config.cluster_cols
        host_error = Signal(range(max(HostError) + 1))
        tol = Signal(32)
        m.d.comb += [self.tol.eq(tol), self.bank_read_addr.eq(host.addr),
                     self.broadcast_read_addr.eq(host.addr)]
        registers = Array([Const(0, 1), tol, self.status, self.stop_pc, host_error, self.cycles,
                           *(self.class_cycles[k] for k in range(len(InstructionClass)))])
        in_range = Signal()
        with m.Switch(host.space):
            with m.Case(Space.BANK):
                m.d.comb += in_range.eq((host.index < C) & (host.addr < config.bank_depth))
            with m.Case(Space.PROGRAM):
                m.d.comb += in_range.eq(host.addr < config.program_depth)
            with m.Case(Space.BROADCAST):
                m.d.comb += in_range.eq((host.addr < config.broadcast_depth) & ~host.write)
            with m.Case(Space.CONTROL):
                m.d.comb += in_range.eq((host.addr < len(Register))
                                        & (~host.write | (host.addr == Register.START)
                                           | (host.addr == Register.TOL)))
        # While a program runs, the host may read control registers and the broadcast memory.
        blocked = self.busy & in_range & ((host.write & (host.space != Space.BROADCAST))
                                          | (~host.write & (host.space == Space.BANK)))
        read_space = Signal.like(host.space)
        read_reg = Signal(range(len(Register)))
        read_bank = Signal(range(max(2, C)))
        m.d.sync += [host.rvalid.eq(host.valid & ~host.write), read_space.eq(host.space),
                     read_reg.eq(host.addr), read_bank.eq(host.index)]
        with m.Switch(read_space):
            with m.Case(Space.BANK):
                m.d.comb += host.rdata.eq(self.bank_read_data[read_bank])
            with m.Case(Space.BROADCAST):
                m.d.comb += host.rdata.eq(self.broadcast_read_data)
            with m.Case(Space.CONTROL):
                m.d.comb += host.rdata.eq(registers[read_reg])
        with m.If(host.valid):
            with m.If(~in_range):
                m.d.sync += host_error.eq(HostError.BAD_ADDRESS)
            with m.Elif(blocked):
                m.d.sync += host_error.eq(HostError.BUSY)
            with m.Elif(host.write):
                with m.Switch(host.space):
                    with m.Case(Space.BANK):
                        m.d.comb += [self.bank_write.en.eq(1),
                                     self.bank_write.index.eq(host.index),
                                     self.bank_write.addr.eq(host.addr),
                                     self.bank_write.data.eq(host.wdata[:config.word_bits])]
                    with m.Case(Space.PROGRAM):
                        m.d.comb += [self.program_write.en.eq(1),
                                     self.program_write.addr.eq(host.addr),
                                     self.program_write.data.eq(host.wdata[:INSTRUCTION_BITS])]
                    with m.Case(Space.CONTROL):
                        with m.If(host.addr == Register.TOL):
                            m.d.sync += tol.eq(host.wdata[:32])
                        with m.Else():
                            m.d.comb += self.start.eq(1)
                            m.d.sync += host_error.eq(HostError.NONE)
        return m

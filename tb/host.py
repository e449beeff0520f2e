"""A cocotb driver for the host port of the D-com top level (``dcom.hw.top``)."""

from __future__ import annotations

import time

import numpy as np
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge, Timer

from dcom.config import DcomConfig
from dcom.isa import HostError, Instruction, Register, Space, Status

__all__ = ["HostDriver", "ProgramTimeout"]


class ProgramTimeout(AssertionError):
    """The program did not stop within the allowed cycles."""


def _lanes(value: int, count: int) -> np.ndarray:
    return np.array([(value >> (16 * k)) & 0xFFFF for k in range(count)], dtype=np.uint16)


class HostDriver:
    """Issues host requests, one per cycle, and reads their answers.

    Call :meth:`reset` once the clock runs. Every method returns at a falling edge, the point
    where the next request is driven.

    Parameters
    ----------
    dut
        The top level's cocotb handle.
    config : DcomConfig
    clock_period_ns : float
        Period of the clock the bench drives (for :meth:`wait`'s time limit).
    """

    def __init__(self, dut, config: DcomConfig, clock_period_ns: float):
        self.dut = dut
        self.config = config
        self.clock_period_ns = clock_period_ns
        self.run_seconds = 0.0

    async def reset(self) -> None:
        dut = self.dut
        dut.host__valid.value = 0
        dut.host__write.value = 0
        dut.rst.value = 1
        for _ in range(2):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        await FallingEdge(dut.clk)

    async def _request(self, space: Space, write: bool, addr: int, index: int = 0,
                       data: int = 0) -> int | None:
        dut = self.dut
        dut.host__space.value = int(space)
        dut.host__write.value = int(write)
        dut.host__addr.value = addr
        dut.host__index.value = index
        dut.host__wdata.value = data
        dut.host__valid.value = 1
        await RisingEdge(dut.clk)
        dut.host__valid.value = 0
        value = None
        if not write:
            await ReadOnly()
            assert int(dut.host__rvalid.value) == 1, "host read not answered"
            value = int(dut.host__rdata.value)
        await FallingEdge(dut.clk)
        return value

    async def write_bank(self, column: int, addr: int, word) -> None:
        value = sum(int(w) << (16 * k) for k, w in enumerate(word))
        await self._request(Space.BANK, True, addr, column, value)

    async def read_bank(self, column: int, addr: int) -> np.ndarray:
        return _lanes(await self._request(Space.BANK, False, addr, column),
                      self.config.macs_per_cluster)

    def _bank_memory(self, column: int):
        # The SRAM model's array (dcom.hw.sram): instance bank_<c> of the top level.
        return getattr(self.dut, f"bank_{column}").mem

    async def load_banks(self, images, bulk: bool = False) -> None:
        """Write ``images[c]`` (``words x P*Q`` uint16) into bank ``c`` from address 0.

        Through the host port, one word a cycle; or, with ``bulk``, straight into the SRAM
        models' arrays through the simulator's VPI, without simulating a cycle (for large
        runs, where the cycles of the host port dominate).
        """
        for column, image in enumerate(images):
            if bulk:
                memory = self._bank_memory(column)
                for addr, word in enumerate(image):
                    memory[addr].value = int.from_bytes(
                        np.asarray(word, dtype="<u2").tobytes(), "little")
                continue
            for addr, word in enumerate(image):
                await self.write_bank(column, addr, word)

    async def read_banks(self, words: int, bulk: bool = False) -> np.ndarray:
        """The first ``words`` words of every bank, ``(C, words, P*Q)`` uint16; through the
        host port, or with ``bulk`` from the SRAM models' arrays (see :meth:`load_banks`)."""
        columns = range(self.config.cluster_cols)
        if not bulk:
            return np.array([[await self.read_bank(c, a) for a in range(words)]
                             for c in columns], dtype=np.uint16)
        size = 2 * self.config.macs_per_cluster
        return np.array([[np.frombuffer(int(self._bank_memory(c)[a].value).to_bytes(
            size, "little"), dtype="<u2") for a in range(words)] for c in columns],
            dtype=np.uint16)

    async def load_program(self, program) -> None:
        for addr, inst in enumerate(program):
            word = inst.encode() if isinstance(inst, Instruction) else int(inst)
            await self._request(Space.PROGRAM, True, addr, data=word)

    async def read_broadcast(self, addr: int) -> int:
        return await self._request(Space.BROADCAST, False, addr)

    async def write_register(self, register: Register, value: int) -> None:
        await self._request(Space.CONTROL, True, int(register), data=value)

    async def read_register(self, register: Register) -> int:
        return await self._request(Space.CONTROL, False, int(register))

    async def set_tol(self, tol: float) -> None:
        await self.write_register(Register.TOL, int(np.float32(tol).view(np.uint32)))

    async def start(self) -> None:
        await self.write_register(Register.START, 1)

    async def wait(self, max_cycles: int) -> Status:
        """Wait until the program stops; its status. Raises after ``max_cycles`` cycles.

        Waits for ``busy`` to fall rather than cycle by cycle, so that the simulator runs the
        program without calling back into Python every cycle.
        """
        if int(self.dut.busy.value):
            limit = Timer(max_cycles * self.clock_period_ns, unit="ns")
            if await First(FallingEdge(self.dut.busy), limit) is limit:
                raise ProgramTimeout(f"program still running after {max_cycles} cycles")
        await FallingEdge(self.dut.clk)
        return Status(await self.read_register(Register.STATUS))

    async def run(self, images, program, tol: float, max_cycles: int,
                  bulk: bool = False) -> tuple[Status, int]:
        """Load ``images`` into the banks (:meth:`load_banks`) and ``program``, set the
        breakdown threshold, start, and wait for the stop; ``(status, stop pc)``, as
        :meth:`run_program`."""
        await self.load_banks(images, bulk)
        await self.set_tol(tol)
        return await self.run_program(program, max_cycles)

    async def run_program(self, program, max_cycles: int) -> tuple[Status, int]:
        """Load ``program``, start it and wait for the stop, with the banks, buffers and
        threshold as they are; ``(status, stop pc)``. Adds the wall time from the start to the
        stop to :attr:`run_seconds`."""
        await self.load_program(program)
        started = time.monotonic()
        await self.start()
        status = await self.wait(max_cycles)
        self.run_seconds += time.monotonic() - started
        return status, await self.read_register(Register.STOP_PC)

    async def host_error(self) -> HostError:
        return HostError(await self.read_register(Register.HOST_ERROR))

    async def counters(self) -> dict:
        """Total and per-class cycle counts."""
        names = [r for r in Register if r.name.startswith("CYCLES")]
        return {r.name.lower(): await self.read_register(r) for r in names}

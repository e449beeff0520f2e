"""cocotb testbench for the tiny counter that tests the simulation plumbing."""

import os
import signal

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly


@cocotb.test()
async def counts_clock_edges(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    if os.environ.get("COUNTER_CRASH"):
        # Dies as a simulator running a damaged build does.
        os.kill(os.getpid(), signal.SIGSEGV)
    cycles = int(os.environ["COUNTER_CYCLES"])
    await ClockCycles(dut.clk, cycles)
    await ReadOnly()
    expected = int(os.environ.get("COUNTER_EXPECT", cycles))
    assert int(dut.count.value) == expected, f"count {int(dut.count.value)} != {expected}"

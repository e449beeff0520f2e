"""Wrappers that put the floating-point units into testable top-level designs.

:class:`FPLanes` places copies of one combinational unit side by side, so that the Verilator
harness checks many vectors per model evaluation; :class:`ScalarLanes` does the same for the
multi-cycle scalar unit, all copies started together. :class:`FPUnitBench` holds one pipelined
instance of every unit behind shared operand ports, so that a cocotb run builds one design per
simulator for all of them.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dcom.config import FORMATS
from dcom.hw.scalar import ScalarOp, ScalarUnit
from dcom.tb.fp_reference import UNITS, FPUnitSpec

__all__ = ["FPLanes", "ScalarLanes", "FPUnitBench", "BENCH_STAGES", "fault_operand",
           "SCALAR_FAULT_OPERAND"]

#: Pipeline registers of each unit in :class:`FPUnitBench`: full and partial use of the cut
#: points, and spare registers on the output.
BENCH_STAGES = {"mul_fp32": 2, "mul_fp16": 3, "add_fp16": 3, "add_fp32": 2, "widen": 1,
                "narrow": 2}


def fault_operand(spec: FPUnitSpec) -> int:
    """Operand (one, in the input format) on which a faulty :class:`FPLanes` flips its LSB."""
    return spec.in_format.bias << spec.in_format.man_bits


class FPLanes(wiring.Component):
    """``lanes`` combinational copies of one unit; lane ``i`` uses bits ``i*w .. i*w+w-1``.

    Parameters
    ----------
    spec : FPUnitSpec
        The unit.
    lanes : int
        Number of copies.
    fault : bool
        Make every lane wrong in its result's LSB when all its operands are
        :func:`fault_operand`, to show that a harness catches a wrong unit.

    Attributes
    ----------
    a, b : Signal(lanes * input width), in
        Operands (``b`` only for two-operand units).
    y : Signal(lanes * output width), out
        Results.
    """

    def __init__(self, spec: FPUnitSpec, lanes: int, fault: bool = False):
        self._spec = spec
        self._lanes = lanes
        self._fault = fault
        ports = {name: In(lanes * spec.in_format.width) for name in "ab"[:spec.arity]}
        ports["y"] = Out(lanes * spec.out_format.width)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        spec = self._spec
        in_width = spec.in_format.width
        inputs = [getattr(self, name) for name in "ab"[:spec.arity]]
        results = []
        for lane in range(self._lanes):
            unit = m.submodules[f"lane{lane}"] = spec.build(0)
            operands = [port.word_select(lane, in_width) for port in inputs]
            for name, operand in zip("ab", operands):
                m.d.comb += getattr(unit, name).eq(operand)
            result = getattr(unit, spec.output)
            if self._fault:
                hit = Cat(x == fault_operand(spec) for x in operands).all()
                result = result ^ hit
            results.append(result)
        m.d.comb += self.y.eq(Cat(results))
        return m


#: Operand (FP32 one) on which a faulty :class:`ScalarLanes` flips its result's LSB.
SCALAR_FAULT_OPERAND = FORMATS["fp32"].bias << FORMATS["fp32"].man_bits


class ScalarLanes(wiring.Component):
    """``lanes`` scalar units run in lock step; lane ``i`` uses bits ``i*32 .. i*32+31``.

    The inputs pass through a register before the units, so that the units' next-state logic
    depends on registers only: Verilator then evaluates it once a clock cycle, not again at the
    falling edge (an evaluation that follows an input change), which makes a harness run 1.6
    times faster. The register adds a cycle to :attr:`latency`.

    Parameters
    ----------
    lanes : int
        Number of units.
    fault : bool
        Make a lane's result wrong in its LSB while its operand is
        :data:`SCALAR_FAULT_OPERAND`, to show that a harness catches a wrong unit.

    Attributes
    ----------
    start, op : Signal, in
        Shared by every unit.
    a : Signal(lanes * 32), in
        Operands.
    y : Signal(lanes * 32), out
        Results.
    done_all, done_any : Signal(1), out
        Every unit, or some unit, signals ``done``.
    """

    #: Cycles from start to done of every unit, the input register included.
    latency = 1 + ScalarUnit.latency

    def __init__(self, lanes: int, fault: bool = False):
        self._lanes = lanes
        self._fault = fault
        width = FORMATS["fp32"].width
        super().__init__({"start": In(1), "op": In(ScalarOp), "a": In(lanes * width),
                          "y": Out(lanes * width), "done_all": Out(1), "done_any": Out(1)})

    def elaborate(self, platform):
        m = Module()
        width = FORMATS["fp32"].width
        start, op, a = Signal(), Signal(ScalarOp), Signal.like(self.a)
        m.d.sync += [start.eq(self.start), op.eq(self.op), a.eq(self.a)]
        results, dones = [], []
        for lane in range(self._lanes):
            unit = m.submodules[f"lane{lane}"] = ScalarUnit()
            operand = a.word_select(lane, width)
            m.d.comb += [unit.start.eq(start), unit.op.eq(op), unit.a.eq(operand)]
            result = unit.result
            if self._fault:
                result = result ^ (operand == SCALAR_FAULT_OPERAND)
            results.append(result)
            dones.append(unit.done)
        m.d.comb += [self.y.eq(Cat(results)), self.done_all.eq(Cat(dones).all()),
                     self.done_any.eq(Cat(dones).any())]
        return m


class FPUnitBench(wiring.Component):
    """One pipelined instance of every unit in :data:`UNITS`, side by side.

    The FP16 operands ``a16``, ``b16`` feed the multipliers, the FP16 adder and the widening
    conversion; the FP32 operands ``a32``, ``b32`` feed the FP32 adder and the narrowing
    conversion. Each unit's result is the output port named after it (e.g. ``mul_fp32``);
    its latency is :attr:`latencies`.

    Parameters
    ----------
    stages : dict, optional
        Pipeline registers per unit name; defaults to :data:`BENCH_STAGES`.
    """

    def __init__(self, stages: dict[str, int] | None = None):
        self._stages = dict(BENCH_STAGES if stages is None else stages)
        ports = {f"{name}{fmt[2:]}": In(FORMATS[fmt].width)
                 for fmt in ("fp16", "fp32") for name in "ab"}
        ports.update({name: Out(spec.out_format.width) for name, spec in UNITS.items()})
        super().__init__(ports)

    @property
    def latencies(self) -> dict[str, int]:
        """Clock cycles from the operands to each unit's output port."""
        return dict(self._stages)

    def elaborate(self, platform):
        m = Module()
        for name, spec in UNITS.items():
            unit = m.submodules[name] = spec.build(self._stages[name])
            bits = spec.in_format.name[2:]
            for port in "ab"[:spec.arity]:
                m.d.comb += getattr(unit, port).eq(getattr(self, f"{port}{bits}"))
            m.d.comb += getattr(self, name).eq(getattr(unit, spec.output))
        return m

"""dcom's verified units as stand-alone modules, for use in other designs.

:data:`UNITS` names each unit that ``dcom generate --unit`` writes (see
:func:`dcom.hw.generate.generate_unit`): how it is built from a :class:`DcomConfig`, the name
of its Verilog module, what each port means, and its latency. :func:`port_table` turns one
into the Markdown that goes beside the Verilog.
"""

from __future__ import annotations

import enum as py_enum
from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import Shape, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from dcom.config import MAX_STAGES, ConfigError, DcomConfig
from dcom.hw.cluster import Cluster
from dcom.hw.fp import FPAdder, FPConvert, FPMultiplier
from dcom.hw.hierarchy import ModuleLibrary, module_ports
from dcom.hw.scalar import ScalarUnit

__all__ = ["UNITS", "Unit", "port_table", "unit", "unit_stages"]

#: Meaning of the clock and reset ports that every clocked unit has.
_CLOCK_PORTS = {
    "clk": "clock; every register samples on its rising edge",
    "rst": "synchronous reset, active high",
}


@dataclass(frozen=True)
class Unit:
    """One unit that ``dcom generate --unit`` writes.

    Parameters
    ----------
    summary : str
        What the unit does, for the port table.
    build : callable
        ``build(config, stages, library)`` returns the component; ``stages`` is ``None`` for
        a unit with a fixed pipeline, and the library receives any submodules.
    module : callable
        ``module(config, stages)`` returns the Verilog module name; it encodes every
        parameter of the design, as :class:`ModuleLibrary` requires.
    ports : dict
        Meaning of every Verilog port but the clock and reset, by port name.
    latency : callable
        ``latency(block)`` describes the unit's latency in cycles, in a sentence.
    fields : tuple of str
        The :class:`DcomConfig` fields the unit depends on.
    default_stages : callable or None
        ``default_stages(config)`` gives the pipeline stages when none are asked for; ``None``
        for a unit whose pipeline is fixed, which takes no stage count.
    """

    summary: str
    build: Callable[[DcomConfig, int | None, ModuleLibrary], wiring.Component]
    module: Callable[[DcomConfig, int | None], str]
    ports: dict[str, str]
    latency: Callable[[wiring.Component], str]
    fields: tuple[str, ...] = ()
    default_stages: Callable[[DcomConfig], int] | None = None


def _pipelined(block) -> str:
    if block.latency == 0:
        return "0 cycles: combinational, no clock"
    return f"{block.latency} cycles from the operands to the result, one new operation a cycle"


def _cluster_latency(block: Cluster) -> str:
    return (f"{block.latency} cycles from a command's issue to the update of its accumulator "
            f"set; {block.write_latency} cycles from a WRITE_ROWS or WRITE_COLS command's issue "
            f"to its buffer write; a command that reads a set must issue at least "
            f"{block.config.acc_latency} cycles after the previous command that updated it; a "
            f"host read is answered 1 cycle after it is taken")


UNITS: dict[str, Unit] = {
    "fp_mul": Unit(
        summary="FP16 x FP16 multiplier; the product in the accumulation format (--acc): "
                "exact in FP32, or rounded to nearest even in FP16.",
        build=lambda config, stages, library: FPMultiplier(config.acc_format, stages),
        module=lambda config, stages: f"dcom_fp_mul_{config.acc_format}_s{stages}",
        ports={"a": "FP16 operand", "b": "FP16 operand",
               "product": "a * b in the accumulation format"},
        latency=_pipelined, fields=("acc_format",),
        default_stages=lambda config: config.mul_stages),
    "fp_add": Unit(
        summary="Adder of two values in the accumulation format (--acc), rounded to nearest "
                "even; an exact zero sum is +0 unless both operands are -0.",
        build=lambda config, stages, library: FPAdder(config.acc_format, stages),
        module=lambda config, stages: f"dcom_fp_add_{config.acc_format}_s{stages}",
        ports={"a": "operand, accumulation format", "b": "operand, accumulation format",
               "sum": "a + b, accumulation format"},
        latency=_pipelined, fields=("acc_format",),
        default_stages=lambda config: config.add_stages),
    "convert_fp16_fp32": Unit(
        summary="FP16 to FP32 conversion, exact.",
        build=lambda config, stages, library: FPConvert("fp16", "fp32", stages),
        module=lambda config, stages: f"dcom_fp_convert_fp16_fp32_s{stages}",
        ports={"a": "FP16 value", "result": "a in FP32"},
        latency=_pipelined, default_stages=lambda config: 0),
    "convert_fp32_fp16": Unit(
        summary="FP32 to FP16 conversion, rounded to nearest even, overflowing to infinity.",
        build=lambda config, stages, library: FPConvert("fp32", "fp16", stages),
        module=lambda config, stages: f"dcom_fp_convert_fp32_fp16_s{stages}",
        ports={"a": "FP32 value", "result": "a rounded to FP16"},
        latency=_pipelined, default_stages=lambda config: 0),
    "scalar": Unit(
        summary="FP32 square root and reciprocal, correctly rounded, one result bit a cycle "
                "(the controller's scalar unit).",
        build=lambda config, stages, library: ScalarUnit(),
        module=lambda config, stages: "dcom_scalar",
        ports={"start": "begin an operation on a (taken when busy is low)",
               "op": "operation, sampled with start",
               "a": "FP32 operand, sampled with start",
               "busy": "an operation is in progress; a start now is ignored",
               "done": "one-cycle pulse: result is ready",
               "result": "sqrt(a) or 1/a in FP32, valid from done until the next start"},
        latency=lambda block: (f"{block.latency} cycles from a start taken to done, either "
                               "operation and any operand; the next start may come in the "
                               "done cycle")),
    "cluster": Unit(
        summary="One D-com cluster: a P x Q grid of FP16 multipliers with row and column "
                "reduction trees, accumulator sets and its shared buffer; the arithmetic "
                "units and the buffer's memory are submodules.",
        build=lambda config, stages, library: Cluster(config, library),
        module=lambda config, stages: "dcom_cluster",
        ports={
            "cmd__valid": "a command issues this cycle (always accepted)",
            "cmd__payload": "the command",
            "fill__valid": "host write of lanes of a buffer word",
            "fill__ready": "the write is taken (low while a write-back retires)",
            "fill__addr": "buffer word written",
            "fill__lanes": "lane enables of the write, bit k for lane k",
            "fill__data": "the word, P x Q FP16 lanes, lane i Q + j for multiplier (i, j)",
            "read__valid": "host read of a buffer word",
            "read__ready": "the read is taken (low while a command issues)",
            "read__addr": "buffer word read",
            "read__resp_valid": "read__data holds the word read the cycle before",
            "read__data": "the word read, lanes as fill__data",
            "acc_read": "accumulator set shown on row_acc and col_acc",
            "row_acc": "the set's P row accumulators, accumulation format",
            "col_acc": "the set's Q column accumulators, accumulation format",
            "idle": "no command in flight",
        },
        latency=_cluster_latency,
        fields=("grid_rows", "grid_cols", "mul_format", "acc_format", "buffer_depth",
                "mul_stages", "add_stages", "acc_sets", "acc_stages", "tree_registers")),
}


def unit(name: str) -> Unit:
    """The unit called ``name``.

    Raises
    ------
    ConfigError
        For an unknown name, listing the known ones.
    """
    if name not in UNITS:
        raise ConfigError("--unit", name, ", ".join(UNITS))
    return UNITS[name]


def unit_stages(name: str, config: DcomConfig, stages: int | None) -> int | None:
    """The pipeline stages unit ``name`` is built with: ``stages``, or the configuration's
    default for the unit when ``None``; ``None`` for a unit with a fixed pipeline.

    Raises
    ------
    ConfigError
        If ``stages`` is out of range, or given for a unit with a fixed pipeline.
    """
    pipelined = [known for known, spec in UNITS.items() if spec.default_stages is not None]
    allowed = f"integers from 0 to {MAX_STAGES}, for the units {', '.join(pipelined)}"
    spec = unit(name)
    if spec.default_stages is None:
        if stages is not None:
            raise ConfigError("--stages", stages, f"{allowed} (the {name} unit's pipeline is "
                                                  "fixed: leave --stages out)")
        return None
    if stages is None:
        return spec.default_stages(config)
    if isinstance(stages, bool) or not isinstance(stages, int) or not 0 <= stages <= MAX_STAGES:
        raise ConfigError("--stages", stages, allowed)
    return stages


def _layout_note(value) -> str:
    """How the bits of a port with a layout or an enum shape are used, for its meaning."""
    if isinstance(value, data.View):
        layout = value.shape()
        if isinstance(layout, data.ArrayLayout):
            width = Shape.cast(layout.elem_shape).width
            return (f"; {layout.length} elements of {width} bits, element k in bits "
                    f"[{width}k+{width - 1}:{width}k]")
        if isinstance(layout, data.StructLayout):
            fields = []
            for field_name, field in layout:
                bits = (f"[{field.offset}]" if field.width == 1
                        else f"[{field.offset + field.width - 1}:{field.offset}]")
                fields.append(f"{field_name} {bits}{_enum_values(field.shape)}")
            return "; fields: " + ", ".join(fields)
    shape = getattr(value, "shape", lambda: None)()
    return _enum_values(shape)


def _enum_values(shape) -> str:
    if isinstance(shape, type) and issubclass(shape, py_enum.Enum):
        return " (" + ", ".join(f"{member.name}={member.value}" for member in shape) + ")"
    return ""


def port_table(name: str, config: DcomConfig, stages: int | None, block: wiring.Component,
               module: str, verilog_text: str, submodules: list[str]) -> str:
    """The Markdown description of unit ``name`` as module ``module``: what it does, its
    latency, the configuration it was built for, and each port's direction, width and meaning.

    Parameters
    ----------
    name : str
        Unit name, a key of :data:`UNITS`.
    config : DcomConfig
        The configuration it was built from.
    stages : int or None
        Its pipeline stages (``None``: fixed pipeline).
    block : wiring.Component
        The unit as built.
    module : str
        Its Verilog module name.
    verilog_text : str
        Its Verilog, which tells whether it has a clock.
    submodules : list of str
        The other modules its Verilog instantiates, written beside it.
    """
    spec = UNITS[name]
    lines = [f"# `{module}`: the {name} unit", "", spec.summary, "",
             f"**Latency:** {spec.latency(block)}.", ""]
    if stages is not None:
        lines += [f"**Pipeline stages:** {stages} (`--stages`, 0 to {MAX_STAGES}).", ""]
    if spec.fields:
        settings = ", ".join(f"{field} = {getattr(config, field)}" for field in spec.fields)
        lines += [f"**Configuration:** {settings}.", ""]
    if submodules:
        lines += ["**Submodules** (in their own files): "
                  + ", ".join(f"`{sub}`" for sub in submodules) + ".", ""]
    lines += ["| port | direction | width | meaning |", "|---|---|---|---|"]
    verilog_ports = module_ports(verilog_text, module)
    for port in ("clk", "rst"):
        if port in verilog_ports:
            lines.append(f"| `{port}` | input | 1 | {_CLOCK_PORTS[port]} |")
    for path, member, value in block.signature.flatten(block):
        port = "__".join(map(str, path))
        direction = "input" if member.flow == In else "output"
        meaning = spec.ports[port] + _layout_note(value)
        lines.append(f"| `{port}` | {direction} | {len(Value.cast(value))} | {meaning} |")
    return "\n".join(lines) + "\n"

"""SRAM macros: the model behind their figures, and their views for the synthesis flow.

Memories are not synthesized into flip-flops. Each Amaranth ``lib.memory.Memory`` becomes a
``$mem_v2`` cell in Yosys; the flow maps every one with synchronous read ports to a black-box
macro, the way open flows use "fake RAM" generators. For each distinct shape (depth, width,
read ports, write ports) this module produces

* the figures: area, leakage and energy per read and per write access (:func:`sram_figures`),
* a Verilog black-box stub for synthesis and a behavioural model for gate-level simulation,
* a Liberty cell (one library for all macros of a design),
* the Yosys techmap rule that replaces matching ``$mem_v2`` cells by the macro.

The model (sources and derivations in ``docs/liberty.md``):

* The array is folded by a column multiplexer so that it is close to square, then split into
  sub-arrays of at most ``SUBARRAY_MAX_ROWS`` x ``SUBARRAY_MAX_COLS`` bitcells.
* Area per sub-array = bitcells x bitcell area x port factor, plus periphery strips along its
  edges (row decoder and wordline drivers along the rows, sense amplifiers, write drivers and
  column multiplexers along the columns), one set per port, plus one control block per port.
* Leakage = bitcells x bitcell leakage + periphery area x the standard-cell leakage density.
* Energy per access of a ``W``-bit word = ``W * k * sqrt(D * W)``: the energy per bit grows with
  the square root of the capacity (bitline and wordline lengths), fitted to Horowitz's 45 nm
  figures and scaled to 15 nm and 0.8 V.
* A memory larger than the largest fitted point (1 MB) is built the way a memory compiler
  would: ``banks`` macros of at most that size, split by depth, each with its own periphery,
  and a repeated global wire from the port to the banks; an access costs one bank's energy
  plus the word's trip over three quarters of the banks' side.
* Timing (an estimate in FO4 delays of the standard cells, :func:`access_time_ps`): clock to
  read data = address decoding and wordline drive (``log4`` of the path's effort, one FO4 per
  stage) + bitline development and sensing (proportional to the cells on a bitline) + output
  latch and driver + the wires across the sub-arrays, in and out. Inputs have a setup time of
  two FO4 and a hold time of one tau, like the flip-flops' hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from . import technology as tech
from .liberty import constraint_groups, delay_tables, group, library_text, scalar

__all__ = ["SramConfig", "SramFigures", "MemoryCell", "sram_figures", "find_memories",
           "stub_verilog", "model_verilog", "macro_liberty_text", "techmap_verilog",
           "write_macro_views", "figures_table_markdown", "access_time_ps", "MACRO_PREFIX",
           "BITCELL_UM2"]

MACRO_PREFIX = "dcom_sram_"

# High-density 6T bitcell of TSMC's 16 nm FinFET 128 Mb SRAM (Chen et al., JSSC 2015); Samsung
# and GlobalFoundries 14 nm publish 0.064 um^2, Intel 14 nm 0.0588 um^2 [SRAM-CELL].
BITCELL_UM2 = 0.070
# Each port beyond the first adds a read/write stack and a wordline: an 8T two-port cell has
# 8/6 of the 6T transistors. Estimate: +1/3 bitcell area per extra port [EST-PORT].
EXTRA_PORT_CELL_FACTOR = 1 / 3
# Bitcells per bitline: the 16 nm macro above uses 256 (+2 redundant) [SRAM-CELL]; the same
# limit on a wordline is an estimate [EST-SUBARRAY].
SUBARRAY_MAX_ROWS = 256
SUBARRAY_MAX_COLS = 256
# Periphery strips in bitcell-area units: per row (decoder + wordline driver) and per column
# (precharge, column mux, sense amplifier, write driver); per port. Estimates [EST-PERIPH].
ROW_PERIPHERY_CELLS = 16
COLUMN_PERIPHERY_CELLS = 24
# Control, timing and address latches, per port, in bitcell-area units. Estimate [EST-PERIPH].
CONTROL_BLOCK_CELLS = 2000
# Bitcell leakage: three fins off (a pull-up, a pull-down and the access device on the '0'
# side) at a low-leakage device's 1 nA/um, a tenth of the logic device's. Estimate [EST-SRAMLEAK].
SRAM_IOFF_NA_PER_UM = 1.0
BITCELL_LEAKAGE_NW = 3 * tech.FIN_WEFF_UM * SRAM_IOFF_NA_PER_UM * tech.VDD
# Horowitz, ISSCC 2014 (45 nm, 0.9 V): energy of a 64-bit read from an 8 KB, 32 KB and 1 MB
# SRAM: 10, 20 and 100 pJ [HOR14].
HOROWITZ_64BIT_READ_PJ = {8 * 1024 * 8: 10.0, 32 * 1024 * 8: 20.0, 1024 * 1024 * 8: 100.0}
# The energy law holds up to Horowitz's largest point; a larger memory is banks of this size.
MAX_BANK_BITS = max(HOROWITZ_64BIT_READ_PJ)
# The global wire from the port to a bank: three quarters of the banks' side on average (half
# the side across, a quarter along, from the middle of one edge), its repeaters' inputs adding
# about the wire's own capacitance, each bit switching once per access. Estimates [EST-BANK].
ROUTE_SIDE_FRACTION = 0.75
REPEATED_WIRE_CAP_FACTOR = 2.0
# Energy scales as C V^2 with C proportional to feature size: (15/45) * (0.8/0.9)^2 [EST-SCALE].
ENERGY_SCALE_45_TO_15 = (15 / 45) * (tech.VDD / 0.9) ** 2
# Input pin capacitance of a macro, in minimum-inverter units. Estimate.
MACRO_PIN_UNITS = 2.0
# Timing, in FO4 delays of the standard cells (FO4 = 5 tau). Estimates [EST-SRAM-TIME]:
FO4_PS = 5 * tech.TAU_PS
# bitline development and sensing for 256 cells on a bitline (proportional to the bitline's
# capacitance, i.e. its cells, at a given cell read current),
BITLINE_FO4_PER_256_CELLS = 4.0
# column multiplexer, output latch and driver,
OUTPUT_FO4 = 3.0
# half an FO4 per sub-array crossed by the address on its way in and by the data on its way
# out (a 256 x 256 sub-array with its periphery is about 90 um across: about 80 ps/mm, a
# repeated wire),
WIRE_FO4_PER_SUBARRAY_CROSSED = 0.5
# the address, data and enable latches' setup time,
SETUP_FO4 = 2.0
# and the output driver's size in minimum inverters (its delay and slew grow with the load).
OUTPUT_DRIVE = 4.0


def _energy_coefficient_pj() -> float:
    """k in E = W k sqrt(bits): geometric mean over Horowitz's three points, scaled to 15 nm."""
    ks = [e / 64 / math.sqrt(bits) for bits, e in HOROWITZ_64BIT_READ_PJ.items()]
    return math.prod(ks) ** (1 / len(ks)) * ENERGY_SCALE_45_TO_15


ENERGY_COEFFICIENT_PJ = _energy_coefficient_pj()


@dataclass(frozen=True, order=True)
class SramConfig:
    """The shape of one SRAM macro."""

    depth: int
    width: int
    read_ports: int = 1
    write_ports: int = 1
    #: Bits of a word each write-mask pin enables (a lane of the memory's write port).
    mask_bits: int = 1

    def __post_init__(self):
        for name in ("depth", "width", "read_ports", "write_ports", "mask_bits"):
            if getattr(self, name) < 1:
                raise ValueError(f"SRAM {name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.mask_bits:
            raise ValueError(f"SRAM mask_bits={self.mask_bits} must divide width={self.width}")

    @property
    def name(self) -> str:
        """Macro (module and Liberty cell) name, e.g. ``dcom_sram_1024x64_1r1w`` (``_m16``
        added when a mask pin enables 16 bits)."""
        mask = f"_m{self.mask_bits}" if self.mask_bits > 1 else ""
        return (f"{MACRO_PREFIX}{self.depth}x{self.width}_{self.read_ports}r"
                f"{self.write_ports}w{mask}")

    @property
    def mask_pins(self) -> int:
        """Write-mask pins of a write port."""
        return self.width // self.mask_bits

    @property
    def address_bits(self) -> int:
        """Width of the address ports."""
        return max(1, (self.depth - 1).bit_length())

    @property
    def bits(self) -> int:
        """Capacity in bits."""
        return self.depth * self.width

    @property
    def ports(self) -> int:
        """Read plus write ports."""
        return self.read_ports + self.write_ports


@dataclass(frozen=True)
class SramFigures:
    """Area, leakage and access energies of one macro, with the geometry behind them."""

    config: SramConfig
    area_um2: float
    leakage_nw: float
    read_energy_pj: float
    write_energy_pj: float
    column_mux: int
    subarrays: int
    subarray_rows: int
    subarray_cols: int
    array_efficiency: float
    access_time_ps: float = 0.0
    #: Macros the memory is built from (1 up to :data:`MAX_BANK_BITS`).
    banks: int = 1
    #: Energy of the word's trip from the port to a bank and back, in each access.
    route_energy_pj: float = 0.0
    setup_ps: float = SETUP_FO4 * FO4_PS
    hold_ps: float = tech.TAU_PS

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"name": self.config.name, "depth": self.config.depth,
                "width": self.config.width, "read_ports": self.config.read_ports,
                "write_ports": self.config.write_ports, "area_um2": self.area_um2,
                "leakage_nw": self.leakage_nw, "read_energy_pj": self.read_energy_pj,
                "write_energy_pj": self.write_energy_pj, "column_mux": self.column_mux,
                "subarrays": self.subarrays, "subarray_rows": self.subarray_rows,
                "subarray_cols": self.subarray_cols, "array_efficiency": self.array_efficiency,
                "access_time_ps": self.access_time_ps, "setup_ps": self.setup_ps,
                "hold_ps": self.hold_ps, "banks": self.banks,
                "route_energy_pj": self.route_energy_pj}


def _column_mux(depth: int, width: int) -> int:
    """The column-multiplexer factor (1 ... 16) that makes the array closest to square."""
    options = [m for m in (1, 2, 4, 8, 16) if m <= depth]
    return min(options, key=lambda m: abs(math.log2((depth / m) / (width * m))))


def access_time_ps(rows: int, subarray_rows: int, subarray_cols: int, subarrays: int) -> float:
    """Clock-to-data time of a read, in ps (an estimate, see ``docs/liberty.md``).

    Parameters
    ----------
    rows : int
        Wordlines the address selects among (depth / column multiplexer).
    subarray_rows, subarray_cols : int
        Cells on a bitline and on a wordline of one sub-array.
    subarrays : int
        Number of sub-arrays.

    Notes
    -----
    In FO4 delays: decoding and wordline drive are one path of logical effort about 2 (NAND
    decoding), branching ``rows`` and electrical effort ``subarray_cols`` (the wordline's
    cells), i.e. ``log4(2 rows subarray_cols)`` stages of one FO4 each; bitline development
    and sensing :data:`BITLINE_FO4_PER_256_CELLS` per 256 cells on the bitline; the output
    path :data:`OUTPUT_FO4`; and the global wires :data:`WIRE_FO4_PER_SUBARRAY_CROSSED` per
    sub-array crossed, ``sqrt(subarrays)`` each way.
    """
    decode = math.log(2 * rows * subarray_cols, 4)
    bitline = BITLINE_FO4_PER_256_CELLS * subarray_rows / 256
    wires = 2 * WIRE_FO4_PER_SUBARRAY_CROSSED * math.sqrt(subarrays)
    return FO4_PS * (decode + bitline + OUTPUT_FO4 + wires)


def sram_figures(config: SramConfig) -> SramFigures:
    """Area, leakage and access energy of an SRAM macro (see the module docstring): one bank
    up to :data:`MAX_BANK_BITS`, else the fewest banks of at most that size."""
    banks = max(1, math.ceil(config.bits / MAX_BANK_BITS))
    if banks == 1:
        return _bank_figures(config)
    bank = _bank_figures(replace(config, depth=math.ceil(config.depth / banks)))
    area = banks * bank.area_um2
    route_um = ROUTE_SIDE_FRACTION * math.sqrt(area)
    route_pj = (config.width * REPEATED_WIRE_CAP_FACTOR * tech.WIRE_CAP_FF_PER_UM * route_um
                * tech.VDD ** 2 / 2 / 1000)
    rows = math.ceil(bank.config.depth / bank.column_mux)
    return replace(bank, config=config, area_um2=area, leakage_nw=banks * bank.leakage_nw,
                   read_energy_pj=bank.read_energy_pj + route_pj,
                   write_energy_pj=bank.write_energy_pj + route_pj,
                   subarrays=banks * bank.subarrays,
                   access_time_ps=access_time_ps(rows, bank.subarray_rows, bank.subarray_cols,
                                                 banks * bank.subarrays),
                   banks=banks, route_energy_pj=route_pj)


def _bank_figures(config: SramConfig) -> SramFigures:
    """The figures of one macro of the model, of any size."""
    mux = _column_mux(config.depth, config.width)
    rows = math.ceil(config.depth / mux)
    cols = config.width * mux
    row_tiles = math.ceil(rows / SUBARRAY_MAX_ROWS)
    col_tiles = math.ceil(cols / SUBARRAY_MAX_COLS)
    tile_rows = math.ceil(rows / row_tiles)
    tile_cols = math.ceil(cols / col_tiles)
    subarrays = row_tiles * col_tiles
    cell_factor = 1 + EXTRA_PORT_CELL_FACTOR * (config.ports - 1)
    array_um2 = subarrays * tile_rows * tile_cols * BITCELL_UM2 * cell_factor
    periphery_um2 = BITCELL_UM2 * config.ports * (
        subarrays * (ROW_PERIPHERY_CELLS * tile_rows + COLUMN_PERIPHERY_CELLS * tile_cols)
        + CONTROL_BLOCK_CELLS)
    bitcells = subarrays * tile_rows * tile_cols
    leakage = bitcells * BITCELL_LEAKAGE_NW + periphery_um2 * tech.LEAKAGE_NW_PER_UM2
    access_pj = config.width * ENERGY_COEFFICIENT_PJ * math.sqrt(config.bits)
    return SramFigures(
        config=config, area_um2=array_um2 + periphery_um2, leakage_nw=leakage,
        read_energy_pj=access_pj, write_energy_pj=access_pj, column_mux=mux,
        subarrays=subarrays, subarray_rows=tile_rows, subarray_cols=tile_cols,
        array_efficiency=array_um2 / (array_um2 + periphery_um2),
        access_time_ps=access_time_ps(rows, tile_rows, tile_cols, subarrays))


def figures_table_markdown(configs: list[SramConfig]) -> str:
    """The figures of the given macros as a Markdown table (``docs/liberty.md`` shows one)."""
    lines = ["| macro | banks | area (um^2) | leakage (uW) | read / write (pJ) | column mux "
             "| sub-arrays | array efficiency | clock to data (ps) |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for config in configs:
        f = sram_figures(config)
        lines.append(f"| {config.name} | {f.banks} | {f.area_um2:,.1f} "
                     f"| {f.leakage_nw / 1000:,.2f} "
                     f"| {f.read_energy_pj:,.3f} | {f.column_mux} "
                     f"| {f.subarrays} x {f.subarray_rows} x {f.subarray_cols} "
                     f"| {f.array_efficiency:.2f} | {f.access_time_ps:.0f} |")
    return "\n".join(lines) + "\n"


def _port_declarations(config: SramConfig, data_reg: bool) -> list[str]:
    a, w = config.address_bits, config.width
    lines = []
    for i in range(config.read_ports):
        lines += [f"input R{i}_CLK", f"input R{i}_EN", f"input [{a - 1}:0] R{i}_ADDR",
                  f"output {'reg ' if data_reg else ''}[{w - 1}:0] R{i}_DATA"]
    for i in range(config.write_ports):
        lines += [f"input W{i}_CLK", f"input W{i}_EN",
                  f"input [{config.mask_pins - 1}:0] W{i}_MASK",
                  f"input [{a - 1}:0] W{i}_ADDR", f"input [{w - 1}:0] W{i}_DATA"]
    return lines


def stub_verilog(config: SramConfig) -> str:
    """Black-box module of the macro, read by Yosys with ``read_verilog -lib``."""
    ports = ",\n  ".join(_port_declarations(config, data_reg=False))
    return f"(* blackbox *)\nmodule {config.name} (\n  {ports}\n);\nendmodule\n"


def model_verilog(config: SramConfig) -> str:
    """Behavioural model for gate-level simulation.

    Synchronous reads return the word stored before a same-cycle write (read-first, like an
    Amaranth read port that is not transparent); ``Wn_MASK`` selects the lanes written. The
    contents and the read data registers start at zero, as Amaranth memories and read ports
    do by default.
    """
    ports = ",\n  ".join(_port_declarations(config, data_reg=True))
    clear = "".join(f" R{i}_DATA = 0;" for i in range(config.read_ports))
    body = [f"  reg [{config.width - 1}:0] mem [0:{config.depth - 1}];",
            "  integer i;",
            f"  initial begin for (i = 0; i < {config.depth}; i = i + 1) mem[i] = 0;{clear} end"]
    for i in range(config.read_ports):
        body.append(f"  always @(posedge R{i}_CLK) if (R{i}_EN) R{i}_DATA <= mem[R{i}_ADDR];")
    for i in range(config.write_ports):
        # The mask widened to one bit per data bit.
        bits = "{" + ", ".join(f"{{{config.mask_bits}{{W{i}_MASK[{k}]}}}}"
                               for k in reversed(range(config.mask_pins))) + "}"
        body.append(f"  always @(posedge W{i}_CLK) if (W{i}_EN)\n"
                    f"    mem[W{i}_ADDR] <= (mem[W{i}_ADDR] & ~{bits})"
                    f" | (W{i}_DATA & {bits});")
    return f"module {config.name} (\n  {ports}\n);\n" + "\n".join(body) + "\nendmodule\n"


def _bus_type(width: int) -> list:
    return group("type", f"bus{width}", "base_type : array", "data_type : bit",
                 f"bit_width : {width}", f"bit_from : {width - 1}", "bit_to : 0",
                 "downto : true")


def _macro_cell(figures: SramFigures) -> list:
    config = figures.config
    cap = f"capacitance : {MACRO_PIN_UNITS * tech.UNIT_INPUT_CAP_FF:.4f}"

    def timing(clock, direction):
        # Inputs are checked against their port's clock; read data is launched by it, through
        # an output driver of OUTPUT_DRIVE minimum inverters.
        if direction == "input":
            return constraint_groups(clock, figures.setup_ps, figures.hold_ps)
        return [group("timing", "", f'related_pin : "{clock}"', "timing_type : rising_edge",
                      *delay_tables(figures.access_time_ps / tech.TAU_PS, OUTPUT_DRIVE))]

    def pin(name, clock, direction="input"):
        return group("pin", name, f"direction : {direction}",
                     *([cap] if direction == "input" else []), *timing(clock, direction))

    def bus(name, width, clock, direction="input"):
        return group("bus", name, f"bus_type : bus{width}", f"direction : {direction}",
                     *([cap] if direction == "input" else []), *timing(clock, direction))

    def clock(name, enable, energy_pj):
        # Energy per access, counted on the rising clock edge while the port is enabled.
        return group("pin", name, "direction : input", "clock : true", cap,
                     group("internal_power", "", f'when : "{enable}"',
                           scalar("rise_power", energy_pj * 1000), scalar("fall_power", 0.0)))

    a, w = config.address_bits, config.width
    items = [f"area : {figures.area_um2:.4f}", f"cell_leakage_power : {figures.leakage_nw:.4f}",
             "dont_use : true", "dont_touch : true", "is_macro_cell : true"]
    for i in range(config.read_ports):
        ck = f"R{i}_CLK"
        items += [clock(ck, f"R{i}_EN", figures.read_energy_pj), pin(f"R{i}_EN", ck),
                  bus(f"R{i}_ADDR", a, ck), bus(f"R{i}_DATA", w, ck, "output")]
    for i in range(config.write_ports):
        ck = f"W{i}_CLK"
        items += [clock(ck, f"W{i}_EN", figures.write_energy_pj), pin(f"W{i}_EN", ck),
                  bus(f"W{i}_MASK", config.mask_pins, ck), bus(f"W{i}_ADDR", a, ck),
                  bus(f"W{i}_DATA", w, ck)]
    return group("cell", config.name, *items)


def macro_liberty_text(configs: list[SramConfig]) -> str:
    """One Liberty library with a cell per macro (area, leakage, access energy in fJ, and the
    timing arcs of :func:`access_time_ps`)."""
    widths = sorted({c.width for c in configs} | {c.address_bits for c in configs})
    comment = ("dcom SRAM macros, generated by dcom.synth.sram from a documented model; "
               "see docs/liberty.md. Not compiled memories.")
    return library_text("dcom15_sram", comment,
                        [_bus_type(w) for w in widths]
                        + [_macro_cell(sram_figures(c)) for c in sorted(configs)])


@dataclass(frozen=True)
class MemoryCell:
    """A ``$mem_v2`` cell of the design and whether it becomes an SRAM macro."""

    module: str
    cell: str
    config: SramConfig | None
    reason: str = ""

    @property
    def mapped(self) -> bool:
        """Whether the flow replaces it by a macro."""
        return self.config is not None


def _int_param(value) -> int:
    return int(value, 2) if isinstance(value, str) else int(value)


def _bits(value) -> str:
    return value if isinstance(value, str) else format(int(value), "b")


def _unsupported(params: dict, connections: dict) -> str:
    """Why a ``$mem_v2`` cell cannot be an SRAM macro ('' if it can).

    Mirrors the conditions in :func:`techmap_verilog`; the flow checks that both agree.
    """
    if _int_param(params["RD_PORTS"]) < 1 or _int_param(params["WR_PORTS"]) < 1:
        return "needs at least one read and one write port (ROMs stay logic)"
    if set(_bits(params["RD_CLK_ENABLE"])) != {"1"}:
        return "has an asynchronous read port"
    if "0" in _bits(params["RD_CLK_POLARITY"]) or "0" in _bits(params["WR_CLK_POLARITY"]):
        return "uses a falling clock edge"
    if set(_bits(params["WR_CLK_ENABLE"])) != {"1"}:
        return "has an asynchronous write port"
    if "1" in _bits(params["RD_TRANSPARENCY_MASK"]):
        return "has a transparent read port"
    if _int_param(params["OFFSET"]) != 0:
        return "has a non-zero address offset"
    if "1" in _bits(params["RD_WIDE_CONTINUATION"]) + _bits(params["WR_WIDE_CONTINUATION"]):
        return "has wide ports"
    if any(bit != "0" for bit in connections["RD_ARST"] + connections["RD_SRST"]):
        return "has a read port reset"
    return ""


def find_memories(netlist: dict) -> list[MemoryCell]:
    """Every ``$mem_v2`` cell in a Yosys JSON netlist, with its macro shape or the reason it
    stays in flip-flops."""
    found = []
    for module_name, module in netlist["modules"].items():
        for cell_name, cell in module.get("cells", {}).items():
            if cell["type"] != "$mem_v2":
                continue
            params = cell["parameters"]
            reason = _unsupported(params, cell["connections"])
            width = _int_param(params["WIDTH"])
            config = None if reason else SramConfig(
                depth=_int_param(params["SIZE"]), width=width,
                read_ports=_int_param(params["RD_PORTS"]),
                write_ports=_int_param(params["WR_PORTS"]),
                mask_bits=_mask_bits(cell["connections"].get("WR_EN", []), width))
            found.append(MemoryCell(module_name, cell_name, config, reason))
    # The techmap tells macros apart by shape alone: memories of one shape share the finest
    # lane any of them has.
    lanes = {}
    for cell in found:
        if cell.config is not None:
            shape = replace(cell.config, mask_bits=1)
            lanes[shape] = math.gcd(lanes.get(shape, 0), cell.config.mask_bits)
    return [replace(cell, config=replace(cell.config,
                                         mask_bits=lanes[replace(cell.config, mask_bits=1)]))
            if cell.config is not None else cell for cell in found]


def _mask_bits(enables: list, width: int) -> int:
    """The widest lane (a divisor of ``width``) whose write-enable bits are one signal in
    every write port: a mask pin per lane then does, and a lane's enable does not drive a
    pin per bit."""
    if not enables:
        return 1
    for lane in sorted((d for d in range(1, width + 1) if width % d == 0), reverse=True):
        if all(len({str(bit) for bit in enables[start:start + lane]}) == 1
               for start in range(0, len(enables), lane)):
            return lane
    return 1


_TECHMAP_PARAMETERS = (
    "MEMID", "SIZE", "OFFSET", "ABITS", "WIDTH", "INIT", "RD_PORTS", "RD_CLK_ENABLE",
    "RD_CLK_POLARITY", "RD_TRANSPARENCY_MASK", "RD_COLLISION_X_MASK", "RD_WIDE_CONTINUATION",
    "RD_CE_OVER_SRST", "RD_ARST_VALUE", "RD_SRST_VALUE", "RD_INIT_VALUE", "WR_PORTS",
    "WR_CLK_ENABLE", "WR_CLK_POLARITY", "WR_PRIORITY_MASK", "WR_WIDE_CONTINUATION")


def _techmap_instance(config: SramConfig) -> str:
    a, w = config.address_bits, config.width
    connections = []
    for i in range(config.read_ports):
        connections += [f".R{i}_CLK(RD_CLK[{i}])", f".R{i}_EN(RD_EN[{i}])",
                        f".R{i}_ADDR(RD_ADDR[{i}*ABITS +: {a}])",
                        f".R{i}_DATA(RD_DATA[{i * w} +: {w}])"]
    for i in range(config.write_ports):
        lanes = "{" + ", ".join(f"WR_EN[{i * w + k * config.mask_bits}]"
                                for k in reversed(range(config.mask_pins))) + "}"
        connections += [f".W{i}_CLK(WR_CLK[{i}])", f".W{i}_EN(|{lanes})",
                        f".W{i}_MASK({lanes})",
                        f".W{i}_ADDR(WR_ADDR[{i}*ABITS +: {a}])",
                        f".W{i}_DATA(WR_DATA[{i * w} +: {w}])"]
    shape = (f"SIZE == {config.depth} && WIDTH == {config.width} && "
             f"RD_PORTS == {config.read_ports} && WR_PORTS == {config.write_ports}")

    return (f"    if (SUPPORTED && {shape}) begin\n"
            f"      {config.name} _TECHMAP_REPLACE_ (\n        "
            + ",\n        ".join(connections) + ");\n    end")


def techmap_verilog(configs: list[SramConfig]) -> str:
    """A Yosys techmap file replacing supported ``$mem_v2`` cells of these shapes by macros.

    A cell of another shape, or one :func:`find_memories` would not map, makes the rule fail
    (``_TECHMAP_FAIL_``) and stays a ``$mem_v2`` cell for ``memory_map``.
    """
    params = "\n".join(f"  parameter {p} = 0;" for p in _TECHMAP_PARAMETERS)
    branches = "\n    else ".join(_techmap_instance(c) for c in sorted(configs))
    return f"""// Generated by dcom.synth.sram: $mem_v2 cells -> SRAM macros.
(* techmap_celltype = "$mem_v2" *)
module dcom_sram_map (RD_CLK, RD_EN, RD_ARST, RD_SRST, RD_ADDR, RD_DATA,
                      WR_CLK, WR_EN, WR_ADDR, WR_DATA);
{params}
  parameter _TECHMAP_CONSTMSK_RD_ARST_ = 0;
  parameter _TECHMAP_CONSTVAL_RD_ARST_ = 0;
  parameter _TECHMAP_CONSTMSK_RD_SRST_ = 0;
  parameter _TECHMAP_CONSTVAL_RD_SRST_ = 0;
  input [RD_PORTS-1:0] RD_CLK, RD_EN, RD_ARST, RD_SRST;
  input [RD_PORTS*ABITS-1:0] RD_ADDR;
  output [RD_PORTS*WIDTH-1:0] RD_DATA;
  input [WR_PORTS-1:0] WR_CLK;
  input [WR_PORTS*WIDTH-1:0] WR_EN, WR_DATA;
  input [WR_PORTS*ABITS-1:0] WR_ADDR;
  // The conditions of dcom.synth.sram._unsupported, in Verilog.
  localparam SUPPORTED = RD_PORTS >= 1 && WR_PORTS >= 1
      && &RD_CLK_ENABLE && &RD_CLK_POLARITY && &WR_CLK_ENABLE && &WR_CLK_POLARITY
      && !(|RD_TRANSPARENCY_MASK) && OFFSET == 0
      && !(|RD_WIDE_CONTINUATION) && !(|WR_WIDE_CONTINUATION)
      && &_TECHMAP_CONSTMSK_RD_ARST_ && !(|_TECHMAP_CONSTVAL_RD_ARST_)
      && &_TECHMAP_CONSTMSK_RD_SRST_ && !(|_TECHMAP_CONSTVAL_RD_SRST_);
  generate
    {branches}
    else begin
      wire _TECHMAP_FAIL_ = 1;
    end
  endgenerate
endmodule
"""


def write_macro_views(configs: list[SramConfig], out_dir: str | Path) -> dict[str, Path]:
    """Write the stubs, simulation models, Liberty and techmap for ``configs``.

    Returns
    -------
    dict
        ``{"stubs", "models", "liberty", "techmap"}`` -> path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    configs = sorted(set(configs))
    paths = {"stubs": out_dir / "sram_stubs.v", "models": out_dir / "sram_models.v",
             "liberty": out_dir / "sram_macros.lib", "techmap": out_dir / "sram_techmap.v"}
    paths["stubs"].write_text("".join(stub_verilog(c) for c in configs))
    paths["models"].write_text("`timescale 1ns/1ps\n" + "".join(model_verilog(c)
                                                            for c in configs))
    paths["liberty"].write_text(macro_liberty_text(configs))
    paths["techmap"].write_text(techmap_verilog(configs))
    return paths

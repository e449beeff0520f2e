"""The public facts (and the stated estimates) behind dcom's "15nm-style" library.

No 15nm library may be redistributed, so dcom derives its own standard cells and SRAM macros
from a handful of process figures. Each constant below names where it comes from; the full
table with references and derivations is ``docs/liberty.md``. Reference keys in brackets, e.g.
[OCL15], are the ones used there.
"""

from __future__ import annotations

__all__ = ["VDD", "CPP_UM", "CELL_HEIGHT_UM", "UNIT_INPUT_CAP_FF", "UNIT_SWITCH_ENERGY_FJ",
           "SHORT_CIRCUIT_FRACTION", "TAU_PS", "FIN_WEFF_UM", "LOGIC_IOFF_NA_PER_UM",
           "FINS_PER_DEVICE", "LEAKAGE_NW_PER_UM2", "WIRE_CAP_FF_PER_UM", "WIRE_UM_PER_FANOUT",
           "cell_area_um2"]

# Supply of the typical corner of the NanGate 15nm Open Cell Library [OCL15], FreePDK15's
# nominal supply [FPDK15].
VDD = 0.8

# Contacted poly pitch = placement-site width, and the cell height (12 tracks of 64 nm), both
# from the 15nm OCL LEF: "SITE ... SIZE 0.064 BY 0.768" [OCL15].
CPP_UM = 0.064
CELL_HEIGHT_UM = 0.768

# Input capacitance of a minimum-size inverter: the input pin of the OCL's BUF_X1 (whose first
# stage is the minimum inverter) is 0.85 fF in its typical-corner library [OCL15-CAP].
UNIT_INPUT_CAP_FF = 0.85

# Energy drawn per transition of one unit capacitance: C V^2 / 2, averaged over rise and fall.
UNIT_SWITCH_ENERGY_FJ = 0.5 * UNIT_INPUT_CAP_FF * VDD ** 2

# Short-circuit energy as a fraction of the switching energy for balanced input and output
# slopes; Veendrick's analysis bounds it at about 10-20 % [VEEN84]. Estimate: 10 %.
SHORT_CIRCUIT_FRACTION = 0.10

# Logical-effort delay unit. Estimate (FO4 = 5 tau ~ 15 ps): the unit of every delay table,
# so ABC's delay-driven mapping and the static timing analysis scale with it [EST-TAU].
TAU_PS = 3.0

# Effective width of one fin, 2 * height + width, with the 14 nm fin (42 nm high, 8 nm wide)
# [INTEL14].
FIN_WEFF_UM = 2 * 0.042 + 0.008

# Off-current of a standard-threshold logic device. Estimate: ITRS places high-performance
# devices at 100 nA/um and low-power ones near 1 nA/um; a general-purpose library in between
# [EST-IOFF].
LOGIC_IOFF_NA_PER_UM = 10.0

# Capacitance of a minimum-pitch on-chip wire: about 0.2 fF/um, nearly independent of the node
# because width, spacing and height shrink together (Weste and Harris, CMOS VLSI Design, 4th ed.,
# section 6.2) [WH11].
WIRE_CAP_FF_PER_UM = 0.2

# Wire length per fan-out pin of a net, before placement. Estimate: a 15nm cell is 0.2 to 1.5 um
# wide, so a placed local net spans a few cell widths per pin [EST-WIRE].
WIRE_UM_PER_FANOUT = 1.0

# Fins per transistor of an X1 cell. Estimate for a 12-track cell on a 40 nm fin pitch [FPDK15].
FINS_PER_DEVICE = 2


def cell_area_um2(width_cpp: int) -> float:
    """Area of a standard cell ``width_cpp`` poly pitches wide."""
    return width_cpp * CPP_UM * CELL_HEIGHT_UM


def _inverter_leakage_nw() -> float:
    # An inverter always has exactly one transistor off, carrying the off-current.
    return FINS_PER_DEVICE * FIN_WEFF_UM * LOGIC_IOFF_NA_PER_UM * VDD


# Leakage per cell area, calibrated on the X1 inverter (3 poly pitches wide in [OCL15]); cell
# leakage is taken proportional to area, i.e. to its transistor width [EST-LEAK].
LEAKAGE_NW_PER_UM2 = _inverter_leakage_nw() / cell_area_um2(3)

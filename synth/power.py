"""Power of a synthesized design from the activity of a gate-level simulation.

``P = leakage + (internal + switching + SRAM access energy) / time``, with

* **leakage**: every cell's and macro's ``cell_leakage_power`` from the Liberty files;
* **internal energy**: per transition of a net, the ``internal_power`` of the cell output
  driving it, plus that of input pins that state one (a flip-flop's clock pin, per edge);
* **switching energy**: per transition, ``C V^2 / 2`` with ``C`` the input capacitances of the
  pins the net drives plus an estimated wire capacitance per pin
  (:data:`~dcom.synth.technology.WIRE_CAP_FF_PER_UM` x
  :data:`~dcom.synth.technology.WIRE_UM_PER_FANOUT`), ``V`` the library's supply;
* **SRAM access energy**: each macro port's accesses (rising clock edges with its enable high,
  counted in the simulation) times the macro model's energy per read or write.

With clock gating (:class:`ClockGating`, reported beside the ungated figures), each group of
flip-flops (a unit instance, or one category of a module instance's own registers) has a
clock gate whose enable is high in exactly the cycles after which one of the group's
flip-flops changes: the clock energy of a category becomes its flip-flops' share of the
enabled cycles, plus one gate per group clocked every cycle (a gate's clock pin costs about
what a flip-flop's does).

Transitions come from :mod:`dcom.synth.activity`; time is the window's clock cycles at the
configured clock frequency. Each net's energy goes to the category of the cell driving it
(:mod:`dcom.synth.categories`); nets driven from outside a module go to their loads'.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from . import technology as tech
from .categories import CategoryRules, glue_shares
from .liberty_reader import LibertyLibrary
from .netlist import FLOP, MACRO, MODULE, STD, ModuleNetlist
from .sram import SramFigures

__all__ = ["transition_energies", "flop_clock_energy_fj", "PowerFigures", "PowerBreakdown",
           "ToggleSet", "ClockGating", "power_breakdown", "inherited_categories", "macro_enables",
           "flip_flop_outputs"]


def _load_capacitance_ff(pin) -> float:
    """What a net sees at one load pin: the pin's capacitance and its wire's."""
    return pin.capacitance_ff + tech.WIRE_CAP_FF_PER_UM * tech.WIRE_UM_PER_FANOUT


def transition_energies(module: ModuleNetlist, library: LibertyLibrary,
                        macros: LibertyLibrary | None
                        ) -> tuple[dict[int, float], dict[int, float], set[int]]:
    """Internal and switching energy (fJ) per transition of every net bit of ``module``, and
    the bits that clock flip-flops.

    Loads inside submodules are counted there (the net enters them through a port), loads
    outside the module through its output ports are counted by the parent.
    """
    half_v2 = 0.5 * library.voltage ** 2
    internal: dict[int, float] = defaultdict(float)
    switching: dict[int, float] = defaultdict(float)
    clocks = set()
    for bit, (cell_name, pin) in module.driver.items():
        cell = module.cells.get(cell_name) if cell_name else None
        if cell is not None and cell.kind in (STD, FLOP):
            internal[bit] += library.cells[cell.type].pins[pin].internal_energy_fj
    for bit, loads in module.loads.items():
        capacitance = 0.0
        for cell_name, pin in loads:
            cell = module.cells.get(cell_name) if cell_name else None
            if cell is None or cell.kind == MODULE:
                continue
            lib = (library if cell.kind in (STD, FLOP) else macros).cells[cell.type]
            capacitance += _load_capacitance_ff(lib.pins[pin])
            if cell.kind in (STD, FLOP):
                internal[bit] += lib.pins[pin].internal_energy_fj
            if cell.kind == FLOP and pin in lib.clock_pins:
                clocks.add(bit)
        switching[bit] += half_v2 * capacitance
    return dict(internal), dict(switching), clocks


def flop_clock_energy_fj(library: LibertyLibrary, cell_type: str) -> float:
    """Energy a flip-flop of ``cell_type`` draws from the clock in one cycle, ungated: two
    edges, each its clock pins' internal energy and their share of the clock net's switching,
    as :func:`transition_energies` counts them."""
    cell = library.cells[cell_type]
    return 2 * sum(cell.pins[pin].internal_energy_fj
                   + 0.5 * library.voltage ** 2 * _load_capacitance_ff(cell.pins[pin])
                   for pin in cell.clock_pins)


@dataclass
class PowerFigures:
    """Power of one category, in microwatts."""

    internal_uw: float = 0.0
    switching_uw: float = 0.0
    sram_uw: float = 0.0
    leakage_uw: float = 0.0
    #: The part of internal and switching power the clock draws (net and flip-flop pins).
    clock_uw: float = 0.0

    @property
    def dynamic_uw(self) -> float:
        """Internal, switching and SRAM access power."""
        return self.internal_uw + self.switching_uw + self.sram_uw

    @property
    def total_uw(self) -> float:
        """Dynamic plus leakage."""
        return self.dynamic_uw + self.leakage_uw

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        return {"internal_uw": self.internal_uw, "switching_uw": self.switching_uw,
                "sram_uw": self.sram_uw, "leakage_uw": self.leakage_uw,
                "clock_uw": self.clock_uw, "dynamic_uw": self.dynamic_uw,
                "total_uw": self.total_uw}


@dataclass
class ClockGating:
    """Clock-gating groups of one category and the flip-flop cycles their gates let through.

    Attributes
    ----------
    flops : int
        Flip-flops of the category.
    groups : int
        Clock gates: one per group of flip-flops.
    enabled_flop_cycles : int
        Sum over the groups of flip-flops x cycles the group's gate was open.
    """

    flops: int = 0
    groups: int = 0
    enabled_flop_cycles: int = 0

    def add(self, flops: int, groups: int, enabled_flop_cycles: int) -> None:
        """Count more groups."""
        self.flops += flops
        self.groups += groups
        self.enabled_flop_cycles += enabled_flop_cycles

    def clock_rate(self, cycles: int) -> float:
        """Fraction of the ungated clock energy the gated clock draws: the flip-flop cycles
        let through plus one gate per group every cycle, over every flip-flop every cycle;
        1 without flip-flops (nothing to gate)."""
        if self.flops == 0 or cycles <= 0:
            return 1.0
        return min(1.0, (self.enabled_flop_cycles + self.groups * cycles)
                   / (self.flops * cycles))

    def idle_rate(self) -> float:
        """The same fraction in a cycle in which no group is enabled: the gates alone."""
        return min(1.0, self.groups / self.flops) if self.flops else 1.0

    def to_dict(self, cycles: int) -> dict:
        """Plain-data form for JSON reports."""
        return {"flops": self.flops, "groups": self.groups,
                "enabled_flop_cycles": self.enabled_flop_cycles,
                "clock_rate": self.clock_rate(cycles), "idle_rate": self.idle_rate()}


@dataclass
class PowerBreakdown:
    """Power of a design under a workload, by category.

    Attributes
    ----------
    categories : dict
        Category -> :class:`PowerFigures`.
    cycles : int
        Clock cycles of the measured window.
    clock_mhz : float
    voltage : float
    sram_accesses : dict
        Macro instance -> ``{"reads": n, "writes": n}``.
    toggle_rate : float
        Transitions per net bit per cycle, averaged over the design.
    gating : dict
        Category -> :class:`ClockGating`; empty when not measured (no category is gated).
    """

    categories: dict[str, PowerFigures]
    cycles: int
    clock_mhz: float
    voltage: float
    sram_accesses: dict[str, dict[str, int]] = field(default_factory=dict)
    toggle_rate: float = 0.0
    gating: dict[str, ClockGating] = field(default_factory=dict)

    def _clock_scaled(self, rate) -> dict[str, PowerFigures]:
        """The categories with their clock power scaled by ``rate(gating)``."""
        result = {}
        for category, f in self.categories.items():
            gating = self.gating.get(category)
            scale = rate(gating) if gating is not None else 1.0
            saved = f.clock_uw * (1 - scale)
            share = f.internal_uw / max(1e-12, f.internal_uw + f.switching_uw)
            result[category] = PowerFigures(f.internal_uw - saved * share,
                                            f.switching_uw - saved * (1 - share), f.sram_uw,
                                            f.leakage_uw, f.clock_uw * scale)
        return result

    def gated(self) -> "PowerBreakdown":
        """The same workload with every clock-gating group's clock gated (:class:`ClockGating`);
        the design itself when no gating was measured."""
        if not self.gating:
            return self
        return PowerBreakdown(self._clock_scaled(lambda g: g.clock_rate(self.cycles)),
                              self.cycles, self.clock_mhz, self.voltage, self.sram_accesses,
                              self.toggle_rate, {})

    def idle(self, gated: bool = False) -> PowerFigures:
        """Power of a cycle in which nothing but the clock changes: leakage plus the clock,
        all of it ungated, only the gates' own clock pins gated."""
        figures = self._clock_scaled(lambda g: g.idle_rate() if gated else 1.0)
        total = PowerFigures(leakage_uw=sum(f.leakage_uw for f in figures.values()))
        for f in figures.values():
            total.clock_uw += f.clock_uw
            share = f.internal_uw / max(1e-12, f.internal_uw + f.switching_uw)
            total.internal_uw += f.clock_uw * share
            total.switching_uw += f.clock_uw * (1 - share)
        return total

    def total(self) -> PowerFigures:
        """All categories together."""
        total = PowerFigures()
        for f in self.categories.values():
            total.internal_uw += f.internal_uw
            total.switching_uw += f.switching_uw
            total.sram_uw += f.sram_uw
            total.leakage_uw += f.leakage_uw
            total.clock_uw += f.clock_uw
        return total

    def energy_pj(self) -> float:
        """Energy of the window, leakage included."""
        return self.total().total_uw * self.cycles / self.clock_mhz

    def to_dict(self) -> dict:
        """Plain-data form for JSON reports."""
        data = {"cycles": self.cycles, "clock_mhz": self.clock_mhz, "voltage": self.voltage,
                "toggle_rate": self.toggle_rate, "energy_pj": self.energy_pj(),
                "sram_accesses": self.sram_accesses, "total": self.total().to_dict(),
                "categories": {k: v.to_dict() for k, v in self.categories.items()}}
        if self.gating:
            gated = self.gated()
            data["clock_gated"] = {
                "energy_pj": gated.energy_pj(), "total": gated.total().to_dict(),
                "idle_uw": self.idle(True).total_uw, "groups": {
                    k: v.to_dict(self.cycles) for k, v in self.gating.items()}}
            data["idle_uw"] = self.idle().total_uw
        return data


@dataclass(frozen=True)
class ToggleSet:
    """Transitions of one module's nets.

    ``toggles`` maps net bits to transitions: of one instance, or summed over ``instances``
    instances that share one category. ``category`` None means the module is categorized net
    by net (its glue, :mod:`dcom.synth.categories`).
    """

    module: str
    toggles: dict[int, int]
    category: str | None
    instances: int = 1


def inherited_categories(modules: dict[str, ModuleNetlist], top: str,
                         rules: CategoryRules) -> dict[tuple, str | None]:
    """Instance path -> the category its instance (or an enclosing one) was assigned whole,
    or None where its content is categorized net by net."""
    found = {}

    def visit(path: tuple, name: str, inherited: str | None):
        found[path] = inherited
        for cell in modules[name].instances(MODULE):
            visit(path + (cell.name,), cell.type, inherited or rules.instance(cell.name))

    visit((), top, None)
    return found


def macro_enables(modules: dict[str, ModuleNetlist], top: str) -> dict[tuple, dict[str, object]]:
    """Every SRAM macro instance's port enables: ``(path, cell)`` -> ``{pin: net bit or
    constant}`` for its ``R*_EN`` and ``W*_EN`` pins."""
    found = {}

    def visit(path: tuple, name: str):
        for cell in modules[name].cells.values():
            if cell.kind == MACRO:
                found[(path, cell.name)] = {pin: bits[0] for pin, bits in cell.inputs.items()
                                            if pin.endswith("_EN")}
            elif cell.kind == MODULE:
                visit(path + (cell.name,), cell.type)

    visit((), top)
    return found


def flip_flop_outputs(module: ModuleNetlist) -> dict[str, list[int]]:
    """Every flip-flop of ``module`` -> its output net bits."""
    return {flop.name: [b for bits in flop.outputs.values() for b in bits if isinstance(b, int)]
            for flop in module.instances(FLOP)}


def _bit_categories(module: ModuleNetlist, rules: CategoryRules,
                    shares: dict[str, dict[str, float]]) -> dict[int, dict[str, float]]:
    """Category shares of each net bit's energy: its driver's, or its loads' when driven from
    outside the module."""
    result = {}
    glue = rules.glue_of(module.name)
    for bit in set(module.driver) | set(module.loads):
        cell_name, _ = module.driver.get(bit, (None, None))
        cell = module.cells.get(cell_name) if cell_name else None
        if cell is not None and cell.kind in (STD, FLOP):
            result[bit] = shares[cell.name]
        elif cell is not None:
            result[bit] = {rules.instance(cell.name) or glue: 1.0}
        else:
            split: dict[str, float] = defaultdict(float)
            loads = [module.cells[c] for c, _ in module.loads.get(bit, ()) if c is not None]
            for load in loads:
                for category, share in (shares.get(load.name)
                                        or {rules.instance(load.name) or glue: 1.0}).items():
                    split[category] += share / len(loads)
            result[bit] = dict(split) or {glue: 1.0}
    return result


def power_breakdown(modules: dict[str, ModuleNetlist], library: LibertyLibrary,
                    macros: LibertyLibrary | None, toggles: list[ToggleSet],
                    sram_accesses: dict[tuple, dict[str, int]], cycles: int,
                    rules: CategoryRules, leakage_nw: dict[str, float],
                    macro_figures: dict[str, SramFigures], clock_mhz: float,
                    gating: dict[str, ClockGating] | None = None) -> PowerBreakdown:
    """Power by category from transitions and SRAM accesses over ``cycles`` clock cycles.

    Parameters
    ----------
    modules, library, macros
        The netlist graph and its libraries (:func:`dcom.synth.design.load_netlist`).
    toggles : list of ToggleSet
        Every module instance's transitions (summed per module and category where convenient).
    sram_accesses : dict
        ``(category, macro name)`` -> ``{"reads": n, "writes": n}``.
    cycles : int
        Clock cycles the transitions and accesses happened in.
    rules : CategoryRules
    leakage_nw : dict
        Category -> leakage (from :func:`dcom.synth.design.category_figures`).
    macro_figures : dict
        Macro name -> its :class:`~dcom.synth.sram.SramFigures`.
    clock_mhz : float
    gating : dict, optional
        Category -> its clock-gating groups (:class:`ClockGating`).
    """
    if cycles <= 0:
        raise ValueError("the activity window holds no clock cycle")
    energies, categories = {}, {}
    internal: dict[str, float] = defaultdict(float)
    switching: dict[str, float] = defaultdict(float)
    clock: dict[str, float] = defaultdict(float)
    transitions = bits = 0
    for part in toggles:
        name = part.module
        if name not in energies:
            energies[name] = transition_energies(modules[name], library, macros)
        if part.category is None and name not in categories:
            categories[name] = _bit_categories(modules[name], rules,
                                               glue_shares(modules[name], rules))
        bits += len(part.toggles) * part.instances
        for bit, count in part.toggles.items():
            if count == 0:
                continue
            transitions += count
            split = {part.category: 1.0} if part.category else \
                categories[name].get(bit, {rules.glue_of(name): 1.0})
            e_int = energies[name][0].get(bit, 0.0) * count
            e_sw = energies[name][1].get(bit, 0.0) * count
            is_clock = bit in energies[name][2]
            for category, share in split.items():
                internal[category] += e_int * share
                switching[category] += e_sw * share
                if is_clock:
                    clock[category] += (e_int + e_sw) * share
    sram: dict[str, float] = defaultdict(float)
    for (category, macro), counts in sram_accesses.items():
        figures = macro_figures[macro]
        sram[category] += 1000 * (counts["reads"] * figures.read_energy_pj
                                  + counts["writes"] * figures.write_energy_pj)
    # fJ per window -> uW: E / (cycles / f) with f in MHz gives fJ x MHz = 1e-9 W.
    to_uw = clock_mhz / cycles * 1e-3
    figures = {c: PowerFigures(internal[c] * to_uw, switching[c] * to_uw, sram[c] * to_uw,
                               leakage_nw.get(c, 0.0) / 1000, clock[c] * to_uw)
               for c in rules.order}
    accesses = {f"{macro} ({category})": counts
                for (category, macro), counts in sram_accesses.items()}
    return PowerBreakdown(figures, cycles, clock_mhz, library.voltage, accesses,
                          transitions / max(1, bits) / cycles, dict(gating or {}))

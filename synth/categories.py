"""Group a synthesized design's hardware into categories (multipliers, trees, buffers, ...).

Submodule and macro instances are assigned by their instance name, whole: every ``mul_3_5``
of a cluster is a multiplier with everything inside it. What a module holds itself (the
"glue": registers, multiplexers and control logic between the instances) is assigned by what
it feeds. Each flip-flop goes to the category its output net's name matches; each
combinational cell goes to the categories of the endpoints in its fan-out cone (flip-flop
inputs, submodule and macro input pins, output ports), shared equally when the cone reaches
several. So the multiplexers in front of the multipliers' ``b`` inputs are the scatter
network, those in front of the accumulator adders are the accumulators, and the registers
between tree levels are the trees; logic in front of a macro's pins (address and write-data
multiplexers) is glue, not memory. The power model splits switching energy the same way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from .netlist import FLOP, MACRO, MODULE, STD, ModuleNetlist

__all__ = ["CategoryRules", "glue_shares"]


@dataclass(frozen=True)
class CategoryRules:
    """How a design's hardware is grouped.

    Parameters
    ----------
    order : tuple of str
        The categories, in report order.
    instances : tuple of (pattern, category)
        Regular expressions (``re.fullmatch``) on submodule and macro instance names; the first
        match assigns the instance and everything below it. Unmatched submodules are looked
        into with the same rules.
    endpoints : tuple of (pattern, category)
        Regular expressions (``re.search``) on the endpoints glue logic feeds: a flip-flop's
        output net names (``name[bit]``), ``<instance>.<pin>`` of submodule and macro inputs,
        and output port names.
    glue : str
        Category of glue that matches no endpoint pattern.
    module_glue : tuple of (pattern, category)
        Regular expressions (``re.fullmatch``) on module names whose unmatched glue goes to
        another category than ``glue`` (a cluster's inside a top level, say).
    """

    order: tuple[str, ...]
    instances: tuple[tuple[str, str], ...]
    endpoints: tuple[tuple[str, str], ...]
    glue: str
    module_glue: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        used = {c for _, c in self.instances + self.endpoints + self.module_glue} | {self.glue}
        unknown = sorted(used - set(self.order))
        if unknown:
            raise ValueError(f"categories {unknown} are not in order={self.order}")

    def instance(self, name: str) -> str | None:
        """Category of a submodule or macro instance, or None to look into it."""
        return next((c for p, c in self.instances if re.fullmatch(p, name)), None)

    def endpoint(self, names, module: str = "") -> str:
        """Category of an endpoint of ``module`` known by any of ``names``."""
        for pattern, category in self.endpoints:
            if any(re.search(pattern, n) for n in names):
                return category
        return self.glue_of(module)

    def glue_of(self, module: str) -> str:
        """Category of ``module``'s glue that matches no endpoint pattern."""
        return next((c for p, c in self.module_glue if re.fullmatch(p, module)), self.glue)


def _endpoint_categories(module: ModuleNetlist, rules: CategoryRules) -> dict:
    """Net bit -> categories of the endpoints that bit feeds directly."""
    feeds: dict = defaultdict(set)
    for bit, loads in module.loads.items():
        for cell_name, pin in loads:
            if cell_name is None:
                feeds[bit].add(rules.endpoint([pin], module.name))
                continue
            if module.cells[cell_name].kind in (MODULE, MACRO):
                feeds[bit].add(rules.endpoint([f"{cell_name}.{pin}"], module.name))
    return feeds


def glue_shares(module: ModuleNetlist, rules: CategoryRules) -> dict[str, dict[str, float]]:
    """Category shares of every standard cell and flip-flop of ``module``.

    Returns
    -------
    dict
        Cell name -> ``{category: share}``, shares summing to one.
    """
    shares: dict[str, dict[str, float]] = {}
    for flop in module.instances(FLOP):
        names = [n for bits in flop.outputs.values() for b in bits if isinstance(b, int)
                 for n in module.net_names(b)]
        shares[flop.name] = {rules.endpoint(names, module.name): 1.0}

    # Walk backwards from every endpoint through combinational cells, collecting for each cell
    # the categories whose endpoints it reaches.
    reached: dict[str, set] = defaultdict(set)
    stack = []
    for bit, categories in _endpoint_categories(module, rules).items():
        stack += [(bit, c) for c in categories]
    for flop in module.instances(FLOP):
        (category,) = shares[flop.name]
        stack += [(b, category) for bits in flop.inputs.values() for b in bits
                  if isinstance(b, int)]
    while stack:
        bit, category = stack.pop()
        cell_name, _ = module.driver.get(bit, (None, None))
        if cell_name is None or module.cells[cell_name].kind != STD:
            continue
        if category in reached[cell_name]:
            continue
        reached[cell_name].add(category)
        stack += [(b, category) for bits in module.cells[cell_name].inputs.values()
                  for b in bits if isinstance(b, int)]
    for cell in module.instances(STD):
        categories = reached.get(cell.name) or {rules.glue_of(module.name)}
        shares[cell.name] = {c: 1 / len(categories) for c in categories}
    return shares

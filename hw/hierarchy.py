"""Emit repeated blocks once and instantiate them.

Amaranth writes one Verilog module per instance, so a 16 x 16 array of clusters of 64
multipliers written flat is enormous. A :class:`SharedModule` stands for a block in the design:
in a flat build (``library=None``) it is the block itself, which Amaranth's simulator can see
into; in a hierarchical build it is an ``Instance`` of a module that a :class:`ModuleLibrary`
emits once, however many times it is instantiated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import threading
import time
from pathlib import Path
from typing import Callable

from amaranth.back import verilog
from amaranth.hdl import ClockSignal, Fragment, Instance, Module, ResetSignal, Value, ValueCastable
# The port direction of a fragment's ports has no public name in Amaranth 0.5; convert() uses it.
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["ModuleConflictError", "ModuleLibrary", "SharedModule", "design_key",
           "module_header", "module_ports"]


def module_header(verilog_text: str, name: str) -> re.Match:
    """The ``module name(ports);`` header of module ``name`` in Amaranth-style Verilog; its
    group 1 is the port list."""
    header = re.search(rf"^module {re.escape(name)}\((.*?)\);\n", verilog_text,
                       re.MULTILINE | re.DOTALL)
    if header is None:
        raise ValueError(f"no module {name} in the Verilog")
    return header


def module_ports(verilog_text: str, name: str) -> set[str]:
    """The port names of module ``name``."""
    return {p.strip() for p in module_header(verilog_text, name)[1].split(",")}


class ModuleConflictError(ValueError):
    """One module name was registered with two different designs."""


def _is_parameter(value) -> bool:
    """Whether ``value`` is a plain value that describes a design (number, string, a tuple of
    them, or a dataclass such as ``DcomConfig``), not a signal or a helper object."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_is_parameter(item) for item in value)
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def design_key(block: wiring.Component) -> dict:
    """What identifies the design of ``block`` without converting it: its class, its ports and
    the parameters it keeps as plain attributes (see :func:`_is_parameter`).

    Converting every instance to compare the Verilog would cost as much as a flat build; two
    blocks of one class, one signature and equal parameters elaborate alike. A parameter kept
    only in another kind of attribute (a function, a helper object) is not compared.
    """
    key = {"class": f"{type(block).__module__}.{type(block).__qualname__}",
           "ports": block.signature}
    for attr, value in vars(block).items():
        # Amaranth's own bookkeeping of whether an elaboratable was used is not a parameter.
        if not attr.startswith("_MustUse__") and _is_parameter(value):
            key[attr] = value
    return key


def _key_difference(first: dict, second: dict) -> str | None:
    """The first entry in which two design keys differ, in words; ``None`` if they agree."""
    for entry in dict.fromkeys([*first, *second]):
        old, new = first.get(entry), second.get(entry)
        if old != new:
            if entry == "ports":
                return "its ports differ"
            if entry == "verilog":
                return "its Verilog text differs"
            return f"{entry} {old!r} before, {new!r} now"
    return None


def _resident_mb() -> float | None:
    """Resident memory of this process in MiB, where ``/proc`` tells it."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _Heartbeat:
    """Reports elapsed time and resident memory every ``interval`` seconds until stopped, so
    that a conversion of minutes is seen to progress."""

    def __init__(self, say: Callable[[str], None], what: str, interval: float):
        self._say, self._what, self._interval = say, what, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        start = time.monotonic()
        while not self._stop.wait(self._interval):
            memory = _resident_mb()
            self._say(f"{self._what}: {time.monotonic() - start:.0f} s"
                      + ("" if memory is None else f", {memory / 1024:.2f} GiB resident"))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class ModuleLibrary:
    """The distinct modules of a hierarchical build, each converted to Verilog once.

    Parameters
    ----------
    progress : callable, optional
        Called with a line of text as each module is converted, and during the conversion of
        the outermost module (the one whose elaboration registers the others) before and after
        each phase and every ``heartbeat`` seconds.
    heartbeat : float
        Seconds between the progress lines of a long conversion.

    Modules are registered by name as the design elaborates; :meth:`text` gives their Verilog
    and :meth:`write` writes it. Registering one name with two different designs raises
    :class:`ModuleConflictError`, since the name is what every instance refers to.
    """

    def __init__(self, progress: Callable[[str], None] | None = None, heartbeat: float = 15.0):
        self._progress = progress
        self._heartbeat = heartbeat
        self._text: dict[str, str] = {}
        self._clocked: dict[str, bool] = {}
        self._keys: dict[str, dict] = {}
        self._order: list[str] = []
        self._depth = 0

    def register(self, name: str, block: wiring.Component) -> bool:
        """Convert ``block`` to module ``name`` unless already done; return whether it is clocked.

        Raises
        ------
        ModuleConflictError
            If ``name`` was registered with a design that differs from ``block``'s (see
            :func:`design_key`).
        """
        key = design_key(block)
        if name in self._keys:
            block._MustUse__silence = True  # converted already, or refused below
            self._check_same(name, key)
        else:
            self._add(name, self._convert(name, block))
            self._keys[name] = key
        return self._clocked[name]

    def register_verilog(self, name: str, text: str) -> None:
        """Add module ``name`` written directly in Verilog (once; later calls must agree).

        Raises
        ------
        ModuleConflictError
            If ``name`` was registered with another design.
        """
        key = {"verilog": text}
        if name in self._keys:
            self._check_same(name, key)
        else:
            self._add(name, text)
            self._keys[name] = key

    def _check_same(self, name: str, key: dict) -> None:
        difference = _key_difference(self._keys[name], key)
        if difference is not None:
            raise ModuleConflictError(
                f"module {name} is registered already with a different design ({difference}); "
                "a module name must encode every parameter of its design")

    def _say(self, line: str) -> None:
        if self._progress is not None:
            self._progress(line)

    def _convert(self, name: str, block: wiring.Component) -> str:
        """``verilog.convert(block, name=name, emit_src=False)``, in its two phases (elaboration,
        which registers the submodules, then the netlist and Yosys), reported for the
        outermost module."""
        outermost = self._depth == 0
        say = self._say if outermost else (lambda line: None)
        start = time.monotonic()
        say(f"module {name}: elaborating")
        self._depth += 1
        try:
            fragment = Fragment.get(block, None)
        finally:
            self._depth -= 1
        say(f"module {name}: elaborated in {time.monotonic() - start:.1f} s; building its "
            "netlist and writing Verilog")
        ports = {}
        for path, member, value in block.signature.flatten(block):
            if isinstance(value, ValueCastable):
                value = value.as_value()
            ports["__".join(map(str, path))] = (
                value, PortDirection.Input if member.flow == In else PortDirection.Output)
        if not outermost or self._progress is None:
            return verilog.convert_fragment(fragment, ports, name, emit_src=False)[0]
        with _Heartbeat(say, f"module {name}: converting", self._heartbeat):
            return verilog.convert_fragment(fragment, ports, name, emit_src=False)[0]

    def _add(self, name: str, text: str) -> None:
        self._text[name] = text
        self._clocked[name] = "clk" in module_ports(text, name)
        self._order.append(name)
        if self._progress is not None:
            self._progress(f"module {name}: {len(text) / 1e3:.0f} kB")

    def write(self, out_dir, transform: Callable[[str], str] | None = None) -> list[Path]:
        """Write every module to ``<out_dir>/<name>.v`` (its text through ``transform``, if
        given); return the files, leaves first."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for name in self._order:
            files.append(out_dir / f"{name}.v")
            files[-1].write_text(transform(self._text[name]) if transform else self._text[name])
        return files

    @property
    def names(self) -> list[str]:
        """Registered module names, in registration order (leaves first)."""
        return list(self._order)

    def text(self, name: str) -> str:
        """Verilog of the module ``name`` (with the modules Amaranth nested inside it)."""
        return self._text[name]

    def digest(self, name: str) -> str:
        """SHA-256 of the module's Verilog."""
        return hashlib.sha256(self._text[name].encode()).hexdigest()


class SharedModule(wiring.Component):
    """A block built by ``make``, flat or as an instance of a once-emitted module.

    Parameters
    ----------
    module_name : str
        Verilog module name; must identify ``make``'s design uniquely (encode its parameters).
    make : callable
        Returns a fresh ``wiring.Component``; its ports may be nested interfaces.
    library : ModuleLibrary or None
        ``None`` for a flat build; otherwise the library the module is emitted into.
    """

    def __init__(self, module_name: str, make: Callable[[], wiring.Component],
                 library: ModuleLibrary | None = None):
        self._module_name = module_name
        self._block = make()
        self._library = library
        self.latency = getattr(self._block, "latency", 0)
        super().__init__(dict(self._block.signature.members))

    def elaborate(self, platform):
        ours = list(self.signature.flatten(self))
        if self._library is None:
            m = Module()
            m.submodules.block = block = self._block
            for (path, member, mine), (_, _, theirs) in zip(ours, block.signature.flatten(block)):
                m.d.comb += (theirs.eq(mine) if member.flow == In else mine.eq(theirs))
            return m
        # Amaranth names the Verilog port of a nested member by joining its path with "__".
        ports = {f"{'i' if member.flow == In else 'o'}_{'__'.join(map(str, path))}":
                 Value.cast(value) for path, member, value in ours}
        if self._library.register(self._module_name, self._block):
            ports.update(i_clk=ClockSignal(), i_rst=ResetSignal())
        # The instance itself stands here, so no wrapper module is written around it.
        return Instance(self._module_name, **ports)

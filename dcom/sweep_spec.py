"""What ``dcom sweep`` runs: the axes, the workload and the stages (:class:`SweepSpec`), read
from TOML (:func:`load_spec`) and/or the command line (:func:`spec_from_args`), its points
(:meth:`SweepSpec.points`) and their cache keys (:func:`point_key`).

docs/sweep.md, "Spec format", describes the TOML file; :mod:`dcom.sweep` runs the points.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dcom.shipped import source_fingerprint
from dcom.config import ConfigError, DcomConfig, parse_dims
from dcom.simulators import SIMULATORS
from dcom.sw.perf import Workload

__all__ = ["SYNTH_MODES", "DIM_AXES", "ALIASES", "AXIS_OPTIONS", "PAPER_LABEL", "Stages",
           "Point", "SweepSpec", "load_spec", "point_key", "spec_from_args"]

#: ``--synth``: no synthesis, the cluster alone (fast), or the whole instance.
SYNTH_MODES = ("none", "cluster", "full")
#: Axes that stand for two DcomConfig fields, written ``RxC``.
DIM_AXES = {"clusters": ("cluster_rows", "cluster_cols"), "grid": ("grid_rows", "grid_cols")}
#: Short axis names for DcomConfig fields.
ALIASES = {"acc": "acc_format"}
#: Options that sweep an axis, by axis.
AXIS_OPTIONS = {"clusters": "--clusters", "grid": "--grid", "expansion": "--expansion",
                "acc_format": "--acc", "buffer_depth": "--buffer-depth",
                "bank_width": "--bank-width", "clock_mhz": "--clock-mhz"}
_FIELDS = {f.name for f in dataclasses.fields(DcomConfig)}
_WORKLOAD_FIELDS = tuple(f.name for f in dataclasses.fields(Workload))
#: Label of the paper's design point when the sweep adds it.
PAPER_LABEL = "paper design point"


@dataclass(frozen=True)
class Stages:
    """What runs on every point besides the performance model.

    Parameters
    ----------
    synth : str
        One of :data:`SYNTH_MODES`.
    regress : str or None
        ``dcom regress``'s ``-k`` expression for the point's configuration (``""``: all of
        its tests); None runs no regression.
    sim : str
        Simulator(s) of the regression: ``verilator``, ``icarus`` or ``all``.
    """

    synth: str = "none"
    regress: str | None = None
    sim: str = "all"

    def __post_init__(self):
        if self.synth not in SYNTH_MODES:
            raise ConfigError("synth", self.synth, ", ".join(SYNTH_MODES))
        if self.regress is not None and not isinstance(self.regress, str):
            raise ConfigError("regress", self.regress, "a pytest -k expression (text)")
        if self.sim not in (*SIMULATORS, "all"):
            raise ConfigError("sim", self.sim, ", ".join((*SIMULATORS, "all")))

    def names(self) -> list[str]:
        """The stages a point runs, in order."""
        return ["perf"] + (["synth"] if self.synth != "none" else []) + \
            (["regress"] if self.regress is not None else [])

    def to_dict(self) -> dict:
        """What identifies the stages' results (the simulator only with a regression)."""
        data = {"synth": self.synth, "regress": self.regress}
        if self.regress is not None:
            data["sim"] = self.sim
        return data


@dataclass(frozen=True)
class Point:
    """One combination of axis values: a configuration, or the reason it is invalid."""

    label: str
    values: dict
    config: DcomConfig | None
    error: str | None = None


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))


def _axis(name: str, parameter: str) -> str:
    """The canonical axis name of a spec key or ``--set`` field."""
    name = ALIASES.get(name, name)
    if name not in DIM_AXES and name not in _FIELDS:
        allowed = sorted({*DIM_AXES, *ALIASES, *_FIELDS} - {n for dims in DIM_AXES.values()
                                                            for n in dims})
        raise ConfigError(parameter, name, ", ".join(allowed))
    if name in ("cluster_rows", "cluster_cols", "grid_rows", "grid_cols"):
        raise ConfigError(parameter, name, "'clusters' or 'grid' (RxC) instead of its fields")
    return name


def _config(values: dict) -> DcomConfig:
    fields = {}
    for name, value in values.items():
        if name in DIM_AXES:
            fields.update(zip(DIM_AXES[name], parse_dims(value, name)))
        else:
            fields[name] = value
    return DcomConfig.from_dict(fields)


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: values per axis (a single value fixes it), the workload, the stages.

    Parameters
    ----------
    axes : dict
        Axis name (``clusters``, ``grid`` or a DcomConfig field) to a tuple of values;
        ``clusters`` and ``grid`` take ``"RxC"`` text.
    workload : Workload
    stages : Stages
    paper_point : bool
        Also run the paper's design point, ``DcomConfig()``.
    """

    axes: dict = field(default_factory=dict)
    workload: Workload = field(default_factory=Workload)
    stages: Stages = field(default_factory=Stages)
    paper_point: bool = False

    def points(self) -> list[Point]:
        """Every combination of the axes' values, in order, each configuration once."""
        names = list(self.axes)
        swept = [n for n in names if len(self.axes[n]) > 1]
        points, seen = [], set()
        for combo in itertools.product(*(self.axes[n] for n in names)):
            values = dict(zip(names, combo))
            label = " ".join(f"{n}={values[n]}" for n in swept) or "single point"
            try:
                config = _config(values)
            except ConfigError as exc:
                points.append(Point(label, values, None, str(exc)))
                continue
            key = json.dumps(config.to_dict(), sort_keys=True)
            if key not in seen:
                seen.add(key)
                points.append(Point(label, values, config))
        paper = DcomConfig()
        if self.paper_point and json.dumps(paper.to_dict(), sort_keys=True) not in seen:
            points.append(Point(PAPER_LABEL, {}, paper))
        return points


def _spec_error(path, key: str, value, allowed: str) -> ConfigError:
    return ConfigError(f"{path}: {key}", value, allowed)


def load_spec(path) -> SweepSpec:
    """Read a sweep spec from TOML (docs/sweep.md, "Spec format").

    Top-level ``paper_point`` (bool); ``[config]``: axis name to a value or a list of values;
    ``[workload]``: :class:`~dcom.sw.perf.Workload` fields; ``[stages]``: ``synth`` (one of
    :data:`SYNTH_MODES`), ``regress`` (``true`` or a ``-k`` expression), ``sim``.

    Raises
    ------
    ConfigError
        For an unreadable file, invalid TOML, or an unknown key or value type.
    dcom.sw.validation.InputError
        For workload values the performance model refuses.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise ConfigError("spec", str(path), "a readable UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("spec", str(path), f"valid TOML ({exc})") from None
    known = ("paper_point", "config", "workload", "stages")
    for key in data:
        if key not in known:
            raise _spec_error(path, key, data[key], ", ".join(known))
    paper = data.get("paper_point", False)
    if not isinstance(paper, bool):
        raise _spec_error(path, "paper_point", paper, "true, false")
    for table in known[1:]:
        if not isinstance(data.get(table, {}), dict):
            raise _spec_error(path, table, data[table], f"a table, [{table}]")
    axes = {}
    for name, value in data.get("config", {}).items():
        values = value if isinstance(value, list) else [value]
        if not values or any(isinstance(v, (list, dict)) for v in values):
            raise _spec_error(path, f"config.{name}", value,
                              "a value or a non-empty list of values")
        axes[_axis(name, f"{path}: config")] = _unique(values)
    workload = dict(data.get("workload", {}))
    for key in workload:
        if key not in _WORKLOAD_FIELDS:
            raise _spec_error(path, f"workload.{key}", workload[key], ", ".join(_WORKLOAD_FIELDS))
    stages = dict(data.get("stages", {}))
    for key in stages:
        if key not in ("synth", "regress", "sim"):
            raise _spec_error(path, f"stages.{key}", stages[key], "synth, regress, sim")
    regress = stages.get("regress", False)
    if regress is True:
        stages["regress"] = ""
    elif regress is False:
        stages["regress"] = None
    return SweepSpec(axes, Workload(**workload), Stages(**stages), paper)


def point_key(config: DcomConfig, workload: Workload, stages: Stages) -> str:
    """The cache key of a point: a hash of its configuration, the workload, the stages and
    dcom's sources (:func:`dcom.shipped.source_fingerprint`), so that a changed model
    computes the point again."""
    material = {"config": config.to_dict(), "workload": dataclasses.asdict(workload),
                "stages": stages.to_dict(), "dcom": source_fingerprint()}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:20]


# ---- Command line ----------------------------------------------------------------------------

def _typed(name: str, text: str, option: str):
    """A command-line value of axis ``name`` as the type of its DcomConfig field."""
    if name in DIM_AXES:
        return text
    kind = type(getattr(DcomConfig(), name))
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        return kind(text)
    except ValueError:
        raise ConfigError(option, text, f"{kind.__name__} values, comma-separated") from None


def _listed(name: str, text: str, option: str) -> tuple:
    return _unique(_typed(name, item.strip(), option) for item in text.split(",") if item.strip())


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The spec file (if any) with the command line's axes, workload and stages over it."""
    spec = load_spec(args.spec) if args.spec is not None else SweepSpec()
    axes = dict(spec.axes)
    for name, option in AXIS_OPTIONS.items():
        text = getattr(args, name)
        if text is not None:
            axes[name] = _listed(name, text, option)
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep:
            raise ConfigError("--set", item, "FIELD=V1,V2,... with a DcomConfig field")
        name = _axis(name.strip(), "--set")
        axes[name] = _listed(name, text, f"--set {name}")
    for name, values in axes.items():
        if not values:
            raise ConfigError(AXIS_OPTIONS.get(name, name), "", "at least one value")
    workload = dataclasses.asdict(spec.workload)
    given = {name: getattr(args, name) for name in _WORKLOAD_FIELDS
             if getattr(args, name) is not None}
    if "steps" not in given and workload["steps"] == Workload(**{**workload, "steps": None}).steps:
        # Steps left at their default follow the rank and the matrix given here.
        workload["steps"] = None
    workload.update(given)
    stages = dataclasses.asdict(spec.stages)
    if args.synth is not None:
        stages["synth"] = args.synth
    if args.regress or args.select is not None:
        stages["regress"] = args.select or ""
    if args.regress_sim is not None:
        stages["sim"] = args.regress_sim
    return SweepSpec(axes, Workload(**workload), Stages(**stages),
                     spec.paper_point or args.paper_point)

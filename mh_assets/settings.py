"""One typed settings object for the whole platform.

Values come from the environment (the contract in the README's Settings table) with
the study's defaults. :func:`Settings.from_env` is called once, where a program starts
(``mh_assets.definitions.defs`` for the code location, ``mh-assets`` for the command
line), and the object is passed down; nothing reads the environment at import.
Dagster run config overrides the per-stage parts (``TrainingRunConfig`` in
``mh_assets.defs.training``, ``ClusterRunConfig`` in ``mh_assets.defs.clusters``).
Nothing here imports Dagster or torch.

Every value is checked where it is read: :func:`Settings.from_env` collects every
problem (a number that does not parse, a value out of range, an unknown preset, a
cron expression Dagster would refuse) and raises one :class:`SettingsError` with one
line per problem, naming the variable, the value and what is expected -- so a
typo fails the command line and the code location at start, not a run an hour in.
An empty variable counts as unset.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mh_assets.core.cohort import CohortRules
from mh_assets.core.corpus import CoverageThresholds
from mh_assets.core.environment import PROJECT_ROOT, provenance_text
from mh_assets.core.modelling.config import PRESETS

EXECUTORS = ("multiprocess", "k8s")
#: ``all``: every extract in the landing zone, combined (years add up); ``newest``: one.
EXTRACT_MODES = ("all", "newest")


class SettingsError(ValueError):
    """Invalid settings: one line per problem, ``VARIABLE='value': expected ...``."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Settings:
    extracts_dir: Path = PROJECT_ROOT / "data" / "extracts"
    # "all": registry_extract combines every extract in the landing zone (deliveries
    # of different years add up); "newest": only the newest file, as before.
    extract_mode: str = "all"
    artifacts_dir: Path = PROJECT_ROOT / "artifacts"
    preset: str = "demo"
    # "simple-icd-10-cm" (packaged ICD-10-CM, offline), or a path to a CMS
    # icd10cm-codes-YYYY.txt file or a CIE-10-ES code;description file.
    descriptor_source: str = "simple-icd-10-cm"
    cohort: CohortRules = field(default_factory=CohortRules)
    coverage: CoverageThresholds = field(default_factory=CoverageThresholds)
    min_cell: int = 10
    gpu_slots: int = 1
    # ``mh-assets run``: sex partitions at once, each its own process (0: one per
    # partition up to the cores; 1: one after the other, in the command's process)
    partition_processes: int = 0
    executor: str = "multiprocess"  # or "k8s"
    seed: int = 42
    # Operations (mh_assets.defs.automation and .sensors): how often the new-extract sensor looks at
    # the landing zone, when the daily checks run, and how long a refresh may take
    # before the ``refresh_complete`` check turns from a warning into an error.
    sensor_interval_seconds: int = 30
    check_cron: str = "0 6 * * *"
    refresh_grace_hours: float = 24.0
    # How long ``mh-assets run`` waits for a gpu pool slot another live run holds
    # before it gives up with an error naming that run.
    pool_wait_seconds: int = 3600

    def __post_init__(self) -> None:
        problems = [
            _problem(rule.variable, value, rule.expected)
            for rule in _RULES
            if not rule.accepts(value := rule.get(self))
        ]
        if problems:
            raise SettingsError(problems)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the environment contract; unset (or empty) variables keep the defaults.

        Raises :class:`SettingsError` listing every invalid variable at once.
        """
        env = os.environ if env is None else env
        base = cls()
        problems: list[str] = []
        values: dict[str, Any] = {}
        for rule in _RULES:
            raw = (env.get(rule.variable) or "").strip()
            if not raw:
                continue
            try:
                value = rule.parse(raw)
            except ValueError:
                value = _INVALID
            if value is _INVALID or not rule.accepts(value):
                problems.append(_problem(rule.variable, raw, rule.expected))
            else:
                values[rule.field] = value
        source = (env.get("MH_DESCRIPTOR_SOURCE") or "").strip()
        if source and source != base.descriptor_source and not Path(source).expanduser().is_file():
            problems.append(_problem(
                "MH_DESCRIPTOR_SOURCE", source,
                f"{base.descriptor_source!r} or the path of an existing CMS "
                "icd10cm-codes-YYYY.txt or CIE-10-ES code;description file (no file there)",
            ))
        if problems:
            raise SettingsError(problems)
        coverage = {k.removeprefix("coverage."): values.pop(k)
                    for k in list(values) if k.startswith("coverage.")}
        return cls(
            extracts_dir=_path(env.get("MH_EXTRACTS_DIR"), base.extracts_dir),
            artifacts_dir=_path(env.get("MH_ARTIFACTS_DIR"), base.artifacts_dir),
            descriptor_source=source or base.descriptor_source,
            coverage=CoverageThresholds(**{
                "exact": base.coverage.exact,
                "with_ancestors": base.coverage.with_ancestors,
                **coverage,
            }),
            **values,
        )

    def as_metadata(self) -> dict[str, str]:
        """Flat, non-sensitive description of the settings for provenance, as a reader
        wants it: "not set" rather than None, lists joined with ", " (no Python repr)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "__dataclass_fields__"):
                for sub in fields(value):
                    out[f"{f.name}.{sub.name}"] = provenance_text(getattr(value, sub.name))
            else:
                out[f.name] = provenance_text(value)
        return out


# ------------------------------------------------------------------ validation
_INVALID = object()


@dataclass(frozen=True)
class _Rule:
    """One environment variable: the field it sets, how it parses, what it may be."""

    variable: str
    field: str  # a Settings field, or "coverage.<field>"
    parse: Callable[[str], Any]
    accepts: Callable[[Any], bool]
    expected: str  # "an integer >= 1": the type and the allowed values, for the message

    def get(self, settings: Settings) -> Any:
        value: Any = settings
        for part in self.field.split("."):
            value = getattr(value, part)
        return value


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _share(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and 0 < value <= 1


_CRON_FIELDS = (  # name, lowest, highest, names allowed (lower case; index = value)
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                      "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_ITEM = re.compile(r"^(?P<range>\*|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")
_CRON_SPECIAL = {2: re.compile(r"^(l|\?)$"), 4: re.compile(r"^(\?|[0-7]#[1-5])$")}


def valid_cron(expression: Any) -> bool:
    """A cron expression Dagster schedules accept: five fields (or an ``@daily`` alias).

    Each field is a comma list of ``*``, ``n``, ``a-b`` (wrapping, like ``fri-mon``),
    optionally ``/step``, in the field's range, with month and weekday names and
    croniter's ``L``, ``?`` and ``n#k``; February 30 or 31 alone is refused, as Dagster
    refuses it. Checked here so that settings load without Dagster.
    """
    if not isinstance(expression, str):
        return False
    text = expression.strip().lower()
    if text in _CRON_ALIASES:
        return True
    parts = text.split()
    if len(parts) != len(_CRON_FIELDS):
        return False
    expanded: list[set[int]] = []
    for position, (part, (_name, lowest, highest, names)) in enumerate(
        zip(parts, _CRON_FIELDS, strict=True)
    ):
        values: set[int] = set()
        for item in part.split(","):
            special = _CRON_SPECIAL.get(position)
            if special is not None and special.match(item):
                values.add(-1)  # not a plain value
                continue
            match = _CRON_ITEM.match(item)
            if not match:
                return False

            def number(token: str, names: tuple[str, ...] = names) -> int | None:
                if token.isdigit():
                    return int(token)
                return names.index(token) if token in names and token else None

            if match["range"] == "*":
                low, high = lowest, highest
            else:
                low = number(match["low"])
                if match["high"] is not None:
                    high = number(match["high"])
                else:  # "a/n" runs from a to the field's end, like croniter
                    high = highest if match["step"] else low
                if low is None or high is None:
                    return False
            step = int(match["step"]) if match["step"] else 1
            if not (lowest <= low <= highest and lowest <= high <= highest) or step < 1:
                return False
            span = range(low, high + 1) if low <= high else [
                *range(low, highest + 1), *range(lowest, high + 1)]
            values.update(list(span)[::step])
        expanded.append(values)
    return not (expanded[3] == {2} and len(expanded[2]) == 1 and expanded[2] <= {30, 31})


_RULES: tuple[_Rule, ...] = (
    _Rule("MH_PRESET", "preset", str, lambda v: v in PRESETS, "one of " + ", ".join(PRESETS)),
    _Rule("MH_EXTRACT_MODE", "extract_mode", str, lambda v: v in EXTRACT_MODES,
          "one of " + ", ".join(EXTRACT_MODES)),
    _Rule("MH_EXECUTOR", "executor", str, lambda v: v in EXECUTORS,
          "one of " + ", ".join(EXECUTORS)),
    _Rule("MH_COVERAGE_EXACT", "coverage.exact", _number, _share, "a number in (0, 1]"),
    _Rule("MH_COVERAGE_WITH_ANCESTORS", "coverage.with_ancestors", _number, _share,
          "a number in (0, 1]"),
    _Rule("MH_MIN_CELL", "min_cell", int, lambda v: _integer(v) and v >= 1,
          "an integer >= 1"),
    _Rule("MH_GPU_SLOTS", "gpu_slots", int, lambda v: _integer(v) and v >= 1,
          "an integer >= 1"),
    _Rule("MH_PARTITION_PROCESSES", "partition_processes", int,
          lambda v: _integer(v) and v >= 0,
          "an integer >= 0 (0: one process per sex partition; 1: one after the other)"),
    _Rule("MH_SEED", "seed", int, lambda v: _integer(v) and 0 <= v <= 2**32 - 1,
          "an integer from 0 to 4294967295"),
    _Rule("MH_SENSOR_INTERVAL_SECONDS", "sensor_interval_seconds", int,
          lambda v: _integer(v) and v >= 1, "an integer number of seconds >= 1"),
    _Rule("MH_CHECK_CRON", "check_cron", str, valid_cron,
          "a cron expression of 5 fields (minute hour day-of-month month day-of-week), "
          "e.g. '0 6 * * *'"),
    _Rule("MH_POOL_WAIT_SECONDS", "pool_wait_seconds", int,
          lambda v: _integer(v) and v >= 0, "an integer number of seconds >= 0"),
    _Rule("MH_REFRESH_GRACE_HOURS", "refresh_grace_hours", _number,
          lambda v: isinstance(v, int | float) and math.isfinite(v) and v > 0,
          "a number of hours > 0"),
)


def _problem(variable: str, value: object, expected: str) -> str:
    return f"{variable}={value!r}: expected {expected}"


def _path(value: str | None, default: Path) -> Path:
    if not value:
        return default
    if "://" in value and not value.startswith("file://"):  # object storage, e.g. s3://
        from upath import UPath

        return UPath(value)
    path = Path(value).expanduser()
    return path if path.is_absolute() else (Path.cwd() / path).resolve()


def default_dagster_home() -> Path:
    """Where the persistent instance lives unless DAGSTER_HOME says otherwise."""
    return PROJECT_ROOT / ".dagster_home"


def dagster_home() -> Path:
    """The instance's folder: DAGSTER_HOME, set to :func:`default_dagster_home` when unset
    (Dagster itself reads the variable)."""
    return Path(os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home())))

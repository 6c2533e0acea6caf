"""One typed settings object for the whole platform.

Values come from the environment (the contract in ``shared/design.md``) with the
study's defaults; Dagster run config can override the per-stage parts (see
``mh_assets.defs.config``). Nothing here imports Dagster or torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRESETS = ("demo", "minilm", "paper")


@dataclass(frozen=True)
class CohortRules:
    """The study's cohort selection; every rule is a setting.

    Defaults follow Corpas et al. (2025): admissions up to 15 March 2020, sex coded
    1 (male) or 2 (female), and a mental-health principal diagnosis (ICD-10 chapter F).
    The age window and the F10-F19 requirement are off by default because the
    registry request that produced the extract already applied them.
    """

    admission_end: datetime = datetime(2020, 3, 15, 23, 59)
    admission_start: datetime | None = None
    principal_chapter: str = "F"
    age_min: int | None = None
    age_max: int | None = None
    require_sud_code: bool = False
    sud_blocks: tuple[str, ...] = tuple(f"F1{i}" for i in range(10))
    # Implausible values are flagged and counted; excluding them is a choice.
    exclude_implausible: bool = False
    # An admission more than this many years before the discharge year is implausible.
    max_years_before_discharge: int = 2


@dataclass(frozen=True)
class CoverageThresholds:
    """Minimum share of code occurrences that must find a descriptor."""

    exact: float = 0.99
    with_ancestors: float = 0.999


@dataclass(frozen=True)
class Settings:
    extracts_dir: Path = PROJECT_ROOT / "data" / "extracts"
    artifacts_dir: Path = PROJECT_ROOT / "artifacts"
    preset: str = "demo"
    # "simple-icd-10-cm" (packaged ICD-10-CM, offline), or a path to a CMS
    # icd10cm-codes-YYYY.txt file or a CIE-10-ES code;description file.
    descriptor_source: str = "simple-icd-10-cm"
    cohort: CohortRules = field(default_factory=CohortRules)
    coverage: CoverageThresholds = field(default_factory=CoverageThresholds)
    min_cell: int = 10
    gpu_slots: int = 1
    executor: str = "multiprocess"  # or "k8s"
    seed: int = 42
    # Operations (mh_assets.defs.automation): how often the new-extract sensor looks at
    # the landing zone, when the daily checks run, and how long a refresh may take
    # before the ``refresh_complete`` check turns from a warning into an error.
    sensor_interval_seconds: int = 30
    check_cron: str = "0 6 * * *"
    refresh_grace_hours: float = 24.0

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"MH_PRESET={self.preset!r} is not one of {', '.join(PRESETS)}")
        if self.executor not in ("multiprocess", "k8s"):
            raise ValueError(f"MH_EXECUTOR={self.executor!r} must be 'multiprocess' or 'k8s'")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the environment contract; unset variables keep the defaults."""
        env = os.environ if env is None else env
        base = cls()
        return replace(
            base,
            extracts_dir=_path(env.get("MH_EXTRACTS_DIR"), base.extracts_dir),
            artifacts_dir=_path(env.get("MH_ARTIFACTS_DIR"), base.artifacts_dir),
            preset=env.get("MH_PRESET", base.preset) or base.preset,
            descriptor_source=env.get("MH_DESCRIPTOR_SOURCE", base.descriptor_source),
            coverage=CoverageThresholds(
                exact=float(env.get("MH_COVERAGE_EXACT", base.coverage.exact)),
                with_ancestors=float(
                    env.get("MH_COVERAGE_WITH_ANCESTORS", base.coverage.with_ancestors)
                ),
            ),
            min_cell=int(env.get("MH_MIN_CELL", base.min_cell)),
            gpu_slots=int(env.get("MH_GPU_SLOTS", base.gpu_slots)),
            executor=env.get("MH_EXECUTOR", base.executor),
            seed=int(env.get("MH_SEED", base.seed)),
            sensor_interval_seconds=int(
                env.get("MH_SENSOR_INTERVAL_SECONDS", base.sensor_interval_seconds)
            ),
            check_cron=env.get("MH_CHECK_CRON", base.check_cron) or base.check_cron,
            refresh_grace_hours=float(
                env.get("MH_REFRESH_GRACE_HOURS", base.refresh_grace_hours)
            ),
        )

    def as_metadata(self) -> dict[str, str]:
        """Flat, non-sensitive description of the settings for provenance."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "__dataclass_fields__"):
                for sub in fields(value):
                    out[f"{f.name}.{sub.name}"] = str(getattr(value, sub.name))
            else:
                out[f.name] = str(value)
        return out


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

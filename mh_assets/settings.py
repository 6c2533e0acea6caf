"""One typed settings object for the whole platform.

Values come from the environment (the contract in the README's Settings table) with
the study's defaults. :func:`Settings.from_env` is called once, where a program starts
(``mh_assets.definitions.defs`` for the code location, ``mh-assets`` for the command
line), and the object is passed down; nothing reads the environment at import.
Dagster run config overrides the per-stage parts (``TrainingRunConfig`` in
``mh_assets.defs.training``, ``ClusterRunConfig`` in ``mh_assets.defs.clusters``).
Nothing here imports Dagster or torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from mh_assets.core.cohort import CohortRules
from mh_assets.core.corpus import CoverageThresholds
from mh_assets.core.environment import PROJECT_ROOT
from mh_assets.core.modelling.config import PRESETS


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
    # Operations (mh_assets.defs.automation and .sensors): how often the new-extract sensor looks at
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

"""Run config: every training and clustering setting can be overridden per run.

The launchpad classes are derived from the frozen dataclasses of
:mod:`mh_assets.core.modelling.config` and :mod:`mh_assets.core.clustering.config`, so
a new setting appears here without a second list to keep in sync. An unset field
keeps the preset's (or the default's) value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

import dagster as dg
import pydantic

from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.modelling.config import TrainingConfig, preset_config


class _Overrides(dg.Config):
    def overrides(self) -> dict[str, Any]:
        """Set fields only; "true"/"false" become booleans for the str-or-bool fields."""
        flags = {"true": True, "false": False}
        return {
            name: flags.get(value, value) if isinstance(value, str) else value
            for name, value in self.model_dump().items()
            if value is not None
        }


def run_config_type(annotation: Any) -> Any:
    """The run-config type of a field: ``X | None`` for ``X`` (or ``X | None``); a
    ``Literal`` or a union of several types (``str | bool``) is given as text, which
    :meth:`_Overrides.overrides` converts."""
    if typing.get_origin(annotation) is Literal:
        return str | None
    members = [t for t in typing.get_args(annotation) if t is not type(None)]
    if isinstance(annotation, types.UnionType) and len(members) > 1:
        return str | None
    return (members[0] if members else annotation) | None


def run_config_class(name: str, settings: type, exclude: set[str], doc: str) -> type[_Overrides]:
    """A Dagster config class with one optional field per field of ``settings``."""
    hints = typing.get_type_hints(settings)
    return pydantic.create_model(
        name, __base__=_Overrides, __doc__=doc,
        **{f.name: (run_config_type(hints[f.name]), None)
           for f in dataclasses.fields(settings) if f.name not in exclude},
    )


# The preset comes from MH_PRESET: one per run (a run may still set its own seed).
TrainingRunConfig = run_config_class(
    "TrainingRunConfig", TrainingConfig, {"preset"},
    "Run-config overrides of the preset's hyperparameters (unset = preset value).")
# Resample sizes are a count or a fraction by type, which text cannot carry.
ClusterRunConfig = run_config_class(
    "ClusterRunConfig", ClusterConfig, {"seed", "sample_size", "stability_sample_size"},
    "Run-config overrides of the clustering settings (unset = default).")


def training_config(preset: str, seed: int, run_config: _Overrides | None = None
                    ) -> TrainingConfig:
    """The run's training settings: the preset, the platform seed, then overrides."""
    return preset_config(preset, **{"seed": seed,
                                    **(run_config.overrides() if run_config else {})})


def cluster_config(seed: int, run_config: _Overrides | None = None) -> ClusterConfig:
    """The run's clustering settings: the defaults, the platform seed, then overrides."""
    return ClusterConfig(seed=seed, **(run_config.overrides() if run_config else {}))


#: The metadata entry a clustering step records its configuration under (read back by
#: the report's Methods: a run-config override of one step shows there, not the default).
CLUSTERING_SETTINGS = "clustering_settings"


def cluster_settings_metadata(config: ClusterConfig) -> dict[str, dg.MetadataValue]:
    """The clustering configuration a step used, every field, as its metadata entry."""
    return {CLUSTERING_SETTINGS: dg.MetadataValue.json(dataclasses.asdict(config))}

"""Training run config: every hyperparameter of the preset can be overridden per run."""

import dataclasses
import typing

import dagster as dg
import pytest

from mh_assets.core.modelling.config import TrainingConfig
from mh_assets.defs.run_config import ClusterRunConfig, TrainingRunConfig, run_config_type


@pytest.mark.parametrize(("annotation", "expected"), [
    (int, int | None),
    (float | None, float | None),  # a new optional field needs no lookup table
    (str | None, str | None),
    (str | bool, str | None),  # "auto" / true / false arrive as text
    (bool, bool | None),
    (typing.Literal["subsample", "bootstrap"], str | None),
])
def test_each_field_type_becomes_an_optional_run_config_type(annotation, expected):
    assert run_config_type(annotation) == expected


def test_every_training_setting_but_the_preset_is_a_run_config_field():
    names = {f.name for f in dataclasses.fields(TrainingConfig)} - {"preset"}
    assert set(TrainingRunConfig.model_fields) == names


def test_unset_fields_keep_the_preset_and_booleans_arrive_as_booleans():
    config = TrainingRunConfig(mlm_epochs=5, bf16="false")
    assert config.overrides() == {"mlm_epochs": 5, "bf16": False}


def test_the_run_config_schema_is_valid_dagster_config():
    @dg.op
    def uses(config: TrainingRunConfig) -> None: ...

    assert "mlm_epochs" in uses.config_schema.config_type.fields


def test_every_clustering_setting_but_the_seed_and_sample_sizes_is_a_run_config_field():
    from mh_assets.core.clustering.config import ClusterConfig

    names = {f.name for f in dataclasses.fields(ClusterConfig)}
    assert set(ClusterRunConfig.model_fields) == names - {"seed", "sample_size",
                                                          "stability_sample_size"}
    assert ClusterRunConfig(k=4, k_rule="max").overrides() == {"k": 4, "k_rule": "max"}

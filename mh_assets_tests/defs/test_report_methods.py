"""The report's Methods give the settings each step recorded, not the environment's.

Run config can override a setting for one step and one sex from the launchpad; a Methods
section built from the defaults would then describe a run that did not happen.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import dagster as dg

from mh_assets.core import layout
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.modelling.config import preset_config
from mh_assets.core.publish.report_text import methods_section
from mh_assets.core.schema import SEXES
from mh_assets.defs.report import _methods
from mh_assets.defs.resources import Platform
from mh_assets.defs.run_config import CLUSTERING_SETTINGS
from mh_assets.settings import Settings


def _record(instance, asset: str, sex: str, entry: str, value: dict) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=asset, partition=sex, metadata={entry: dg.MetadataValue.json(value)}))


def _methods_of(tmp_path, instance):
    settings = Settings(artifacts_dir=tmp_path / "artifacts")
    for sex in SEXES:  # both sexes clustered: the report describes both
        path = settings.artifacts_dir / layout.profile(sex, "codes")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return _methods(SimpleNamespace(instance=instance), Platform(settings))


def test_a_run_config_override_of_one_sex_shows_in_the_methods_and_is_named(tmp_path):
    with dg.instance_for_test() as instance:
        for sex, max_k in (("female", 12), ("male", 10)):
            _record(instance, "k_selection", sex, CLUSTERING_SETTINGS,
                    dataclasses.asdict(ClusterConfig(max_k=max_k)))
            _record(instance, "cluster_assignments", sex, CLUSTERING_SETTINGS,
                    dataclasses.asdict(ClusterConfig(n_init=4)))
            hp = dataclasses.asdict(preset_config("demo", contrastive_epochs=5))
            _record(instance, "contrastive_checkpoint", sex, "training_summary",
                    {f"hp.{k}": v for k, v in hp.items() if v is not None} | {"seconds": 1.0})
        methods = _methods_of(tmp_path, instance)
    assert methods.clustering.max_k == 12 and methods.fitting.n_init == 4
    assert methods.training.contrastive_epochs == 5
    assert methods.pretraining.mlm_epochs == preset_config("demo").mlm_epochs  # not recorded
    assert methods.differences == ("k_selection max_k: 12 (female), 10 (male)",)
    text = " ".join(methods_section(methods).items)
    assert "k from 2 to 12" in text and "K-Means with 4 starts" in text
    assert "(5 epochs, batch" in text
    assert "k_selection max_k: 12 (female), 10 (male)" in text


def test_without_records_the_methods_describe_the_environments_settings(tmp_path):
    with dg.instance_for_test() as instance:
        methods = _methods_of(tmp_path, instance)
    assert methods.clustering == ClusterConfig(seed=42) and methods.differences == ()
    assert methods.training == preset_config("demo", seed=42)

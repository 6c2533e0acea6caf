"""MH_PRESET=descriptors: no training; the model assets say why, the embeddings are made."""

import dagster as dg
import numpy as np
import polars as pl

from mh_assets.core import layout
from mh_assets.core.modelling.descriptors import DIMENSION
from mh_assets_tests.support.platform import load_defs, materialize

INGEST = ["registry_extract", "icd_descriptors", "cohort", "excluded_records"]
MODEL = ["descriptor_corpus", "mlm_checkpoint", "contrastive_checkpoint", "patient_embeddings"]


def test_the_descriptors_preset_skips_training_and_embeds_descriptors(platform, instance,
                                                                       monkeypatch):
    monkeypatch.setenv("MH_PRESET", "descriptors")
    defs = load_defs()
    assert materialize(instance, INGEST, defs=defs).success
    result = materialize(instance, MODEL, partition_key="female", defs=defs)
    assert result.success
    for stage in ("mlm_checkpoint", "contrastive_checkpoint"):
        meta = instance.get_latest_materialization_event(
            dg.AssetKey(stage)).asset_materialization.metadata
        assert "no " in meta["skipped"].value and "MH_PRESET=descriptors" in meta["skipped"].value
    assert not (platform.artifacts / layout.model_dir("female", "mlm")).exists()
    assert not (platform.artifacts / layout.model_dir("female", "contrastive")).exists()
    frame = pl.read_parquet(platform.artifacts / layout.embeddings("female"))
    X = np.asarray(frame["embedding"].to_list())
    assert X.shape[1] == DIMENSION
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    meta = instance.get_latest_materialization_event(
        dg.AssetKey("patient_embeddings")).asset_materialization.metadata
    assert meta["representation"].value == "descriptors"


def test_switching_the_preset_changes_the_model_assets_code_versions(monkeypatch, platform):
    versions = {}
    for preset in ("demo", "descriptors"):
        monkeypatch.setenv("MH_PRESET", preset)
        graph = load_defs().resolve_asset_graph()
        versions[preset] = {name: graph.get(dg.AssetKey(name)).code_version
                            for name in MODEL[1:]}
    assert all(versions["demo"][n] != versions["descriptors"][n] for n in MODEL[1:])

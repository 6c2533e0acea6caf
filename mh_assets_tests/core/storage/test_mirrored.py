"""Artifacts on object storage: the same atomic, owner-only API over a local mirror.

fsspec's in-memory filesystem stands in for S3 (``memory://``): two stores with
separate mirrors behave like two Kubernetes pods sharing a bucket.
"""

from __future__ import annotations

import uuid

import dagster as dg
import polars as pl
import pytest

from mh_assets.core.storage import ArtifactStore, MirroredArtifactStore, open_store
from mh_assets.settings import Settings


@pytest.fixture
def url() -> str:
    return f"memory://bucket-{uuid.uuid4().hex[:8]}/artifacts"


def pod(url: str, tmp_path, name: str) -> MirroredArtifactStore:
    """A store as one pod sees it: the shared bucket, its own local mirror."""
    return MirroredArtifactStore(url, cache=tmp_path / name)


def test_a_url_root_gives_a_mirrored_store_and_a_local_root_the_plain_one(url, tmp_path):
    settings = Settings.from_env({"MH_ARTIFACTS_DIR": url})
    assert str(settings.artifacts_dir) == url
    assert isinstance(open_store(settings.artifacts_dir), MirroredArtifactStore)
    assert type(open_store(tmp_path)) is ArtifactStore


def test_what_one_pod_writes_another_reads(url, tmp_path):
    writer, reader = pod(url, tmp_path, "a"), pod(url, tmp_path, "b")
    frame = pl.DataFrame({"patient_id": [1, 2], "cluster": [0, 1]})
    writer.write_parquet("restricted/clusters/female/assignments.parquet", frame)
    writer.write_text("tables/sud_by_sex.csv", "group,n\nF12,12\n")
    with writer.atomic_dir("models/female/mlm") as tmp:
        (tmp / "model.safetensors").write_bytes(b"weights")
        (tmp / "tokenizer").mkdir()
        (tmp / "tokenizer" / "vocab.txt").write_text("[PAD]\n")

    assert reader.read_parquet("restricted/clusters/female/assignments.parquet").equals(frame)
    assert reader.path("tables/sud_by_sex.csv").read_text() == "group,n\nF12,12\n"
    model = reader.path("models/female/mlm")
    assert (model / "model.safetensors").read_bytes() == b"weights"
    assert (model / "tokenizer" / "vocab.txt").read_text() == "[PAD]\n"
    # the mirror keeps the local permission rules
    restricted = tmp_path / "b" / "restricted"
    assert restricted.stat().st_mode & 0o777 == 0o700
    assert (restricted / "clusters/female/assignments.parquet").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700


def test_a_failed_write_uploads_nothing_and_keeps_the_previous_object(url, tmp_path):
    writer = pod(url, tmp_path, "a")
    writer.write_text("tables/t.csv", "old\n")
    with pytest.raises(RuntimeError):
        with writer.atomic_file("tables/t.csv") as tmp:
            tmp.write_text("half")
            raise RuntimeError("materialization failed")
    assert pod(url, tmp_path, "b").path("tables/t.csv").read_text() == "old\n"
    with pytest.raises(RuntimeError):
        with writer.atomic_dir("models/male/mlm") as tmp:
            (tmp / "partial.bin").write_bytes(b"x")
            raise RuntimeError("training failed")
    assert not (writer.remote / "models/male/mlm").exists()


def test_a_rewritten_checkpoint_replaces_the_remote_directory_whole(url, tmp_path):
    writer = pod(url, tmp_path, "a")
    with writer.atomic_dir("models/female/mlm") as tmp:
        (tmp / "old-shard.bin").write_bytes(b"1")
    with writer.atomic_dir("models/female/mlm") as tmp:
        (tmp / "model.safetensors").write_bytes(b"2")
    fresh = pod(url, tmp_path, "b").path("models/female/mlm")
    assert sorted(p.name for p in fresh.iterdir()) == ["model.safetensors"]


def test_assets_materialize_onto_object_storage(url, tmp_path, monkeypatch):
    from mh_assets_tests.support.platform import load_defs, make_platform, use_platform

    platform = make_platform(tmp_path, patients=200, seed=4)
    use_platform(monkeypatch, platform)
    monkeypatch.setenv("MH_ARTIFACTS_DIR", url)
    monkeypatch.setenv("MH_ARTIFACTS_CACHE", str(tmp_path / "mirror-of-the-run"))
    with dg.instance_for_test(temp_dir=str(platform.home)) as instance:
        result = dg.materialize(
            list(load_defs().assets) + list(load_defs().asset_checks),
            selection=["registry_extract", "cohort", "excluded_records", "sud_by_sex_table"],
            instance=instance, resources=load_defs().resources,
        )
        assert result.success
    elsewhere = pod(url, tmp_path, "auditor")
    assert elsewhere.read_parquet("restricted/cohort.parquet").height > 0
    assert elsewhere.path("tables/sud_by_sex.csv").read_text().startswith("group")

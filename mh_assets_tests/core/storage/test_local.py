"""The local artifact store: owner-only checkpoints, and refused writes in one sentence.

A refused write -- a full disk, a read-only folder, a file where a folder should be --
raises :class:`ArtifactStorageError` naming the path and what to do, and the previous
output stays in place. Faults come from :mod:`mh_assets_tests.support.faults`.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import polars as pl
import pytest

from mh_assets.core import layout
from mh_assets.core.storage import ArtifactStorageError, ArtifactStore
from mh_assets_tests.support.faults import (
    chmod_read_only,
    disk_full_error,
    needs_non_root,
    refuse_writes,
)

FRAME = pl.DataFrame({"patient_id": [1, 2], "cluster": [0, 1]})


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".old")))


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


# ------------------------------------------------------------------ owner-only checkpoints


def test_a_checkpoint_is_owner_only_down_to_every_file_and_up_to_models(store):
    previous = os.umask(0o022)  # the usual umask: new files 0644, folders 0755
    try:
        with store.atomic_dir(layout.model_dir("female", "mlm")) as tmp:
            (tmp / "model.safetensors").write_bytes(b"weights")
            (tmp / "tokenizer").mkdir()
            (tmp / "tokenizer" / "vocab.txt").write_text("[PAD]\n")
    finally:
        os.umask(previous)
    models = store.root / layout.MODELS
    assert _mode(models) == _mode(models / "female") == 0o700
    for path in (models / "female").rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_a_training_state_folder_is_created_owner_only_with_its_parents(store):
    state = store.private_dir(layout.training_state("male", "contrastive"))
    assert state.is_dir()
    for folder in (state, state.parent, state.parent.parent, store.root / layout.MODELS):
        assert _mode(folder) == 0o700, folder


def test_publishable_files_stay_readable(store):
    store.write_text(layout.table("sud_by_sex"), "group,n\n")
    assert _mode(store.path(layout.table("sud_by_sex"))) == 0o644


# ------------------------------------------------------------------ a full disk


def test_a_full_disk_is_one_sentence_and_the_previous_file_stays(store, monkeypatch):
    target = store.write_parquet(layout.COHORT, FRAME)
    before = target.read_bytes()

    def full(self, file, *args, **kwargs):
        Path(file).write_bytes(b"half a parquet file")
        raise disk_full_error(file)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(ArtifactStorageError) as caught:
        store.write_parquet(layout.COHORT, FRAME.head(1))
    message = str(caught.value)
    assert message.startswith(f"cannot write {target}: ")
    assert "is full" in message and "free space" in message and "MH_ARTIFACTS_DIR" in message
    assert "Errno" not in message
    assert caught.value.kind == "full" and caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == before
    assert _leftovers(store.root) == []


def test_a_library_that_reports_a_full_disk_only_in_its_text_is_understood(store, monkeypatch):
    def full(self, file, *args, **kwargs):  # what polars raises on a full disk
        raise pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: "
            "No space left on device (os error 28)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(ArtifactStorageError, match="is full"):
        store.write_parquet(layout.COHORT, FRAME)


def test_a_checkpoint_that_fails_on_a_nearly_full_disk_is_reported_as_full(store, monkeypatch):
    with store.atomic_dir(layout.model_dir("female", "mlm")) as tmp:
        (tmp / "model.safetensors").write_bytes(b"good weights")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, 10 << 30, 4096))
    with pytest.raises(ArtifactStorageError, match="is full"):
        with store.atomic_dir(layout.model_dir("female", "mlm")):
            # torch.save's report of a full disk says nothing of the disk
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos "
                               "704 vs 598")
    kept = store.path(layout.model_dir("female", "mlm")) / "model.safetensors"
    assert kept.read_bytes() == b"good weights"
    assert _leftovers(store.root) == []


def test_an_error_that_is_not_the_environment_surfaces_unchanged(store):
    with pytest.raises(ValueError, match="a bug"):
        with store.atomic_file(layout.COHORT):
            raise ValueError("a bug")
    with pytest.raises(RuntimeError, match="unexpected pos"):  # the disk has room
        with store.atomic_dir(layout.model_dir("female", "mlm")):
            raise RuntimeError("unexpected pos 704 vs 598")
    with pytest.raises(FileNotFoundError):  # reading something outside the artifacts
        with store.atomic_file(layout.COHORT):
            open(store.root.parent / "no-such-input.csv")


# ------------------------------------------------------------------ a read-only folder


@needs_non_root
def test_a_read_only_artifacts_directory_by_its_mode_names_itself_and_the_setting(store):
    store.root.mkdir(parents=True)
    with chmod_read_only(store.root):
        with pytest.raises(ArtifactStorageError) as caught:
            store.write_text(layout.table("sud_by_sex"), "group,n\n")
    message = str(caught.value)
    assert f"the artifacts directory {store.root} is read-only" in message
    assert "point MH_ARTIFACTS_DIR at a writable folder" in message
    assert caught.value.kind == "read-only"


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_artifacts_directory_names_itself_and_the_setting(store, monkeypatch, code):
    store.root.mkdir(parents=True)
    refuse_writes(monkeypatch, store.root, code)
    for write in (lambda: store.write_parquet(layout.COHORT, FRAME),
                  lambda: store.atomic_dir(layout.model_dir("male", "mlm")).__enter__(),
                  lambda: store.private_dir(layout.training_state("male", "mlm"))):
        with pytest.raises(ArtifactStorageError) as caught:
            write()
        message = str(caught.value)
        assert message.startswith(f"cannot write {store.root}/")
        assert f"the artifacts directory {store.root} is read-only" in message
        assert "point MH_ARTIFACTS_DIR at a writable folder" in message
        assert "Errno" not in message


# ------------------------------------------------------------------ something in the way


def test_a_file_in_place_of_an_artifacts_folder_is_named(store):
    store.root.mkdir(parents=True)
    (store.root / layout.RESTRICTED).write_text("someone's notes")
    with pytest.raises(ArtifactStorageError) as caught:
        store.write_parquet(layout.COHORT, FRAME)
    blocker = store.root / layout.RESTRICTED
    assert f"{blocker} is a file where the artifacts need a folder" in str(caught.value)
    assert "move that file away" in str(caught.value)
    assert (store.root / layout.RESTRICTED).read_text() == "someone's notes"


def test_a_folder_in_place_of_an_artifact_file_is_named(store):
    (store.root / layout.COHORT).mkdir(parents=True)
    with pytest.raises(ArtifactStorageError, match="a folder is in its place"):
        store.write_parquet(layout.COHORT, FRAME)


def test_a_checkpoint_comes_back_when_its_replacement_cannot_be_renamed_in(store, monkeypatch):
    target = layout.model_dir("female", "mlm")
    with store.atomic_dir(target) as tmp:
        (tmp / "model.safetensors").write_bytes(b"good weights")
    real_replace = os.replace

    def replace(src, dst):
        if str(src).endswith(".tmp"):  # the new checkpoint's rename into place
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ArtifactStorageError, match="read-only"):
        with store.atomic_dir(target) as tmp:
            (tmp / "model.safetensors").write_bytes(b"new weights")
    assert (store.path(target) / "model.safetensors").read_bytes() == b"good weights"
    assert _leftovers(store.root) == []


def test_the_caller_chooses_what_a_refused_write_raises(tmp_path):
    class Refused(Exception):
        pass

    store = ArtifactStore(tmp_path / "artifacts", raise_as=lambda err: Refused(str(err)))
    store.root.mkdir()
    (store.root / layout.TABLES).write_text("x")
    with pytest.raises(Refused, match="is a file where the artifacts need a folder"):
        store.write_text(layout.table("sud_by_sex"), "group,n\n")


def test_a_lazy_read_decodes_what_is_asked_and_a_missing_file_says_what_to_do(store):
    store.write_parquet(layout.COHORT, pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    lazy = store.scan_parquet(layout.COHORT)
    assert lazy.filter(pl.col("a") > 1).select("b").collect()["b"].to_list() == ["y", "z"]
    for read in (store.scan_parquet, store.read_parquet):
        with pytest.raises(FileNotFoundError, match="materialize the upstream asset"):
            read(layout.corpus("female"))

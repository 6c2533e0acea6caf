"""Training works inside a child process, as Dagster's multiprocess executor runs it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _train_in_child(root: str) -> None:
    from mh_assets.core import schema
    from mh_assets.core.modelling import preset_config
    from mh_assets.core.modelling.mlm import train_mlm
    from mh_assets.core.modelling.toy_corpus import toy_corpus

    config = preset_config(
        "demo", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_length=32, tokenizer_vocab_size=300, mlm_epochs=1,
        mlm_batch_size=16, torch_threads=1, seed=3,
    )
    texts = toy_corpus(60, seed=3)[schema.TEXT].to_list()
    train_mlm(texts, config, Path(root) / "mlm", Path(root) / "state", lambda _m: None)


def test_mlm_trains_in_a_spawned_child_process(tmp_path):
    process = multiprocessing.get_context("spawn").Process(
        target=_train_in_child, args=(str(tmp_path),)
    )
    process.start()
    process.join(timeout=300)
    assert process.exitcode == 0
    assert (tmp_path / "mlm" / "model.safetensors").exists()

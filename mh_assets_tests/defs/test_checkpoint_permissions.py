"""Checkpoints are restricted data: a language model can memorise its training texts.

``mlm_checkpoint`` trains a tiny model (under a second) on a toy corpus and keeps its
training state; everything it leaves under ``models/`` -- the checkpoint, the
``.state`` folder the Hugging Face Trainer writes into, the folders above them -- must
be owner-only (directories 0700, files 0600) whatever the process umask.
"""

from __future__ import annotations

import os

from mh_assets.core import layout
from mh_assets.core.modelling.toy_corpus import toy_corpus
from mh_assets.core.storage import ArtifactStore
from mh_assets_tests.support.platform import materialize

TINY = dict(
    hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
    max_length=32, tokenizer_vocab_size=200, mlm_epochs=1, mlm_batch_size=16,
    torch_threads=1, keep_state=True,
)  # fmt: skip


def test_a_trained_checkpoint_and_its_training_state_are_owner_only(platform, instance):
    ArtifactStore(platform.artifacts).write_parquet(layout.corpus("female"), toy_corpus(40, 5))
    previous = os.umask(0o022)  # the usual umask: the Trainer's files would be 0644
    try:
        result = materialize(instance, ["mlm_checkpoint"], partition_key="female",
                             run_config={"ops": {"mlm_checkpoint": {"config": TINY}}})
    finally:
        os.umask(previous)
    assert result.success
    models = platform.artifacts / layout.MODELS
    state = platform.artifacts / layout.training_state("female", "mlm")
    checkpoint = platform.artifacts / layout.model_dir("female", "mlm")
    assert any(state.glob("checkpoint-*/optimizer.pt"))  # the Trainer's own files
    assert (checkpoint / "model.safetensors").is_file()
    written = [models, *models.rglob("*")]
    assert len(written) > 10
    wrong = {str(p.relative_to(platform.artifacts)): oct(p.stat().st_mode & 0o777)
             for p in written if p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}
    assert not any(p.name.endswith(".tmp") for p in models.rglob("*"))

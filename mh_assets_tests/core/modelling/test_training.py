"""The demo chain end to end on a tiny model: MLM -> contrastive -> embeddings.

One module-scoped run (about 240 synthetic patients, a 2-layer hidden-64 DeBERTa-v2)
feeds most tests; the determinism, crash and MiniLM tests train again on purpose.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from transformers import TrainerCallback

from mh_assets.core import schema
from mh_assets.core.modelling import preset_config
from mh_assets.core.modelling.config import MINILM_NAME, TrainingConfig
from mh_assets.core.modelling.contrastive import ContrastiveSummary, train_contrastive
from mh_assets.core.modelling.embed import checkpoint_hash, embed_texts
from mh_assets.core.modelling.mlm import MlmSummary, train_mlm
from mh_assets.core.modelling.toy_corpus import toy_corpus

pytestmark = pytest.mark.slow

N_PATIENTS = 240
TINY = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
    max_length=64, tokenizer_vocab_size=500, mlm_epochs=3, mlm_lr=2e-3, mlm_batch_size=16,
    contrastive_epochs=2, contrastive_lr=1e-3, contrastive_batch_size=16, projection_dim=32,
    torch_threads=1, seed=11,
)  # fmt: skip


@dataclass
class Chain:
    mlm_dir: Path
    contrastive_dir: Path
    mlm: MlmSummary
    contrastive: ContrastiveSummary
    embeddings: np.ndarray
    log: list[str]


def run_chain(corpus: pl.DataFrame, config: TrainingConfig, root: Path) -> Chain:
    log: list[str] = []
    texts = corpus[schema.TEXT].to_list()
    mlm_dir, contrastive_dir, state = root / "mlm", root / "contrastive", root / "state"
    mlm = train_mlm(texts, config, mlm_dir, state / "mlm", log.append)
    contrastive = train_contrastive(
        corpus, mlm_dir, config, contrastive_dir, state / "contrastive", log.append
    )
    embeddings = embed_texts(contrastive_dir, texts, config, log=log.append)
    return Chain(mlm_dir, contrastive_dir, mlm, contrastive, embeddings, log)


@pytest.fixture(scope="module")
def corpus() -> pl.DataFrame:
    return toy_corpus(N_PATIENTS, seed=5)


@pytest.fixture(scope="module")
def config() -> TrainingConfig:
    return preset_config("demo", **TINY)


@pytest.fixture(scope="module")
def chain(corpus, config, tmp_path_factory) -> Chain:
    return run_chain(corpus, config, tmp_path_factory.mktemp("chain"))


def steps_per_epoch(n_texts: int, config: TrainingConfig) -> int:
    n_eval = round(n_texts * config.eval_fraction)
    return math.ceil((n_texts - n_eval) / config.mlm_batch_size)


def test_mlm_eval_loss_falls_over_the_epochs(chain, config):
    losses = chain.mlm.eval_loss_per_epoch
    assert len(losses) == config.mlm_epochs == len(chain.mlm.train_loss_per_epoch)
    assert losses[-1] < losses[0] - 0.3
    assert chain.mlm.n_eval == round(N_PATIENTS * 0.1)


def test_contrastive_loss_falls_over_the_epochs(chain, config):
    losses = chain.contrastive.train_loss_per_epoch
    assert len(losses) == config.contrastive_epochs
    assert losses[-1] < losses[0]


def test_checkpoints_are_safetensors_with_a_training_summary(chain):
    for folder in (chain.mlm_dir, chain.contrastive_dir):
        names = {p.name for p in folder.rglob("*") if p.is_file()}
        assert "model.safetensors" in names and "tokenizer.json" in names
        assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert MlmSummary.read(chain.mlm_dir) == chain.mlm
    assert ContrastiveSummary.read(chain.contrastive_dir) == chain.contrastive
    assert chain.mlm.tokens_per_second > 0 and chain.mlm.train_tokens > 0
    assert chain.mlm.library_versions["torch"] and chain.mlm.device.startswith("cpu")
    json.dumps(chain.mlm.as_metadata())
    json.dumps(chain.contrastive.as_metadata())


def test_nothing_patient_level_reaches_logs_or_summaries(chain, corpus):
    published = "\n".join(chain.log) + chain.mlm.to_json() + chain.contrastive.to_json()
    descriptors = set(corpus.explode(schema.DESCRIPTORS)[schema.DESCRIPTORS].to_list())
    assert not [d for d in descriptors if d in published]
    assert not [p for p in corpus[schema.PATIENT_ID].to_list() if p in published]
    assert any("tokens/s" in line and "ETA" in line for line in chain.log)


def test_embeddings_are_unit_float32_vectors_of_the_projection_dimension(chain, config):
    assert chain.embeddings.shape == (N_PATIENTS, config.projection_dim)
    assert chain.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(chain.embeddings, axis=1), 1.0, atol=1e-5)


def test_embeddings_line_up_with_the_input_order(chain, corpus, config):
    picked = [17, 3, 200, 3, 90]
    texts = corpus[schema.TEXT].to_list()
    again = embed_texts(chain.contrastive_dir, [texts[i] for i in picked], config, batch_size=2)
    np.testing.assert_allclose(again, chain.embeddings[picked], atol=1e-5)


def test_embeddings_group_the_planted_patterns(chain, corpus):
    pattern = corpus["pattern"].to_numpy()
    similarity = chain.embeddings @ chain.embeddings.T
    same = pattern[:, None] == pattern[None, :]
    off_diagonal = ~np.eye(len(pattern), dtype=bool)
    assert similarity[same & off_diagonal].mean() > similarity[~same].mean() + 0.3


def test_the_checkpoint_loads_in_sentence_transformers(chain, corpus, config):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(chain.contrastive_dir), device="cpu", local_files_only=True)
    vectors = model.encode(corpus[schema.TEXT].to_list()[:8], convert_to_numpy=True)
    np.testing.assert_allclose(vectors, chain.embeddings[:8], atol=1e-5)


def test_identical_seeds_give_identical_embeddings(chain, corpus, config, tmp_path):
    again = run_chain(corpus, config, tmp_path)
    assert np.array_equal(again.embeddings, chain.embeddings)
    assert checkpoint_hash(again.contrastive_dir) == checkpoint_hash(chain.contrastive_dir)


class CrashAtEpoch(TrainerCallback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_begin(self, args, state, control, **kw):
        if round(state.epoch or 0) == self.epoch:
            raise RuntimeError("simulated crash")


def test_training_resumes_from_the_last_saved_epoch_after_a_crash(chain, corpus, config, tmp_path):
    texts = corpus[schema.TEXT].to_list()
    out, state = tmp_path / "out", tmp_path / "state"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_mlm(texts, config, out, state, print, callbacks=[CrashAtEpoch(1)])
    assert not out.exists()
    log: list[str] = []
    summary = train_mlm(texts, config, out, state, log.append)
    per_epoch = steps_per_epoch(len(texts), config)
    assert summary.resumed_from_step == per_epoch
    assert summary.global_step == chain.mlm.global_step == config.mlm_epochs * per_epoch
    assert any("resuming" in line for line in log)
    # Weights, optimizer and RNG state were restored: the run ends where an uninterrupted one does.
    assert summary.eval_loss_per_epoch == pytest.approx(chain.mlm.eval_loss_per_epoch, rel=1e-4)
    assert not state.exists()  # cleared after success


_KILLED_RUN = """
import sys, time
from pathlib import Path
from transformers import TrainerCallback
from mh_assets.core import schema
from mh_assets.core.modelling import preset_config
from mh_assets.core.modelling.mlm import train_mlm
from mh_assets.core.modelling.toy_corpus import toy_corpus

class StallInSecondEpoch(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.epoch > 1.0:
            Path(sys.argv[2]).write_text("mid-epoch 2")
            time.sleep(600)

root = Path(sys.argv[1])
texts = toy_corpus({n}, seed=5)[schema.TEXT].to_list()
train_mlm(texts, preset_config("demo", **{tiny!r}), root / "out", root / "state", print,
          callbacks=[StallInSecondEpoch()])
"""


def test_training_resumes_after_kill_9_mid_epoch(chain, corpus, config, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_KILLED_RUN.format(n=N_PATIENTS, tiny=TINY)))
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(marker)])
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert process.poll() is None, "the training subprocess ended early"
            assert time.monotonic() < deadline, "the training subprocess never reached epoch 2"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert not (tmp_path / "out").exists()
    texts = corpus[schema.TEXT].to_list()
    summary = train_mlm(texts, config, tmp_path / "out", tmp_path / "state", print)
    assert summary.resumed_from_step == steps_per_epoch(N_PATIENTS, config)
    assert summary.global_step == chain.mlm.global_step


def test_minilm_preset_trains_offline_from_its_packaged_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    config = preset_config(
        "minilm",
        max_length=32,
        mlm_batch_size=8,
        contrastive_batch_size=8,
        eval_batch_size=8,
        torch_threads=1,
    )
    small = toy_corpus(24, seed=1)
    chain = run_chain(small, config, tmp_path)
    assert chain.mlm.model_source == MINILM_NAME and chain.mlm.vocab_size == 30522
    vector = embed_texts(chain.contrastive_dir, ["Cannabis dependence, uncomplicated"], config)
    assert vector.shape == (1, 384) and np.isfinite(vector).all()

"""Stage 2: contrastive fine-tuning of the masked-LM encoder into a patient encoder.

The model and loss are in :mod:`.encoder` (mean pooling + linear projection,
symmetric NT-Xent with in-batch negatives at temperature 0.05), the positive pairs in
:mod:`.augment` (two views of the patient's code set), the saved layout in
:mod:`.checkpoint`. This module feeds them to the Hugging Face Trainer: fresh views
every epoch, both views of a batch tokenized together and padded to the batch's
longest, batches grouped by text length, per-epoch checkpoints for crash recovery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import torch
from transformers import AutoModel, PreTrainedTokenizerBase, TrainerCallback

from .. import schema
from . import runtime
from .augment import make_views
from .checkpoint import save_patient_encoder
from .config import TrainingConfig
from .device import choose_device
from .encoder import PatientEncoder, mean_pool, symmetric_nt_xent
from .resume import checkpoint_hash, clear_state, fingerprint, open_state, texts_sha256
from .summary import TrainingSummary, common_summary
from .tokenizer import load_tokenizer

__all__ = [
    "ContrastiveSummary", "EpochViews", "PairCollator", "PatientEncoder",
    "mean_pool", "symmetric_nt_xent", "train_contrastive",
]  # fmt: skip

STAGE = "contrastive"


@dataclass(frozen=True, kw_only=True)
class ContrastiveSummary(TrainingSummary):
    augmentation: str
    temperature: float
    projection_dim: int
    mlm_checkpoint_sha256: str


class EpochViews(torch.utils.data.Dataset):
    """Item i is patient i's pair of views for the current epoch (set by a callback)."""

    def __init__(self, views: list[tuple[list[str], list[str]]]):
        self.views = views
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.views[0][0])

    def __getitem__(self, i: int) -> dict[str, str]:
        view_a, view_b = self.views[self.epoch]
        return {"a": view_a[i], "b": view_b[i]}


class _FollowEpoch(TrainerCallback):
    """Points the dataset at the epoch about to run (also the right one after a resume)."""

    def __init__(self, dataset: EpochViews):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kw):
        self.dataset.epoch = min(round(state.epoch or 0), len(self.dataset.views) - 1)


class PairCollator:
    """Tokenizes a batch's A views then its B views into one stacked batch."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_length: int, pad_to_max_length: bool = False
    ):
        self.tokenizer, self.max_length = tokenizer, max_length
        self.padding = "max_length" if pad_to_max_length else "longest"

    def __call__(self, features: list[dict[str, str]]) -> dict[str, torch.Tensor]:
        texts = [f["a"] for f in features] + [f["b"] for f in features]
        batch = self.tokenizer(
            texts,
            padding=self.padding,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_token_type_ids=False,
        )
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def train_contrastive(
    corpus: pl.DataFrame,
    mlm_dir: Path,
    config: TrainingConfig,
    output_dir: Path,
    state_dir: Path,
    log: Callable[[str], None] = print,
    *,
    data_version: str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> ContrastiveSummary:
    """Fine-tune the masked-LM checkpoint in ``mlm_dir``; save the patient encoder.

    ``output_dir`` receives the checkpoint (see :mod:`.checkpoint`) and
    ``training_summary.json``; ``state_dir`` holds per-epoch checkpoints so a re-run
    after a crash resumes from the last finished epoch.
    """
    started = time.perf_counter()
    if corpus.height < 2:
        raise ValueError(f"contrastive training needs at least 2 patients, got {corpus.height}")
    runtime.prepare_process(config)
    device = choose_device(log)
    texts = corpus[schema.TEXT].to_list()
    data_hash = texts_sha256(texts)
    mlm_hash = checkpoint_hash(mlm_dir)
    key = fingerprint(STAGE, config, data_hash, mlm_hash)
    resume = open_state(state_dir, key, log)
    runtime.seed_everything(config, device)

    tokenizer = load_tokenizer(mlm_dir, config.max_length)
    dataset = EpochViews(
        [
            make_views(corpus, config.augmentation, config.max_dropped_codes, config.seed, epoch,
                       config.min_kept_share)
            for epoch in range(config.contrastive_epochs)
        ]
    )
    lengths = tokenizer(
        texts, truncation=True, max_length=config.max_length, return_length=True
    )["length"]
    with runtime.quiet_loading():
        encoder = AutoModel.from_pretrained(str(mlm_dir), local_files_only=True)
    model = PatientEncoder(encoder, config.projection_dim, config.temperature)
    log(
        f"{STAGE}: {len(dataset)} patients, augmentation {config.augmentation}, "
        f"batch {config.contrastive_batch_size}"
    )
    trainer, progress = runtime.train(
        config, stage=STAGE, log=log, state_dir=state_dir, device=device, resume=resume,
        learning_rate=config.contrastive_lr, epochs=config.contrastive_epochs,
        batch_size=config.contrastive_batch_size,
        model=model,
        train_dataset=dataset,
        data_collator=PairCollator(tokenizer, config.max_length, config.pad_to_max_length),
        lengths=lengths,
        before=[_FollowEpoch(dataset)],
        after=callbacks,
    )

    output_dir.mkdir(parents=True, exist_ok=True)
    save_patient_encoder(
        model, output_dir, tokenizer, config.max_length, config.normalize_embeddings
    )
    summary = ContrastiveSummary(
        **common_summary(
            STAGE, config, trainer, progress, device, started,
            model_source=config.model_name or "scratch",
            n_examples=len(dataset),
            epochs=config.contrastive_epochs,
            data_sha256=data_hash,
            data_version=data_version,
        ),
        augmentation=config.augmentation,
        temperature=config.temperature,
        projection_dim=config.projection_dim,
        mlm_checkpoint_sha256=mlm_hash,
    )  # fmt: skip
    summary.write(output_dir)
    if not config.keep_state:
        clear_state(state_dir)
    return summary

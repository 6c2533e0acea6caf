"""What both training stages share: process set-up, seeding and the Trainer itself.

Both stages run the Hugging Face Trainer with the same habits: per-epoch logging,
evaluation and checkpoints (for crash recovery, see :mod:`.state`), batches grouped
by length, bf16 only where a CUDA GPU supports it, no hub and no experiment trackers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainingArguments, enable_full_determinism, set_seed
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.utils import logging as hf_logging

from .config import TrainingConfig
from .device import bf16_supported


def prepare_process(config: TrainingConfig) -> None:
    """Thread count, and no tqdm bars in Dagster's captured output."""
    hf_logging.disable_progress_bar()
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)


def use_full_determinism(config: TrainingConfig, device: torch.device) -> bool:
    """Bit-reproducible kernels: on CPU under "auto", where they cost next to nothing."""
    if config.full_determinism == "auto":
        return device.type == "cpu"
    return bool(config.full_determinism)


def use_bf16(config: TrainingConfig, device: torch.device) -> bool:
    if config.bf16 == "auto":
        return bf16_supported(device)
    if config.bf16 and not bf16_supported(device):
        raise ValueError(f"bf16=True but {device} has no native bf16 support; use bf16='auto'")
    return bool(config.bf16)


def seed_everything(config: TrainingConfig, device: torch.device) -> None:
    """Seed Python, numpy and torch (and make kernels deterministic where chosen)."""
    if use_full_determinism(config, device):
        enable_full_determinism(config.seed)
    else:
        set_seed(config.seed)


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' load report while loading an encoder from an MLM checkpoint.

    Dropping the MLM head is the intent there, and the report of "unexpected" head
    weights would otherwise read like an error in the run's log.
    """
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def training_arguments(
    config: TrainingConfig,
    *,
    state_dir: Path,
    device: torch.device,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    evaluate: bool,
) -> TrainingArguments:
    """Per-epoch logging, evaluation and checkpoints in ``state_dir``."""
    if device.type == "cuda":
        torch.cuda.set_device(device)  # the Trainer trains on the current CUDA device
    return TrainingArguments(
        output_dir=str(state_dir),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=config.save_total_limit,
        bf16=use_bf16(config, device),
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        full_determinism=use_full_determinism(config, device),
        use_cpu=device.type == "cpu",
        dataloader_num_workers=0,
        dataloader_pin_memory=device.type == "cuda",
        remove_unused_columns=False,
    )


class LengthGroupedTrainer(Trainer):
    """A Trainer that groups batches by precomputed lengths and prints nothing itself.

    The stock sampler infers lengths by reading every example; the stages already
    know them (token counts), and the contrastive examples are raw text pairs the
    stock inference cannot read. Progress goes through ``ProgressCallback``'s log.
    """

    def __init__(self, *args: Any, lengths: Sequence[int] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.remove_callback(PrinterCallback)
        self.lengths = None if lengths is None else [int(x) for x in lengths]

    def _get_train_sampler(self, train_dataset=None):
        grouped = self.args.train_sampling_strategy == "group_by_length"
        if grouped and self.lengths is not None:
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return LengthGroupedSampler(batch, lengths=self.lengths)
        return super()._get_train_sampler(train_dataset)

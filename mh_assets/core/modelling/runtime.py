"""What both training stages share: process set-up, seeding, the Trainer and its progress log.

Both stages run the Hugging Face Trainer with the same habits: per-epoch logging,
evaluation and checkpoints (for crash recovery, see :mod:`.resume`), batches grouped
by length, bf16 only where a CUDA GPU supports it, no hub and no experiment trackers,
and training state kept owner-only (:class:`OwnerOnlyState`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from transformers import (
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    enable_full_determinism,
    set_seed,
)
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.utils import logging as hf_logging

from ..storage import make_owner_only
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
        # held-out batches give a loss, never logits to gather: no stage has metrics
        prediction_loss_only=True,
    )


class OwnerOnlyState(TrainerCallback):
    """Keep the Trainer's state directory owner-only: directories 0700, files 0600.

    The Trainer writes checkpoints (weights, optimizer, RNG states) with the process's
    default permissions; a language model can memorise its training texts, so its
    state is treated like ``restricted/``. Re-applied when training begins (the
    tokenizer and fingerprint written before it), after every save and at the end.
    """

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)

    def _restrict(self) -> None:
        make_owner_only(self.state_dir)

    def on_train_begin(self, args, state, control, **kw):
        self._restrict()

    def on_save(self, args, state, control, **kw):
        self._restrict()

    def on_train_end(self, args, state, control, **kw):
        self._restrict()


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


def train(
    config: TrainingConfig,
    *,
    stage: str,
    log: Callable[[str], None],
    state_dir: Path,
    device: torch.device,
    resume: Path | None,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    model: Any,
    train_dataset: Any,
    data_collator: Any,
    lengths: Sequence[int],
    eval_dataset: Any = None,
    processing_class: Any = None,
    before: Sequence[TrainerCallback] = (),
    after: Sequence[TrainerCallback] = (),
    trainer_class: type[LengthGroupedTrainer] = LengthGroupedTrainer,
) -> tuple[Trainer, "ProgressCallback"]:
    """Run one stage's Trainer (resuming from ``resume`` when given) with a progress log.

    Both stages train the same way -- per-epoch state in ``state_dir``, length-grouped
    batches, evaluation only where there is a held-out set -- so they differ only in
    the model, data and collator they pass here. Callbacks run in the order
    ``before``, the progress log, ``after``. A stage with its own loss passes its
    ``trainer_class`` (a :class:`LengthGroupedTrainer`).
    """
    args = training_arguments(
        config, state_dir=state_dir, device=device, learning_rate=learning_rate,
        epochs=epochs, batch_size=batch_size, evaluate=eval_dataset is not None,
    )
    progress = ProgressCallback(stage, log, config.progress_interval_s)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=data_collator,
        processing_class=processing_class,
        callbacks=[*before, progress, *after, OwnerOnlyState(state_dir)],
        lengths=lengths,
    )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return trainer, progress


# ------------------------------------------------------------------ progress
# Training progress as plain log lines: loss per epoch, tokens/second and an ETA.
#
# The callback only ever sees counts and losses -- never a batch -- so nothing
# patient-level can reach the log. It also measures the training throughput the
# summaries report: non-padding tokens per second of time spent in training steps
# (evaluation and checkpoint writing excluded), so pad-to-max and dynamic padding are
# compared on the tokens that carry information.


class ProgressCallback(TrainerCallback):
    """Reports through ``log``; accumulates ``train_seconds`` and ``train_tokens``."""

    def __init__(self, stage: str, log: Callable[[str], None], interval_s: float = 60.0):
        self.stage = stage
        self.log = log
        self.interval_s = interval_s
        self.train_seconds = 0.0
        self.train_tokens = 0
        self.resumed_from_step = 0
        self._begin = self._epoch_begin = self._last_report = 0.0
        self._epoch_tokens = 0
        self._first_step = 0
        self._epoch_rate = 0.0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw
    ):
        self._begin = self._last_report = time.perf_counter()
        self._first_step = self.resumed_from_step = state.global_step
        epochs = int(args.num_train_epochs)
        if state.global_step:
            self.log(
                f"{self.stage}: resuming from the checkpoint at epoch "
                f"{round(state.epoch or 0)}/{epochs} "
                f"(step {state.global_step}/{state.max_steps})"
            )
        else:
            self.log(f"{self.stage}: training {epochs} epoch(s), {state.max_steps} optimizer steps")

    def on_epoch_begin(self, args, state, control, **kw):
        self._epoch_begin = time.perf_counter()
        self._epoch_tokens = state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kw):
        now = time.perf_counter()
        if now - self._last_report < self.interval_s:
            return
        self._last_report = now
        seconds = now - self._epoch_begin
        tokens = state.num_input_tokens_seen - self._epoch_tokens
        rate = tokens / seconds if seconds > 0 else 0.0
        self.log(
            f"{self.stage}: step {state.global_step}/{state.max_steps} · "
            f"epoch {state.epoch:.2f} · "
            f"{rate:,.0f} tokens/s · ETA {self._eta(state)}"
        )

    def on_epoch_end(self, args, state, control, **kw):
        seconds = time.perf_counter() - self._epoch_begin
        tokens = state.num_input_tokens_seen - self._epoch_tokens
        self.train_seconds += seconds
        self.train_tokens += tokens
        self._epoch_rate = tokens / seconds if seconds > 0 else 0.0

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        epoch = f"epoch {round(state.epoch or 0)}/{int(args.num_train_epochs)}"
        if "loss" in logs:
            self.log(
                f"{self.stage} {epoch}: train loss {logs['loss']:.4f} · "
                f"{self._epoch_rate:,.0f} tokens/s · ETA {self._eta(state)}"
            )
        if "eval_loss" in logs:
            self.log(f"{self.stage} {epoch}: eval loss {logs['eval_loss']:.4f}")

    @property
    def tokens_per_second(self) -> float:
        return self.train_tokens / self.train_seconds if self.train_seconds > 0 else 0.0

    def _eta(self, state: TrainerState) -> str:
        done = state.global_step - self._first_step
        if done <= 0:
            return "unknown"
        per_step = (time.perf_counter() - self._begin) / done
        return str(timedelta(seconds=round(per_step * (state.max_steps - state.global_step))))

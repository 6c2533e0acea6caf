"""Stage 1: masked-language-model pre-training on one sex's descriptor texts.

As in Hugging Face's ``run_mlm`` example: 15% of tokens are selected for prediction
(80% replaced by [MASK], 10% by a random token, 10% kept), batches are padded only
to their longest member and grouped by length, and a seeded 10% of the patients is
held out. The held-out texts are masked once, with a fixed seed, so the per-epoch
eval loss compares epochs on identical inputs instead of on fresh random masks. The
vocabulary projection runs on the masked positions only (:class:`MaskedPositionsTrainer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import (
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerBase,
    TrainerCallback,
)
from transformers.modeling_outputs import MaskedLMOutput

from . import runtime
from .backbone import masked_lm
from .config import TrainingConfig
from .device import choose_device
from .resume import clear_state, fingerprint, open_state, texts_sha256
from .summary import TrainingSummary, common_summary, epoch_losses, rounded
from .tokenizer import build_tokenizer, load_tokenizer
from .weights import resolve_model_dir

STAGE = "mlm"


@dataclass(frozen=True, kw_only=True)
class MlmSummary(TrainingSummary):
    n_eval: int
    vocab_size: int
    eval_loss_per_epoch: list[float]


def train_mlm(
    texts: Sequence[str],
    config: TrainingConfig,
    output_dir: Path,
    state_dir: Path,
    log: Callable[[str], None] = print,
    *,
    data_version: str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> MlmSummary:
    """Pre-train (or continue pre-training) a masked LM; save it to ``output_dir``.

    ``output_dir`` receives the model and tokenizer (safetensors) and
    ``training_summary.json``; ``state_dir`` holds per-epoch checkpoints so a re-run
    after a crash resumes from the last finished epoch. Missing pretrained weights
    raise :class:`~.weights.MissingWeightsError` before anything is written.
    """
    started = time.perf_counter()
    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"masked-LM training needs at least 2 texts, got {len(texts)}")
    model_dir = resolve_model_dir(config)
    runtime.prepare_process(config)
    device = choose_device(log)
    data_hash = texts_sha256(texts)
    resume = open_state(state_dir, fingerprint(STAGE, config, data_hash), log)
    runtime.seed_everything(config, device)

    tokenizer = _tokenizer(texts, config, model_dir, state_dir / "tokenizer")
    if model_dir is not None:
        log(
            f"{STAGE}: starting from the pretrained weights of {config.model_name or model_dir} "
            "(a masked-LM head they lack is initialised afresh)"
        )
    train_set, eval_set, lengths = build_datasets(texts, tokenizer, config)
    log(
        f"{STAGE}: {len(train_set)} training and {len(eval_set)} held-out texts, "
        f"vocabulary {len(tokenizer)}"
    )
    trainer, progress = runtime.train(
        config, stage=STAGE, log=log, state_dir=state_dir, device=device, resume=resume,
        learning_rate=config.mlm_lr, epochs=config.mlm_epochs,
        batch_size=config.mlm_batch_size,
        model=masked_lm(config, tokenizer, model_dir),
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=MaskOrPad(tokenizer, config.mlm_probability),
        processing_class=tokenizer,
        lengths=lengths,
        after=callbacks,
        trainer_class=MaskedPositionsTrainer,
    )

    output_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    # A pickle of the arguments; the summary records the settings instead.
    (output_dir / "training_args.bin").unlink(missing_ok=True)
    summary = MlmSummary(
        **common_summary(
            STAGE, config, trainer, progress, device, started,
            model_source="scratch" if model_dir is None else (config.model_name or str(model_dir)),
            n_examples=len(train_set),
            epochs=config.mlm_epochs,
            data_sha256=data_hash,
            data_version=data_version,
        ),
        n_eval=len(eval_set),
        vocab_size=len(tokenizer),
        eval_loss_per_epoch=rounded(epoch_losses(trainer.state.log_history, "eval_loss")),
    )  # fmt: skip
    summary.write(output_dir)
    if not config.keep_state:
        clear_state(state_dir)
    return summary


def _tokenizer(
    texts: list[str], config: TrainingConfig, model_dir: Path | None, saved: Path
) -> PreTrainedTokenizerBase:
    """The run's tokenizer, kept beside its checkpoints so a resumed run reuses it."""
    if saved.is_dir():
        return load_tokenizer(saved, config.max_length)
    tokenizer = build_tokenizer(texts, config, model_dir)
    partial = saved.with_name(saved.name + ".partial")
    tokenizer.save_pretrained(str(partial))
    partial.rename(saved)  # never a half-saved tokenizer to resume with
    return tokenizer


class Columns(torch.utils.data.Dataset):
    """Examples stored column-wise (one list per field); item ``i`` is row ``i``."""

    def __init__(self, columns: dict[str, Sequence]):
        self.columns = columns
        self.n = len(next(iter(columns.values())))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return {name: values[i] for name, values in self.columns.items()}


class TrimmedRows(torch.utils.data.Dataset):
    """Pre-masked held-out rows, each cut back to its own length (re-padded per batch)."""

    def __init__(self, input_ids: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor):
        self.input_ids, self.labels, self.lengths = input_ids, labels, lengths.tolist()

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        n = self.lengths[i]
        return {"input_ids": self.input_ids[i, :n], "labels": self.labels[i, :n]}


class MaskedPositionsTrainer(runtime.LengthGroupedTrainer):
    """The masked-LM loss with the prediction head applied to the masked positions only.

    The loss is the model's own -- cross-entropy averaged over the positions whose label
    is not -100 -- but a masked LM's forward projects *every* position onto the
    vocabulary and then ignores 85% of them. In the demo preset's small model that
    projection is about a quarter of the compute, forward and backward; here it runs on
    the ~15% of positions that count (benchmarks/README.md, "MLM head"). The encoder is
    the model's ``base_model`` and the head its ``cls`` (DeBERTa-v2/v3 and BERT-style
    models); a model without one trains through its own forward.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        unwrapped = self.accelerator.unwrap_model(model)
        head = getattr(unwrapped, "cls", None)
        if head is None or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]
        hidden = unwrapped.base_model(**{k: v for k, v in inputs.items() if k != "labels"})[0]
        picked = labels != -100
        scores = head(hidden[picked])
        loss = (torch.nn.functional.cross_entropy(scores.float(), labels[picked])
                if picked.any() else hidden.sum() * 0.0)  # nothing masked: no signal, no NaN
        return (loss, MaskedLMOutput(loss=loss, logits=scores)) if return_outputs else loss


class MaskOrPad:
    """Training batches are masked afresh; pre-masked held-out batches are only padded."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, mlm_probability: float):
        self.mlm = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability)
        self.pad_id = tokenizer.pad_token_id

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if "labels" not in features[0]:
            return self.mlm(features)
        ids = [f["input_ids"] for f in features]
        labels = [f["labels"] for f in features]
        return {
            "input_ids": pad_sequence(ids, batch_first=True, padding_value=self.pad_id),
            "attention_mask": pad_sequence([torch.ones_like(x) for x in ids], batch_first=True),
            "labels": pad_sequence(labels, batch_first=True, padding_value=-100),
        }


def build_datasets(
    texts: list[str], tokenizer: PreTrainedTokenizerBase, config: TrainingConfig
) -> tuple[Columns, TrimmedRows, list[int]]:
    """Seeded train/held-out split, tokenized once; the held-out texts masked once.

    Returns the training set, the held-out set and the training texts' token counts
    (for length-grouped batching). ``pad_to_max_length`` gives the study's way.
    """
    order = np.random.default_rng(config.seed).permutation(len(texts))
    n_eval = max(1, int(round(len(texts) * config.eval_fraction)))
    eval_idx, train_idx = np.sort(order[:n_eval]), np.sort(order[n_eval:])
    encode = dict(
        truncation=True,
        max_length=config.max_length,
        return_token_type_ids=False,
        return_special_tokens_mask=True,
    )
    train = tokenizer(
        [texts[i] for i in train_idx],
        padding="max_length" if config.pad_to_max_length else False,
        return_length=True,
        **encode,
    )
    lengths = train.pop("length")
    held_out = tokenizer(
        [texts[i] for i in eval_idx],
        padding="max_length" if config.pad_to_max_length else "longest",
        return_tensors="pt",
        **encode,
    )
    # The held-out masking is fixed once, from its own seeded generator. (The collator's
    # ``seed=`` refuses to seed outside the main process, and Dagster's multiprocess
    # executor runs every step in a child process.)
    fixed = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mlm_probability)
    fixed.generator = torch.Generator().manual_seed(config.seed)
    ids, labels = fixed.torch_mask_tokens(
        held_out["input_ids"].clone(), special_tokens_mask=held_out["special_tokens_mask"]
    )
    eval_lengths = held_out["attention_mask"].sum(dim=1)
    if config.pad_to_max_length:
        eval_lengths = torch.full_like(eval_lengths, ids.shape[1])
    return Columns(dict(train)), TrimmedRows(ids, labels, eval_lengths), lengths

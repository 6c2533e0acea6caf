"""Training summaries: what each checkpoint's ``training_summary.json`` records.

Counts, losses, throughput, hashes, versions and settings -- never a text or an
identifier -- so the summary can be shown as Dagster metadata as it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from ..environment import library_versions
from .config import TrainingConfig
from .resume import SUMMARY_FILE
from .runtime import ProgressCallback


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{device.index or 0} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


@dataclass(frozen=True, kw_only=True)
class TrainingSummary:
    """One training run. Losses cover every epoch (the Trainer's log is restored on
    resume); ``train_tokens`` and ``tokens_per_second`` cover the epochs this call
    trained, counting non-padding tokens over time spent in training steps."""

    stage: str
    preset: str
    backbone: str
    model_source: str
    seed: int
    hyperparameters: dict[str, Any]
    n_examples: int
    n_parameters: int
    epochs: int
    train_loss_per_epoch: list[float]
    train_tokens: int
    tokens_per_second: float
    global_step: int
    resumed_from_step: int
    device: str
    bf16: bool
    full_determinism: bool
    seconds: float
    data_sha256: str
    data_version: str | None
    library_versions: dict[str, str] = field(default_factory=library_versions)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def write(self, directory: Path) -> Path:
        path = directory / SUMMARY_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, directory: Path):
        return cls(**json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8")))

    def as_metadata(self) -> dict[str, Any]:
        """Flat and JSON-able: nested dicts become dotted keys, None values are dropped."""
        flat: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, dict):
                prefix = "hp" if key == "hyperparameters" else "version"
                flat.update({f"{prefix}.{k}": v for k, v in value.items() if v is not None})
            elif value is not None:
                flat[key] = value
        return flat


def common_summary(
    stage: str,
    config: TrainingConfig,
    trainer: Trainer,
    progress: ProgressCallback,
    device: torch.device,
    started: float,
    *,
    model_source: str,
    n_examples: int,
    epochs: int,
    data_sha256: str,
    data_version: str | None,
) -> dict[str, Any]:
    """The :class:`TrainingSummary` fields both stages fill the same way."""
    return dict(
        stage=stage,
        preset=config.preset,
        backbone=config.backbone,
        model_source=model_source,
        seed=config.seed,
        hyperparameters=config.hyperparameters(),
        n_examples=n_examples,
        n_parameters=int(sum(p.numel() for p in trainer.model.parameters())),
        epochs=epochs,
        train_loss_per_epoch=rounded(epoch_losses(trainer.state.log_history, "loss")),
        train_tokens=progress.train_tokens,
        tokens_per_second=round(progress.tokens_per_second, 1),
        global_step=trainer.state.global_step,
        resumed_from_step=progress.resumed_from_step,
        device=describe_device(device),
        bf16=bool(trainer.args.bf16),
        full_determinism=bool(trainer.args.full_determinism),
        seconds=round(time.perf_counter() - started, 2),
        data_sha256=data_sha256,
        data_version=data_version,
    )


def epoch_losses(log_history: list[dict[str, Any]], key: str) -> list[float]:
    """One value of ``key`` per epoch from the Trainer's log (restored on resume)."""
    by_epoch = {round(entry["epoch"]): float(entry[key]) for entry in log_history if key in entry}
    return [by_epoch[e] for e in sorted(by_epoch)]


def rounded(values: Sequence[float], digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


def loss_curve_png(summary: TrainingSummary, dpi: int = 100) -> bytes:
    """Train (and, for the masked LM, held-out) loss per epoch as a small PNG -- what a
    reader of the asset page wants to see at a glance instead of a list of numbers."""
    import io

    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 2.6), dpi=dpi)
    axes = figure.add_subplot()
    curves = {"train": summary.train_loss_per_epoch,
              "held out": getattr(summary, "eval_loss_per_epoch", None) or []}
    for label, losses in curves.items():
        if losses:
            axes.plot(range(1, len(losses) + 1), losses, marker="o", label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_title(f"{summary.stage}: loss per epoch", fontsize=10)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(frameon=False, fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

"""Stage 3: one vector per patient from the contrastive checkpoint.

Inference only (``torch.inference_mode``, dropout off). Texts are processed longest
first in batches of similar length, each padded only to its own longest member, and
the rows are written back to their input positions -- so the output lines up with
the corpus whatever order the batches ran in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

from .checkpoint import load_patient_encoder
from .config import TrainingConfig
from .device import choose_device
from .encoder import PatientEncoder
from .resume import checkpoint_hash
from .runtime import prepare_process, use_bf16
from .tokenizer import load_tokenizer

__all__ = ["TextEmbedder", "checkpoint_hash", "embed_texts", "encode", "load_patient_encoder"]


def embed_texts(
    model_dir: Path,
    texts: Sequence[str],
    config: TrainingConfig,
    batch_size: int | None = None,
    *,
    device: torch.device | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> np.ndarray:
    """float32 array of shape (len(texts), projection_dim), row i for ``texts[i]``."""
    started = time.perf_counter()
    prepare_process(config)
    device = device or choose_device(log)
    model = load_patient_encoder(model_dir, device)
    tokenizer = load_tokenizer(model_dir, config.max_length)
    out = encode(model, tokenizer, texts, config, batch_size or config.embed_batch_size, device)
    seconds = time.perf_counter() - started
    log(f"embedded {len(out)} patients in {seconds:.1f} s ({len(out) / max(seconds, 1e-9):,.0f}/s)")
    return out


class TextEmbedder:
    """The trained encoder, loaded once, embedding any texts on demand -- e.g. the texts
    of null cohorts, which are embedded with the run's model and never trained on."""

    def __init__(self, model_dir: Path, config: TrainingConfig,
                 log: Callable[[str], None] = lambda _msg: None):
        prepare_process(config)
        self.config = config
        self.device = choose_device(log)
        self.model = load_patient_encoder(model_dir, self.device)
        self.tokenizer = load_tokenizer(model_dir, config.max_length)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return encode(self.model, self.tokenizer, texts, self.config,
                      self.config.embed_batch_size, self.device)


def encode(
    model: PatientEncoder,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    config: TrainingConfig,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """The batched inference loop; ``config.pad_to_max_length`` gives the study's way.

    The study's way (benchmarks only) pads every text to ``max_length`` and keeps
    corpus order; the platform's sorts by length and pads each batch to its longest.
    """
    texts = list(texts)
    out = np.empty((len(texts), model.projection.out_features), dtype=np.float32)
    if not texts:
        return out
    ids = tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    if config.pad_to_max_length:
        order = np.arange(len(texts))
    else:
        order = np.argsort(-np.asarray([len(row) for row in ids]), kind="stable")
    width = config.max_length if config.pad_to_max_length else None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(config, device))
    with torch.inference_mode(), autocast:
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            input_ids, attention_mask = pad_batch([ids[i] for i in rows], tokenizer, width)
            vectors = model.embed(input_ids.to(device), attention_mask.to(device)).float()
            if config.normalize_embeddings:
                vectors = F.normalize(vectors, dim=-1)
            out[rows] = vectors.cpu().numpy()
    return out


def pad_batch(ids: Sequence[Sequence[int]], tokenizer: PreTrainedTokenizerBase,
              width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), int64, of token id lists padded to ``width`` (None:
    the batch's longest) -- the tensors ``tokenizer(texts, padding=...)`` returns for
    these texts, built from one tokenization of all texts instead of one per batch (the
    second pass was ~10% of embedding a null cohort's 300 texts)."""
    width = width or max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), tokenizer.pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((len(ids), width), dtype=np.int64)
    for r, row in enumerate(ids):
        at = slice(width - len(row), width) if tokenizer.padding_side == "left" else slice(len(row))
        input_ids[r, at], attention_mask[r, at] = row, 1
    return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)

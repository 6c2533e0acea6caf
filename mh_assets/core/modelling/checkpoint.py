"""The patient-encoder checkpoint on disk: Hugging Face encoder + sentence-transformers modules.

The encoder is saved with ``save_pretrained`` (config + safetensors) next to its
tokenizer; the pooling and projection are written as sentence-transformers module
folders (``1_Pooling``, ``2_Dense``, optionally ``3_Normalize``) with a
``modules.json``. So the platform loads it with :func:`load_patient_encoder`, and
anyone else with ``SentenceTransformer(path)`` -- no custom code needed to reuse the
model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, PreTrainedTokenizerBase

from .encoder import PatientEncoder
from .runtime import quiet_loading

DENSE = "2_Dense"
EMBEDDING_CONFIG = "embedding_config.json"


def save_patient_encoder(
    model: PatientEncoder,
    directory: Path,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    normalize: bool,
) -> None:
    model.encoder.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    hidden, dim = model.projection.in_features, model.projection.out_features
    _write_json(
        directory / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    _write_json(
        directory / DENSE / "config.json",
        {
            "in_features": hidden,
            "out_features": dim,
            "bias": True,
            "activation_function": "torch.nn.modules.linear.Identity",
        },
    )
    weights = {"linear.weight": model.projection.weight, "linear.bias": model.projection.bias}
    save_file(
        {name: tensor.detach().cpu().contiguous() for name, tensor in weights.items()},
        str(directory / DENSE / "model.safetensors"),
    )
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), (DENSE, "Dense")]
    if normalize:
        modules.append(("3_Normalize", "Normalize"))
        (directory / "3_Normalize").mkdir(exist_ok=True)
    _write_json(
        directory / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    _write_json(
        directory / "sentence_bert_config.json",
        {"max_seq_length": max_length, "do_lower_case": False},
    )
    _write_json(
        directory / EMBEDDING_CONFIG,
        {"pooling": "mean", "dimension": dim, "normalize": normalize, "max_length": max_length},
    )


def load_patient_encoder(model_dir: Path, device: torch.device) -> PatientEncoder:
    """The encoder and projection saved by :func:`save_patient_encoder`, in eval mode."""
    with quiet_loading():
        encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    dense = load_file(str(model_dir / DENSE / "model.safetensors"))
    model = PatientEncoder(encoder, projection_dim=dense["linear.weight"].shape[0])
    model.projection.load_state_dict(
        {"weight": dense["linear.weight"], "bias": dense["linear.bias"]}
    )
    return model.to(device).eval()


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")

"""Training hyperparameters as one frozen dataclass, with the platform's named presets.

The study fixed its hyperparameters in code; here every one of them is a field, so
Dagster run config (or a test) can override any of them through
``preset_config(name, **overrides)`` and the resulting object is recorded verbatim in
each checkpoint's training summary. This module is imported when the Dagster code
location loads, so it must not import torch or transformers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

PRESETS = ("demo", "minilm", "paper", "descriptors")
#: The concurrency pool the GPU steps claim a slot of (the wiring and the runner use it).
GPU_POOL = "gpu"
BACKBONES = ("scratch", "pretrained")
# What a run's patient_embeddings are: a trained (MLM + contrastive) transformer, or
# the untrained IPF-weighted mean of MiniLM descriptor vectors (see .descriptors).
TRANSFORMER, DESCRIPTOR_MEAN = "transformer", "descriptors"
REPRESENTATIONS = (TRANSFORMER, DESCRIPTOR_MEAN)
AUGMENTATIONS = ("code_set", "code_subset", "dropout_only", "word_shuffle")
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PAPER_NAME = "microsoft/deberta-v3-base"
_AUTO_OR_BOOL = ("auto", True, False)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides what a training run produces.

    ``backbone="scratch"`` builds a small DeBERTa-v2 from the architecture fields and
    trains a domain tokenizer on the corpus; ``"pretrained"`` loads ``model_path`` (or,
    when it is None, the weights ``model_name`` names: the packaged MiniLM or a local
    copy of DeBERTa-v3-base, see :mod:`.weights`).
    """

    preset: str = "demo"
    representation: str = TRANSFORMER
    backbone: str = "scratch"
    model_name: str | None = None
    model_path: str | None = None
    # Architecture of a scratch model (ignored for pretrained backbones).
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 512
    # Relative-position buckets: 64 covers ~30-token texts (benchmarks/README.md).
    position_buckets: int = 64
    tokenizer_vocab_size: int = 3000
    max_length: int = 256
    # Masked-LM pre-training.
    mlm_probability: float = 0.15
    mlm_lr: float = 1e-3
    mlm_epochs: int = 3
    mlm_batch_size: int = 32
    eval_fraction: float = 0.1
    # Contrastive fine-tuning.
    contrastive_lr: float = 2e-4
    contrastive_epochs: int = 2
    contrastive_batch_size: int = 32
    temperature: float = 0.05
    projection_dim: int = 128
    # Views keep a random share of the codes, so code count is not what identifies a
    # patient (on no-structure data "code_set" clustered by count: benchmarks/README.md).
    augmentation: str = "code_subset"
    max_dropped_codes: int = 2
    min_kept_share: float = 0.3  # code_subset: each view keeps U[share, 1] of the codes
    # Optimisation shared by both stages.
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    eval_batch_size: int = 64
    seed: int = 42
    # Efficiency: bf16 only where a CUDA GPU supports it; batches of similar length;
    # ``pad_to_max_length`` reproduces the study's pad-to-256 (benchmarks only).
    bf16: str | bool = "auto"
    group_by_length: bool = True
    pad_to_max_length: bool = False
    # "auto": bit-reproducible on CPU, fast kernels on GPU.
    full_determinism: str | bool = "auto"
    # CPU threads for torch; 0 keeps torch's default (one per core). Fewer threads
    # than cores avoid oversubscription on a machine shared with other work.
    torch_threads: int = 0
    # Embeddings: the contrastive loss constrains directions only, so unit vectors
    # carry all the trained information and make Euclidean clustering spherical.
    normalize_embeddings: bool = True
    embed_batch_size: int = 64
    # Checkpoint state kept for crash recovery; cleared after a successful run
    # unless ``keep_state``.
    save_total_limit: int = 1
    keep_state: bool = False
    progress_interval_s: float = 60.0

    def __post_init__(self) -> None:
        problems = []
        if self.preset not in PRESETS:
            problems.append(f"preset={self.preset!r} is not one of {PRESETS}")
        if self.representation not in REPRESENTATIONS:
            problems.append(
                f"representation={self.representation!r} is not one of {REPRESENTATIONS}")
        if self.backbone not in BACKBONES:
            problems.append(f"backbone={self.backbone!r} is not one of {BACKBONES}")
        if self.backbone == "pretrained" and not (self.model_name or self.model_path):
            problems.append("a pretrained backbone needs model_name or model_path")
        if self.augmentation not in AUGMENTATIONS:
            problems.append(f"augmentation={self.augmentation!r} is not one of {AUGMENTATIONS}")
        if self.bf16 not in _AUTO_OR_BOOL:
            problems.append(f"bf16={self.bf16!r} must be 'auto', True or False")
        if self.full_determinism not in _AUTO_OR_BOOL:
            problems.append(
                f"full_determinism={self.full_determinism!r} must be 'auto', True or False"
            )
        if not 0.0 < self.eval_fraction < 1.0:
            problems.append(f"eval_fraction={self.eval_fraction} must lie strictly between 0 and 1")
        if not 0.0 < self.mlm_probability < 1.0:
            problems.append(
                f"mlm_probability={self.mlm_probability} must lie strictly between 0 and 1"
            )
        if self.temperature <= 0:
            problems.append(f"temperature={self.temperature} must be positive")
        if self.torch_threads < 0:
            problems.append(f"torch_threads={self.torch_threads} must be >= 0 (0: torch's default)")
        if not 0.0 < self.min_kept_share <= 1.0:
            problems.append(f"min_kept_share={self.min_kept_share} must lie in (0, 1]")
        if self.max_dropped_codes < 0:
            problems.append(f"max_dropped_codes={self.max_dropped_codes} must be >= 0")
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size={self.hidden_size} must be a multiple of "
                f"num_attention_heads={self.num_attention_heads}"
            )
        positive = (
            "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "position_buckets",
            "tokenizer_vocab_size", "max_length", "mlm_epochs", "mlm_batch_size",
            "contrastive_epochs", "contrastive_batch_size", "projection_dim",
            "eval_batch_size", "embed_batch_size", "save_total_limit",
        )  # fmt: skip
        too_small = [name for name in positive if getattr(self, name) < 1]
        problems += [f"{name}={getattr(self, name)} must be >= 1" for name in too_small]
        if self.contrastive_batch_size < 2:
            problems.append("contrastive_batch_size must be >= 2: in-batch negatives need company")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))

    @property
    def trains(self) -> bool:
        """Whether the run trains a model (False: the descriptor representation)."""
        return self.representation == TRANSFORMER

    def hyperparameters(self) -> dict[str, Any]:
        """All fields as a plain JSON-able dict (what the training summary records)."""
        return asdict(self)

    def replace(self, **overrides: Any) -> TrainingConfig:
        _check_names(overrides)
        return replace(self, **overrides)


_PRESET_FIELDS: dict[str, dict[str, Any]] = {
    # A minute of one CPU core per sex: one thread (two thrash on a busy 2-core box),
    # and contrastive batches of 8 at lr 1e-3 so small partitions get enough updates
    # (measurements: benchmarks/README.md, "Demo preset").
    "demo": dict(torch_threads=1, contrastive_batch_size=8, contrastive_lr=1e-3),
    # all-MiniLM-L6-v2 from the PyPI package; one epoch per stage (CPU: ~10 min/sex).
    "minilm": dict(
        backbone="pretrained",
        model_name=MINILM_NAME,
        mlm_lr=5e-5,
        mlm_epochs=1,
        mlm_batch_size=16,
        contrastive_lr=2e-5,
        contrastive_epochs=1,
        contrastive_batch_size=16,
        projection_dim=384,
    ),
    # Corpas et al. (2025): DeBERTa-v3-base with the study's hyperparameters.
    "paper": dict(
        backbone="pretrained",
        model_name=PAPER_NAME,
        max_length=256,
        mlm_probability=0.15,
        mlm_lr=5e-5,
        mlm_epochs=2,
        mlm_batch_size=8,
        contrastive_lr=1e-5,
        contrastive_epochs=2,
        contrastive_batch_size=8,
        temperature=0.05,
        projection_dim=768,
        eval_batch_size=32,
    ),
    # No training: patients are IPF-weighted means of the packaged MiniLM's descriptor
    # vectors (mh_assets.core.modelling.descriptors); the model assets say they skip.
    "descriptors": dict(
        representation=DESCRIPTOR_MEAN, backbone="pretrained", model_name=MINILM_NAME,
        projection_dim=384, torch_threads=1,
    ),
}


def preset_config(name: str = "demo", **overrides: Any) -> TrainingConfig:
    """The named preset with any field overridden (unknown names are an error)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    _check_names(overrides)
    return TrainingConfig(**{"preset": name, **_PRESET_FIELDS[name], **overrides})


def _check_names(overrides: dict[str, Any]) -> None:
    known = {f.name for f in fields(TrainingConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )

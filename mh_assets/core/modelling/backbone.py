"""The transformer under both training stages: a small DeBERTa-v2 or pretrained weights.

The scratch model keeps DeBERTa-v3's design (disentangled relative-position
attention, no absolute position embeddings, layer-normed relative embeddings) at a
size a laptop CPU trains in minutes, so the demo exercises the same architecture
family as the study rather than a different toy.
"""

from __future__ import annotations

from pathlib import Path

from transformers import (
    AutoModelForMaskedLM,
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .config import TrainingConfig
from .runtime import quiet_loading


def deberta_config(
    vocab_size: int,
    hidden_size: int,
    num_hidden_layers: int,
    num_attention_heads: int,
    intermediate_size: int,
    max_length: int,
    pad_token_id: int = 0,
    position_buckets: int = 256,
) -> DebertaV2Config:
    """A DeBERTa-v3-style configuration (v3-base: 768 / 12 / 12 / 3072, vocab 128100)."""
    return DebertaV2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=max(512, max_length),
        type_vocab_size=0,
        initializer_range=0.02,
        layer_norm_eps=1e-7,
        relative_attention=True,
        max_relative_positions=-1,
        position_buckets=position_buckets,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        pad_token_id=pad_token_id,
    )


def paper_architecture() -> DebertaV2Config:
    """microsoft/deberta-v3-base's architecture, for randomly initialised benchmarks."""
    return deberta_config(128100, 768, 12, 12, 3072, 512)


def masked_lm(
    config: TrainingConfig, tokenizer: PreTrainedTokenizerBase, model_dir: Path | None
) -> PreTrainedModel:
    """A masked-LM model: built from ``config`` (scratch) or loaded from ``model_dir``.

    Call after seeding: a scratch model's initial weights come from the global RNG.
    A pretrained encoder without an MLM head (MiniLM, DeBERTa-v3) gets a freshly
    initialised head, which the masked-LM stage then trains.
    """
    if model_dir is None:
        arch = deberta_config(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            max_length=config.max_length,
            pad_token_id=tokenizer.pad_token_id,
            position_buckets=config.position_buckets,
        )
        return DebertaV2ForMaskedLM(arch)
    with quiet_loading():  # a missing MLM head is expected, not an error to report
        return AutoModelForMaskedLM.from_pretrained(str(model_dir), local_files_only=True)

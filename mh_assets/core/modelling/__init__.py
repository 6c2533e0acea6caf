"""Transformer modelling: masked-LM pre-training, contrastive fine-tuning, patient embeddings.

The study's three modelling steps, each a plain function on a descriptor corpus:

* :func:`.mlm.train_mlm` -- masked-LM pre-training (domain tokenizer + small
  DeBERTa-v2 for the ``demo`` preset, or pretrained MiniLM / DeBERTa-v3-base);
* :func:`.contrastive.train_contrastive` -- mean pooling + projection trained with
  symmetric NT-Xent on two augmented views of each patient's code set;
* :func:`.embed.embed_texts` -- one float32 vector per patient.

Importing this package (or :mod:`.config` / :mod:`.weights`) does not import torch,
so the Dagster code location loads fast; import the stage modules inside asset
bodies.
"""

from .config import PRESETS, TrainingConfig, preset_config
from .weights import MissingWeightsError, resolve_model_dir

__all__ = ["PRESETS", "MissingWeightsError", "TrainingConfig", "preset_config", "resolve_model_dir"]

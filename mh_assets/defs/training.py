"""Transformer assets: masked-LM pre-training, contrastive fine-tuning, embeddings.

The three steps carry ``pool="gpu"`` and the gpu op tag, so the executor queues them
while CPU assets run in parallel. torch and transformers are imported inside the
asset bodies (through ``mh_assets.core.modelling``'s heavy modules) so that loading
the code location stays fast.
"""


import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.modelling.config import TrainingConfig
from mh_assets.core.schema import EMBEDDING, PATIENT_ID, TEXT
from mh_assets.defs.executor import GPU_POOL, gpu_op_tags
from mh_assets.defs.metadata import artifacts_metadata, provenance_metadata
from mh_assets.defs.partitions import sex_partitions
from mh_assets.defs.resources import Platform, PlatformParam
from mh_assets.defs.run_config import TrainingRunConfig, training_config
from mh_assets.settings import Settings


def _config(platform: Platform, run_config: TrainingRunConfig) -> tuple[Settings, TrainingConfig]:
    settings = platform.settings
    return settings, training_config(settings.preset, settings.seed, run_config)


def _train_stage(
    context: dg.AssetExecutionContext,
    config: TrainingRunConfig,
    platform: PlatformParam,
    stage: str,
    train: Callable[[pl.DataFrame, Any, Path, Path], Any],
) -> dg.MaterializeResult:
    """Train one stage into a temporary directory renamed into place on success, so a
    killed run never leaves a half-checkpoint; per-epoch state lives beside it."""
    from mh_assets.core.modelling.embed import checkpoint_hash

    settings, cfg = _config(platform, config)
    sex, store = context.partition_key, platform.store
    corpus = store.read_parquet(layout.corpus(sex))
    target = layout.model_dir(sex, stage)
    with store.atomic_dir(target) as out:
        summary = train(corpus, cfg, out, store.path(layout.training_state(sex, stage)))
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            "checkpoint_sha256": checkpoint_hash(store.path(target)),
            "path": dg.MetadataValue.path(str(store.path(target))),
            **artifacts_metadata(target),
            **provenance_metadata(context, settings),
        }
    )


def mlm_checkpoint(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.modelling.mlm import train_mlm

    return _train_stage(
        context, config, platform, "mlm",
        lambda corpus, cfg, out, state: train_mlm(
            corpus.get_column(TEXT).to_list(), cfg, out, state, context.log.info),
    )


def contrastive_checkpoint(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.modelling.contrastive import train_contrastive

    mlm_dir = platform.store.path(layout.model_dir(context.partition_key, "mlm"))
    return _train_stage(
        context, config, platform, "contrastive",
        lambda corpus, cfg, out, state: train_contrastive(
            corpus, mlm_dir, cfg, out, state, context.log.info),
    )


def patient_embeddings(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.modelling.embed import checkpoint_hash, embed_texts

    settings, cfg = _config(platform, config)
    sex = context.partition_key
    store = platform.store
    corpus = store.read_parquet(layout.corpus(sex))
    checkpoint = store.path(layout.model_dir(sex, "contrastive"))
    started = time.perf_counter()
    vectors = embed_texts(checkpoint, corpus.get_column(TEXT).to_list(), cfg)
    seconds = time.perf_counter() - started
    frame = pl.DataFrame({PATIENT_ID: corpus.get_column(PATIENT_ID)}).with_columns(
        pl.Series(EMBEDDING, vectors, dtype=pl.Array(pl.Float32, vectors.shape[1]))
    )
    store.write_parquet(layout.embeddings(sex), frame)
    context.log.info(f"{sex}: embedded {vectors.shape[0]} patients in {seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "shape": dg.MetadataValue.json(list(vectors.shape)),
            "dagster/row_count": int(vectors.shape[0]),
            "model_checkpoint_sha256": checkpoint_hash(checkpoint),
            "seconds": round(seconds, 2),
            "patients_per_second": round(vectors.shape[0] / max(seconds, 1e-9), 1),
            **artifacts_metadata(layout.embeddings(sex)),
            **provenance_metadata(context, settings),
        }
    )


# What each GPU asset declares; its op tags depend on the executor (k8s asks for a GPU).
_DECLARATIONS: dict[Callable[..., Any], dict[str, Any]] = {
    mlm_checkpoint: dict(
        deps=["descriptor_corpus"],
        code_version="1",
        description="Masked-LM pre-training on the partition's descriptor texts (HF Trainer; "
        "10% held out). models/<sex>/mlm: model + tokenizer in safetensors, training summary.",
    ),
    contrastive_checkpoint: dict(
        deps=["mlm_checkpoint", "descriptor_corpus"],
        code_version="1",
        description="Contrastive fine-tuning (mean pooling + projection, symmetric NT-Xent at "
        "temperature 0.05) on code-set augmentations. models/<sex>/contrastive.",
    ),
    patient_embeddings: dict(
        deps=["contrastive_checkpoint", "descriptor_corpus"],
        code_version="1",
        description="One float32 vector per patient (mean-pooled, contrastive model), in corpus "
        "order with its patient id. restricted/embeddings/<sex>.parquet.",
    ),
}


def training_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The three GPU assets, on the ``gpu`` pool, tagged for the run's executor."""
    return [
        dg.asset(
            partitions_def=sex_partitions,
            group_name="model",
            pool=GPU_POOL,
            op_tags=gpu_op_tags(settings),
            kinds={"pytorch"},
            **declaration,
        )(body)
        for body, declaration in _DECLARATIONS.items()
    ]

"""Transformer assets: masked-LM pre-training, contrastive fine-tuning, embeddings.

The three steps carry ``pool="gpu"`` and the gpu op tag, so the executor queues them
while CPU assets run in parallel. torch and transformers are imported inside the
asset bodies (through ``mh_assets.core.modelling``'s heavy modules) so that loading
the code location stays fast.
"""


import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pydantic

from mh_assets.core.modelling.config import TrainingConfig, preset_config
from mh_assets.core.schema import EMBEDDING, PATIENT_ID, TEXT
from mh_assets.defs.corpus import corpus_path
from mh_assets.defs.executor import GPU_POOL, gpu_op_tags
from mh_assets.defs.partitions import sex_partitions
from mh_assets.defs.provenance import artifacts_metadata, provenance_metadata
from mh_assets.defs.resources import PlatformResource
from mh_assets.settings import Settings

_SETTINGS = Settings.from_env()


_SIMPLE_TYPES = {"int": int, "float": float, "str": str, "bool": bool,
                 "str | None": str, "str | bool": str}


class _TrainingOverrides(dg.Config):
    def overrides(self) -> dict[str, Any]:
        """Set fields only; "true"/"false" become booleans for the str-or-bool fields."""
        flags = {"true": True, "false": False}
        return {
            name: flags.get(value, value) if isinstance(value, str) else value
            for name, value in self.model_dump().items()
            if value is not None
        }


# Every TrainingConfig field but the preset (MH_PRESET) is settable in run config, with
# the preset's value when unset; the class is derived so new hyperparameters appear here.
TrainingRunConfig = pydantic.create_model(
    "TrainingRunConfig",
    __base__=_TrainingOverrides,
    __doc__="Run-config overrides of the preset's hyperparameters (unset = preset value).",
    **{
        f.name: (_SIMPLE_TYPES[str(f.type)] | None, None)
        for f in dataclasses.fields(TrainingConfig)
        if f.name != "preset"
    },
)


def model_dir(sex: str, stage: str) -> str:
    return f"models/{sex}/{stage}"


def state_dir(sex: str, stage: str) -> str:
    """Per-epoch training state, kept beside the checkpoint so a crashed run resumes."""
    return f"models/{sex}/.state/{stage}"


def embeddings_path(sex: str) -> str:
    return f"restricted/embeddings/{sex}.parquet"


def _config(platform: PlatformResource, run_config: TrainingRunConfig):
    settings = platform.settings
    overrides = {"seed": settings.seed, **run_config.overrides()}
    return settings, preset_config(settings.preset, **overrides)


def _gpu_asset(**kwargs: Any):
    return dg.asset(
        partitions_def=sex_partitions,
        group_name="model",
        pool=GPU_POOL,
        op_tags=gpu_op_tags(_SETTINGS),
        kinds={"pytorch"},
        **kwargs,
    )


def _train_stage(
    context: dg.AssetExecutionContext,
    config: TrainingRunConfig,
    platform: PlatformResource,
    stage: str,
    train: Callable[[pl.DataFrame, Any, Path, Path], Any],
) -> dg.MaterializeResult:
    """Train one stage into a temporary directory renamed into place on success, so a
    killed run never leaves a half-checkpoint; per-epoch state lives beside it."""
    from mh_assets.core.modelling.embed import checkpoint_hash

    settings, cfg = _config(platform, config)
    sex, store = context.partition_key, platform.store
    corpus = store.read_parquet(corpus_path(sex))
    target = model_dir(sex, stage)
    with store.atomic_dir(target) as out:
        summary = train(corpus, cfg, out, store.path(state_dir(sex, stage)))
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            "checkpoint_sha256": checkpoint_hash(store.path(target)),
            "path": dg.MetadataValue.path(str(store.path(target))),
            **artifacts_metadata(target),
            **provenance_metadata(context, settings),
        }
    )


@_gpu_asset(
    deps=["descriptor_corpus"],
    code_version="1",
    description="Masked-LM pre-training on the partition's descriptor texts (HF Trainer; "
    "10% held out). models/<sex>/mlm: model + tokenizer in safetensors, training summary.",
)
def mlm_checkpoint(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.modelling.mlm import train_mlm

    return _train_stage(
        context, config, platform, "mlm",
        lambda corpus, cfg, out, state: train_mlm(
            corpus.get_column(TEXT).to_list(), cfg, out, state, context.log.info),
    )


@_gpu_asset(
    deps=["mlm_checkpoint", "descriptor_corpus"],
    code_version="1",
    description="Contrastive fine-tuning (mean pooling + projection, symmetric NT-Xent at "
    "temperature 0.05) on code-set augmentations. models/<sex>/contrastive.",
)
def contrastive_checkpoint(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.modelling.contrastive import train_contrastive

    mlm_dir = platform.store.path(model_dir(context.partition_key, "mlm"))
    return _train_stage(
        context, config, platform, "contrastive",
        lambda corpus, cfg, out, state: train_contrastive(
            corpus, mlm_dir, cfg, out, state, context.log.info),
    )


@_gpu_asset(
    deps=["contrastive_checkpoint", "descriptor_corpus"],
    code_version="1",
    description="One float32 vector per patient (mean-pooled, contrastive model), in corpus "
    "order with its patient id. restricted/embeddings/<sex>.parquet.",
)
def patient_embeddings(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.modelling.embed import checkpoint_hash, embed_texts

    settings, cfg = _config(platform, config)
    sex = context.partition_key
    store = platform.store
    corpus = store.read_parquet(corpus_path(sex))
    checkpoint = store.path(model_dir(sex, "contrastive"))
    started = time.perf_counter()
    vectors = embed_texts(checkpoint, corpus.get_column(TEXT).to_list(), cfg)
    seconds = time.perf_counter() - started
    frame = pl.DataFrame({PATIENT_ID: corpus.get_column(PATIENT_ID)}).with_columns(
        pl.Series(EMBEDDING, vectors, dtype=pl.Array(pl.Float32, vectors.shape[1]))
    )
    store.write_parquet(embeddings_path(sex), frame)
    context.log.info(f"{sex}: embedded {vectors.shape[0]} patients in {seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "shape": dg.MetadataValue.json(list(vectors.shape)),
            "dagster/row_count": int(vectors.shape[0]),
            "model_checkpoint_sha256": checkpoint_hash(checkpoint),
            "seconds": round(seconds, 2),
            "patients_per_second": round(vectors.shape[0] / max(seconds, 1e-9), 1),
            **artifacts_metadata(embeddings_path(sex)),
            **provenance_metadata(context, settings),
        }
    )

"""Transformer assets: masked-LM pre-training, contrastive fine-tuning, embeddings.

The three steps carry ``pool="gpu"`` and the gpu op tag, so the executor queues them
while CPU assets run in parallel. torch and transformers are imported inside the
asset bodies (through ``mh_assets.core.modelling``'s heavy modules) so that loading
the code location stays fast.
"""


import time
from typing import Any

import dagster as dg
import polars as pl

from mh_assets.core.modelling.config import preset_config
from mh_assets.core.schema import EMBEDDING, PATIENT_ID, TEXT
from mh_assets.defs.corpus import corpus_path
from mh_assets.defs.executor import GPU_POOL, gpu_op_tags
from mh_assets.defs.partitions import sex_partitions
from mh_assets.defs.provenance import artifacts_metadata, provenance_metadata
from mh_assets.defs.resources import PlatformResource
from mh_assets.settings import Settings

_SETTINGS = Settings.from_env()


class TrainingRunConfig(dg.Config):
    """Run-config overrides of the preset's hyperparameters (unset = preset value)."""

    seed: int | None = None
    max_length: int | None = None
    mlm_batch_size: int | None = None
    contrastive_batch_size: int | None = None
    mlm_probability: float | None = None
    mlm_lr: float | None = None
    mlm_epochs: int | None = None
    contrastive_lr: float | None = None
    contrastive_epochs: int | None = None
    temperature: float | None = None
    augmentation: str | None = None

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


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


@_gpu_asset(
    deps=["descriptor_corpus"],
    code_version="1",
    description="Masked-LM pre-training on the partition's descriptor texts (HF Trainer; "
    "10% held out). models/<sex>/mlm: model + tokenizer in safetensors, training summary.",
)
def mlm_checkpoint(
    context: dg.AssetExecutionContext, config: TrainingRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.artifacts import sha256_dir
    from mh_assets.core.modelling.mlm import train_mlm

    settings, cfg = _config(platform, config)
    sex = context.partition_key
    store = platform.store
    corpus = store.read_parquet(corpus_path(sex))
    with store.atomic_dir(model_dir(sex, "mlm")) as out:
        summary = train_mlm(
            corpus.get_column(TEXT).to_list(), cfg, out, store.path(state_dir(sex, "mlm")),
            context.log.info,
        )
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            "checkpoint_sha256": sha256_dir(store.path(model_dir(sex, "mlm"))),
            "path": dg.MetadataValue.path(str(store.path(model_dir(sex, "mlm")))),
            **artifacts_metadata(model_dir(sex, "mlm")),
            **provenance_metadata(context, settings),
        }
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
    from mh_assets.core.artifacts import sha256_dir
    from mh_assets.core.modelling.contrastive import train_contrastive

    settings, cfg = _config(platform, config)
    sex = context.partition_key
    store = platform.store
    corpus = store.read_parquet(corpus_path(sex))
    with store.atomic_dir(model_dir(sex, "contrastive")) as out:
        summary = train_contrastive(
            corpus, store.path(model_dir(sex, "mlm")), cfg, out,
            store.path(state_dir(sex, "contrastive")), context.log.info,
        )
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            "checkpoint_sha256": sha256_dir(store.path(model_dir(sex, "contrastive"))),
            "path": dg.MetadataValue.path(str(store.path(model_dir(sex, "contrastive")))),
            **artifacts_metadata(model_dir(sex, "contrastive")),
            **provenance_metadata(context, settings),
        }
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

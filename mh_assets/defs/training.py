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
from mh_assets.core.modelling.weights import MissingWeightsError
from mh_assets.core.schema import EMBEDDING, PATIENT_ID, TEXT
from mh_assets.defs.executor import GPU_POOL, gpu_op_tags
from mh_assets.defs.metadata import artifacts_metadata, png_markdown, provenance_metadata
from mh_assets.defs.partitions import sex_partitions, skips_absent_sex
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
    killed run never leaves a half-checkpoint; per-epoch state lives beside it. Both
    are owner-only (a model can memorise its training texts)."""
    from mh_assets.core.modelling.embed import checkpoint_hash

    settings, cfg = _config(platform, config)
    if not cfg.trains:
        return _skipped(context, settings, stage)
    sex, store = context.partition_key, platform.store
    corpus = store.read_parquet(layout.corpus(sex))
    target = layout.model_dir(sex, stage)
    state = store.private_dir(layout.training_state(sex, stage))
    with store.atomic_dir(target) as out:
        try:
            summary = train(corpus, cfg, out, state)
        except MissingWeightsError as err:  # the user's to fix, said in full: no traceback
            raise dg.Failure(description=str(err)) from None
    return dg.MaterializeResult(
        metadata={
            **_summary_metadata(summary),
            "checkpoint_sha256": checkpoint_hash(store.path(target)),
            "path": dg.MetadataValue.path(str(store.path(target))),
            **artifacts_metadata(target),
            **provenance_metadata(context, settings),
        }
    )


def _summary_metadata(summary: Any) -> dict[str, object]:
    """The figures a reader looks for first, the loss curve inline, and the rest (every
    hyperparameter and library version) in one JSON entry instead of fifty."""
    from mh_assets.core.modelling.summary import loss_curve_png

    flat = summary.as_metadata()
    headline = ("stage", "preset", "backbone", "model_source", "n_examples", "n_eval",
                "n_parameters", "epochs", "global_step", "resumed_from_step", "seconds",
                "tokens_per_second", "device", "bf16", "data_sha256")
    losses = {k: flat[k] for k in ("train_loss_per_epoch", "eval_loss_per_epoch") if k in flat}
    return {
        **{k: flat[k] for k in headline if k in flat},
        **{f"final_{k.removesuffix('_per_epoch')}": v[-1] for k, v in losses.items() if v},
        "loss_curve": png_markdown(loss_curve_png(summary), f"{summary.stage} loss per epoch"),
        "losses": dg.MetadataValue.json(losses),
        "training_summary": dg.MetadataValue.json(
            {k: v for k, v in flat.items() if k not in headline}),
    }


def _skipped(context: dg.AssetExecutionContext, settings: Settings,
             stage: str) -> dg.MaterializeResult:
    """The descriptors preset trains nothing: say so, in the log and on the asset."""
    reason = (f"MH_PRESET={settings.preset}: patients are IPF-weighted means of the packaged "
              f"MiniLM's descriptor vectors, so no {stage} model is trained and nothing is "
              "written; patient_embeddings computes them directly.")
    context.log.info(f"{context.partition_key}: {stage} skipped. {reason}")
    return dg.MaterializeResult(metadata={
        "skipped": dg.MetadataValue.md(reason),
        **provenance_metadata(context, settings),
    })


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
    if cfg.trains:
        vectors = embed_texts(checkpoint, corpus.get_column(TEXT).to_list(), cfg)
        model = {"model_checkpoint_sha256": checkpoint_hash(checkpoint)}
    else:
        from mh_assets.core.modelling.descriptors import DescriptorEncoder, descriptor_model_dir

        vectors = DescriptorEncoder(threads=cfg.torch_threads, log=context.log.info)(corpus)
        model = {"representation": cfg.representation,
                 "descriptor_model_sha256": checkpoint_hash(descriptor_model_dir())}
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
            **model,
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
        "10% held out). `models/<sex>/mlm`: model + tokenizer in safetensors, training summary.",
    ),
    contrastive_checkpoint: dict(
        deps=["mlm_checkpoint", "descriptor_corpus"],
        code_version="1",
        description="Contrastive fine-tuning (mean pooling + projection, symmetric NT-Xent at "
        "temperature 0.05) on code-subset augmentations. `models/<sex>/contrastive`.",
    ),
    patient_embeddings: dict(
        deps=["contrastive_checkpoint", "descriptor_corpus"],
        code_version="1",
        description="One float32 vector per patient (mean-pooled, contrastive model), in corpus "
        "order with its patient id. `restricted/embeddings/<sex>.parquet`.",
    ),
}


def training_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The three GPU assets, on the ``gpu`` pool, tagged for the run's executor.

    The preset is part of each code version: switching ``MH_PRESET`` makes the models
    and everything downstream stale, as a change of method should.
    """
    return [
        dg.asset(
            partitions_def=sex_partitions,
            group_name="model",
            pool=GPU_POOL,
            op_tags=gpu_op_tags(settings),
            kinds={"pytorch"},
            **{**declaration,
               "code_version": f"{declaration['code_version']}-{settings.preset}",
               "description": declaration["description"] + _preset_note(settings)},
        )(skips_absent_sex(body))
        for body, declaration in _DECLARATIONS.items()
    ]


def _preset_note(settings: Settings) -> str:
    if settings.preset != "descriptors":
        return ""
    return (" MH_PRESET=descriptors: no model is trained; the checkpoints are skipped and "
            "the embeddings are IPF-weighted means of packaged MiniLM descriptor vectors.")

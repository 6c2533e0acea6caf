"""The study report: one self-contained HTML file with every published table and
figure, the validity checks and the provenance of the run.

Its content is gathered by :mod:`mh_assets.core.publish.report_sections` from the
published (suppressed) files only; this asset adds the run's provenance, read from
the Dagster instance.
"""

import json
from pathlib import Path

import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.cohort import FLOW_KEPT, analysed_sexes
from mh_assets.core.environment import git_commit, library_versions
from mh_assets.core.schema import SEXES
from mh_assets.defs.metadata import artifacts_metadata, provenance_metadata
from mh_assets.defs.resources import Platform, PlatformParam
from mh_assets.defs.run_config import (
    CLUSTERING_SETTINGS,
    ClusterRunConfig,
    cluster_config,
    training_config,
)
from mh_assets.ops.graph import latest_materialization

CHECKPOINT_ASSETS = ("mlm_checkpoint", "contrastive_checkpoint", "patient_embeddings")


def _provenance(context: dg.AssetExecutionContext, platform: Platform) -> dict:
    settings, store = platform.settings, platform.store
    extract = json.loads(store.path(layout.EXTRACT_INFO).read_text())
    checkpoints, runs = {}, {}
    for asset in CHECKPOINT_ASSETS:
        for sex in SEXES:
            record = latest_materialization(context.instance, dg.AssetKey(asset), sex)
            if record is None:
                continue
            meta = record.asset_materialization.metadata
            digest = meta.get("checkpoint_sha256") or meta.get("model_checkpoint_sha256")
            checkpoints[f"{asset}[{sex}]"] = getattr(digest, "value", digest)
            runs[f"{asset}[{sex}]"] = record.run_id
    for asset in ("registry_extract", "cohort", "sud_by_sex_table", "cluster_table"):
        record = latest_materialization(context.instance, dg.AssetKey(asset))
        if record is not None:
            runs[asset] = record.run_id
    runs["study_report"] = context.run.run_id
    return {
        "extract": {"file": extract["file_name"], "sha256": extract["sha256"],
                    "rows": extract["rows"]},
        "code": {"git_commit": git_commit(), "mh-assets": library_versions()["mh-assets"]},
        "checkpoints": checkpoints,
        "preset": settings.preset,
        "settings": _without_local_paths(settings.as_metadata()),
        "libraries": library_versions(),
        "dagster_runs": runs,
    }


def _without_local_paths(values: dict[str, str]) -> dict[str, str]:
    """A report travels: where the run's folders were on its machine is not its business
    (and may name a user). Absolute paths become their last component."""
    def local(value: str) -> bool:
        return value.startswith(("/", "~", "file:")) or (len(value) > 2 and value[1] == ":")

    return {k: (f".../{Path(v).name}" if local(v) else v) for k, v in values.items()}


def _recorded(context: dg.AssetExecutionContext, sexes: list[str], asset: str, entry: str,
              prefix: str = "") -> dict[str, dict]:
    """{sex: the settings ``asset``'s latest materialization of that sex recorded under
    ``entry``} (``prefix``: only keys with it, without it); sexes without a record (a
    skipped partition, an older materialization) are left out."""
    found = {}
    for sex in sexes:
        record = latest_materialization(context.instance, dg.AssetKey(asset), sex)
        value = record and record.asset_materialization.metadata.get(entry)
        if value is not None:
            found[sex] = {k.removeprefix(prefix): v for k, v in value.value.items()
                          if k.startswith(prefix)}
    return found


def _methods(context: dg.AssetExecutionContext, platform: Platform):
    """The configuration each step recorded (the Methods' numbers), falling back to the
    environment's settings and the defaults where nothing was recorded."""
    from mh_assets.core.clustering.config import ClusterConfig
    from mh_assets.core.evaluation.scoring import ScoringConfig
    from mh_assets.core.modelling.config import TrainingConfig
    from mh_assets.core.publish.report_text import RunMethods
    from mh_assets.core.publish.run_settings import recorded_config

    settings, store = platform.settings, platform.store
    training = training_config(settings.preset, settings.seed)
    clustering = cluster_config(settings.seed, ClusterRunConfig())
    configs, differences, sexes = {}, [], analysed_sexes(store)
    for name, cls, fallback, asset, entry, prefix in (
        ("pretraining", TrainingConfig, training, "mlm_checkpoint", "training_summary", "hp."),
        ("training", TrainingConfig, training, "contrastive_checkpoint", "training_summary",
         "hp."),
        ("clustering", ClusterConfig, clustering, "k_selection", CLUSTERING_SETTINGS, ""),
        ("fitting", ClusterConfig, clustering, "cluster_assignments", CLUSTERING_SETTINGS, ""),
    ):
        records = _recorded(context, sexes, asset, entry, prefix)
        configs[name], differs = recorded_config(cls, asset, records, fallback)
        differences += differs
    return RunMethods(
        cohort=settings.cohort, coverage=settings.coverage, **configs,
        scoring=ScoringConfig(seed=settings.seed), min_cell=settings.min_cell,
        seed=settings.seed, differences=tuple(differences))


@dg.asset(
    deps=["cluster_table", "cluster_pairs", "cluster_maps", "sud_by_sex_table",
          "cohort_descriptives", "k_selection", "cluster_stability", "cluster_assignments",
          "baseline_clusters", "representation_evaluation"],
    group_name="publish",
    code_version="3",
    kinds={"html"},
    description=f"{layout.REPORT}: cohort flow, every table and figure, the validity "
    "section (k selection, stability, confounder audit, baselines) and provenance, in one "
    "self-contained file that opens offline.",
)
def study_report(
    context: dg.AssetExecutionContext, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.publish.report import ReportInput, build_report
    from mh_assets.core.publish.report_docx import build_report_docx
    from mh_assets.core.publish.report_sections import (
        build_sections,
        cohort_flow,
        coverage_section,
        representation_section,
        subtypes_section,
    )
    from mh_assets.core.publish.report_text import (
        is_synthetic,
        limitations_section,
        methods_section,
        summary_section,
    )

    settings, store = platform.settings, platform.store
    sections, validity = build_sections(store, settings.min_cell)
    extract = json.loads(store.path(layout.EXTRACT_INFO).read_text())
    flow = cohort_flow(store, settings.min_cell)
    kept = flow.filter(pl.col("step") == FLOW_KEPT)
    patients = {sex: kept[sex][0] for sex in SEXES if kept.height and sex in kept.columns}
    synthetic = " -- SYNTHETIC DATA" if is_synthetic(store) else ""
    content = ReportInput(
        subtitle=f"Preset {settings.preset}; extract {extract['file_name']}{synthetic}",
        leading=[summary_section(store, patients), subtypes_section(store),
                 representation_section(store), methods_section(_methods(context, platform))],
        cohort_flow=flow,
        sections=[coverage_section(store), *sections], validity=validity,
        trailing=[limitations_section(store)],
        provenance=_provenance(context, platform),
    )
    html = build_report(content)
    store.write_bytes(layout.REPORT_DOCX, build_report_docx(content))
    path = store.write_text(layout.REPORT, html)
    context.log.info(f"Report: {path} ({len(html) / 1e6:.1f} MB)")
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(Path(path).resolve())),
        "report_url": dg.MetadataValue.url(Path(path).resolve().as_uri()),
        "size_bytes": len(html.encode()),
        **artifacts_metadata(layout.REPORT, layout.REPORT_DOCX),
        **provenance_metadata(context, settings),
    })

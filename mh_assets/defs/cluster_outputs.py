"""Both sexes together: the all-clusters table, male/female pairs and cluster maps."""

import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering.io import read_assignments, read_embeddings
from mh_assets.core.clustering.projection import UMAP_MIN_POINTS
from mh_assets.core.cohort import ABSENT_SEX, analysed_sexes
from mh_assets.core.publish import cluster_table as tables
from mh_assets.core.publish import maps
from mh_assets.core.schema import SEXES
from mh_assets.defs.metadata import (
    artifacts_metadata,
    combine,
    provenance_metadata,
    publish_figures,
    publish_table,
)
from mh_assets.defs.resources import Platform, PlatformParam

CLUSTERS_STEM = layout.table_stem("clusters")
PAIRS_STEM = layout.table_stem("cluster_pairs")
CLUSTERS_RESTRICTED = layout.restricted_table("clusters", ".parquet")


def _profiles(platform: Platform, part: str) -> dict[str, pl.DataFrame]:
    """Each present sex's profiles: a sex without patients in the extract is skipped."""
    return {sex: platform.store.read_parquet(layout.profile(sex, part))
            for sex in analysed_sexes(platform.store)}


def _say_missing(context: dg.AssetExecutionContext, platform: Platform) -> dict[str, object]:
    missing = [sex for sex in SEXES if sex not in analysed_sexes(platform.store)]
    if missing:
        context.log.warning(f"built without {', '.join(missing)}: {ABSENT_SEX}")
    return {"missing_sexes": dg.MetadataValue.json(missing)}


def _publish_asset(**kwargs):
    return dg.asset(group_name="publish", code_version="2", **kwargs)


@_publish_asset(
    deps=["cluster_profiles", "cluster_stability"],
    kinds={"polars", "excel"},
    description="Every cluster of both sexes: label, size, % of the sex, top ICD-10 codes "
    "with descriptors and c-DF-IPF, dominant terms, stability, mean codes per patient "
    f"({CLUSTERS_STEM}.{{csv,xlsx,docx}}); and per cluster and top code the share of the "
    "cluster and of the rest of the sex with it (Wilson 95% CIs), lift and c-DF-IPF "
    "(tables/cluster_codes.{csv,xlsx,docx}). Small-cell suppressed.",
)
def cluster_table(context: dg.AssetExecutionContext, platform: PlatformParam):
    settings, store = platform.settings, platform.store
    codes_stem = layout.table_stem("cluster_codes")
    codes_restricted = layout.restricted_table("cluster_codes", ".parquet")
    present = analysed_sexes(store)
    stability = {sex: pl.read_csv(store.path(layout.stability(sex))) for sex in present}
    profiles = _profiles(platform, "codes")
    from mh_assets.core.clustering.io import read_display_names

    table = tables.cluster_table(
        profiles, _profiles(platform, "terms"), _profiles(platform, "summary"), stability,
        names={sex: read_display_names(store, sex) for sex in present},
    )
    codes = tables.cluster_codes(profiles)
    store.write_parquet(CLUSTERS_RESTRICTED, table)
    store.write_parquet(codes_restricted, codes)
    published_codes = tables.publish_cluster_codes(codes, table, settings.min_cell)
    published = tables.publish_cluster_table(table, settings.min_cell, codes=published_codes)
    meta = publish_table(published, CLUSTERS_STEM, store, min_cell=settings.min_cell)
    codes_meta = publish_table(published_codes, codes_stem, store, min_cell=settings.min_cell)
    return dg.MaterializeResult(metadata=combine(
        meta, {"artifacts": codes_meta["artifacts"], "codes_preview": codes_meta["preview"],
               "codes_title": codes_meta["title"]},
        artifacts_metadata(CLUSTERS_RESTRICTED, codes_restricted), _say_missing(context, platform),
        provenance_metadata(context, settings)))


@_publish_asset(
    deps=["cluster_profiles"],
    kinds={"scipy"},
    description="Male and female clusters matched one-to-one by the cosine similarity of "
    "their c-DF-IPF profiles (Hungarian assignment), with shared and differing codes; "
    "unmatched clusters listed. tables/cluster_pairs.{csv,xlsx,docx}.",
)
def cluster_pairs(context: dg.AssetExecutionContext, platform: PlatformParam):
    from mh_assets.core.clustering import pairs
    from mh_assets.core.clustering.config import ClusterConfig
    from mh_assets.core.clustering.io import read_display_names
    from mh_assets.core.icd import display_code

    settings, store = platform.settings, platform.store
    if set(analysed_sexes(store)) != set(SEXES):  # pairs need both sexes
        empty = pl.DataFrame(schema=pairs.PAIR_SCHEMA)
        meta = publish_table(empty, PAIRS_STEM, store, min_cell=settings.min_cell)
        return dg.MaterializeResult(metadata=combine(
            meta, _say_missing(context, platform), provenance_metadata(context, settings)))
    matrices, labels, codes = pairs.profile_vectors(_profiles(platform, "codes"))
    names = {sex: read_display_names(store, sex) for sex in SEXES}
    defaults = ClusterConfig()  # no run config here: the pair settings' defaults
    matched = pairs.pair_clusters(matrices["male"], matrices["female"], labels["male"],
                                  labels["female"], [display_code(c) for c in codes],
                                  min_similarity=defaults.pair_min_similarity,
                                  shared_gap=defaults.pair_shared_gap,
                                  male_names=names["male"], female_names=names["female"])
    matched = matched.with_columns(pl.col("similarity").round(3))
    meta = publish_table(matched, PAIRS_STEM, store, min_cell=settings.min_cell)
    context.log.info(f"{int(matched.get_column('matched').sum())} pairs")
    return dg.MaterializeResult(metadata=combine(meta, provenance_metadata(context, settings)))


@_publish_asset(
    deps=["cluster_profiles", "cluster_assignments", "patient_embeddings"],
    kinds={"plotly", "umap"},
    description="Per sex: what the clusters are made of -- a clusters x top-codes heatmap "
    "of prevalence (share of the cluster's patients with the code; cells of 1-9 patients "
    "hidden) from the code profiles -- and PCA and UMAP (seeded) maps of a sample of "
    f"patient embeddings coloured by cluster (no labels, no hovers; no UMAP under "
    f"{UMAP_MIN_POINTS} patients). Each is written as "
    "a 300 dpi PNG, an SVG and an HTML page (figures/cluster_prevalence_map_SEX.*, "
    "the maps as figures/embedding_map_METHOD_SEX.*).",
)
def cluster_maps(context: dg.AssetExecutionContext, platform: PlatformParam):
    from mh_assets.core.publish import figures as draw
    from mh_assets.core.publish.cluster_figures import SexFigureInputs, cluster_figures

    settings, store = platform.settings, platform.store
    profiles = _profiles(platform, "codes")
    # each sex's embeddings and clusters read once, for both maps
    inputs = {sex: SexFigureInputs(codes, read_embeddings(store, sex),
                                   *read_assignments(store, sex))
              for sex, codes in profiles.items()}
    no_umap = [sex for sex, data in inputs.items()
               if "umap" not in maps.map_methods(len(data.embeddings))]
    figures = cluster_figures(inputs, settings.min_cell, settings.seed)
    for sex in no_umap:  # no count: a small one would be a cell to suppress
        context.log.info(f"{sex}: under {UMAP_MIN_POINTS} patients, no UMAP map (the PCA "
                         "map shows the same patients)")
    # an earlier run's UMAP map of a sex now drawn without one would be shown as current
    stale = [f"embedding_map_umap_{sex}" for sex in no_umap]
    retired = [layout.figure(stem, suffix) for stem in maps.RETIRED_FIGURES
               for suffix in (".html", ".png")]
    retired += [layout.figure(stem, suffix) for stem in stale for suffix in draw.FORMATS]
    removed = [relative for relative in retired if _remove(store.path(relative))]
    context.log.info(f"{len(figures)} cluster figures"
                     + (f"; {len(removed)} retired cluster-map files removed" if removed else ""))
    return dg.MaterializeResult(metadata=combine(
        publish_figures(figures, store), _say_missing(context, platform),
        {"umap_not_drawn": dg.MetadataValue.json(no_umap)},
        provenance_metadata(context, settings)))


def _remove(path) -> bool:
    """Delete a file left by an earlier version (the report lists what figures/ holds)."""
    if not path.is_file():
        return False
    path.unlink()
    return True

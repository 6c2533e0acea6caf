"""Cohort-level supplementary tables: SUD prevalence by sex and the descriptives.

The unsuppressed aggregates stay under ``restricted/tables``; what goes to
``tables/`` and ``figures/`` is small-cell suppressed.
"""


import dagster as dg

from mh_assets.core import layout
from mh_assets.core.icd import normalise_code
from mh_assets.core.publish import descriptives, sud_table
from mh_assets.core.schema import DIAGNOSIS_COLUMNS, SEX
from mh_assets.defs.metadata import (
    artifacts_metadata,
    combine,
    provenance_metadata,
    publish_figures,
    publish_table,
)
from mh_assets.defs.resources import PlatformParam

SUD_STEM = layout.table_stem("sud_by_sex")
DESCRIPTIVES_STEM = layout.table_stem("descriptives")


def _lineage(columns: list[str], sources: list[str]) -> dg.TableColumnLineage:
    deps = [dg.TableColumnDep(asset_key=dg.AssetKey("cohort"), column_name=c) for c in sources]
    return dg.TableColumnLineage(deps_by_column={column: deps for column in columns})


@dg.asset(
    deps=["cohort"],
    group_name="tables",
    code_version="2",
    kinds={"polars", "csv", "excel"},
    description="Supplementary Table 1: patients with a code of each SUD group (F11-F19 as "
    "the study grouped them; F10 and F17 added) by sex, with Wilson 95% CIs of the rates "
    "and Yates-corrected chi-square p-values. tables/sud_by_sex.{csv,xlsx,docx}, "
    "small-cell suppressed.",
)
def sud_by_sex_table(
    context: dg.AssetExecutionContext, platform: PlatformParam
) -> dg.MaterializeResult:
    settings, store = platform.settings, platform.store
    table = sud_table.sud_by_sex(store.read_parquet(layout.COHORT))
    store.write_csv(layout.restricted_table("sud_by_sex"), table)
    published = sud_table.publish_sud_by_sex(table, settings.min_cell)
    meta = publish_table(published, SUD_STEM, store, min_cell=settings.min_cell)
    counted = [c for c in published.columns if c not in ("group", "icd10_block", "addition")]
    meta["dagster/column_lineage"] = _lineage(counted, [SEX, *DIAGNOSIS_COLUMNS])
    context.log.info(f"SUD table: {published.height} groups")
    return dg.MaterializeResult(metadata=combine(
        meta, artifacts_metadata(layout.restricted_table("sud_by_sex")),
        provenance_metadata(context, settings),
    ))


@dg.asset(
    deps=["cohort", "icd_descriptors"],
    group_name="tables",
    code_version="2",
    kinds={"polars", "plotly"},
    description="Admissions per year, top principal diagnoses, stay, APR severity and cost "
    "by sex, with Mann-Whitney and chi-square tests (tables/descriptives.csv) and "
    "figures 1-6 (figures/fig*.html, .png).",
)
def cohort_descriptives(
    context: dg.AssetExecutionContext, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.publish import figures  # plotly and matplotlib: only when materializing

    settings, store = platform.settings, platform.store
    lookup = dict(store.read_parquet(layout.DESCRIPTORS).iter_rows())
    desc = descriptives.descriptives(
        store.read_parquet(layout.COHORT),
        lambda code: lookup.get(normalise_code(code) or ""),
    )
    for name in ("by_year", "by_severity", "top_principal", "principal_top20", "continuous"):
        store.write_csv(layout.restricted_table(f"descriptives_{name}"), getattr(desc, name))
    published = descriptives.publish_descriptives(desc, settings.min_cell)
    meta = publish_table(published["statistics"], DESCRIPTIVES_STEM, store,
                         min_cell=settings.min_cell)
    meta["dagster/column_lineage"] = _lineage(
        ["statistic", "p_value", "n_female", "n_male"],
        [SEX, "DaysOfStay", "APRCost", "Year", "APRSeverityLevel", "PrincipalDiagnosis"],
    )
    extra = [layout.table(f"descriptives_{name}") for name in published if name != "statistics"]
    for name, path in zip([n for n in published if n != "statistics"], extra, strict=True):
        store.write_csv(path, published[name])
    return dg.MaterializeResult(metadata=combine(
        meta,
        publish_figures(figures.descriptive_figures(desc, settings.min_cell), store),
        artifacts_metadata(*extra),
        provenance_metadata(context, settings),
    ))

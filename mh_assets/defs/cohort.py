"""The study cohort and the rows it leaves out, each with every reason that applies."""


import json

import dagster as dg
import polars as pl

from mh_assets.core import cohort as core_cohort
from mh_assets.core import layout
from mh_assets.core.publish.preview import markdown_preview
from mh_assets.core.publish.suppression import mask_count, mask_count_expr, suppress_flow
from mh_assets.core.schema import EXCLUSION_REASONS, SEX, SEXES
from mh_assets.defs.metadata import artifacts_metadata, provenance_metadata
from mh_assets.defs.resources import PlatformParam


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "cohort", deps=["registry_extract"], group_name="cohort", code_version="2",
            kinds={"polars"},
            description="Discharges that meet the study's selection rules "
            "(restricted/cohort.parquet), with a pseudonymous patient id and quality flags.",
        ),
        dg.AssetSpec(
            "excluded_records", deps=["registry_extract"], group_name="cohort",
            code_version="3", kinds={"polars"},
            description="Every row the selection left out, with every reason that applies "
            "(restricted/excluded_records.parquet). Nothing is dropped silently.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "cohort_not_empty", asset="cohort", blocking=True,
            description="The cohort has at least one patient; a sex without patients is "
            "skipped with a message, not an error. When it fails nothing is replaced.",
        )
    ],
)
def cohort_selection(context: dg.AssetExecutionContext, platform: PlatformParam):
    settings = platform.settings
    store = platform.store
    extract = store.read_parquet(layout.EXTRACT)
    info = json.loads(store.path(layout.EXTRACT_INFO).read_text())
    selection = core_cohort.select_cohort(extract, settings.cohort, id_key=info["sha256"])
    # counted on the one column: filtering the whole cohort per sex copied every column
    counts = dict(selection.cohort.get_column(SEX).value_counts().iter_rows())
    per_sex = {sex: int(counts.get(sex, 0)) for sex in SEXES}
    if selection.cohort.height == 0:
        yield from _reject(context, store, selection, per_sex, settings.min_cell)
        return
    store.write_parquet(layout.COHORT, selection.cohort)
    store.write_parquet(layout.EXCLUDED_RECORDS, selection.excluded)
    store.write_csv(layout.COHORT_FLOW, selection.flow)

    # Every count the UI shows passes the rule the published tables pass.
    shown = {sex: mask_count(n, settings.min_cell) for sex, n in per_sex.items()}
    context.log.info(
        f"Cohort: {selection.cohort.height} kept, {selection.excluded.height} excluded; "
        + ", ".join(f"{sex} {n}" for sex, n in per_sex.items())
    )
    common = provenance_metadata(context, settings)
    yield dg.MaterializeResult(
        asset_key="cohort",
        metadata={
            "dagster/row_count": selection.cohort.height,
            "patients_per_sex": dg.MetadataValue.json(shown),
            "flow": dg.MetadataValue.md(markdown_preview(
                suppress_flow(selection.flow, settings.min_cell))),
            "quality_flags": dg.MetadataValue.json({
                flag: mask_count(n, settings.min_cell)
                for flag, n in selection.flag_counts.items()}),
            **artifacts_metadata(layout.COHORT, layout.COHORT_FLOW),
            "rules": dg.MetadataValue.json(
                {k: v for k, v in settings.as_metadata().items() if k.startswith("cohort.")}
            ),
            **common,
        },
    )
    reasons = (
        selection.excluded.select(pl.col(EXCLUSION_REASONS).explode().value_counts(sort=True))
        .unnest(EXCLUSION_REASONS)
        if selection.excluded.height
        else pl.DataFrame({"reason": [], "count": []})
    )
    reasons = reasons.with_columns(
        mask_count_expr(pl.col("count"), settings.min_cell).alias("count"))
    yield dg.MaterializeResult(
        asset_key="excluded_records",
        metadata={
            "dagster/row_count": selection.excluded.height,
            "reasons": dg.MetadataValue.md(markdown_preview(reasons)),
            **artifacts_metadata(layout.EXCLUDED_RECORDS),
            **common,
        },
    )
    empty = [sex for sex, n in per_sex.items() if n == 0]
    yield dg.AssetCheckResult(
        asset_key="cohort",
        check_name="cohort_not_empty",
        passed=True,
        metadata={"patients_per_sex": dg.MetadataValue.json(shown), "empty": empty},
        description=(", ".join(empty) + f": {core_cohort.ABSENT_SEX}; that partition is "
                     "skipped, the other completes") if empty else None,
    )


def _reject(context: dg.AssetExecutionContext, store, selection, per_sex: dict[str, int],
            min_cell: int):
    """An empty cohort replaces nothing: the new outputs go to restricted/rejected/, the
    last good cohort stays readable (so corpus, models and tables keep describing one
    extract), the check fails and the step fails saying so."""
    rejected = [layout.rejected(p) for p in (layout.COHORT, layout.EXCLUDED_RECORDS,
                                             layout.COHORT_FLOW)]
    store.write_parquet(rejected[0], selection.cohort)
    store.write_parquet(rejected[1], selection.excluded)
    store.write_csv(rejected[2], selection.flow)
    message = ("The extract's cohort is empty (no record meets the selection rules): the "
               "previous cohort and everything built from it are kept; the rejected outputs "
               "are in restricted/rejected/. Check the extract and the cohort rules.")
    yield dg.AssetCheckResult(
        asset_key="cohort", check_name="cohort_not_empty", passed=False,
        metadata={"patients_per_sex": dg.MetadataValue.json(
            {sex: mask_count(n, min_cell) for sex, n in per_sex.items()}),
            "rejected": dg.MetadataValue.json(rejected)},
        description=message)
    raise dg.Failure(description=message, metadata={"rejected": dg.MetadataValue.json(rejected)})

"""The study cohort and the rows it leaves out, each with every reason that applies."""


import json

import dagster as dg
import polars as pl

from mh_assets.core import cohort as core_cohort
from mh_assets.core import layout
from mh_assets.core.publish.preview import markdown_preview
from mh_assets.core.schema import EXCLUSION_REASONS, SEX, SEXES
from mh_assets.defs.metadata import artifacts_metadata, provenance_metadata
from mh_assets.defs.resources import PlatformParam


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "cohort", deps=["registry_extract"], group_name="cohort", code_version="1",
            kinds={"polars"},
            description="Discharges that meet the study's selection rules "
            "(restricted/cohort.parquet), with a pseudonymous patient id and quality flags.",
        ),
        dg.AssetSpec(
            "excluded_records", deps=["registry_extract"], group_name="cohort",
            code_version="1", kinds={"polars"},
            description="Every row the selection left out, with every reason that applies "
            "(restricted/excluded_records.parquet). Nothing is dropped silently.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "cohort_not_empty", asset="cohort", blocking=True,
            description="Each sex partition has at least one patient.",
        )
    ],
)
def cohort_selection(context: dg.AssetExecutionContext, platform: PlatformParam):
    settings = platform.settings
    store = platform.store
    extract = store.read_parquet(layout.EXTRACT)
    info = json.loads(store.path(layout.EXTRACT_INFO).read_text())
    selection = core_cohort.select_cohort(extract, settings.cohort, id_key=info["sha256"])
    store.write_parquet(layout.COHORT, selection.cohort)
    store.write_parquet(layout.EXCLUDED_RECORDS, selection.excluded)
    store.write_csv(layout.COHORT_FLOW, selection.flow)

    per_sex = {sex: selection.cohort.filter(pl.col(SEX) == sex).height for sex in SEXES}
    context.log.info(
        f"Cohort: {selection.cohort.height} kept, {selection.excluded.height} excluded; "
        + ", ".join(f"{sex} {n}" for sex, n in per_sex.items())
    )
    common = provenance_metadata(context, settings)
    yield dg.MaterializeResult(
        asset_key="cohort",
        metadata={
            "dagster/row_count": selection.cohort.height,
            "patients_per_sex": dg.MetadataValue.json(per_sex),
            "flow": dg.MetadataValue.md(markdown_preview(selection.flow)),
            "quality_flags": dg.MetadataValue.json(selection.flag_counts),
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
        passed=not empty,
        metadata={"patients_per_sex": dg.MetadataValue.json(per_sex), "empty": empty},
        description=("Empty partitions: " + ", ".join(empty)) if empty else None,
    )

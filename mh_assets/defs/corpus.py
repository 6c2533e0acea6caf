"""ICD-10 descriptors and the per-sex descriptor corpora (one text per patient).

The coverage check is blocking: if codes stop matching descriptors -- the flaw that
turned 96% of the published study's codes into "NOCODE" -- nothing downstream runs. A
sex without patients in the extract is skipped, not failed (``skips_absent_sex``).
"""


import json

import dagster as dg
import polars as pl

from mh_assets.core import corpus as core_corpus
from mh_assets.core import icd, layout
from mh_assets.core.schema import N_CODES, SEX
from mh_assets.defs.metadata import artifacts_metadata, provenance_metadata
from mh_assets.defs.partitions import sex_check, sex_partitions, skips_absent_sex
from mh_assets.defs.resources import PlatformParam


@dg.asset(
    group_name="ingest",
    code_version="1",
    kinds={"polars"},
    description="Normalised ICD-10 code -> descriptor table (codes without dots, upper-case). "
    "Source: the ICD-10-CM tables packaged in simple-icd-10-cm, or a file set by "
    "MH_DESCRIPTOR_SOURCE.",
)
def icd_descriptors(
    context: dg.AssetExecutionContext, platform: PlatformParam
) -> dg.MaterializeResult:
    settings = platform.settings
    table = icd.load_descriptors(settings.descriptor_source)
    platform.store.write_parquet(layout.DESCRIPTORS, table.frame)
    platform.store.write_text(
        layout.DESCRIPTORS_INFO, json.dumps({"source": table.source, "edition": table.edition})
    )
    context.log.info(f"{table.n_codes} descriptors from {table.source} ({table.edition})")
    return dg.MaterializeResult(
        metadata={
            **table.as_metadata(),
            "dagster/row_count": table.n_codes,
            **provenance_metadata(context, settings, with_inputs=False),
            **artifacts_metadata(layout.DESCRIPTORS, layout.DESCRIPTORS_INFO),
        },
        data_version=dg.DataVersion(table.sha256),
    )


@dg.asset(
    deps=["cohort", "icd_descriptors"],
    partitions_def=sex_partitions,
    group_name="corpus",
    code_version="2",
    kinds={"polars"},
    description="One row per patient of the partition's sex: codes in field order (principal "
    "first), each code's descriptor and how it was resolved, and the descriptor text.",
    check_specs=[
        sex_check(
            "descriptor_coverage", "descriptor_corpus", blocking=True,
            description="Code occurrences resolved exactly >= the exact threshold and with "
            "ancestors >= the ancestor threshold (settings). Lists unresolved codes.",
        ),
        # A warning, not blocking: a sex without patients in the extract is skipped all
        # the way down (defs.partitions.skips_absent_sex), so nothing needs holding back
        # and the cross-sex assets still refresh from the other sex.
        sex_check("corpus_not_empty", "descriptor_corpus",
                  description="The partition has at least one patient; warns for a sex "
                  "without patients in the extract, whose partition is skipped."),
    ],
)
@skips_absent_sex
def descriptor_corpus(context: dg.AssetExecutionContext, platform: PlatformParam):
    settings = platform.settings
    sex = context.partition_key
    store = platform.store
    frame = store.read_parquet(layout.DESCRIPTORS)
    info = json.loads(store.path(layout.DESCRIPTORS_INFO).read_text())
    table = icd.DescriptorTable(frame=frame, n_codes=frame.height, **info)
    # Only this sex's rows and the columns the corpus reads are decoded from the cohort.
    cohort = store.scan_parquet(layout.COHORT)
    columns = core_corpus.input_columns(cohort.collect_schema().names())
    cohort = cohort.filter(pl.col(SEX) == sex).select(columns).collect()
    corpus = core_corpus.build_corpus(cohort, table, sex)
    report = core_corpus.coverage(corpus)
    coverage_meta = report.as_metadata(top=50, min_cell=settings.min_cell)
    naive = core_corpus.naive_coverage(corpus, table) if corpus.height else 0.0
    thresholds = settings.coverage
    passed = (
        report.exact_share >= thresholds.exact
        and report.with_ancestors_share >= thresholds.with_ancestors
    )
    checks = [
        dg.AssetCheckResult(
            check_name="descriptor_coverage",
            passed=passed,
            metadata={
                "exact_share": report.exact_share,
                "with_ancestors_share": report.with_ancestors_share,
                "exact_threshold": thresholds.exact,
                "ancestor_threshold": thresholds.with_ancestors,
                "unresolved_codes": dg.MetadataValue.json(
                    coverage_meta["top_unresolved_codes"]
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name="corpus_not_empty",
            passed=corpus.height > 0,
            metadata={"patients": corpus.height},
            description=None if corpus.height else
            f"The cohort flow counts {sex} patients but the corpus has none.",
        ),
    ]
    if not (passed and corpus.height):
        # Nothing downstream may read a corpus its checks rejected: the last good one
        # stays in place, the rejected one goes beside it.
        store.write_parquet(layout.rejected(layout.corpus(sex)), corpus)
        yield from checks
        raise dg.Failure(description=(
            f"The cohort flow counts {sex} patients but the {sex} corpus has none: "
            "re-materialize cohort (nothing was replaced)." if not corpus.height else
            f"{sex}: descriptor coverage {report.exact_share:.2%} exact / "
            f"{report.with_ancestors_share:.2%} with ancestors is below the thresholds "
            f"({thresholds.exact:.2%} / {thresholds.with_ancestors:.2%}): the previous "
            "corpus is kept; the rejected one is in restricted/rejected/."))
    store.write_parquet(layout.corpus(sex), corpus)
    context.log.info(
        f"{sex}: {corpus.height} patients, {report.occurrences} code occurrences, "
        f"{report.exact_share:.2%} exact, {report.with_ancestors_share:.2%} with ancestors "
        f"(an un-normalised lookup would match {naive:.2%})"
    )
    n_codes = corpus.get_column(N_CODES)
    store.write_text(layout.coverage(sex), json.dumps({
        **coverage_meta, "naive_lookup_share": naive,
        "exact_threshold": thresholds.exact,
        "with_ancestors_threshold": thresholds.with_ancestors,
    }, indent=2))
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": corpus.height,
            **coverage_meta,
            "naive_lookup_share": naive,
            "n_codes_mean": float(n_codes.mean() or 0.0),
            "n_codes_max": int(n_codes.max() or 0),
            **provenance_metadata(context, settings),
            **artifacts_metadata(layout.corpus(sex), layout.coverage(sex)),
        }
    )
    yield from checks

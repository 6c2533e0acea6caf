"""The one partitioning of the study: each sex is modelled separately.

Per-sex checks are partitioned like their assets (:func:`sex_check`), so each sex has
its own latest result and history in the UI instead of one result for whichever sex
ran last. A sex without patients in the extract is a partition that *succeeds* as
skipped all the way down (:func:`skips_absent_sex`): the other sex completes, and the
refresh automation, which waits for every per-sex asset before building the tables,
maps and report that combine both sexes, then builds them from the sex that exists.
"""

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from mh_assets.core.clustering.geometry import release_workers
from mh_assets.core.cohort import ABSENT_SEX, present_sexes
from mh_assets.core.schema import SEXES
from mh_assets.defs.metadata import provenance_metadata

sex_partitions = dg.StaticPartitionsDefinition(list(SEXES))


def clusters_asset(**kwargs: object):
    """The decorator of the per-sex clustering assets (group "clusters"); their bodies
    release the parallel workers when they end (:func:`releases_workers`)."""
    def decorate(body: Callable[..., Any]) -> dg.AssetsDefinition:
        return dg.asset(partitions_def=sex_partitions, group_name="clusters",
                        kinds={"scikitlearn"}, **kwargs)(releases_workers(body))
    return decorate


def releases_workers(body: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an asset body that may use ``parallel_map``: once it has returned (a
    generator body: once its last event is out), stop joblib's worker processes.

    joblib keeps them for 300 s after their last task and a process cannot exit before
    its children: in the UI's runs, where each step is a process of its own, the
    process of ``k_selection`` sat idle for five minutes before the next step could
    start. (``mh-assets run`` releases them after each stage as well.)
    """
    @functools.wraps(body)
    def run(context: dg.AssetExecutionContext, **kwargs: Any) -> Any:
        try:
            result = body(context, **kwargs)
        except BaseException:
            release_workers()
            raise
        if inspect.isgenerator(result):
            return _released_after(result)
        release_workers()
        return result

    return run


def _released_after(events: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from events
    finally:
        release_workers()


def sex_check(name: str, asset: str, description: str, *, blocking: bool = False
              ) -> dg.AssetCheckSpec:
    """A check spec partitioned by sex (Dagster 1.13 marks the argument as preview)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning,
                                message=".*partitions_def on an AssetCheckSpec.*")
        return dg.AssetCheckSpec(name, asset=asset, partitions_def=sex_partitions,
                                 blocking=blocking, description=description)


def skips_absent_sex(body: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a per-sex asset's body: for a sex the cohort has no patient of, return
    :func:`skipped_partition` instead of running it (nothing read, nothing written).

    Whether a sex is present is read once, from the cohort flow (``present_sexes``), so
    all ten per-sex assets agree. Dagster calls the body with keyword arguments and
    reads its parameters through ``functools.wraps``; a generator body's generator is
    returned as is, so bodies that yield keep working.
    """
    @functools.wraps(body)
    def run(context: dg.AssetExecutionContext, **kwargs: Any) -> Any:
        platform = kwargs["platform"]
        if context.partition_key in present_sexes(platform.store):
            return body(context, **kwargs)
        return skipped_partition(context, platform)

    return run


def skipped_partition(context: dg.AssetExecutionContext, platform: Any
                      ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """A materialization that says "no patients of this sex in the extract", and a
    result for each of the asset's checks.

    A blocking check passes (there is nothing to check, and a failed blocking check
    would hold back the cross-sex assets for good); a warning check warns "not run", so
    the UI shows the partition as not analysed rather than as healthy. (Dagster has no
    "skipped" result to give: a check left without one fails the step.) Files this sex
    may have from an earlier extract stay where they are and describe that extract: the
    cross-sex assets build from ``analysed_sexes``, which leaves an absent sex out.
    """
    sex, asset = context.partition_key, context.asset_key.to_user_string()
    reason = (f"{ABSENT_SEX.capitalize()}: the {sex} partition is skipped (nothing read or "
              "written); the tables, maps and report that combine both sexes are built "
              "without it.")
    # said at info by the run's first asset of the partition only (an asset none of whose
    # inputs the run materializes); the nine after it would repeat it, so they say it at
    # debug level
    upstream = context.assets_def.asset_deps.get(context.asset_key, set())
    first = not upstream & context.job_def.asset_layer.selected_asset_keys
    (context.log.info if first else context.log.debug)(f"{sex}: {asset} skipped. {reason}")
    selected = context.selected_asset_check_keys
    checks = [
        dg.AssetCheckResult(
            check_name=spec.name, passed=spec.blocking, severity=dg.AssetCheckSeverity.WARN,
            metadata={"skipped": True},
            description=f"{ABSENT_SEX.capitalize()}: " + (
                "nothing to check, nothing held back." if spec.blocking
                else f"not run, the {sex} partition is skipped."))
        for spec in context.assets_def.check_specs if spec.key in selected
    ]
    # yielded one by one, as the bodies with checks yield theirs (a returned
    # MaterializeResult must carry every check's result, or Dagster reads it as a tuple)
    yield dg.MaterializeResult(
        metadata={"skipped": dg.MetadataValue.md(reason), "patients": 0,
                  **provenance_metadata(context, platform.settings)})
    yield from checks

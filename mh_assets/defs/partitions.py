"""The one partitioning of the study: each sex is modelled separately.

Per-sex checks are partitioned like their assets (:func:`sex_check`), so each sex has
its own latest result and history in the UI instead of one result for whichever sex
ran last.
"""

import warnings

import dagster as dg

from mh_assets.core.schema import SEXES

sex_partitions = dg.StaticPartitionsDefinition(list(SEXES))


def clusters_asset(**kwargs: object):
    """The decorator of the per-sex clustering assets (group "clusters")."""
    return dg.asset(partitions_def=sex_partitions, group_name="clusters",
                    kinds={"scikitlearn"}, **kwargs)


def sex_check(name: str, asset: str, description: str, *, blocking: bool = False
              ) -> dg.AssetCheckSpec:
    """A check spec partitioned by sex (Dagster 1.13 marks the argument as preview)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning,
                                message=".*partitions_def on an AssetCheckSpec.*")
        return dg.AssetCheckSpec(name, asset=asset, partitions_def=sex_partitions,
                                 blocking=blocking, description=description)

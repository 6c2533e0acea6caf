"""The one partitioning of the study: each sex is modelled separately."""

import dagster as dg

from mh_assets.core.schema import SEXES

sex_partitions = dg.StaticPartitionsDefinition(list(SEXES))

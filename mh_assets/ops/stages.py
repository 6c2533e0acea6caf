"""The staged plan of the graph: which assets each stage runs, and the job that runs it.

Three stages so that each asset runs exactly once: the unpartitioned assets upstream of
the per-sex work (``ingest``), every partitioned asset once per sex, then the
unpartitioned assets that combine both sexes (``publish``). The code location defines
one named job per stage (:func:`stage_jobs`, what the UI's run list shows);
:mod:`mh_assets.ops.runner` executes the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from mh_assets.core.schema import SEXES
from mh_assets.ops.graph import descendants

if TYPE_CHECKING:  # what define_asset_job returns (not exported by name)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


@dataclass(frozen=True)
class Stage:
    name: str
    keys: tuple[dg.AssetKey, ...]
    partition_key: str | None = None

    @property
    def job(self) -> str:
        """The named job that runs this stage (what the UI's run list shows)."""
        return JOBS["per_sex" if self.partition_key else self.name]


#: Stage -> the job that runs it; the jobs are defined once by :func:`stage_jobs`.
JOBS = {"ingest": "ingest_job", "per_sex": "per_sex_job", "publish": "publish_job"}


def stage_jobs(graph) -> list[UnresolvedAssetJobDefinition]:
    """One named job per stage, over the assets (and their checks) of that stage."""
    stages = {("per_sex" if s.partition_key else s.name): s for s in _stages(graph, SEXES)}
    descriptions = {
        "ingest": "The extract, the cohort and the tables on the whole cohort.",
        "per_sex": "Everything per sex: corpus, model, embeddings, clusters, evaluation "
                   "(one run per partition).",
        "publish": "What combines both sexes: the cluster table, pairs, maps and the report.",
    }
    return [dg.define_asset_job(JOBS[name], selection=dg.AssetSelection.assets(*stage.keys),
                                description=descriptions[name])
            for name, stage in stages.items()]


def plan_stages(defs: dg.Definitions, sexes: Sequence[str] = SEXES) -> list[Stage]:
    """Split the asset graph into before / per-sex / after stages."""
    return _stages(defs.resolve_asset_graph(), sexes)


def _stages(graph, sexes: Sequence[str]) -> list[Stage]:
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    downstream_of_partitioned = descendants(graph, *partitioned) if partitioned else set()
    before = tuple(sorted(k for k in keys if k not in partitioned
                          and k not in downstream_of_partitioned))
    after = tuple(sorted(k for k in keys
                         if k not in partitioned and k in downstream_of_partitioned))
    stages = [Stage("ingest", before)]
    stages += [Stage(f"{sex}", tuple(sorted(partitioned)), sex) for sex in sexes if partitioned]
    if after:
        stages.append(Stage("publish", after))
    return [s for s in stages if s.keys]

"""The asset graph and the instance, asked the same questions everywhere.

Ancestors and descendants come from Dagster's own selection algebra
(``AssetSelection.upstream`` / ``.downstream`` resolved against the graph or an asset
list), and "the latest materialization of an asset partition" from the instance's
record API, so the staged runner, the refresh guards, the ``refresh_complete`` check,
lineage and provenance all walk the graph and read history the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

#: An asset list or a resolved asset graph (``Definitions.resolve_asset_graph()``).
GraphLike = Iterable[dg.AssetsDefinition] | Any


def ancestors(graph: GraphLike, *keys: dg.AssetKey) -> set[dg.AssetKey]:
    """Every asset upstream of ``keys``, the keys themselves excluded."""
    return set(dg.AssetSelection.assets(*keys).upstream().resolve(graph)) - set(keys)


def descendants(graph: GraphLike, *keys: dg.AssetKey) -> set[dg.AssetKey]:
    """Every asset downstream of ``keys``, the keys themselves excluded."""
    return set(dg.AssetSelection.assets(*keys).downstream().resolve(graph)) - set(keys)


def latest_materialization(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partition: str | None = None,
    *,
    before_storage_id: int | None = None,
) -> dg.EventLogRecord | None:
    """The latest materialization of ``key`` -- of that partition when one is given (else
    of any partition), and before ``before_storage_id`` when given."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=key,
            asset_partitions=[partition] if partition is not None else None,
            before_storage_id=before_storage_id,
        ),
        limit=1,
    ).records
    return records[0] if records else None


def partition_keys(graph: Any, key: dg.AssetKey) -> list[str | None]:
    """The partitions of ``key`` in ``graph`` (``[None]`` for an unpartitioned asset)."""
    node = graph.get(key)
    return list(node.partitions_def.get_partition_keys()) if node.partitions_def else [None]

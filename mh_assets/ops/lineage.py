"""``mh-assets lineage <artifact path>``: from a published file back to the extract.

An auditor holding ``tables/sud_by_sex.csv`` asks which extract, code, models and
settings made it. The answer is read from the Dagster instance, not from the file:

1. find the materialization that wrote the file -- each asset lists what it wrote in
   its ``artifacts`` metadata (paths relative to the artifacts root); table and model
   assets also carry a ``path`` entry, matched by file, by stem (``.csv`` / ``.xlsx`` /
   ``.docx`` siblings) or by containing directory;
2. walk upstream through the code location's asset graph and, for
   every ancestor (per partition where the ancestor is partitioned), take the latest
   materialization *before* the writer's -- the one the file was built from;
3. print each step's data version, code version, run and key metadata (the extract's
   file name and sha256, checkpoint hashes), then the preset, settings, git commit and
   library versions the writer recorded.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from mh_assets.core.storage import open_store, sha256_file
from mh_assets.ops import provenance
from mh_assets.ops.graph import ancestors, latest_materialization, partition_keys
from mh_assets.ops.provenance import key_metadata


@dataclass
class Step:
    asset: str
    partition: str | None
    data_version: str | None
    code_version: str | None
    run_id: str
    materialized_at: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.asset + (f"[{self.partition}]" if self.partition else "")


@dataclass
class Lineage:
    artifact: str  # relative to the artifacts root
    file_sha256: str | None  # of the file as it is now
    writer: Step
    ancestors: list[Step]  # upstream first
    preset: str | None
    git_commit: str | None
    settings: dict[str, Any]
    libraries: dict[str, Any]

    @property
    def extract(self) -> Step | None:
        return next((s for s in self.ancestors + [self.writer]
                     if s.asset == "registry_extract"), None)


def relative_to_root(path: str | os.PathLike[str], root) -> str:
    """The artifact's path relative to the artifacts root (accepts either form)."""
    if "://" in str(root):  # object storage: a full URL or a path relative to it
        text, prefix = os.fspath(path), str(root).rstrip("/") + "/"
        return text[len(prefix):] if text.startswith(prefix) else text.lstrip("/")
    candidate = Path(path).expanduser()
    absolute = candidate if candidate.is_absolute() else (Path.cwd() / candidate)
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        if not candidate.is_absolute() and (root / candidate).exists():
            return candidate.as_posix()
        raise ValueError(f"{path} is not under the artifacts root {root}") from None


def _match_rank(metadata: dict[str, Any], relative: str, root: Path) -> int:
    """0 = no match, 3 = listed exactly, 2 = its `path`, 1 = a sibling or a file inside."""
    listed = [*(metadata.get("artifacts") or []), *(metadata.get("figures") or [])]
    if relative in listed:
        return 3
    path = metadata.get("path")
    if not path:
        return 0
    try:
        recorded = Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        recorded = Path(path)
    target = Path(relative)
    if recorded == target:
        return 2
    if recorded.parent == target.parent and recorded.stem == target.stem:
        return 1
    if recorded in target.parents:
        return 1
    return 0


def _step(record: dg.EventLogRecord) -> Step:
    materialization = record.asset_materialization
    tags = materialization.tags or {}
    return Step(
        asset=materialization.asset_key.to_user_string(),
        partition=materialization.partition,
        data_version=tags.get("dagster/data_version"),
        code_version=tags.get("dagster/code_version"),
        run_id=record.run_id,
        materialized_at=record.timestamp,
        metadata=key_metadata(materialization.metadata),
    )


def _partitions(node, partition: str | None, writer_node) -> list[str | None]:
    if node.partitions_def is None:
        return [None]
    if partition is not None and node.partitions_def == writer_node.partitions_def:
        return [partition]
    return list(node.partitions_def.get_partition_keys())


def find_writer(instance, graph, relative: str, root: Path) -> dg.EventLogRecord | None:
    """The latest materialization whose metadata names the file (best match wins)."""
    best: tuple[int, int, dg.EventLogRecord] | None = None
    for key in graph.toposorted_asset_keys:
        for partition in partition_keys(graph, key):
            record = latest_materialization(instance, key, partition)
            if record is None:
                continue
            metadata = key_metadata(record.asset_materialization.metadata)
            rank = _match_rank(metadata, relative, root)
            if rank and (best is None or (rank, record.storage_id) > best[:2]):
                best = (rank, record.storage_id, record)
    return best[2] if best else None


def build_lineage(path: str | os.PathLike[str], instance: dg.DagsterInstance,
                  defs: dg.Definitions, artifacts_root: Path) -> Lineage:
    graph = defs.resolve_asset_graph()
    store = open_store(artifacts_root)  # for object storage: its local mirror
    relative = relative_to_root(path, artifacts_root)
    record = find_writer(instance, graph, relative, store.root)
    if record is None:
        raise LookupError(
            f"no materialization in the Dagster instance lists {relative}; was it written by "
            "`mh-assets run` or the UI with this DAGSTER_HOME and MH_ARTIFACTS_DIR?"
        )
    writer = _step(record)
    writer_key = record.asset_materialization.asset_key
    writer_node = graph.get(writer_key)

    upstream_keys = ancestors(graph, writer_key)
    steps = []
    for key in (k for k in graph.toposorted_asset_keys if k in upstream_keys):
        for partition in _partitions(graph.get(key), writer.partition, writer_node):
            upstream = latest_materialization(instance, key, partition,
                                              before_storage_id=record.storage_id)
            if upstream is not None:
                steps.append(_step(upstream))

    plain = provenance.recorded(record.asset_materialization.metadata)
    file = store.path(relative)
    return Lineage(
        artifact=relative,
        file_sha256=sha256_file(file) if file.is_file() else None,
        writer=writer,
        ancestors=steps,
        preset=plain.get(provenance.PRESET),
        git_commit=plain.get(provenance.GIT_COMMIT),
        settings=dict(plain.get(provenance.SETTINGS) or {}),
        libraries=dict(plain.get(provenance.LIBRARIES) or {}),
    )


def _when(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def format_lineage(lineage: Lineage) -> str:
    lines = [f"{lineage.artifact}"]
    if lineage.file_sha256:
        lines.append(f"  file sha256 now: {lineage.file_sha256}")
    extract = lineage.extract
    if extract is not None:
        lines.append(f"  extract: {extract.metadata.get('file_name', '?')}  "
                     f"sha256 {extract.metadata.get('sha256', extract.data_version)}")
        files = extract.metadata.get("extract_files") or []
        if len(files) > 1:  # a combined extract: the set of files it was built from
            for item in files:
                lines.append(f"    {item.get('file_name', '?')}  sha256 {item.get('sha256', '?')}"
                             f"  rows {item.get('rows', '?')}")
            lines.append(f"    duplicate episodes dropped: "
                         f"{extract.metadata.get('duplicates_dropped', '?')}")
    lines.append("")
    lines.append("Chain (upstream first; each the materialization the next was built from):")
    for step in [*lineage.ancestors, lineage.writer]:
        marker = "=>" if step is lineage.writer else "  "
        lines.append(f"{marker} {step.label}: data version {step.data_version}, code version "
                     f"{step.code_version}, run {step.run_id}, {_when(step.materialized_at)}")
        for key, value in step.metadata.items():
            if key in (provenance.INPUT_DATA_VERSIONS, "artifacts", "figures"):
                continue
            lines.append(f"       {key}: {value}")
    lines.append("")
    lines.append(f"Preset {lineage.preset}; git commit {lineage.git_commit}")
    if lineage.settings:
        lines.append("Settings:")
        lines += [f"  {k} = {v}" for k, v in sorted(lineage.settings.items())]
    if lineage.libraries:
        lines.append("Libraries: " + ", ".join(f"{k} {v}" for k, v in
                                                sorted(lineage.libraries.items())))
    return "\n".join(lines)


def run(path: str, defs: dg.Definitions, instance: dg.DagsterInstance, artifacts_root,
        *, as_json: bool = False) -> int:
    """``mh-assets lineage``: print the chain (or JSON); 1 with a message when not found."""
    import sys

    try:
        lineage = build_lineage(path, instance, defs, artifacts_root)
    except (LookupError, ValueError) as err:
        print(f"lineage: {err}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(asdict(lineage), indent=2, sort_keys=True, default=str))
    else:
        print(format_lineage(lineage))
    return 0

"""What every materialization says about where it came from.

Auditors ask "which extract, code, model and settings made this table?"; each asset
attaches the answer to its materialization: the data versions of its inputs, the
preset and settings, library versions and the git commit.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata as importlib_metadata

import dagster as dg

from mh_assets import __version__
from mh_assets.settings import PROJECT_ROOT, Settings

LIBRARIES = (
    "dagster", "polars", "numpy", "scikit-learn", "scipy", "torch",
    "transformers", "sentence-transformers", "tokenizers", "simple-icd-10-cm",
)


@functools.cache
def library_versions() -> dict[str, str]:
    """Installed versions, read from package metadata (imports nothing heavy)."""
    versions = {"python": platform.python_version(), "mh-assets": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.cache
def git_commit() -> str:
    """The commit of the code that ran; ``MH_GIT_COMMIT`` wins (images have no .git)."""
    if os.environ.get("MH_GIT_COMMIT"):
        return os.environ["MH_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
            text=True, timeout=5, check=True,
        )
        commit = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return f"{commit}-dirty" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> dg.EventLogEntry | None:
    """The latest materialization of ``key`` -- of that partition when one is given."""
    if partition is None:
        return instance.get_latest_materialization_event(key)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0].event_log_entry if records else None


def input_data_versions(
    context: dg.AssetExecutionContext, keys: list[dg.AssetKey] | None = None
) -> dict[str, str]:
    """Latest data version of each upstream asset: of the same sex partition for a
    partitioned upstream (male's corpus never stands in for female's), else the latest."""
    keys = keys if keys is not None else sorted(
        {key for assets_key in context.selected_asset_keys
         for key in context.assets_def.asset_deps.get(assets_key, set())}
    )
    partition = context.partition_key if context.has_partition_key else None
    out: dict[str, str] = {}
    for key in keys:
        entry = latest_materialization(context.instance, key, partition) if partition else None
        entry = entry or context.instance.get_latest_materialization_event(key)
        if entry is None or entry.asset_materialization is None:
            out[key.to_user_string()] = "never materialized"
            continue
        tags = entry.asset_materialization.tags or {}
        out[key.to_user_string()] = tags.get("dagster/data_version", "unknown")
    return out


def provenance_metadata(
    context: dg.AssetExecutionContext, settings: Settings, *, with_inputs: bool = True
) -> dict[str, object]:
    """Metadata entries shared by every asset: settings, versions, commit, inputs."""
    meta: dict[str, object] = {
        "provenance/preset": settings.preset,
        "provenance/git_commit": git_commit(),
        "provenance/libraries": dg.MetadataValue.json(library_versions()),
        "provenance/settings": dg.MetadataValue.json(settings.as_metadata()),
        "provenance/run_id": context.run.run_id,
    }
    if with_inputs:
        meta["provenance/input_data_versions"] = dg.MetadataValue.json(
            input_data_versions(context)
        )
    return meta


def artifacts_metadata(*paths: str) -> dict[str, object]:
    """The files an asset wrote, relative to the artifacts root (``mh-assets lineage``
    maps a published file back to its asset through this entry)."""
    return {"artifacts": dg.MetadataValue.json(sorted(paths))}

"""The landing zone between sensor ticks: which extracts are complete and new.

A file counts only when its size and modification time are the same as on the
previous tick (a file still being copied waits a tick); a complete file is
identified by the sha256 of its content, so the same content never triggers twice,
renamed or copied. With ``MH_EXTRACT_MODE=all`` the unit is the *set* of complete
files instead (:func:`complete_set`): its digest, over the sorted (file name, sha256)
pairs, is what is remembered, so the same set never triggers twice and a file added
(removed, changed) gives a new set. What the sensor remembers lives in
:class:`LandingCursor`, serialised into the Dagster instance so it survives restarts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from mh_assets.core.registry import combined_digest, find_extracts
from mh_assets.core.storage import sha256_file

EXTRACT_KEY = dg.AssetKey("registry_extract")
DESCRIPTORS_KEY = dg.AssetKey("icd_descriptors")
#: The roots a new extract's run refreshes; every other asset follows by automation.
SENSOR_TARGETS = (EXTRACT_KEY, DESCRIPTORS_KEY)


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    sha256: str | None = None  # set once the file was seen unchanged on two ticks


@dataclass
class LandingCursor:
    """What the sensor remembers between ticks (serialised into the instance)."""

    files: dict[str, FileState] = field(default_factory=dict)
    handled: set[str] = field(default_factory=set)  # content hashes requested or skipped

    def serialize(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "files": {n: [s.size, s.mtime_ns, s.sha256] for n, s in sorted(self.files.items())},
                "handled": sorted(self.handled),
            },
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            files={n: FileState(int(a), int(b), c) for n, (a, b, c) in data["files"].items()},
            handled=set(data["handled"]),
        )


@dataclass(frozen=True)
class ScanResult:
    cursor: LandingCursor
    new: list[tuple[Path, str]]  # complete, never-handled extracts, newest first
    waiting: list[str]  # names seen for the first time or still changing
    complete: list[tuple[Path, str]] = field(default_factory=list)  # every complete file


@dataclass(frozen=True)
class LandingSet:
    """The complete files of the landing zone as one unit (``MH_EXTRACT_MODE=all``)."""

    digest: str  # combined_digest of the (name, sha256) pairs
    paths: list[Path]  # by name


def complete_set(scan: ScanResult) -> LandingSet | None:
    """The set of complete files, or None while any file is still arriving (a run now
    would be superseded a tick later) or when there is none."""
    if scan.waiting or not scan.complete:
        return None
    paths = sorted((path for path, _ in scan.complete), key=lambda p: p.name)
    return LandingSet(combined_digest((p.name, sha) for p, sha in scan.complete), paths)


def scan_landing_zone(
    directory: Path, cursor: LandingCursor, ingested: Iterable[str] = ()
) -> ScanResult:
    """One tick over the landing zone: which complete files carry content not yet handled.

    A file is hashed once, on the first tick that finds its size and modification time
    unchanged; later ticks reuse the hash from the cursor while the file stays the same.
    """
    known = set(cursor.handled) | set(ingested)
    files: dict[str, FileState] = {}
    new: list[tuple[Path, str]] = []
    waiting: list[str] = []
    complete: list[tuple[Path, str]] = []
    for path in find_extracts(directory):  # newest first
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        previous = cursor.files.get(path.name)
        if previous is None or (previous.size, previous.mtime_ns) != (stat.st_size,
                                                                       stat.st_mtime_ns):
            files[path.name] = FileState(stat.st_size, stat.st_mtime_ns)
            waiting.append(path.name)
            continue
        digest = previous.sha256 or sha256_file(path)
        files[path.name] = FileState(stat.st_size, stat.st_mtime_ns, digest)
        complete.append((path, digest))
        if digest not in known and all(digest != sha for _, sha in new):
            new.append((path, digest))
    return ScanResult(LandingCursor(files, set(cursor.handled)), new, waiting, complete)


def ingested_sha256(instance: dg.DagsterInstance) -> set[str]:
    """The data version of the latest ``registry_extract``: the content hash of the file
    it was built from, or the digest of the set of files it combined."""
    record = instance.get_latest_materialization_event(EXTRACT_KEY)
    if record is None or record.asset_materialization is None:
        return set()
    version = (record.asset_materialization.tags or {}).get("dagster/data_version")
    return {version} if version else set()

"""Content digests of a run's outputs: are two runs' artifacts the same bit for bit?

Used to prove that the order of the work does not change the results (both sexes side
by side or one after the other; a run killed with -9 and resumed): every file under
the artifacts root is hashed, except what records *when* or *how fast* a run went --

* the run records (``provenance/<run_id>.json``: named by run id, counted instead),
* the training summaries (seconds, tokens/s) and the report (run ids, build time),
  compared by presence,
* Word and Excel files are hashed by their parts, without ``docProps/core.xml`` (the
  creation time stamped by openpyxl and python-docx) and the zip's member dates.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

from mh_assets.core import layout

#: what is compared by presence only (content varies with time, not with results)
RUN_SPECIFIC = re.compile(rf"(^|/)training_summary\.json$|^{re.escape(layout.REPORT_DIR)}/")
RUN_RECORDS = re.compile(rf"^{re.escape(layout.PROVENANCE)}/")
OFFICE = (".docx", ".xlsx")
OFFICE_STAMP = "docProps/core.xml"


def output_digests(artifacts: Path) -> dict[str, str]:
    """Relative path -> sha256 of the content ("present" for run-specific files); the
    run records as one entry, their count. Hidden staging and training state excluded."""
    out: dict[str, str] = {}
    records = 0
    for path in sorted(p for p in Path(artifacts).rglob("*") if p.is_file()):
        rel = path.relative_to(artifacts).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if RUN_RECORDS.search(rel):
            records += 1
        elif RUN_SPECIFIC.search(rel):
            out[rel] = "present"
        elif path.suffix in OFFICE:
            out[rel] = _office_digest(path)
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    out[f"{layout.PROVENANCE}/*"] = f"{records} run records"
    return out


def differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """The paths whose digests differ, or that only one side has."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _office_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if name != OFFICE_STAMP:
                digest.update(name.encode() + b"\0" + archive.read(name))
    return digest.hexdigest()

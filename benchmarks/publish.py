"""The publish stage (issue 14): cluster_maps and study_report, old way vs new, cold and warm.

    .venv/bin/python benchmarks/publish.py --run /tmp/d1      # a finished `mh-assets demo`

``--run`` is the root of a finished demo run (``artifacts/``, ``extracts/``, ``home/``:
what ``MH_ARTIFACTS_DIR``, ``MH_EXTRACTS_DIR`` and ``DAGSTER_HOME`` pointed at). It is
copied to a temporary folder first and never modified.

Each measurement is a fresh Python process -- as a Dagster step is -- that materializes
``cluster_maps`` and then ``study_report`` in process (``dg.materialize``) against the
copy, and reports each asset's seconds, the process's wall time, and a digest of the
UMAP maps it wrote. *Old* is the code before issue 14, patched back in: umap-learn's own
small-data path (scikit-learn calls its numba cosine once per pair), no numba cache set
up for umap's uncached functions, UMAP from 10 points. The Word report's layout has
changed since issue 14 began (fitted column widths, like the table files), so its old
writer is not patched back: ``study_report`` runs today's code both ways.
*Cold* is a fresh ``NUMBA_CACHE_DIR`` (a new venv or machine; it also makes pynndescent
compile on import), *warm* the same folder again (every later run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ASSETS = ("cluster_maps", "study_report")
VARIANTS = ("old", "new")


def _old_umap(matrix, seed):
    """cluster_maps' UMAP before issue 14 (maps._umap)."""
    import umap

    from mh_assets.core.clustering.projection import UMAP_EPOCHS

    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(matrix) - 1), metric="cosine",
                        random_state=seed, n_jobs=1, n_epochs=UMAP_EPOCHS)
    return reducer.fit_transform(matrix)


def _use_old_code() -> None:
    from mh_assets.core.clustering import projection

    projection.UMAP_MIN_POINTS = 10  # UMAP of 10 points and up (3-9: UMAP too, init random)
    projection.umap_layout = _old_umap


def child(variant: str) -> None:
    """One measured process: materialize ASSETS in order, print a JSON line."""
    import warnings

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    import dagster as dg

    from mh_assets.defs import cluster_outputs, report
    from mh_assets.defs.resources import Platform
    from mh_assets.settings import Settings

    if variant == "old":
        _use_old_code()
    definitions = {"cluster_maps": cluster_outputs.cluster_maps,
                   "study_report": report.study_report}
    settings = Settings.from_env()
    seconds = {"imports": time.perf_counter() - started}
    with dg.DagsterInstance.get() as instance:
        for asset in ASSETS:
            t = time.perf_counter()
            result = dg.materialize([definitions[asset]], instance=instance,
                                    resources={"platform": Platform(settings)})
            assert result.success, asset
            seconds[asset] = time.perf_counter() - t
    figures = settings.artifacts_dir / "figures"
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16]
              for p in sorted(figures.glob("embedding_map_*.png"))}
    print(json.dumps({"seconds": seconds, "maps": digest}))


def measure(variant: str, cache: Path, env: dict[str, str]) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", variant], check=True,
                         capture_output=True, text=True,
                         env={**env, "NUMBA_CACHE_DIR": str(cache)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["seconds"]["process"] = time.perf_counter() - t
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="root of a finished demo run")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if args.run is None or not (args.run / "artifacts" / "figures").is_dir():
        parser.error("--run: the root of a finished demo run (artifacts/, extracts/, home/)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="mh-publish-bench-") as tmp:
        work = Path(tmp) / "run"
        shutil.copytree(args.run, work, symlinks=True)
        env = {**os.environ, "MH_ARTIFACTS_DIR": str(work / "artifacts"),
               "MH_EXTRACTS_DIR": str(work / "extracts"), "DAGSTER_HOME": str(work / "home")}
        results = {}
        for variant in VARIANTS:
            cache = Path(tmp) / f"numba-{variant}"
            for state in ("cold", "warm"):
                results[variant, state] = measure(variant, cache, env)
                s = results[variant, state]["seconds"]
                print(f"{variant:6s} {state}: " + ", ".join(
                    f"{k} {v:.1f} s" for k, v in s.items()), flush=True)
    print(f"\n{'':24s}" + "".join(f"{v:>9s}" for v in VARIANTS) + f"{'old/new':>9s}")
    for state in ("cold", "warm"):
        for key in (*ASSETS, "process"):
            row = {v: results[v, state]["seconds"][key] for v in VARIANTS}
            print(f"{key + ' (' + state + ')':24s}"
                  + "".join(f"{row[v]:8.1f}s" for v in VARIANTS)
                  + f"{row['old'] / row['new']:8.1f}x")
    maps = {v: results[v, "warm"]["maps"] for v in VARIANTS}
    print("\nmap PNG identical old vs new: " + ", ".join(
        f"{name.removesuffix('.png')} {maps['old'].get(name) == digest}"
        for name, digest in sorted(maps["new"].items())))


if __name__ == "__main__":
    main()

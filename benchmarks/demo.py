"""The whole demo graph, the sequential way against the platform's way, same inputs.

Both ways run ``mh-assets run`` as a user does, each into a fresh landing zone,
artifacts folder and Dagster instance, on the same synthetic extract (the demo's:
5,000 patients, seed 2025):

* sequential: ``MH_PARTITION_PROCESSES=1`` -- the sex partitions one after the other
  in the command's process (how the platform ran before);
* platform: the default -- both partitions side by side, one process each, pinned to
  half the cores.

Prints wall seconds per stage and in all, their ratio, the peak memory of the largest
process, and whether the outputs are the same bit for bit (every file under the
artifacts, except the records of time itself: :mod:`mh_assets.ops.digests`).

    .venv/bin/python benchmarks/demo.py              # ~5 min on 2 cores
    .venv/bin/python benchmarks/demo.py --patients 1200 --keep /tmp/demo-bench
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract
from mh_assets.ops.digests import differing, output_digests

ROOT = Path(__file__).resolve().parents[1]
WAYS = {"sequential": {"MH_PARTITION_PROCESSES": "1"}, "platform": {}}
STAGE_LINE = re.compile(r"^<== (?P<stages>.+): (?P<seconds>[\d.]+) s")


def run_way(name: str, root: Path, landing: Path, env_extra: dict[str, str]) -> dict:
    """``mh-assets run`` into ``root``; wall seconds per stage and in all."""
    for sub in ("artifacts", "home"):
        (root / sub).mkdir(parents=True)
    shutil.copytree(landing, root / "extracts")  # the extract and its ground truth
    env = {**os.environ, "MH_EXTRACTS_DIR": str(root / "extracts"),
           "MH_ARTIFACTS_DIR": str(root / "artifacts"), "DAGSTER_HOME": str(root / "home"),
           "MH_PRESET": "demo", **env_extra}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("mh-assets")), "run"], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (root / "console.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"{name}: mh-assets run failed (exit {proc.returncode}); see "
                 f"{root / 'console.log'}")
    stages = {}
    for line in proc.stdout.splitlines():
        if match := STAGE_LINE.match(line):
            label = "per sex" if "partition" in match["stages"] else match["stages"]
            stages[label] = float(match["seconds"])
    return {"wall": wall, "stages": stages,
            "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "peak_rss_mib": after.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--keep", type=Path, help="keep both runs' folders here")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="mh-demo-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    write_synthetic_extract(SyntheticSpec(patients=args.patients, seed=args.seed),
                            base / "landing")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start; "
          f"{args.patients:,} synthetic patients")
    results = {}
    for name, env_extra in WAYS.items():
        results[name] = run_way(name, base / name, base / "landing", env_extra)
        print(f"  {name:<10} {results[name]['wall']:6.1f} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end\n")

    seq, plat = results["sequential"], results["platform"]
    print(f"{'stage':<12}{'sequential':>12}{'platform':>12}{'ratio':>9}")
    for stage in seq["stages"]:
        a, b = seq["stages"][stage], plat["stages"].get(stage, float("nan"))
        print(f"{stage:<12}{a:>11.1f}s{b:>11.1f}s{a / b:>8.2f}x")
    print(f"{'whole run':<12}{seq['wall']:>11.1f}s{plat['wall']:>11.1f}s"
          f"{seq['wall'] / plat['wall']:>8.2f}x")
    print(f"{'CPU seconds':<12}{seq['cpu']:>12.0f}{plat['cpu']:>12.0f}")
    print(f"{'peak RSS':<12}{seq['peak_rss_mib']:>9.0f}MiB{plat['peak_rss_mib']:>9.0f}MiB"
          "   (largest single process)")

    a = output_digests(base / "sequential" / "artifacts")
    b = output_digests(base / "platform" / "artifacts")
    differ = differing(a, b)
    compared = sum(1 for v in a.values() if v != "present") - 1  # less the run records
    if differ:
        print(f"\noutputs DIFFER in {len(differ)} of {len(a)} files:")
        for rel in differ:
            print(f"  {rel}")
    else:
        print(f"\noutputs identical: {compared} files bit for bit (Word/Excel by content), "
              f"{len(a) - compared - 1} time-stamped files (training summaries, report) "
              f"present in both, {a[next(k for k in a if k.endswith('/*'))]} each")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()

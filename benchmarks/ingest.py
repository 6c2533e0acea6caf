"""Ingest at scale as a user runs it: the study's pandas loop against ``dagster asset materialize``.

Target (issue 14): a 1,000,000-row extract with English headers through
``registry_extract -> cohort -> descriptor_corpus`` (both sexes) with the Dagster CLI
at least 3x faster than the study's own code on the same file, and under 30 s.

The extract is generated once into a temporary landing zone (what ``mh-assets synth
--patients N --headers en --out DIR`` writes), then measured side by side:

(a) **the study's way**, in its own ``python`` process as its script ran
    (``04-00-llm_cluster_co-occ_sep_sex.py`` of the published code): ``pandas.read_csv``
    of the whole file, a split by ``Sex`` (1 / 2), and per sex the descriptor file read
    into a dict and one text per patient built in a Python loop over
    ``DataFrame.iterrows()``: each diagnosis field's code *as written* (dotted,
    ``F12.10``) looked up in the dict of the CMS descriptor file (undotted keys,
    ``F1210``), ``"NOCODE"`` when missing, joined with spaces. The lookup keeps the
    study's bug (most codes miss); it does not change the loop's cost.
(b) **the platform's way**, the minimal CLI invocations a user makes on a fresh
    instance (``DAGSTER_HOME`` holding ``deploy/dagster.yaml``, ``MH_EXTRACTS_DIR`` and
    ``MH_ARTIFACTS_DIR`` in the temporary directory)::

        dagster asset materialize -m mh_assets.definitions \\
            --select registry_extract,cohort,excluded_records,icd_descriptors,descriptor_corpus \\
            --partition female
        dagster asset materialize -m mh_assets.definitions \\
            --select descriptor_corpus --partition male

    (``--invocations 3``: ``registry_extract,cohort,excluded_records,icd_descriptors``
    first, then ``descriptor_corpus`` per sex; the issue's layout.)

Every invocation's wall time is printed, then the Dagster event log of its run is read
back to say where the time went: the CLI before the run exists (imports, code
location, job), each step's worker start (subprocess, imports, code location, resources)
and compute (``STEP_START`` -> ``STEP_SUCCESS``), and the CLI after the run ends.

    .venv/bin/python benchmarks/ingest.py                       # 1,000,000 rows
    .venv/bin/python benchmarks/ingest.py --patients 20000 --skip-study   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
UPSTREAM = "registry_extract,cohort,excluded_records,icd_descriptors"

# The study's descriptor dict and corpus loop, re-expressed (its script also tokenises
# and trains; only the reading and text building are timed here).
STUDY = textwrap.dedent('''
    import json, sys, time
    started = time.perf_counter()
    import pandas as pd
    extract, desc_file = sys.argv[1], sys.argv[2]
    timings = {"import pandas": time.perf_counter() - started}

    def load_code_descriptors(path):
        code2desc = {}
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                parts = line.strip().split(None, 1)
                if len(parts) == 2:
                    code2desc[parts[0].strip()] = parts[1].strip()
        return code2desc

    def texts_for(df, desc_file):
        df = df.reset_index(drop=True)
        code2desc = load_code_descriptors(desc_file)
        diag_cols = ["PrincipalDiagnosis"] + [f"Diagnosis{i}" for i in range(2, 21)
                                               if f"Diagnosis{i}" in df.columns]
        texts = []
        for _, row in df.iterrows():
            codes = []
            for col in diag_cols:
                if pd.notna(row.get(col, None)):
                    code = str(row[col]).strip()
                    if code:
                        codes.append(code)
            descriptors = [code2desc.get(code, "NOCODE") for code in codes] or ["NOCODE"]
            texts.append(" ".join(descriptors))
        return texts

    t0 = time.perf_counter()
    df_full = pd.read_csv(extract, low_memory=True)
    df_full["ID"] = df_full.index + 1
    timings["read_csv"] = time.perf_counter() - t0
    patients, nocode = 0, 0
    for name, code in (("male", 1), ("female", 2)):
        t0 = time.perf_counter()
        subset = df_full[df_full["Sex"] == code].copy()
        texts = texts_for(subset, desc_file)
        timings[f"corpus loop {name}"] = time.perf_counter() - t0
        patients += len(texts)
        nocode += sum(text.count("NOCODE") for text in texts)
    print(json.dumps({"timings": timings, "patients": patients, "nocode": nocode}))
''')


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def generate(patients: int, seed: int, extracts: Path) -> Path:
    from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract

    spec = SyntheticSpec(patients=patients, seed=seed, header_language="en")
    return write_synthetic_extract(spec, extracts).extract_path


def descriptor_file(path: Path) -> Path:
    """The packaged ICD-10-CM table in the CMS layout the study read (code, spaces, text)."""
    import polars as pl

    from mh_assets.core import icd

    frame = icd.load_descriptors().frame
    lines = frame.select(pl.format("{}    {}", "code", "descriptor")).to_series()
    path.write_text("\n".join(lines.to_list()) + "\n", encoding="utf-8")
    return path


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far: the work an
    invocation did, whatever else the machine was running."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_study(extract: Path, descriptors: Path) -> dict:
    started, cpu = time.perf_counter(), children_cpu()
    out = subprocess.run([sys.executable, "-c", STUDY, str(extract), str(descriptors)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    result["cpu"] = children_cpu() - cpu
    return result


def invocations(layout: int) -> list[tuple[str, str]]:
    if layout == 3:
        return [(UPSTREAM, ""), ("descriptor_corpus", "female"), ("descriptor_corpus", "male")]
    return [(f"{UPSTREAM},descriptor_corpus", "female"), ("descriptor_corpus", "male")]


def run_platform(root: Path, layout: int, log_dir: Path) -> list[dict]:
    home = root / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MH_EXTRACTS_DIR": str(root / "extracts"),
           "MH_ARTIFACTS_DIR": str(root / "artifacts")}
    env.pop("MH_PRESET", None)
    done = []
    for number, (select, partition) in enumerate(invocations(layout), start=1):
        command = [str(DAGSTER), "asset", "materialize", "-m", "mh_assets.definitions",
                   "--select", select] + (["--partition", partition] if partition else [])
        log = log_dir / f"invocation_{number}.log"
        started_at, started, cpu = time.time(), time.perf_counter(), children_cpu()
        with log.open("w") as handle:
            code = subprocess.run(command, env=env, cwd=PROJECT_ROOT, stdout=handle,
                                  stderr=subprocess.STDOUT).returncode
        wall, cpu = time.perf_counter() - started, children_cpu() - cpu
        if code:
            sys.exit(f"invocation {number} failed (exit {code}); see {log}")
        done.append({"select": select, "partition": partition, "wall": wall, "cpu": cpu,
                     "started_at": started_at, "ended_at": started_at + wall})
    attribute(home, done)
    return done


def attribute(home: Path, done: list[dict]) -> None:
    """Read each run's event log: CLI before/after the run, step worker starts, computes."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp.timestamp())
        for item, record in zip(done, runs, strict=True):
            events = [e for e in instance.all_logs(record.dagster_run.run_id)
                      if e.dagster_event is not None]
            stamp = {}
            steps: dict[str, dict[str, float]] = {}
            for entry in events:
                kind = entry.dagster_event.event_type.name  # RUN_START, STEP_START, ...
                stamp.setdefault(kind, entry.timestamp)
                step = entry.step_key
                if step and kind in ("STEP_WORKER_STARTING", "STEP_START", "STEP_SUCCESS"):
                    steps.setdefault(step, {})[kind] = entry.timestamp
            created = record.create_timestamp.timestamp()
            end = stamp.get("RUN_SUCCESS", item["ended_at"])
            item["cli_before_run"] = created - item["started_at"]
            item["run_start"] = stamp.get("RUN_START", created) - created
            item["run"] = end - stamp.get("RUN_START", created)
            item["cli_after_run"] = item["ended_at"] - end
            item["steps"] = {
                step: {"worker_start": s["STEP_START"] - s.get("STEP_WORKER_STARTING",
                                                               s["STEP_START"]),
                       "compute": s.get("STEP_SUCCESS", s["STEP_START"]) - s["STEP_START"]}
                for step, s in steps.items() if "STEP_START" in s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--invocations", type=int, choices=(2, 3), default=2,
                        help="2: upstream + female corpus, then male; 3: upstream, then each sex")
    parser.add_argument("--skip-study", action="store_true", help="time the platform only")
    parser.add_argument("--keep", type=Path, default=None,
                        help="use this directory (kept afterwards) instead of a temporary one")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mh-ingest-") as tmp:
        root = args.keep or Path(tmp)
        if args.keep:
            shutil.rmtree(root, ignore_errors=True)
        (root / "logs").mkdir(parents=True)
        print(f"cores: {os.cpu_count()}; load average at the start {load_average()}")
        t0 = time.perf_counter()
        extract = generate(args.patients, args.seed, root / "extracts")
        print(f"generate   {time.perf_counter() - t0:7.2f} s  ({args.patients:,} rows, "
              f"{extract.stat().st_size / 1e6:.0f} MB, English headers)  [not timed]")
        descriptors = descriptor_file(root / "icd10cm-codes.txt")

        figures: dict = {"patients": args.patients, "load_start": load_average()}
        if not args.skip_study:
            study = run_study(extract, descriptors)
            figures["study"] = study
            print(f"\n(a) the study's way (pandas + iterrows), one process: {study['wall']:.2f} s "
                  f"wall, {study['cpu']:.2f} CPU s; {study['patients']:,} texts, "
                  f"{study['nocode']:,} NOCODE descriptors")
            for step, seconds in study["timings"].items():
                print(f"    {step:<22} {seconds:7.2f} s")
            print(f"    load average now {load_average()}")

        runs = run_platform(root, args.invocations, root / "logs")
        figures["platform"] = runs
        total = sum(r["wall"] for r in runs)
        print(f"\n(b) the platform's way, {len(runs)} `dagster asset materialize` invocations: "
              f"{total:.2f} s wall, {sum(r['cpu'] for r in runs):.2f} CPU s (all processes)")
        for number, item in enumerate(runs, start=1):
            what = item["select"] + (f" --partition {item['partition']}"
                                     if item["partition"] else "")
            print(f"  [{number}] {item['wall']:7.2f} s wall {item['cpu']:7.2f} CPU s  {what}")
            print(f"      CLI until the run exists {item['cli_before_run']:6.2f} s | run "
                  f"{item['run_start'] + item['run']:6.2f} s | CLI after the run "
                  f"{item['cli_after_run']:6.2f} s")
            for step, s in item["steps"].items():
                print(f"      {step:<34} worker start {s['worker_start']:6.2f} s  "
                      f"compute {s['compute']:6.2f} s")
        print(f"    load average now {load_average()}")
        figures["platform_wall"] = total
        figures["load_end"] = load_average()
        if not args.skip_study:
            ratio = figures["study"]["wall"] / total
            figures["ratio"] = ratio
            print(f"\nstudy / platform = {figures['study']['wall']:.2f} / {total:.2f} = "
                  f"{ratio:.2f}x  (target >= 3x: {'met' if ratio >= 3 else 'NOT met'}); "
                  f"platform under 30 s: {'met' if total < 30 else 'NOT met'}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

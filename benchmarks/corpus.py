"""Extract parsing + cohort selection + corpus building on a large synthetic extract.

Target (issue 2): 1,000,000 rows parsed and turned into both sexes' descriptor
corpora in under 30 seconds on 2 cores. Prints each stage's seconds and rows/second.

    .venv/bin/python benchmarks/corpus.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mh_assets.core import corpus, icd, registry
from mh_assets.core.cohort import select_cohort
from mh_assets.core.schema import SEXES
from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract
from mh_assets.settings import CohortRules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        extract = write_synthetic_extract(
            SyntheticSpec(patients=args.rows, seed=args.seed), Path(tmp)
        ).extract_path
        print(f"generate   {time.perf_counter() - started:7.2f} s  ({args.rows:,} rows, "
              f"{extract.stat().st_size / 1e6:.0f} MB)  [not part of the target]")
        table = icd.load_descriptors()  # cached reference data, loaded once per process

        timings = {}
        t0 = time.perf_counter()
        frame, info = registry.read_extract(extract)
        timings["parse"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        selection = select_cohort(frame, CohortRules(), id_key=info.sha256)
        timings["cohort"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        patients = 0
        for sex in SEXES:
            built = corpus.build_corpus(selection.cohort, table, sex)
            corpus.coverage(built)
            patients += built.height
        timings["corpus"] = time.perf_counter() - t0

    total = sum(timings.values())
    for stage, seconds in timings.items():
        print(f"{stage:<10} {seconds:7.2f} s  {args.rows / seconds:12,.0f} rows/s")
    print(f"{'total':<10} {total:7.2f} s  {args.rows / total:12,.0f} rows/s  "
          f"({patients:,} patients in corpora; target < 30 s on 2 cores: "
          f"{'met' if total < 30 else 'NOT met'})")
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()

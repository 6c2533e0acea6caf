"""The validity study: does the pipeline find planted subtypes, and only those?

For each synthetic scenario (``subtypes``: planted subtypes; ``confounded``: the same
subtypes plus a latent complexity that drives code counts and outcomes; ``null``: no
subtypes at all), each seed and each sex, this runs the platform's own core functions
end to end -- the demo transformer chain (masked LM, contrastive fine-tuning,
embeddings), k selection, K-Means, stability, the confounder audit beside the multi-hot
baseline, the clusterability test against degree-preserving nulls and the verdict --
and prints, per run:

* k chosen, ARI against the planted subtypes at the chosen k and at the planted k;
* eta^2(n_codes | clusters) against eta^2(n_codes | planted subtypes);
* the multi-hot baseline's ARI; the verdict and the audit; seconds.

    python benchmarks/validity.py                                  # 3 scenarios x 3 seeds
    python benchmarks/validity.py --scenarios confounded --seeds 1 --augmentation code_set
    python benchmarks/validity.py --json validity.json

Training overrides (``--augmentation``, ``--min-kept-share``, ``--epochs`` for the
contrastive stage, ``--mlm-epochs``) are how the representation and demo-preset
experiments in ``benchmarks/README.md`` were run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from mh_assets.core import schema
from mh_assets.core.clustering import (
    ClusterConfig,
    cluster_stability,
    confounder_audit,
    eta_squared,
    fit_clusters,
    select_k,
)
from mh_assets.core.clustering.baselines import multi_hot_clusters
from mh_assets.core.clustering.null import clusterability, multi_hot_features, tfidf_features
from mh_assets.core.clustering.verdict import subtype_verdict
from mh_assets.core.modelling import preset_config
from mh_assets.core.synthetic import SCENARIOS, SyntheticSpec
from mh_assets.core.synthetic.cohorts import synthetic_corpora

PLANTED_K = 5


def run_one(corpus, truth, sex: str, training, clustering: ClusterConfig, workdir: Path,
            log) -> dict:
    from mh_assets.core.modelling.contrastive import train_contrastive
    from mh_assets.core.modelling.embed import TextEmbedder
    from mh_assets.core.modelling.mlm import train_mlm

    started = time.perf_counter()
    texts = corpus[schema.TEXT].to_list()
    train_mlm(texts, training, workdir / "mlm", workdir / "state-mlm", log=lambda _m: None)
    train_contrastive(corpus, workdir / "mlm", training, workdir / "contrastive",
                      workdir / "state-contrastive", log=lambda _m: None)
    embed = TextEmbedder(workdir / "contrastive", training)
    X = embed(texts)
    trained = time.perf_counter()
    selection = select_k(X, clustering)
    fit = fit_clusters(X, selection.chosen_k, sex, clustering)
    stability = cluster_stability(X, fit.labels, fit.names, clustering)
    baseline = multi_hot_clusters(corpus, selection.chosen_k, clustering)
    audit = confounder_audit(corpus, fit.labels, clustering, baseline)
    null = clusterability(corpus, {
        "transformer": lambda c: embed(c[schema.TEXT].to_list()),
        "multi-hot categories": multi_hot_features(clustering),
        "tfidf-svd": tfidf_features(clustering),
    }, clustering)
    verdict = subtype_verdict(
        null.row("transformer"),
        dict(zip(stability.table[schema.CLUSTER_LABEL], stability.table["mean_jaccard"])),
        audit.warn, clustering)
    n_codes = corpus[schema.N_CODES].to_numpy()
    row = {
        "k": selection.chosen_k, "at_edge": selection.at_edge, "verdict": verdict.level,
        "audit_warn": audit.warn, "eta2_n_codes": audit.value(schema.N_CODES),
        "baseline_eta2_n_codes": audit.value(schema.N_CODES, "baseline_eta_squared"),
        "least_stable": verdict.numbers["least_stable_cluster_jaccard"],
        "silhouette_z": verdict.numbers["silhouette_z"],
        "stability_z": verdict.numbers["stability_z"],
        "multi_hot_beats_null": null.beats_null("multi-hot categories"),
        "train_s": round(trained - started, 1),
        "cluster_s": round(time.perf_counter() - trained, 1),
    }
    planted = truth["subtype"]
    if planted.null_count() < len(planted):
        codes = planted.fill_null("none").to_numpy()
        at_planted = fit_clusters(X, PLANTED_K, sex, clustering).labels
        row |= {
            "ari": adjusted_rand_score(codes, fit.labels),
            "ari_planted_k": adjusted_rand_score(codes, at_planted),
            "eta2_planted_k": eta_squared(at_planted, n_codes),
            "baseline_ari": adjusted_rand_score(
                codes, multi_hot_clusters(corpus, PLANTED_K, clustering)),
            "eta2_truth": eta_squared(np.unique(codes, return_inverse=True)[1], n_codes),
        }
    log(f"  {sex}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
    return row


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--augmentation", default=None)
    parser.add_argument("--min-kept-share", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="contrastive epochs")
    parser.add_argument("--mlm-epochs", type=int, default=None)
    parser.add_argument("--null-cohorts", type=int, default=None)
    parser.add_argument("--null-sample-size", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("augmentation", args.augmentation),
                                    ("min_kept_share", args.min_kept_share),
                                    ("contrastive_epochs", args.epochs),
                                    ("mlm_epochs", args.mlm_epochs)) if v is not None}
    results = []
    for scenario in args.scenarios:
        for seed in args.seeds:
            print(f"{scenario}, seed {seed} ({args.patients} rows)", flush=True)
            corpora = synthetic_corpora(SyntheticSpec(patients=args.patients, seed=seed,
                                                      scenario=scenario))
            training = preset_config(args.preset, seed=seed, **overrides)
            clustering = ClusterConfig(seed=seed)
            if args.null_cohorts:
                clustering = replace(clustering, null_cohorts=args.null_cohorts)
            if args.null_sample_size:
                clustering = replace(clustering, null_sample_size=args.null_sample_size)
            for sex, item in corpora.items():
                with tempfile.TemporaryDirectory() as workdir:
                    row = run_one(item.corpus, item.truth, sex, training, clustering,
                                  Path(workdir), lambda m: print(m, flush=True))
                results.append({"scenario": scenario, "seed": seed, "sex": sex,
                                "patients": item.corpus.height, **row})
    _summary(results)
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)},
                                         "results": results}, indent=2, default=str))
    return 0


def _summary(results: list[dict]) -> None:
    print("\nscenario    sex     seeds  ARI (chosen k)  ARI (k=5)  eta2 clusters / truth  "
          "verdicts")
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        for sex in schema.SEXES:
            rows = [r for r in results if r["scenario"] == scenario and r["sex"] == sex]
            if not rows:
                continue

            def span(key: str) -> str:
                values = [r[key] for r in rows if key in r]
                return f"{min(values):.2f}-{max(values):.2f}" if values else "-"

            verdicts = ", ".join(r["verdict"] for r in rows)
            print(f"{scenario:<11} {sex:<7} {len(rows):>5}  {span('ari'):>14}  "
                  f"{span('ari_planted_k'):>9}  {span('eta2_n_codes'):>9} / "
                  f"{span('eta2_truth'):<9}  {verdicts}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Which representation earns its keep: the held-out evaluation, timed and checked.

On one synthetic scenario (default ``confounded``, 5,000 rows: about 2,500 patients per
sex), per sex, this

1. times the descriptor chain as ``MH_PRESET=descriptors`` runs it: load the packaged
   MiniLM, embed each distinct descriptor once, IPF-weighted means (target < 30 s);
2. trains the demo transformer (masked LM + contrastive) as the validity benchmark does;
3. runs the platform's evaluation -- 5 representations (transformer, descriptors,
   multi-hot, TF-IDF-SVD, n_codes only) x 9 tasks, 5-fold CV logistic regression,
   1,000 bootstrap resamples -- and times it (target < 60 s);
4. runs the naive way side by side on the same inputs for one representation (the
   descriptors, the slowest to fit): lbfgs logistic regression and a Python loop of
   1,000 ``roc_auc_score`` bootstrap resamples, and prints the ratio;
5. prints the AUROCs of the planted anchor blocks and the masked-diagnosis ranking
   (the synthetic check: every representation > 0.6 on an anchor block; a code-count
   representation last).

    python benchmarks/representations.py
    python benchmarks/representations.py --scenario subtypes --seed 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.null import multi_hot_features, tfidf_features
from mh_assets.core.evaluation import ScoringConfig, evaluate_representations
from mh_assets.core.evaluation.tasks import BLOCKS, MASKED, block_task, mask_block, outcome_tasks
from mh_assets.core.modelling import preset_config
from mh_assets.core.synthetic import SCENARIOS, SyntheticSpec
from mh_assets.core.synthetic.cohorts import synthetic_corpora

ANCHORS = ("psychotic disorders (F20-F29)", "personality disorders (F60)")


def descriptor_chain(corpus: pl.DataFrame) -> tuple[object, float]:
    """The descriptors preset's embedding step, from a cold model load."""
    from mh_assets.core.modelling.descriptors import DescriptorEncoder

    started = time.perf_counter()
    encoder = DescriptorEncoder(threads=2)
    encoder(corpus)
    return encoder, time.perf_counter() - started


def train_transformer(corpus: pl.DataFrame, workdir: Path):
    from mh_assets.core.modelling.contrastive import train_contrastive
    from mh_assets.core.modelling.embed import TextEmbedder
    from mh_assets.core.modelling.mlm import train_mlm

    config = preset_config("demo")
    texts = corpus[schema.TEXT].to_list()
    train_mlm(texts, config, workdir / "mlm", workdir / "s-mlm")
    train_contrastive(corpus, workdir / "mlm", config, workdir / "contrastive", workdir / "s-c")
    embed = TextEmbedder(workdir / "contrastive", config)
    return lambda c: embed(c[schema.TEXT].to_list())


def naive_scores(corpus: pl.DataFrame, build, config: ScoringConfig) -> list[float]:
    """The straightforward way: lbfgs, and a Python loop of bootstrap AUROCs."""
    rng = np.random.default_rng(config.seed)
    tasks = outcome_tasks(corpus) + [block_task(corpus, b) for b in BLOCKS]
    out = []
    for task in tasks:
        X = build(mask_block(corpus, task.block) if task.block else corpus)
        keep = ~np.isnan(task.target)
        X, y = np.asarray(X)[keep], task.target[keep].astype(int)
        if min(y.sum(), len(y) - y.sum()) < config.min_class:
            continue
        p = np.empty(len(y))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=config.seed).split(X, y):
            scaler = StandardScaler().fit(X[train])
            model = LogisticRegression(max_iter=config.max_iter).fit(scaler.transform(X[train]),
                                                                     y[train])
            p[test] = model.predict_proba(scaler.transform(X[test]))[:, 1]
        boots = []
        for _ in range(config.bootstrap):
            idx = rng.integers(0, len(y), len(y))
            if 0 < y[idx].sum() < len(y):
                boots.append(roc_auc_score(y[idx], p[idx]))
        out.append(float(np.percentile(boots, 2.5)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="confounded")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--sexes", nargs="+", default=list(schema.SEXES))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    corpora = synthetic_corpora(SyntheticSpec(patients=args.patients, seed=args.seed,
                                              scenario=args.scenario))
    config, clustering = ScoringConfig(seed=args.seed, threads=2), ClusterConfig()
    results = {}
    for sex in args.sexes:
        corpus = corpora[sex].corpus
        print(f"== {args.scenario}, seed {args.seed}, {sex}: {corpus.height} patients")
        encoder, chain_s = descriptor_chain(corpus)
        print(f"descriptor chain (model load + encode + IPF means): {chain_s:.1f} s")
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            transformer = train_transformer(corpus, Path(scratch))
            train_s = time.perf_counter() - started
            representations = {"transformer": transformer, "descriptors": encoder,
                               "multi-hot categories": multi_hot_features(clustering),
                               "tfidf-svd": tfidf_features(clustering)}
            started = time.perf_counter()
            evaluation = evaluate_representations(corpus, representations, config)
            platform_s = time.perf_counter() - started
        started = time.perf_counter()
        evaluate_representations(corpus, {"descriptors": encoder}, config)
        platform_one_s = time.perf_counter() - started
        started = time.perf_counter()
        naive_scores(corpus, encoder, config)
        naive_s = time.perf_counter() - started
        masked = evaluation.mean_auroc((MASKED,))
        anchors = (evaluation.table.filter(pl.col("task").is_in(ANCHORS))
                   .pivot("representation", index="task", values="auroc"))
        ranking = sorted(masked, key=lambda n: -masked[n])
        print(f"transformer training (not part of the evaluation): {train_s:.1f} s")
        print(f"evaluation, 5 representations x {evaluation.table['task'].n_unique()} tasks: "
              f"{platform_s:.1f} s " + str({k: round(v, 1) for k, v in evaluation.seconds.items()}))
        print(f"descriptors alone: platform {platform_one_s:.1f} s, naive (lbfgs, looped "
              f"bootstrap) {naive_s:.1f} s, ratio {naive_s / platform_one_s:.1f}x")
        print("anchor blocks, AUROC:", anchors.to_dicts())
        print("masked-diagnosis mean AUROC, best first:",
              [(n, round(masked[n], 3)) for n in ranking])
        print("R2 of n_codes:", {r[0]: round(r[1], 3) for r in evaluation.r2.iter_rows()})
        results[sex] = {
            "patients": corpus.height, "descriptor_chain_s": round(chain_s, 1),
            "train_s": round(train_s, 1), "evaluation_s": round(platform_s, 1),
            "descriptors_platform_s": round(platform_one_s, 1),
            "descriptors_naive_s": round(naive_s, 1),
            "anchors": anchors.to_dicts(), "masked_ranking": ranking,
            "masked_mean": masked, "table": evaluation.table.to_dicts(),
        }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Every representation on every task: the held-out evaluation of one partition.

Each representation is built once on the corpus (outcomes, and the R^2 of code count)
and once per masked block on the corpus without that block's codes -- the trained
transformer re-embeds the masked texts with its checkpoint, nothing is retrained. The
``n_codes only`` reference row goes through the same tasks, so every AUROC can be read
against what code count alone predicts. A block with fewer than ``min_class`` patients
with or without it is reported as too rare, and nothing is built for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from mh_assets.core import schema
from mh_assets.core.clustering.geometry import Matrix
from mh_assets.core.clustering.null import Representation
from mh_assets.core.evaluation.scoring import (
    OutcomeScore,
    ScoringConfig,
    out_of_fold_r2,
    score_outcome,
    too_rare,
)
from mh_assets.core.evaluation.tasks import (
    BLOCKS,
    DERIVED,
    INDEPENDENT,
    MASKED,
    Task,
    block_task,
    mask_block,
    outcome_tasks,
)
from mh_assets.core.representations import N_CODES_ONLY, n_codes_features

TOO_RARE = "too rare"
SCORED = "scored"
TABLE_SCHEMA = {
    "representation": pl.Utf8, "group": pl.Utf8, "task": pl.Utf8, "n": pl.Int32,
    "prevalence": pl.Float64, "auroc": pl.Float64, "ci_low": pl.Float64,
    "ci_high": pl.Float64, "status": pl.Utf8,
}


@dataclass(frozen=True)
class Evaluation:
    """``table``: one row per (representation, task) -- representation, group, task, n,
    prevalence (null when too rare: it would reveal a small count), auroc, ci_low,
    ci_high, status ("scored" / "too rare"). ``r2``: representation, n_codes_r2.
    ``seconds``: representation -> wall time (features and fits)."""

    table: pl.DataFrame
    r2: pl.DataFrame
    seconds: dict[str, float]

    def mean_auroc(self, groups: tuple[str, ...]) -> dict[str, float | None]:
        """Per representation, the mean AUROC over its scored tasks in ``groups``."""
        means = (self.table.filter(pl.col("group").is_in(groups) & pl.col("auroc").is_not_null())
                 .group_by("representation", maintain_order=True).agg(pl.col("auroc").mean()))
        found = dict(means.iter_rows())
        return {name: found.get(name) for name in self.representations}

    @property
    def representations(self) -> list[str]:
        return self.r2["representation"].to_list()

    def wide(self) -> pl.DataFrame:
        """The comparison as a reader wants it: :func:`comparison_table`."""
        return comparison_table(self.table)


def comparison_table(table: pl.DataFrame) -> pl.DataFrame:
    """Tasks as rows (group, task, n, prevalence), one "AUROC [low, high]" column per
    representation, from an :class:`Evaluation`'s ``table`` (or its CSV read back)."""
    def fixed(column: str) -> pl.Expr:  # "1.00", not "1.0"
        return (pl.col(column).cast(pl.Float64).round(2)
                .cast(pl.Decimal(precision=5, scale=2)).cast(pl.Utf8))

    cell = pl.when(pl.col("status") == SCORED).then(pl.format(
        "{} [{}, {}]", *(fixed(c) for c in ("auroc", "ci_low", "ci_high")))
    ).otherwise(pl.lit(TOO_RARE))
    frame = table.with_columns(cell.alias("cell"))
    first = frame.group_by("group", "task", maintain_order=True).agg(
        pl.col("n").first(), pl.col("prevalence").cast(pl.Float64).first().round(3))
    pivot = frame.pivot("representation", index=["group", "task"], values="cell",
                        maintain_order=True)
    return first.join(pivot, on=["group", "task"], maintain_order="left")


def evaluate_representations(corpus: pl.DataFrame, representations: Mapping[str, Representation],
                             config: ScoringConfig = ScoringConfig(),
                             log: Callable[[str], None] = lambda _msg: None,
                             features: Mapping[str, Matrix] | None = None) -> Evaluation:
    """Score ``representations`` (and the n_codes-only reference, added last) on the five
    outcomes and the masked blocks of ``corpus``. ``features``: a representation's
    matrix of ``corpus`` already at hand (the run's stored embeddings), used instead of
    building it again; the masked corpora are always rebuilt (a per-patient representation
    only for the patients whose text the mask changed: :func:`masked_features`)."""
    reps = {**representations, N_CODES_ONLY: n_codes_features}
    outcomes = outcome_tasks(corpus)
    blocks = [block_task(corpus, block) for block in BLOCKS]
    n_codes = corpus.get_column(schema.N_CODES).cast(pl.Float64).to_numpy()
    rows, r2, seconds = [], [], {name: 0.0 for name in reps}
    for name, build in reps.items():
        started = time.perf_counter()
        X = features[name] if features and name in features else build(corpus)
        r2.append((name, out_of_fold_r2(X, n_codes, config)))
        rows += [_row(name, task, score_outcome(X, task.target, config)) for task in outcomes]
        seconds[name] += time.perf_counter() - started
    for task in blocks:
        if too_rare(task.target, config):
            rows += [_row(name, task, score_outcome(np.zeros((corpus.height, 1)), task.target,
                                                    config)) for name in reps]
            continue
        masked = mask_block(corpus, task.block)
        for name, build in reps.items():
            started = time.perf_counter()
            X = masked_features(build, masked, corpus, (features or {}).get(name))
            rows.append(_row(name, task, score_outcome(X, task.target, config)))
            seconds[name] += time.perf_counter() - started
    for name, spent in seconds.items():
        log(f"representation evaluation, {name}: {spent:.1f} s")
    order = {g: i for i, g in enumerate((INDEPENDENT, DERIVED, MASKED))}
    table = (pl.DataFrame(rows, schema=TABLE_SCHEMA, orient="row")
             .with_columns(pl.col("group").replace_strict(order, return_dtype=pl.Int32)
                           .alias("_g"))
             .sort("_g", maintain_order=True).drop("_g"))
    return Evaluation(table=table,
                      r2=pl.DataFrame(r2, schema={"representation": pl.Utf8,
                                                   "n_codes_r2": pl.Float64}, orient="row"),
                      seconds=seconds)


def masked_features(build: Representation, masked: pl.DataFrame, corpus: pl.DataFrame,
                    known: Matrix | None) -> Matrix:
    """``build(masked)``; for a per-patient representation whose matrix of the unmasked
    ``corpus`` is ``known``, only the rows whose text the mask changed are rebuilt (a
    masked block touches a minority of patients: the transformer re-embedded every
    text four times, ~12 s per sex of the demo)."""
    if known is None or not getattr(build, "per_patient", False):
        return build(masked)
    changed = (masked.get_column(schema.TEXT) != corpus.get_column(schema.TEXT)).to_numpy()
    X = np.array(known, copy=True)
    if changed.any():
        X[changed] = build(masked.filter(pl.Series(changed)))
    return X


def _row(name: str, task: Task, score: OutcomeScore) -> tuple:
    if score.too_rare:
        return (name, task.group, task.name, score.n, None, None, None, None, TOO_RARE)
    return (name, task.group, task.name, score.n, score.prevalence, score.auroc,
            score.ci_low, score.ci_high, SCORED)

"""Which representation earns its keep: representations x criteria, and one plain sentence.

Five criteria, each read in one direction: outcome AUROC (mean over the scored outcomes:
higher is better), masked-diagnosis AUROC (mean over the scored blocks: higher), R^2 of
code count from the representation (how much of it is "how much was coded": lower),
stability (mean bootstrap Jaccard at the run's k: higher) and clusterability (beats the
degree-preserving null: yes is better). The best value per criterion is marked; the
``n_codes only`` reference row is shown for reading the AUROCs against, never marked.

The sentence compares the run's representation with the best of the others and says
plainly when a baseline does as well -- within ``tie`` AUROC (0.01) -- and is more
stable: a baseline that wins is a finding. It also says when no representation predicts
the masked diagnoses better than code count alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from mh_assets.core.evaluation.evaluate import Evaluation
from mh_assets.core.evaluation.tasks import DERIVED, INDEPENDENT, MASKED
from mh_assets.core.representations import N_CODES_ONLY, PROSE

OUTCOME_AUROC, MASKED_AUROC, R2, STABILITY, CLUSTERABLE = (
    "outcome_auroc", "masked_auroc", "n_codes_r2", "stability", "beats_null")
#: criterion -> True when higher is better.
CRITERIA = {OUTCOME_AUROC: True, MASKED_AUROC: True, R2: False, STABILITY: True,
            CLUSTERABLE: True}
TIE = 0.01
R2_MARGIN = 0.05  # "encodes the most code count" only when clearly so
CHANCE = 0.55  # a mean AUROC below this is no prediction at all


@dataclass(frozen=True)
class Recommendation:
    """``table``: representation, the five criteria, and ``best`` (the criteria it is best
    on, comma-separated); ``sentence``: the finding in words; ``run``: the run's
    representation."""

    table: pl.DataFrame
    sentence: str
    run: str

    def as_record(self) -> dict[str, object]:
        return {"run_representation": self.run, "sentence": self.sentence,
                "table": self.table.to_dicts()}


def recommend(evaluation: Evaluation, stability: Mapping[str, float],
              beats_null: Mapping[str, bool], run: str, tie: float = TIE) -> Recommendation:
    """The table and the sentence. ``stability`` and ``beats_null``: per representation
    (missing ones are null); ``run``: the name of the run's representation."""
    outcome = evaluation.mean_auroc((INDEPENDENT, DERIVED))
    masked = evaluation.mean_auroc((MASKED,))
    r2 = dict(evaluation.r2.iter_rows())
    names = evaluation.representations
    table = pl.DataFrame({
        "representation": names,
        OUTCOME_AUROC: [outcome[n] for n in names],
        MASKED_AUROC: [masked[n] for n in names],
        R2: [r2[n] for n in names],
        STABILITY: [stability.get(n) for n in names],
        CLUSTERABLE: [beats_null.get(n) for n in names],
    }, schema={"representation": pl.Utf8, OUTCOME_AUROC: pl.Float64, MASKED_AUROC: pl.Float64,
               R2: pl.Float64, STABILITY: pl.Float64, CLUSTERABLE: pl.Boolean})
    table = table.with_columns(pl.Series("best", _best(table), dtype=pl.Utf8))
    return Recommendation(table=table, sentence=_sentence(table, run, tie), run=run)


def _best(table: pl.DataFrame) -> list[str]:
    """Per row, the criteria on which it has the best value (ties all marked)."""
    candidates = table.filter(pl.col("representation") != N_CODES_ONLY)
    marks: dict[str, list[str]] = {name: [] for name in table["representation"]}
    for criterion, higher in CRITERIA.items():
        values = candidates.select("representation", pl.col(criterion).cast(pl.Float64)
                                   ).drop_nulls()
        if values.height == 0:
            continue
        best = values[criterion].max() if higher else values[criterion].min()
        if criterion == CLUSTERABLE and not best:
            continue  # nobody beats the null: nothing to mark
        for name in values.filter(pl.col(criterion) == best)["representation"]:
            marks[name].append(criterion)
    return [", ".join(marks[name]) for name in table["representation"]]


def _sentence(table: pl.DataFrame, run: str, tie: float) -> str:
    rows = {r["representation"]: r for r in table.iter_rows(named=True)}
    me = rows[run]
    others = [r for n, r in rows.items() if n not in (run, N_CODES_ONLY)]
    mine = _prose(run)
    if me[OUTCOME_AUROC] is None or not others:
        return (f"On this cohort the {mine} could not be compared: too few patients with "
                "each outcome.")
    rival = max(others, key=lambda r: (r[OUTCOME_AUROC] or 0) + (r[MASKED_AUROC] or 0))
    theirs = _prose(rival["representation"])
    steadier = _more(rival, me, STABILITY)
    figures = (f"mean AUROC {_f(rival[OUTCOME_AUROC])} vs {_f(me[OUTCOME_AUROC])} on outcomes, "
               f"{_f(rival[MASKED_AUROC])} vs {_f(me[MASKED_AUROC])} on masked diagnoses")
    if _at_least(rival, me, OUTCOME_AUROC, tie) and _at_least(rival, me, MASKED_AUROC, tie):
        parts = [f"On this cohort the {theirs} predicts outcomes as well as the {mine} "
                 f"({figures})"
                 + (f" and is more stable ({_f(rival[STABILITY])} vs {_f(me[STABILITY])})"
                    if steadier else "")
                 + f"; the {mine} adds nothing here."]
    elif _more(me, rival, OUTCOME_AUROC, tie) and _more(me, rival, MASKED_AUROC, tie):
        parts = [f"On this cohort the {mine} predicts held-out outcomes and masked diagnoses "
                 f"better than the best alternative, the {theirs} "
                 f"({_f(me[OUTCOME_AUROC])} vs {_f(rival[OUTCOME_AUROC])} on outcomes, "
                 f"{_f(me[MASKED_AUROC])} vs {_f(rival[MASKED_AUROC])} on masked diagnoses)"
                 + (f", though the {theirs} is more stable" if steadier else "") + "."]
    else:
        parts = [f"On this cohort neither the {mine} nor the best alternative, the {theirs}, "
                 f"is better on both outcomes and masked diagnoses ({figures})."]
    reference = rows.get(N_CODES_ONLY)
    if reference and reference[MASKED_AUROC] is not None and all(
            not _more(r, reference, MASKED_AUROC, tie) for r in [me, *others]):
        parts.append("No representation predicts the masked diagnoses better than code count "
                     f"alone (AUROC {_f(reference[MASKED_AUROC])}).")
    best_outcome = max((r[OUTCOME_AUROC] for r in rows.values()
                        if r[OUTCOME_AUROC] is not None), default=None)
    if best_outcome is not None and best_outcome < CHANCE:
        parts.append(f"Averaged over the held-out outcomes, no representation predicts them "
                     f"much better than chance (mean AUROC at most {_f(best_outcome)}); "
                     "single outcomes can differ (see the held-out prediction table).")
    elif reference and reference[OUTCOME_AUROC] is not None and _at_least(
            reference, me, OUTCOME_AUROC, tie):
        parts.append(f"Code count alone predicts the outcomes as well "
                     f"(AUROC {_f(reference[OUTCOME_AUROC])}).")
    if me[R2] is not None and all(me[R2] > (r[R2] or 0) + R2_MARGIN for r in others):
        parts.append(f"The {mine} encodes the most code count of all (R² {_f(me[R2])}).")
    return " ".join(parts)


def _prose(name: str) -> str:
    return PROSE.get(name, name)


def _at_least(a: dict, b: dict, key: str, tie: float) -> bool:
    """a is at least as good as b on ``key`` (within ``tie``); unknown counts as equal."""
    if a[key] is None or b[key] is None:
        return True
    return a[key] >= b[key] - tie


def _more(a: dict, b: dict, key: str, tie: float = 0.0) -> bool:
    return a[key] is not None and b[key] is not None and a[key] > b[key] + tie


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"

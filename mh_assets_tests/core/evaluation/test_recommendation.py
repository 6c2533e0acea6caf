"""The recommendation says which representation to use -- and never hides a baseline win."""

import polars as pl

from mh_assets.core.evaluation.evaluate import SCORED, TABLE_SCHEMA, Evaluation
from mh_assets.core.evaluation.recommendation import recommend
from mh_assets.core.evaluation.tasks import DERIVED, INDEPENDENT, MASKED

NAMES = ("transformer", "multi-hot categories", "n_codes only")


def evaluation(aurocs: dict[str, tuple[float, float]], r2: dict[str, float]) -> Evaluation:
    """``aurocs``: representation -> (outcome AUROC, masked AUROC), one task of each group."""
    rows = []
    for name, (outcome, masked) in aurocs.items():
        for group, task, value in ((INDEPENDENT, "stay", outcome), (DERIVED, "cost", outcome),
                                   (MASKED, "F60", masked)):
            rows.append((name, group, task, 500, 0.3, value, value - 0.02, value + 0.02, SCORED))
    return Evaluation(pl.DataFrame(rows, schema=TABLE_SCHEMA, orient="row"),
                      pl.DataFrame({"representation": list(r2), "n_codes_r2": list(r2.values())}),
                      {})


def test_a_baseline_that_does_as_well_and_is_more_stable_is_the_finding():
    found = recommend(
        evaluation({"transformer": (0.70, 0.80), "multi-hot categories": (0.705, 0.80),
                    "n_codes only": (0.60, 0.55)},
                   {"transformer": 0.6, "multi-hot categories": 0.3, "n_codes only": 1.0}),
        {"transformer": 0.55, "multi-hot categories": 0.9},
        {"transformer": False, "multi-hot categories": True}, "transformer")
    assert "multi-hot baseline predicts outcomes as well as the transformer" in found.sentence
    assert "more stable (0.90 vs 0.55)" in found.sentence
    assert "the transformer adds nothing here" in found.sentence
    assert "encodes the most code count" in found.sentence
    best = dict(found.table.select("representation", "best").iter_rows())
    assert best["multi-hot categories"] == (
        "outcome_auroc, masked_auroc, n_codes_r2, stability, beats_null")
    assert best["n_codes only"] == ""  # a reference, never marked


def test_a_transformer_that_wins_on_both_is_recommended():
    found = recommend(
        evaluation({"transformer": (0.80, 0.90), "multi-hot categories": (0.70, 0.80),
                    "n_codes only": (0.60, 0.55)},
                   {"transformer": 0.2, "multi-hot categories": 0.3, "n_codes only": 1.0}),
        {"transformer": 0.9, "multi-hot categories": 0.8},
        {"transformer": True, "multi-hot categories": True}, "transformer")
    assert found.sentence.startswith("On this cohort the transformer predicts held-out outcomes "
                                     "and masked diagnoses better than the best alternative")
    assert "adds nothing" not in found.sentence
    assert "beats_null" in dict(found.table.select("representation", "best").iter_rows())[
        "transformer"]


def test_it_says_when_code_count_alone_does_as_well():
    found = recommend(
        evaluation({"transformer": (0.60, 0.55), "multi-hot categories": (0.58, 0.56),
                    "n_codes only": (0.62, 0.56)},
                   {"transformer": 0.9, "multi-hot categories": 0.8, "n_codes only": 1.0}),
        {}, {}, "transformer")
    assert "No representation predicts the masked diagnoses better than code count" \
        in found.sentence
    assert "Code count alone predicts the outcomes as well" in found.sentence
    assert found.as_record()["run_representation"] == "transformer"


def test_outcomes_nobody_predicts_are_called_chance_not_a_code_count_win():
    found = recommend(
        evaluation({"transformer": (0.50, 0.90), "multi-hot categories": (0.51, 0.90),
                    "n_codes only": (0.52, 0.60)},
                   {"transformer": 0.5, "multi-hot categories": 0.5, "n_codes only": 1.0}),
        {}, {}, "transformer")
    assert "much better than chance (mean AUROC at most 0.52)" in found.sentence
    assert "Code count alone" not in found.sentence

"""Synthetic scenarios: the default unchanged, confounding by complexity, and no structure.

``"confounded"`` and ``"null"`` exist so the clustering pipeline can be shown to
fail where it should; these tests check that each plants what it claims, and
that the default (``"subtypes"``) still writes the very bytes it always did.
"""

from __future__ import annotations

import hashlib
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from mh_assets.core.synthetic import (
    SCENARIOS,
    SyntheticSpec,
    default_profile,
    write_synthetic_extract,
)

# sha256 of SyntheticSpec(patients=300, seed=1)'s extract, computed with the
# generator as it was before scenarios existed.
GOLDEN_SHA256 = "bf45319dbaf16f1f0d149bf6def3393897f18d077306eac20d966f5a6cc7c0dc"
DIAGNOSES = ["Diagnóstico Principal", *[f"Diagnóstico {i}" for i in range(2, 21)]]
SECONDARY = DIAGNOSES[1:]
OUTCOMES = {
    "Estancia Días": "stay", "Nivel Severidad APR": "severity", "Tipo Alta": "discharge",
}
CONFOUNDED_ROWS, NULL_ROWS = 4000, 3000


def _generate(tmp_path_factory, scenario: str, rows: int, seed: int):
    out = tmp_path_factory.mktemp(scenario)
    result = write_synthetic_extract(
        SyntheticSpec(patients=rows, seed=seed, scenario=scenario), out
    )
    frame = pl.read_csv(result.extract_path, infer_schema=False)
    truth = pl.read_parquet(result.truth_path)
    joined = pl.concat(
        [
            frame.select(
                *DIAGNOSES,
                *(pl.col(es).cast(pl.Int64).alias(en) for es, en in OUTCOMES.items()),
            ),
            truth,
        ],
        how="horizontal",
    )
    return result, joined


@pytest.fixture(scope="module")
def confounded(tmp_path_factory):
    return _generate(tmp_path_factory, "confounded", CONFOUNDED_ROWS, seed=3)


@pytest.fixture(scope="module")
def null(tmp_path_factory):
    return _generate(tmp_path_factory, "null", NULL_ROWS, seed=4)


def _expected_mean_codes(sex: str) -> float:
    hist = default_profile()["sexes"][sex]["codes_per_patient"]
    n = np.array([int(k) for k in hist], float)
    counts = np.array(list(hist.values()), float)
    return float((n * counts).sum() / counts.sum())


def _eta_squared(values: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance of ``values`` explained by ``groups`` (one-way ANOVA)."""
    grand = values.mean()
    between = sum(
        (groups == g).sum() * (values[groups == g].mean() - grand) ** 2 for g in np.unique(groups)
    )
    return float(between / ((values - grand) ** 2).sum())


def _is_sud(codes: pl.Expr) -> pl.Expr:
    return codes.str.contains(r"^F1\d")


# -- the default --------------------------------------------------------------------------


def test_default_scenario_writes_the_bytes_it_always_did(tmp_path):
    default = write_synthetic_extract(SyntheticSpec(patients=300, seed=1), tmp_path / "a.csv")
    named = write_synthetic_extract(
        SyntheticSpec(patients=300, seed=1, scenario="subtypes"), tmp_path / "b.csv"
    )
    assert hashlib.sha256(default.extract_path.read_bytes()).hexdigest() == GOLDEN_SHA256
    assert named.extract_path.read_bytes() == default.extract_path.read_bytes()
    assert named.truth_path.read_bytes() == default.truth_path.read_bytes()
    truth = pl.read_parquet(default.truth_path)
    assert truth.columns[-2:] == ["scenario", "complexity"]
    assert truth.schema["complexity"] == pl.Float64
    assert (truth["scenario"] == "subtypes").all() and truth["complexity"].null_count() == 300
    assert truth["subtype"].null_count() == 0
    assert sum(default.subtype_rows.values()) == 300


def test_scenarios_are_one_tuple_with_the_default_first():
    assert SCENARIOS == ("subtypes", "confounded", "null")
    assert SyntheticSpec(patients=1, seed=0).scenario == SCENARIOS[0]


@pytest.mark.parametrize("bad", ["Null", "confound", ""])
def test_an_unknown_scenario_is_rejected_naming_the_allowed_ones(bad):
    with pytest.raises(ValueError, match="subtypes, confounded, null"):
        SyntheticSpec(patients=10, seed=0, scenario=bad)


# -- confounded ---------------------------------------------------------------------------


@pytest.mark.parametrize("sex", ["female", "male"])
def test_confounded_code_counts_follow_complexity_not_subtype(confounded, sex):
    _, rows = confounded
    rows = rows.filter(pl.col("sex") == sex)
    n_codes = rows["n_codes"].to_numpy().astype(float)
    assert spearmanr(rows["complexity"], n_codes).statistic > 0.6
    # Chance alone gives about (5 - 1) / rows, 0.002 here; the default scenario's
    # subtype tilts give about 0.02, so the bound is tighter than the brief's 0.03.
    assert _eta_squared(n_codes, rows["subtype"].to_numpy()) < 0.01
    # The marginal stays the profile's.
    expected = _expected_mean_codes(sex)
    assert abs(n_codes.mean() - expected) < 0.1 * expected
    assert n_codes.min() >= 1 and n_codes.max() <= 20


def test_confounded_outcomes_rise_with_complexity(confounded):
    _, rows = confounded
    by_tercile = (
        rows.with_columns(
            tercile=pl.col("complexity").rank("ordinal").sub(1).mul(3).floordiv(pl.len()),
            not_home=pl.col("discharge") != 1,
        )
        .group_by("tercile")
        .agg(pl.col("severity", "stay", "not_home").mean())
        .sort("tercile")
    )
    assert by_tercile.height == 3
    for column in ("severity", "stay", "not_home"):
        assert (np.diff(by_tercile[column].to_numpy()) > 0).all(), column
    # ... while their marginals stay the default's.
    severity = rows["severity"].value_counts(normalize=True).sort("severity")["proportion"]
    assert np.abs(severity.to_numpy() - [0.45, 0.38, 0.14, 0.03]).max() < 0.03
    assert abs((rows["discharge"] == 1).mean() - 0.86) < 0.03


@pytest.mark.parametrize("sex", ["female", "male"])
def test_confounded_subtypes_shift_outcomes_a_little(confounded, sex):
    _, rows = confounded
    rows = rows.filter(pl.col("sex") == sex)
    psychosis = pl.col("subtype_name") == "cannabis-induced psychosis"
    assert rows.filter(psychosis)["stay"].median() > rows.filter(~psychosis)["stay"].median()
    personality = pl.col("subtype_name").str.contains("personality")
    assert rows.filter(personality)["severity"].mean() > rows.filter(~personality)[
        "severity"
    ].mean()
    # Complexity is independent of subtype: no subtype is simply "the complex one".
    assert _eta_squared(rows["complexity"].to_numpy(), rows["subtype"].to_numpy()) < 0.01


def test_confounded_subtypes_use_their_own_principal_categories(confounded):
    """Codes are planted as in the default: each subtype's principals share a theme."""
    _, rows = confounded
    kept = rows.filter(pl.col("planted_exclusion").is_null())
    top = (
        kept.group_by("subtype", pl.col("Diagnóstico Principal").str.slice(0, 3).alias("cat"))
        .len()
        .group_by("subtype")
        .agg((pl.col("len").max() / pl.col("len").sum()).alias("top_share"))
    )
    assert top.height == 10 and top["top_share"].min() > 0.3


# -- null ---------------------------------------------------------------------------------


def test_null_plants_no_subtype(null):
    result, rows = null
    assert rows["subtype"].null_count() == rows["subtype_name"].null_count() == NULL_ROWS
    assert (rows["scenario"] == "null").all() and rows["complexity"].null_count() == 0
    assert result.subtype_rows == {}


def test_null_principals_are_chapter_f_except_planted_exclusions(null):
    _, rows = null
    non_f = ~pl.col("Diagnóstico Principal").str.starts_with("F")
    planted = pl.col("planted_exclusion") == "principal_not_chapter_f"
    assert rows.filter(planted).height >= 1
    assert rows.select((non_f == planted.fill_null(False)).all()).item()


def test_null_principals_follow_the_profile_marginal(null):
    """Plain profile counts: not sharpened, not concentrated on a few categories."""
    _, rows = null
    profile = default_profile()["sexes"]
    for sex in ("female", "male"):
        counts = profile[sex]["principal_diagnosis_patients"]
        expected = pl.DataFrame({"code": list(counts), "n": list(counts.values())})
        expected = expected.group_by(pl.col("code").str.slice(0, 3).alias("cat")).agg(
            (pl.col("n").sum() / expected["n"].sum()).alias("expected")
        )
        observed = (
            rows.filter((pl.col("sex") == sex) & pl.col("planted_exclusion").is_null())
            .group_by(pl.col("Diagnóstico Principal").str.slice(0, 3).alias("cat"))
            .agg(pl.len().alias("n"))
            .with_columns(observed=pl.col("n") / pl.col("n").sum())
        )
        both = expected.join(observed, on="cat", how="full", coalesce=True).fill_null(0)
        # Sharpened counts (the default's SHARPEN) would be 0.13 (female), 0.17 (male) away.
        assert 0.5 * (both["expected"] - both["observed"]).abs().sum() < 0.08, sex


def test_null_rows_all_carry_a_substance_use_code(null):
    _, rows = null
    has_sud = pl.any_horizontal(_is_sud(pl.col(c)).fill_null(False) for c in DIAGNOSES)
    kept = rows.filter(pl.col("planted_exclusion").ne_missing("principal_not_chapter_f"))
    assert kept.select(has_sud.all()).item()


@pytest.mark.parametrize("sex", ["female", "male"])
def test_null_code_counts_follow_complexity(null, sex):
    _, rows = null
    rows = rows.filter(pl.col("sex") == sex)
    assert spearmanr(rows["complexity"], rows["n_codes"]).statistic > 0.6
    expected = _expected_mean_codes(sex)
    assert abs(rows["n_codes"].mean() - expected) < 0.1 * expected


def _pair_odds_ratios(rows: pl.DataFrame, top: int = 6) -> dict[tuple[str, str, str], float]:
    """Mantel-Haenszel odds ratio, over n_codes strata, of every pair among each sex's
    ``top`` commonest non-SUD secondary categories (row has the category or not)."""
    ratios = {}
    for sex in ("female", "male"):
        part = rows.filter(pl.col("sex") == sex)
        cats = part.select(pl.concat_list(SECONDARY).list.drop_nulls()).to_series()
        cats = cats.list.eval(pl.element().str.slice(0, 3)).list.unique()
        common = (
            cats.explode().drop_nulls().to_frame("cat").filter(~_is_sud(pl.col("cat")))
            ["cat"].value_counts(sort=True)["cat"].head(top).to_list()
        )
        has = {c: cats.list.contains(c).to_numpy() for c in common}
        n_codes = part["n_codes"].to_numpy()
        for a, b in combinations(common, 2):
            num = den = 0.0
            for k in np.unique(n_codes):
                s = n_codes == k
                x, y = has[a][s], has[b][s]
                num += (x & y).sum() * (~x & ~y).sum() / s.sum()
                den += (x & ~y).sum() * (~x & y).sum() / s.sum()
            ratios[(sex, a, b)] = num / den if den else np.inf
    return ratios


def test_null_codes_co_occur_only_through_their_number(null, tmp_path):
    """Given n_codes, no pair of common categories goes together more than chance.

    With a fixed number of codes a row's slots are shared, so one category
    crowds the others out a little: odds ratios sit somewhat below 1 (about
    (k - 1) / k for k free slots) and none is well above it. Planted subtypes,
    by contrast, make categories of one theme go together and those of
    different themes exclude each other, far outside that band.
    """
    _, rows = null
    ratios = _pair_odds_ratios(rows)
    assert len(ratios) == 30
    assert all(0.25 < r < 1.7 for r in ratios.values()), ratios

    planted = _generate_plain(tmp_path, "subtypes", NULL_ROWS, seed=4)
    contrast = _pair_odds_ratios(planted)
    assert max(contrast.values()) > 3 and min(contrast.values()) < 0.2


def _generate_plain(out: Path, scenario: str, rows: int, seed: int) -> pl.DataFrame:
    result = write_synthetic_extract(
        SyntheticSpec(patients=rows, seed=seed, scenario=scenario), out
    )
    frame = pl.read_csv(result.extract_path, infer_schema=False, columns=DIAGNOSES)
    return pl.concat([frame, pl.read_parquet(result.truth_path)], how="horizontal")


# -- the command --------------------------------------------------------------------------


def test_synth_command_writes_the_requested_scenario(tmp_path, capsys):
    from mh_assets.cli import main

    assert main(["synth", "--patients", "120", "--seed", "2", "--scenario", "null",
                 "--out", str(tmp_path)]) == 0
    assert "null scenario" in capsys.readouterr().out
    (truth_path,) = tmp_path.glob("*.truth.parquet")
    truth = pl.read_parquet(truth_path)
    assert truth.height == 120 and (truth["scenario"] == "null").all()
    assert truth["subtype"].null_count() == 120


def test_synth_command_defaults_to_subtypes_and_rejects_others(tmp_path, capsys):
    from mh_assets.cli import main

    assert main(["synth", "--patients", "300", "--seed", "1", "--out",
                 str(tmp_path / "x.csv")]) == 0
    assert hashlib.sha256((tmp_path / "x.csv").read_bytes()).hexdigest() == GOLDEN_SHA256
    with pytest.raises(SystemExit):
        main(["synth", "--patients", "10", "--scenario", "nul", "--out", str(tmp_path)])
    assert "confounded" in capsys.readouterr().err


def test_demo_passes_the_scenario_to_the_extract_it_writes(tmp_path, monkeypatch):
    import mh_assets.cli as cli

    monkeypatch.setenv("MH_EXTRACTS_DIR", str(tmp_path / "extracts"))
    monkeypatch.setenv("MH_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setattr(cli, "_run", lambda settings, extract, sexes: 0)
    assert cli.main(["demo", "--patients", "60", "--scenario", "confounded"]) == 0
    (truth_path,) = (tmp_path / "extracts").glob("*.truth.parquet")
    truth = pl.read_parquet(truth_path)
    assert (truth["scenario"] == "confounded").all() and truth["complexity"].null_count() == 0

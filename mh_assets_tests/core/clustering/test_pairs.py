"""Male/female cluster pairing by cosine similarity and the Hungarian assignment."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering.pairs import PAIR_SCHEMA, cosine_similarity, pair_clusters

CODES = ["F12", "F20", "F32", "F43", "F91"]


def _unit(angle_degrees: float) -> list[float]:
    a = np.deg2rad(angle_degrees)
    return [np.cos(a), np.sin(a), 0.0, 0.0, 0.0]


def test_a_permuted_noisy_copy_is_paired_back_to_its_original():
    rng = np.random.default_rng(7)
    male = rng.gamma(1.0, 1.0, size=(4, len(CODES)))
    permutation = [2, 0, 3, 1]  # female j is a copy of male permutation[j]
    female = male[permutation] + rng.normal(0, 0.02, size=male.shape).clip(0)
    pairs = pair_clusters(male, female, ["M1", "M2", "M3", "M4"], ["F1", "F2", "F3", "F4"], CODES)
    got = dict(zip(pairs["female_label"], pairs["male_label"], strict=True))
    assert got == {f"F{j + 1}": f"M{permutation[j] + 1}" for j in range(4)}
    assert pairs["matched"].all()
    assert pairs["similarity"].to_list() == sorted(pairs["similarity"].to_list(), reverse=True)
    assert pairs["pair"].to_list() == [1, 2, 3, 4]


def test_the_assignment_maximises_total_similarity_where_greedy_matching_would_not():
    # angles on a quarter circle: m1=0, f1=20, m0=30, f2=45 degrees. Greedy takes
    # M0-F1 (10 degrees apart) first and is left with M1-F2 (45 apart); the optimum
    # is M0-F2 (15) + M1-F1 (20).
    male = np.array([_unit(30), _unit(0)])
    female = np.array([_unit(20), _unit(45)])
    pairs = pair_clusters(male, female, ["M0", "M1"], ["F1", "F2"], CODES)
    assert set(zip(pairs["male_label"], pairs["female_label"], strict=True)) == {
        ("M0", "F2"), ("M1", "F1")}
    assert pairs["similarity"].to_list() == pytest.approx(
        [np.cos(np.deg2rad(15)), np.cos(np.deg2rad(20))])


def test_surplus_clusters_are_listed_unmatched_when_k_differs():
    male = np.eye(3, len(CODES))
    female = np.eye(3, len(CODES))[[2, 0]]
    pairs = pair_clusters(male, female, ["M1", "M2", "M3"], ["F1", "F2"], CODES)
    assert pairs.schema == pl.Schema(PAIR_SCHEMA)
    unmatched = pairs.filter(~pl.col("matched"))
    assert unmatched.row(0, named=True) == {
        "pair": None, "male_label": "M2", "female_label": None, "similarity": None,
        "matched": False, "shared_codes": None, "differing_codes": None,
    }
    assert pairs.filter(pl.col("matched")).select("male_label", "female_label").rows() == [
        ("M1", "F2"), ("M3", "F1")]
    swapped = pair_clusters(female, male, ["M1", "M2"], ["F1", "F2", "F3"], CODES)
    assert swapped.filter(~pl.col("matched"))["female_label"].to_list() == ["F2"]


def test_shared_codes_are_high_in_both_and_differing_codes_say_which_sex_has_more():
    male = np.array([[0.9, 0.0, 0.5, 0.1, 0.7]])
    female = np.array([[0.8, 0.6, 0.4, 0.1, 0.0]])
    row = pair_clusters(male, female, ["M1"], ["F1"], CODES, top_n=3).row(0, named=True)
    assert row["shared_codes"] == "F12; F32; F43"
    assert row["differing_codes"] == "F91 (M>F); F20 (F>M); F12 (M>F)"


def test_cosine_similarity_of_a_zero_profile_is_zero_not_nan():
    sim = cosine_similarity(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 2.0]]))
    assert sim[:, 0].tolist() == pytest.approx([0.0, 1.0])


def test_profiles_that_do_not_fit_the_labels_or_codes_are_refused():
    with pytest.raises(ValueError, match="male profiles have shape"):
        pair_clusters(np.ones((2, 4)), np.ones((2, 5)), ["M1", "M2"], ["F1", "F2"], CODES)

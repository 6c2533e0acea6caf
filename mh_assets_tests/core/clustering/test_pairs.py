"""Male/female cluster pairing by cosine similarity and the Hungarian assignment."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering.pairs import (
    CLOSEST,
    MATCHED,
    NO_PARTNER,
    PAIR_SCHEMA,
    cosine_similarity,
    pair_clusters,
)

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
        "pair": None, "male_label": "M2", "female_label": None, "male_name": "M2",
        "female_name": None, "similarity": None, "matched": False, "status": NO_PARTNER,
        "shared_codes": None, "differing_codes": None,
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
    # F12 differs by 0.1 in absolute terms, but 0.8 of 0.9 is shared, not differing
    assert row["differing_codes"] == "F91 (M>F); F20 (F>M)"


def test_a_code_with_a_large_relative_gap_differs_even_when_present_in_both():
    male = np.array([[0.9, 0.2, 0.0, 0.0, 0.0]])
    female = np.array([[0.3, 0.2, 0.0, 0.0, 0.0]])  # F12: 0.3 of 0.9 -> gap 0.67 > 0.5
    row = pair_clusters(male, female, ["M1"], ["F1"], CODES).row(0, named=True)
    assert (row["shared_codes"], row["differing_codes"]) == ("F20", "F12 (M>F)")
    loose = pair_clusters(male, female, ["M1"], ["F1"], CODES, shared_gap=0.7).row(0, named=True)
    assert (loose["shared_codes"], loose["differing_codes"]) == ("F12; F20", "")


def test_no_code_is_listed_as_both_shared_and_differing():
    rng = np.random.default_rng(3)
    codes = [f"C{i:02d}" for i in range(40)]
    male = rng.gamma(0.5, 1.0, size=(6, 40)) * (rng.random((6, 40)) < 0.6)
    female = rng.gamma(0.5, 1.0, size=(6, 40)) * (rng.random((6, 40)) < 0.6)
    pairs = pair_clusters(male, female, [f"M{i}" for i in range(6)],
                          [f"F{i}" for i in range(6)], codes, top_n=40, min_similarity=0.0)
    assert pairs.height == 6
    for row in pairs.iter_rows(named=True):
        shared = set(filter(None, row["shared_codes"].split("; ")))
        differing = {c.split(" ")[0] for c in filter(None, row["differing_codes"].split("; "))}
        assert shared and differing and not shared & differing
        # every code with a weight in either cluster is on exactly one side
        i, j = int(row["male_label"][1:]), int(row["female_label"][1:])
        present = {codes[k] for k in np.flatnonzero((male[i] > 0) | (female[j] > 0))}
        assert shared | differing == present


def test_a_pair_below_the_similarity_setting_is_closest_not_matched():
    # M0-F1 are 10 degrees apart (cos 0.98); M1-F0 are 80 degrees apart (cos 0.17): the
    # assignment still pairs them, but they are not called a match
    male = np.array([_unit(0), _unit(90)])
    female = np.array([_unit(10), _unit(10)])
    pairs = pair_clusters(male, female, ["M0", "M1"], ["F0", "F1"], CODES, min_similarity=0.5)
    assert pairs.select("male_label", "matched", "status", "pair").rows() == [
        ("M0", True, MATCHED, 1), ("M1", False, CLOSEST, None)]
    assert pairs["similarity"][1] == pytest.approx(np.cos(np.deg2rad(80)))
    assert pairs["differing_codes"][1] == "F12 (F>M); F20 (M>F)"  # still described
    everything = pair_clusters(male, female, ["M0", "M1"], ["F0", "F1"], CODES,
                               min_similarity=0.0)
    assert everything["matched"].all() and everything["pair"].to_list() == [1, 2]


def test_a_pair_exactly_at_the_setting_is_matched():
    male, female = np.array([[1.0, 0.0, 0.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 0.0, 0.0, 0.0]])
    sim = float(cosine_similarity(male, female)[0, 0])
    assert pair_clusters(male, female, ["M1"], ["F1"], CODES, min_similarity=sim)["matched"][0]
    assert not pair_clusters(male, female, ["M1"], ["F1"], CODES,
                             min_similarity=sim + 1e-9)["matched"][0]


def test_pair_rows_carry_the_descriptive_names_and_fall_back_to_labels():
    male, female = np.eye(2, len(CODES)), np.eye(3, len(CODES))
    pairs = pair_clusters(male, female, ["M1", "M2"], ["F1", "F2", "F3"], CODES,
                          male_names={"M1": "M1 · cannabis abuse", "M2": "M2 · psychosis"},
                          female_names={"F1": "F1 · cannabis abuse"})
    assert pairs.select("male_name", "female_name").rows() == [
        ("M1 · cannabis abuse", "F1 · cannabis abuse"), ("M2 · psychosis", "F2"), (None, "F3")]


@pytest.mark.parametrize("bad", [{"min_similarity": 1.5}, {"min_similarity": -0.1},
                                 {"shared_gap": 0.0}, {"shared_gap": 1.0}])
def test_pair_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        pair_clusters(np.eye(1, 5), np.eye(1, 5), ["M1"], ["F1"], CODES, **bad)


def test_cosine_similarity_of_a_zero_profile_is_zero_not_nan():
    sim = cosine_similarity(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 2.0]]))
    assert sim[:, 0].tolist() == pytest.approx([0.0, 1.0])


def test_profiles_that_do_not_fit_the_labels_or_codes_are_refused():
    with pytest.raises(ValueError, match="male profiles have shape"):
        pair_clusters(np.ones((2, 4)), np.ones((2, 5)), ["M1", "M2"], ["F1", "F2"], CODES)

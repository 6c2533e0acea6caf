"""c-DF-IPF, prevalence, lift and class-based TF-IDF on a 5-patient example by hand."""

import math

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering import ClusterConfig, profile_clusters

# Cluster F1 = {a, b, e}, F2 = {c, d}; N = 5.
CORPUS = pl.DataFrame({
    "patient_id": ["a", "b", "c", "d", "e"],
    "codes": [["F1210", "F329"], ["F1210"], ["F329", "F10"], ["F10"], ["F1210", "F10"]],
    "descriptors": [["Cannabis abuse", "Depression"], ["Cannabis abuse"], ["Depression", "Alcohol"],
                    ["Alcohol"], ["Cannabis abuse", "Alcohol"]],
    "n_codes": pl.Series([2, 1, 2, 1, 2], dtype=pl.Int32),
    "age_at_admission": [15.0, 16.0, 17.5, 14.0, 13.0],
})
LABELS = np.array([0, 0, 1, 1, 0])
NAMES = ["F1", "F2"]


@pytest.fixture(scope="module")
def profiles():
    return profile_clusters(CORPUS, LABELS, NAMES, ClusterConfig(top_codes=2, top_terms=1))


def row(frame: pl.DataFrame, label: str, key: str, value: str) -> dict:
    rows = frame.filter((pl.col("cluster_label") == label) & (pl.col(key) == value)).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_c_df_ipf_matches_the_study_definition_by_hand(profiles):
    ipf_cannabis, ipf_depr, ipf_alcohol = math.log(5 / 3), math.log(5 / 2), math.log(5 / 3)
    # F1: all 3 members have F1210 -> 3 * IPF / 3; one has F329 -> IPF / 3.
    assert row(profiles.codes, "F1", "code", "F1210")["c_df_ipf"] == pytest.approx(ipf_cannabis)
    assert row(profiles.codes, "F1", "code", "F329")["c_df_ipf"] == pytest.approx(ipf_depr / 3)
    assert row(profiles.codes, "F1", "code", "F10")["c_df_ipf"] == pytest.approx(ipf_alcohol / 3)
    assert row(profiles.codes, "F2", "code", "F10")["c_df_ipf"] == pytest.approx(ipf_alcohol)
    assert row(profiles.codes, "F2", "code", "F329")["c_df_ipf"] == pytest.approx(ipf_depr / 2)
    # A code no member of F2 has gets no row.
    f2 = profiles.codes.filter(pl.col("cluster_label") == "F2")
    assert "F1210" not in f2["code"].to_list()


def test_prevalence_in_out_and_lift_by_hand(profiles):
    depression_f1 = row(profiles.codes, "F1", "code", "F329")
    assert depression_f1["prevalence_in"] == pytest.approx(1 / 3)
    assert depression_f1["prevalence_out"] == pytest.approx(1 / 2)  # c of {c, d}
    assert depression_f1["lift"] == pytest.approx((1 / 3) / (2 / 5))
    assert row(profiles.codes, "F2", "code", "F329")["lift"] == pytest.approx(1.25)
    cannabis = row(profiles.codes, "F1", "code", "F1210")
    assert (cannabis["patients_with_code"], cannabis["cluster_size"]) == (3, 3)
    assert cannabis["descriptor"] == "Cannabis abuse"


def test_top_codes_are_ranked_by_c_df_ipf_and_cut_at_the_setting(profiles):
    top = profiles.top_codes.filter(pl.col("cluster_label") == "F1")
    assert top["code"].to_list() == ["F1210", "F329"]
    assert top["rank"].to_list() == [1, 2]


def test_c_tf_idf_ranks_the_cluster_specific_descriptor_first(profiles):
    # F1 terms: Cannabis 3, Depression 1, Alcohol 1 (total 5); F2: Alcohol 2, Depression 1 (3).
    # A = 8 / 2 = 4; f(Cannabis) = 3 -> W = 3/5 * ln(1 + 4/3).
    top = profiles.terms.filter(pl.col("cluster_label") == "F1").to_dicts()
    assert [t["term"] for t in top] == ["Cannabis abuse"]
    assert top[0]["c_tf_idf"] == pytest.approx(0.6 * math.log(1 + 4 / 3))


def test_distributions_of_n_codes_and_age_per_cluster(profiles):
    summary = profiles.summary.filter(pl.col("variable") == "n_codes").sort("cluster")
    assert summary["mean"].to_list() == pytest.approx([5 / 3, 3 / 2])
    hist = profiles.histogram.filter(
        (pl.col("variable") == "age_at_admission") & (pl.col("cluster") == 1)
    )
    assert dict(zip(hist["value"], hist["n_patients"])) == {14: 1, 17: 1}

"""Descriptive cluster names: distinctive codes, short descriptors, unique, bounded length."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mh_assets.core import schema
from mh_assets.core.clustering.naming import (
    NO_DISTINCTIVE_CODE,
    SEPARATOR,
    NamingRule,
    display_names,
    name_clusters,
    short_descriptor,
)
from mh_assets.core.clustering.profiles import code_profiles
from mh_assets.core.icd import display_code, normalise_code
from mh_assets.core.synthetic import SyntheticSpec
from mh_assets.core.synthetic.codes import SUBTYPES, theme_of
from mh_assets.core.synthetic.cohorts import synthetic_corpora

DESCRIPTORS = {
    "F919": "Conduct disorder, unspecified",
    "F912": "Conduct disorder, adolescent-onset type",
    "F1210": "Cannabis abuse, uncomplicated",
    "F29": "Unspecified psychosis not due to a substance or known physiological condition",
    "F509": "Eating disorder, unspecified",
    "F603": "Borderline personality disorder",
    "F609": "Personality disorder, unspecified",
    "R45851": "Suicidal ideations",
    "J45909": "Unspecified asthma, uncomplicated",
    "Z818": "Family history of other mental and behavioral disorders",
    "F4325": "Adjustment disorder with mixed disturbance of emotions and conduct",
    "F12150": "Cannabis abuse with psychotic disorder with delusions",
    "Z62810": "Personal history of physical and sexual abuse in childhood",
}


def profiles(clusters: list[dict[str, int]], size: int = 100) -> tuple[pl.DataFrame, list[str]]:
    """Code profiles of clusters of ``size`` patients; ``clusters[k][code]`` members of
    cluster k have ``code`` (the first ones, so codes overlap within a cluster)."""
    codes, labels = [], []
    for k, counts in enumerate(clusters):
        for i in range(size):
            codes.append([c for c, n in counts.items() if i < n] or ["Z000"])
            labels.append(k)
    corpus = pl.DataFrame({
        schema.CODES: codes,
        schema.DESCRIPTORS: [[DESCRIPTORS.get(c, c) for c in row] for row in codes],
    })
    names = [f"F{k + 1}" for k in range(len(clusters))]
    return code_profiles(corpus, np.array(labels), names), names


def test_a_code_common_everywhere_does_not_name_a_cluster_whose_distinctive_code_has_lift_5():
    background = {"J45909": 90}  # asthma in 90% of every cluster: lift 1
    frame, names = profiles([{**background, "F919": 50}, background, background, background,
                             background])
    distinctive = frame.filter((pl.col("cluster_label") == "F1") & (pl.col("code") == "F919"))
    assert distinctive["lift"].item() == pytest.approx(5.0)
    got = display_names(frame, names, NamingRule(min_patients=1))
    assert got["F1"] == "F1 · conduct disorder"
    assert "asthma" not in " ".join(got.values())
    assert got["F2"] == f"F2{SEPARATOR}{NO_DISTINCTIVE_CODE}"


def test_the_name_follows_distinctiveness_where_the_c_df_ipf_ranking_puts_a_background_code_first():
    # asthma in 37% of every cluster scores 0.37 x ln(1/0.37) = 0.37 c-DF-IPF; conduct
    # disorder in 10% of F1 and 5% overall (lift 2) only 0.1 x ln(20) = 0.30: c-DF-IPF
    # ranks the background code first, the name must not
    background = {"J45909": 37}
    frame, names = profiles([{**background, "F919": 10}, {**background, "F919": 5},
                             {**background, "F919": 5}, {**background, "F919": 5},
                             background], size=100)
    top = frame.filter((pl.col("cluster_label") == "F1") & (pl.col("rank") == 1))
    assert top["code"].item() == "J45909"
    assert display_names(frame, names, NamingRule(min_patients=1))["F1"] == "F1 · conduct disorder"


def test_a_second_code_is_added_when_distinctive_enough_and_not_redundant():
    frame, names = profiles([
        # F912 scores above cannabis but is "conduct disorder" again: redundant
        {"F919": 75, "F912": 70, "F1210": 70, "J45909": 30},
        {"F603": 80, "F609": 70, "R45851": 50, "J45909": 30},  # F609 inside F603
        {"F509": 60, "R45851": 5, "Z818": 15, "J45909": 30},  # Z818: under half F509's score
        {"F1210": 10, "J45909": 30},
    ])
    got = display_names(frame, names, NamingRule(min_patients=1))
    assert got["F1"] == "F1 · conduct disorder + cannabis abuse"
    assert got["F2"] == "F2 · borderline personality disorder + suicidal ideations"
    assert got["F3"] == "F3 · eating disorder"


def test_names_stay_within_the_length_limit_shortening_before_dropping_a_code():
    frame, names = profiles([
        {"F4325": 70, "F12150": 60, "Z62810": 50},
        {"Z818": 70, "Z62810": 60},
        {"F29": 50},
    ])
    for limit in (30, 45, 60):
        got = display_names(frame, names, NamingRule(max_length=limit, min_patients=1))
        assert all(len(name) <= limit for name in got.values()), got
    got = display_names(frame, names, NamingRule(min_patients=1))
    assert got["F1"] == "F1 · adjustment disorder + cannabis abuse"  # "with ..." trimmed
    assert got["F3"] == "F3 · psychosis"
    short = display_names(frame, names, NamingRule(max_length=30, min_patients=1))
    assert short["F2"].endswith("…") and short["F2"].startswith("F2 · family history")


def test_clusters_with_the_same_distinctive_code_get_different_names():
    frame, names = profiles([
        {"F1210": 80, "F919": 60},
        {"F1210": 70, "F919": 50, "F509": 30},
        {"J45909": 90},
        {"J45909": 90},
    ])
    named = name_clusters(frame, names, NamingRule(min_patients=1))
    descriptions = [n.description for n in named[:2]]
    assert descriptions[0] == "cannabis abuse + conduct disorder"
    assert len(set(descriptions)) == 2 and descriptions[1].startswith("cannabis abuse")
    assert all(n.name.startswith(f"{n.label}{SEPARATOR}") for n in named)
    assert len({n.name for n in named}) == len(named)


def test_a_code_held_by_fewer_patients_than_the_small_cell_threshold_names_nothing():
    frame, names = profiles([{"F509": 8}, {"F1210": 30}, {}], size=40)
    assert display_names(frame, names)["F1"] == f"F1{SEPARATOR}{NO_DISTINCTIVE_CODE}"
    assert display_names(frame, names, NamingRule(min_patients=5))["F1"] == "F1 · eating disorder"


def test_every_cluster_is_named_even_one_without_rows_in_the_profiles():
    frame, names = profiles([{"F509": 60}, {"F919": 60}])
    got = display_names(frame, [*names, "F3"], NamingRule(min_patients=1))
    assert list(got) == ["F1", "F2", "F3"]
    assert got["F3"] == f"F3{SEPARATOR}{NO_DISTINCTIVE_CODE}"


@pytest.mark.parametrize(("descriptor", "code", "full", "compact"), [
    ("Cannabis abuse, uncomplicated", "F1210", "cannabis abuse", "cannabis abuse"),
    ("Nicotine dependence, cigarettes, uncomplicated", "F17210", "nicotine dependence, cigarettes",
     "nicotine dependence"),
    ("Cannabis use, unspecified with psychotic disorder, unspecified", "F12959",
     "cannabis use with psychotic disorder", "cannabis use with psychotic disorder"),
    ("Unspecified psychosis not due to a substance or known physiological condition", "F29",
     "psychosis", "psychosis"),
    ("Other specified problems related to primary support group", "Z638",
     "problems related to primary support group", "problems related to primary support group"),
    ("Attention-deficit hyperactivity disorder, unspecified type", "F909", "ADHD", "ADHD"),
    ("Sedative, hypnotic or anxiolytic abuse, uncomplicated", "F1310",
     "sedative, hypnotic or anxiolytic abuse", "sedative, hypnotic or anxiolytic abuse"),
    ("HIV disease", "B20", "HIV disease", "HIV disease"),
    ("Abuso de cannabis, sin complicaciones", "F1210", "abuso de cannabis", "abuso de cannabis"),
    ("Psicosis no especificada de origen no orgánico", "F29", "psicosis de origen no orgánico",
     "psicosis de origen no orgánico"),
    ("F1210", "F1210", "F12.10", "F12.10"),  # unresolved: the code stands in
    (None, "F1210", "F12.10", "F12.10"),
])
def test_descriptors_are_shortened_without_losing_what_tells_codes_apart(descriptor, code, full,
                                                                        compact):
    assert short_descriptor(descriptor, code) == (full, compact)


@pytest.mark.parametrize("bad", [{"max_length": 10}, {"min_lift": 1.0}, {"min_lift": 0.5},
                                 {"min_prevalence": 0.0}, {"min_patients": 0},
                                 {"second_share": 1.5}])
def test_naming_thresholds_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        NamingRule(**bad)


@pytest.fixture(scope="module")
def planted():
    return synthetic_corpora(SyntheticSpec(patients=3000, seed=1))


def test_the_planted_subtypes_are_named_by_their_own_themes_never_the_shared_background(planted):
    for sex, item in planted.items():
        subtypes = SUBTYPES[sex]
        index = {s.name: k for k, s in enumerate(subtypes)}
        labels = np.array([index[name] for name in item.truth["subtype_name"].to_list()])
        names = [f"{schema.SEX_LABEL_PREFIX[sex]}{k + 1}" for k in range(len(subtypes))]
        named = name_clusters(code_profiles(item.corpus, labels, names), names)
        for subtype, cluster in zip(subtypes, named, strict=True):
            assert cluster.codes, (sex, subtype.name)
            themes = {theme_of(display_code(normalise_code(c))) for c in cluster.codes}
            assert themes <= set(subtype.core), (sex, subtype.name, cluster.name)
            assert len(cluster.name) <= NamingRule().max_length
            assert cluster.name.startswith(f"{cluster.label}{SEPARATOR}")
        assert len({n.description for n in named}) == len(named)

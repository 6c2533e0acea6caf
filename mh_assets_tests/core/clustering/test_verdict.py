"""The verdict: supported only when the null is beaten, clusters are stable and unconfounded."""

import pytest

from mh_assets.core.clustering import ClusterConfig
from mh_assets.core.clustering.verdict import NOT_SUPPORTED, SUPPORTED, WEAK, subtype_verdict


def row(sil_z: float, stab_z: float, sil_p: float = 0.01, stab_p: float = 0.01) -> dict:
    return {"silhouette": 0.4, "silhouette_z": sil_z, "silhouette_p": sil_p,
            "null_silhouette_max": 0.2, "stability": 0.9, "stability_z": stab_z,
            "stability_p": stab_p}


STABLE = {"F1": 0.95, "F2": 0.9, "F3": 0.8}


def test_beating_the_null_with_stable_unconfounded_clusters_is_supported():
    verdict = subtype_verdict(row(8, 5), STABLE, audit_warn=False)
    assert verdict.level == SUPPORTED and verdict.numbers["k"] == 3
    assert "support 3 subtypes" in verdict.sentence("female")


@pytest.mark.parametrize(("null_row", "jaccard", "warn", "level"), [
    (row(0.5, -1, sil_p=0.4, stab_p=0.7), STABLE, False, NOT_SUPPORTED),
    (row(8, 5), {**STABLE, "F3": 0.6}, False, WEAK),  # one unstable cluster
    (row(8, 0.2, stab_p=0.5), STABLE, False, WEAK),  # beats the null on one score only
    (row(8, 5), STABLE, True, WEAK),  # clusters follow code count
    (row(8, 5, sil_p=0.2), STABLE, False, WEAK),  # z large but p not small
])
def test_anything_less_is_weak_or_not_supported(null_row, jaccard, warn, level):
    assert subtype_verdict(null_row, jaccard, warn, ClusterConfig()).level == level


def test_not_supported_says_so_plainly_with_the_numbers():
    verdict = subtype_verdict(row(0.3, 0.1, sil_p=0.45, stab_p=0.5), STABLE, audit_warn=True)
    sentence = verdict.sentence("male")
    assert sentence.startswith("Male: these data do not support subtypes")
    assert "descriptive partition" in sentence and "within the range" in sentence
    assert verdict.as_metadata()["verdict"] == "not supported"
    assert verdict.as_record()["numbers"]["silhouette_p"] == 0.45


def test_the_sentence_says_its_scores_are_the_null_tests_and_z_to_two_decimals():
    sentence = subtype_verdict(row(8, 2.9649, stab_p=0.048), STABLE,
                               audit_warn=False).sentence("female")
    # not the run's full-cohort stability, which the clusters table shows
    assert "Stability 0.90 (null-test pipeline) is no better than" in sentence
    assert "z = 2.96" in sentence  # the rule is z >= 3: never shown as 3.0

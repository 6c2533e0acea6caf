"""The report's prose comes from what the run used and found: summary, methods, limits."""

import json
from dataclasses import replace

import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.cohort import CohortRules
from mh_assets.core.corpus import CoverageThresholds
from mh_assets.core.evaluation.scoring import ScoringConfig
from mh_assets.core.modelling import preset_config
from mh_assets.core.publish.report_sections import coverage_section, readable
from mh_assets.core.publish.report_text import (
    SYNTHETIC_BANNER,
    RunMethods,
    limitations_section,
    methods_section,
    summary_section,
)
from mh_assets.core.storage import open_store

METHODS = RunMethods(CohortRules(), CoverageThresholds(), preset_config("demo"),
                     ClusterConfig(), ScoringConfig(), min_cell=10, seed=42)


def publish_findings(store, level="not supported", synthetic=False, at_edge=False):
    store.write_text(layout.EXTRACT_ORIGIN, json.dumps({"synthetic": synthetic}))
    for sex in ("female", "male"):
        store.write_text(layout.verdict(sex), json.dumps({
            "level": level, "representation": "transformer",
            "reasons": ["silhouette 0.17 is within the range of the null cohorts"],
            "numbers": {"k": 2}}))
        store.write_text(layout.recommendation(sex), json.dumps({
            "run_representation": "transformer", "sentence": "On this cohort the multi-hot "
            "baseline predicts outcomes as well as the transformer; the transformer adds "
            "nothing here."}))
        store.write_text(layout.k_choice(sex), json.dumps({"chosen_k": 2, "at_edge": at_edge}))
        store.write_text(layout.coverage(sex), json.dumps({
            "code_occurrences": 13000, "exact_share": 0.998, "with_ancestors_share": 1.0,
            "naive_lookup_share": 0.038, "distinct_unresolved_codes": 0,
            "top_substitutions": {"F1210->F121": "<10", "Z6281->Z628": "25"}}))


def texts(section):
    return [item for item in section.items if isinstance(item, str)]


def test_the_summary_leads_with_the_verdict_and_names_the_coverage_fix(tmp_path):
    store = open_store(tmp_path)
    publish_findings(store)
    lines = texts(summary_section(store, {"female": 2383, "male": "<10"}))
    assert lines[0].startswith("Female (2383 patients): these data do not support subtypes")
    assert "adds nothing here" in lines[1]
    assert lines[2].startswith("Male (<10 patients):")
    assert "99.8%" in lines[-1] and "3.8%" in lines[-1]
    assert SYNTHETIC_BANNER not in lines


def test_a_synthetic_extract_carries_a_banner_first(tmp_path):
    store = open_store(tmp_path)
    publish_findings(store, synthetic=True)
    assert texts(summary_section(store, {}))[0] == SYNTHETIC_BANNER


def test_methods_follow_the_settings_the_run_used():
    text = " ".join(texts(methods_section(METHODS)))
    assert "temperature 0.05" in text and "k from 2 to 10" in text and "20 degree" in text
    changed = replace(METHODS, clustering=replace(ClusterConfig(), max_k=7, null_cohorts=50),
                      cohort=replace(CohortRules(), exclude_implausible=True))
    changed_text = " ".join(texts(methods_section(changed)))
    assert "k from 2 to 7" in changed_text and "50 degree" in changed_text
    assert "are excluded" in changed_text and "flagged and counted" in text
    # the exclusions the flow lists are said to be exclusions, with the run's age range
    assert "always excluded" in text and "outside 11-19" in text and "over 18 at" in text
    descriptors = replace(METHODS, training=preset_config("descriptors"))
    assert "no training" in " ".join(texts(methods_section(descriptors)))


def test_limitations_come_from_what_the_run_found(tmp_path):
    store = open_store(tmp_path)
    publish_findings(store, level="supported")
    quiet = " ".join(texts(limitations_section(store)))
    assert "descriptive partition" not in quiet and "edge" not in quiet
    publish_findings(store, level="not supported", at_edge=True, synthetic=True)
    found = " ".join(texts(limitations_section(store)))
    assert "descriptive partition" in found and "edge of the searched range" in found
    assert "synthetic" in found and "does as well as the run's" in found


def test_coverage_section_shows_shares_and_masked_substitutions(tmp_path):
    store = open_store(tmp_path)
    publish_findings(store)
    tables = [i for i in coverage_section(store).items if not isinstance(i, str)]
    shares, substitutions = tables[0].frame, tables[1].frame
    assert shares["Exact match"].to_list() == ["99.80%", "99.80%"]
    assert shares["Study's un-normalised lookup"][0] == "3.80%"
    assert "<10" in substitutions["Occurrences"].to_list()


def test_validity_tables_get_human_headers_and_rounding():
    frame = readable(pl.DataFrame({"cluster": [0], "cluster_label": ["F1"],
                                   "mean_jaccard": [0.978500644824], "eta_squared": [0.1]}))
    assert frame.columns == ["Cluster", "Mean Jaccard", "eta²"]
    assert frame["Mean Jaccard"][0] == 0.979


def test_recorded_settings_keep_the_fallback_for_what_a_record_lacks_and_ignore_the_rest():
    from mh_assets.core.clustering.config import ClusterConfig
    from mh_assets.core.publish.run_settings import recorded_config

    fallback = ClusterConfig(max_k=9)
    assert recorded_config(ClusterConfig, "k_selection", {}, fallback) == (fallback, [])
    config, differences = recorded_config(
        ClusterConfig, "k_selection",
        {"female": {"n_init": 3, "retired_setting": 1}, "male": {"n_init": 3, "max_k": 7}},
        fallback)
    assert config == ClusterConfig(max_k=9, n_init=3)  # the first sex's record
    assert differences == ["k_selection max_k: 9 (female), 7 (male)"]

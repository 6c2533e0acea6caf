"""The report's first section answers "are there subtypes?" from the published verdicts."""

import json

import polars as pl

from mh_assets.core import layout
from mh_assets.core.publish.report import ReportInput, ReportTable, build_report
from mh_assets.core.publish.report_sections import subtypes_section
from mh_assets.core.storage import open_store


def _publish(store, sex: str, level: str, reasons: list[str]) -> None:
    store.write_text(layout.verdict(sex), json.dumps({
        "level": level, "representation": "transformer", "reasons": reasons,
        "numbers": {"k": 2, "silhouette": 0.17}}))
    row = {"representation": "transformer", "k": 2, "silhouette": 0.1712345,
           "null_silhouette_mean": 0.16, "null_silhouette_sd": 0.01, "null_silhouette_max": 0.18,
           "silhouette_z": 1.1234, "silhouette_p": 0.2857, "stability": 0.9,
           "null_stability_mean": 0.88, "null_stability_sd": 0.05, "null_stability_max": 0.95,
           "stability_z": 0.4, "stability_p": 0.4, "beats_null_silhouette": False,
           "beats_null_stability": False, "beats_null": False}
    with store.atomic_file(layout.table(f"clusterability_{sex}")) as tmp:
        pl.DataFrame([row]).write_csv(tmp)


def test_a_cohort_without_subtypes_reads_so_plainly_in_the_first_section(tmp_path):
    store = open_store(tmp_path)
    reasons = ["silhouette 0.17 is within the range of degree-preserving null cohorts"]
    _publish(store, "female", "not supported", reasons)
    _publish(store, "male", "supported", ["silhouette 0.41 beats the null"])
    section = subtypes_section(store)
    assert section.title == "Are there subtypes?"
    texts = [item for item in section.items if isinstance(item, str)]
    assert texts[0].startswith("Female: these data do not support subtypes")
    assert "within the range of degree-preserving null cohorts" in texts[0]
    assert texts[1].startswith("Male: the data support 2 subtypes")
    assert any("descriptive partition" in t for t in texts[2:])
    table = next(i for i in section.items if isinstance(i, ReportTable))
    assert table.frame["Silhouette (null-test pipeline)"][0] == 0.171  # rounded for a reader
    html = build_report(ReportInput(leading=[section]))
    assert html.index("Are there subtypes?") < html.index("Provenance")


def test_the_descriptive_partition_note_is_absent_when_every_sex_is_supported(tmp_path):
    store = open_store(tmp_path)
    for sex in ("female", "male"):
        _publish(store, sex, "supported", ["silhouette beats the null"])
    texts = [i for i in subtypes_section(store).items if isinstance(i, str)]
    assert not any("descriptive partition" in t for t in texts)


def test_report_tables_show_yes_no_no_minus_zero_and_a_z_just_under_three_as_such():
    from mh_assets.core.publish.report_sections import clusterability_display, readable

    shown = readable(pl.DataFrame({"k": [2, 3], "chosen": [False, True],
                                   "delta": [-0.0001, 0.25]}))
    assert shown["Chosen"].to_list() == ["no", "yes"]
    assert [str(v) for v in shown["delta"].to_list()] == ["0.0", "0.25"]
    row = {"representation": "multi-hot", "k": 5, "silhouette": 0.4,
           "null_silhouette_mean": 0.1, "null_silhouette_sd": 0.01, "silhouette_z": 26.0,
           "silhouette_p": 0.048, "stability": 0.9, "null_stability_mean": 0.8,
           "null_stability_sd": 0.03, "stability_z": 2.9649, "stability_p": 0.048,
           "beats_null": False}
    table = clusterability_display(pl.DataFrame([row]))
    assert table["z (stability)"][0] == 2.96  # the rule is z >= 3: not "3"
    assert table["Null silhouette"][0] == "0.100 (0.010)"  # one precision down the column
    assert table["Beats the null"][0] == "no"


def test_kept_records_flagged_as_implausible_are_counted_in_the_report_small_counts_hidden(
        tmp_path):
    from mh_assets.core.publish.report_sections import flagged_records

    store = open_store(tmp_path)
    flags = [["age over 18 at discharge"]] * 6 + [[]] * 4 + [["age over 18 at discharge"]] * 15
    sexes = ["female"] * 10 + ["male"] * 15
    store.write_parquet(layout.COHORT, pl.DataFrame({"sex": sexes, "quality_flags": flags}))
    (table,) = flagged_records(store, min_cell=10)
    assert table.frame.row(0, named=True) == {"Flag": "age over 18 at discharge",
                                              "Female": "<10", "Male": "*", "Total": "21"}
    store.write_parquet(layout.COHORT, pl.DataFrame({"sex": sexes, "quality_flags": [[]] * 25}))
    assert flagged_records(store, min_cell=10) == ["No kept record was flagged as implausible."]


def test_a_substituted_code_is_written_dotted_as_the_registry_writes_it():
    from mh_assets.core.corpus import SUBSTITUTION
    from mh_assets.core.publish.report_sections import _dotted

    assert _dotted(f"T407X1A{SUBSTITUTION}T407") == "T40.7X1A -> T40.7"

"""The whole graph, both sexes, on a synthetic extract with the ``demo`` preset.

One materialization (``mh-assets run``'s staged plan) is shared by every test here;
it trains the demo transformer for both partitions, so the module is marked slow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from mh_assets_tests.support.leakage import (
    event_log_text,
    leaks,
    patient_values,
    without_plotly_library,
)
from mh_assets_tests.support.platform import make_platform, use_platform

pytestmark = pytest.mark.slow

PATIENTS = 1200


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from mh_assets.ops.runner import materialize_all
    from mh_assets_tests.support.platform import load_defs

    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as monkeypatch:
        platform = make_platform(root, patients=PATIENTS, seed=2025)
        use_platform(monkeypatch, platform)
        with dg.instance_for_test(temp_dir=str(platform.home)) as instance:
            defs = load_defs()
            run_ids = materialize_all(defs, instance, log=lambda _m: None)
            yield platform, instance, run_ids, defs


def _latest(instance, asset, partition=None):
    key = dg.AssetKey(asset)
    if partition is None:
        return instance.get_latest_materialization_event(key).asset_materialization
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1).records
    return records[0].event_log_entry.asset_materialization


def test_every_asset_is_materialized_for_every_partition(demo):
    _, instance, run_ids, defs = demo
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        partitions = node.partitions_def.get_partition_keys() if node.partitions_def else [None]
        for partition in partitions:
            assert _latest(instance, key.to_user_string(), partition) is not None, (key, partition)
    assert all(instance.get_run_by_id(r).is_success for r in run_ids)


def test_training_losses_fall(demo):
    _, instance, _, _ = demo
    for sex in ("female", "male"):
        mlm = _latest(instance, "mlm_checkpoint", sex).metadata
        eval_losses = mlm["losses"].value["eval_loss_per_epoch"]
        assert len(eval_losses) >= 2 and eval_losses[-1] < eval_losses[0], eval_losses
        contrastive = _latest(instance, "contrastive_checkpoint", sex).metadata
        train = contrastive["losses"].value["train_loss_per_epoch"]
        assert len(train) >= 2 and train[-1] < train[0], train
        for meta in (mlm, contrastive):  # the curve inline, the details in one entry
            assert meta["loss_curve"].value.startswith("![")
            assert not any(key.startswith("hp.") for key in meta)
            assert "hp.seed" in meta["training_summary"].value


def test_embeddings_line_up_with_the_corpus(demo):
    platform, _, _, _ = demo
    for sex in ("female", "male"):
        corpus = pl.read_parquet(platform.artifacts / f"restricted/corpus/{sex}.parquet")
        embeddings = pl.read_parquet(platform.artifacts / f"restricted/embeddings/{sex}.parquet")
        assert embeddings.get_column("patient_id").equals(corpus.get_column("patient_id"))
        assert embeddings.get_column("embedding").dtype.inner == pl.Float32


def _truth_vs(platform, sex: str, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    cohort = pl.read_parquet(platform.artifacts / "restricted/cohort.parquet")
    truth = pl.read_parquet(platform.truth).select("record_number", "subtype")
    labels = pl.read_parquet(labels_path).select("patient_id", "cluster")
    joined = labels.join(cohort.select("patient_id", "record_number"), on="patient_id").join(
        truth, on="record_number")
    assert joined.height == labels.height
    return joined.get_column("subtype").to_numpy(), joined.get_column("cluster").to_numpy()


def test_planted_subtypes_are_recovered_by_the_baseline_and_the_transformer(demo):
    """The multi-hot baseline sees the planted code sets directly, so it must recover
    them (ARI >= 0.8, the issue's bar). The demo transformer is a 2-layer model trained
    from scratch for a few epochs on ~590 texts per sex, with k chosen by the data; it
    measured ARI 0.85 (female) and 0.88 (male) here. 0.6 leaves room for numerical
    differences between CPUs while staying far above what clusters that follow the
    number of codes per patient reach on this extract (ARI ~0.01, see
    test_synthetic)."""
    platform, _, _, _ = demo
    clusters = platform.artifacts / "restricted/clusters"
    for sex in ("female", "male"):
        truth, baseline = _truth_vs(platform, sex,
                                    clusters / sex / "baseline_multi_hot_categories.parquet")
        assert adjusted_rand_score(truth, baseline) >= 0.8, sex
        truth, transformer = _truth_vs(platform, sex, clusters / sex / "assignments.parquet")
        assert adjusted_rand_score(truth, transformer) >= 0.6, sex


def test_report_is_self_contained_and_shows_every_section(demo):
    platform, _, _, _ = demo
    html = (platform.artifacts / "report/index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?:""", html)
    assert "url(http" not in html
    headings = re.findall(r'<section id="s\d+"><h2>([^<]*)</h2>', html)
    assert headings[:4] == ["Summary of findings", "Are there subtypes?",
                            "Which representation?", "Methods"]
    for heading in ("Cohort flow", "Descriptor coverage", "Supplementary tables",
                    "Cohort descriptives", "Validity", "Limitations", "Provenance"):
        assert heading in headings, heading
    for local in (platform.artifacts, platform.extracts, platform.home):
        assert str(local) not in html  # a report travels: no local paths in it
    from docx import Document

    word = Document(str(platform.artifacts / "report/study_report.docx"))
    word_text = "\n".join(p.text for p in word.paragraphs)
    assert all(h in word_text for h in ("Summary of findings", "Which representation?"))
    assert len(word.inline_shapes) >= 10
    for sex in ("female", "male"):
        record = json.loads((platform.artifacts / f"tables/representation_recommendation_{sex}"
                             ".json").read_text())
        assert record["sentence"].startswith("On this cohort") and record["sentence"] in html
        assert f"Held-out prediction, AUROC [95% CI] ({sex})" in html
    verdicts = [json.loads((platform.artifacts / f"tables/subtypes_verdict_{sex}.json")
                           .read_text())["level"] for sex in ("female", "male")]
    assert all(v in ("supported", "weak", "not supported") for v in verdicts)
    assert html.count("data:image/png;base64,") >= 10
    extract = json.loads((platform.artifacts / "restricted/extract_info.json").read_text())
    assert extract["sha256"] in html


def test_no_patient_level_value_in_logs_metadata_or_published_files(demo):
    platform, instance, _, _ = demo
    values = patient_values(platform.artifacts)
    assert leaks(event_log_text(instance), values) == {}
    published = [p for sub in ("tables", "figures", "report", "provenance")
                 for p in (platform.artifacts / sub).rglob("*") if p.is_file()]
    assert published
    for path in published:
        text = without_plotly_library(path.read_bytes().decode("utf-8", errors="replace"))
        assert leaks(text, values) == {}, path


# Metadata entries that show counts of patients or records, per asset.
COUNT_ENTRIES = {"cohort": ("patients_per_sex", "quality_flags", "flow"),
                 "excluded_records": ("reasons",), "cluster_assignments": ("cluster_sizes",),
                 "cluster_profiles": ("cluster_names",)}


def _shown_counts(value) -> list[str]:
    """Every whole number a metadata value shows: JSON values, or Markdown table cells."""
    raw = getattr(value, "value", value)
    if isinstance(raw, dict):
        return [str(v) for v in raw.values()]
    return [cell.strip() for line in str(raw).splitlines() for cell in line.split("|")]


def test_the_report_renders_in_a_browser(demo, tmp_path):
    """A headless Chromium draws the report as a reader would see it (kept for review)."""
    import subprocess

    from mh_assets.settings import PROJECT_ROOT
    from mh_assets_tests.support.programs import require_program

    chromium = require_program("/usr/bin/chromium", "Chromium (Debian package chromium)")
    platform, _, _, _ = demo
    shots = PROJECT_ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    target = shots / "report.png"
    target.unlink(missing_ok=True)
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1300,3000",
         f"--screenshot={target}", (platform.artifacts / "report/index.html").as_uri()],
        check=True, capture_output=True, timeout=120)
    assert target.stat().st_size > 50_000  # a page of text, tables and figures, not blank


def test_every_count_the_ui_shows_passes_the_suppression_rule(demo):
    _, instance, _, _ = demo
    checked = 0
    for asset, entries in COUNT_ENTRIES.items():
        for partition in ((None,) if asset in ("cohort", "excluded_records")
                          else ("female", "male")):
            meta = _latest(instance, asset, partition).metadata
            for entry in entries:
                if entry not in meta:
                    continue
                for shown in _shown_counts(meta[entry]):
                    checked += 1
                    assert not (shown.isdigit() and 0 < int(shown) < 10), (asset, entry, shown)
    assert checked > 20


def test_every_published_column_is_in_the_data_dictionary(demo):
    from mh_assets.core.publish.dictionary import describe

    platform, _, _, _ = demo
    tables = sorted((platform.artifacts / "tables").glob("*.csv"))
    assert len(tables) > 10
    undescribed = {(t.name, c) for t in tables for c in pl.read_csv(t, n_rows=1).columns
                   if not describe(c)}
    assert not undescribed


def test_published_tables_hold_no_small_counts(demo):
    platform, _, _, _ = demo
    for name in ("sud_by_sex.csv", "clusters.csv", "cluster_codes.csv"):
        table = pl.read_csv(platform.artifacts / "tables" / name, infer_schema=False)
        for column in ("total", "male_n", "female_n", "size", "n_in"):
            if column in table.columns:
                for value in table.get_column(column).to_list():
                    assert not (value.isdigit() and 0 < int(value) < 10), (name, column, value)


def test_cluster_assets_show_their_checks_and_validity_in_metadata(demo):
    _, instance, _, _ = demo
    for sex in ("female", "male"):
        k_meta = _latest(instance, "k_selection", sex).metadata
        assert k_meta["curves"].value.startswith("![k selection")
        assignments = _latest(instance, "cluster_assignments", sex).metadata
        assert "cluster_sizes" in assignments and "confounder_audit" in assignments
        assert "sizes" not in assignments  # unsuppressed sizes stay out of metadata
        profiles = _latest(instance, "cluster_profiles", sex).metadata
        assert "c_df_ipf" in profiles["top_codes"].value
        baselines = _latest(instance, "baseline_clusters", sex).metadata
        assert "multi-hot categories" in baselines["preview"].value
        useful = baselines["usefulness_at_own_k"].records
        assert "descriptors" in {r.data["representation"] for r in useful}
        evaluation = _latest(instance, "representation_evaluation", sex).metadata
        comparison = evaluation["comparison"]  # a table: the UI shows it inline
        assert isinstance(comparison, dg.TableMetadataValue)
        columns = [c.name for c in comparison.schema.columns]
        assert columns[4:] == ["transformer", "descriptors", "multi-hot categories",
                               "tfidf-svd", "n_codes only"]
        groups = {r.data["group"] for r in comparison.records}
        assert groups == {"independent of the coding", "derived from the codes",
                          "masked diagnosis"}
        assert evaluation["finding"].value.startswith("On this cohort")
        assert "best" in [c.name for c in evaluation["criteria"].schema.columns]
    for sex in ("female", "male"):
        assignments = _latest(instance, "cluster_assignments", sex).metadata
        assert assignments["verdict"].value in ("supported", "weak", "not supported")
    for asset, check in (("cluster_assignments", "confounder_audit"),
                         ("cluster_assignments", "subtypes_supported"),
                         ("cluster_stability", "clusters_stable")):
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(asset), check), limit=10)
        assert len(history) == 2, (asset, check)  # one evaluation per sex


def test_kill_9_mid_training_then_the_same_command_gives_the_uninterrupted_outputs(
        demo, tmp_path):
    """``mh-assets run`` killed with -9 while the female model trains, then run again:
    it recovers the dead run, resumes from the per-epoch state and ends with the very
    files of the uninterrupted run above -- which ran both sexes side by side, this one
    one after the other, so the two orders are proved bit-identical too."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    platform = demo[0]
    shutil.copytree(platform.extracts, tmp_path / "extracts")
    env = {**os.environ, "MH_EXTRACTS_DIR": str(tmp_path / "extracts"),
           "MH_ARTIFACTS_DIR": str(tmp_path / "artifacts"), "DAGSTER_HOME": str(tmp_path / "home"),
           "MH_PRESET": "demo", "MH_PARTITION_PROCESSES": "1"}
    command = [sys.executable, "-m", "mh_assets.cli", "run"]
    state = tmp_path / "artifacts" / "models" / "female" / ".state" / "mlm"
    with open(tmp_path / "killed.log", "w") as log:
        first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while not list(state.glob("checkpoint-*")) and first.poll() is None:
            assert time.monotonic() < deadline, "no epoch checkpoint within 10 minutes"
            time.sleep(0.5)
        assert first.poll() is None, "the run ended before it could be killed mid-training"
        time.sleep(1.0)  # into the second epoch
        first.send_signal(signal.SIGKILL)
        first.wait()
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    assert "recovered run" in rerun.stdout
    assert "resuming from the checkpoint" in rerun.stderr
    from mh_assets.ops.digests import differing, output_digests

    def outputs(artifacts):  # the killed run adds run records: compare everything else
        return {k: v for k, v in output_digests(artifacts).items()
                if not k.startswith("provenance/")}

    assert differing(outputs(tmp_path / "artifacts"), outputs(platform.artifacts)) == []

"""The study report's content, gathered from published files only.

Every table and figure is read back from ``tables/`` and ``figures/`` (already
small-cell suppressed), so nothing restricted can reach the report by construction;
the cohort flow is the one restricted aggregate it uses, and it is suppressed here.
"""

from __future__ import annotations

import json

import polars as pl

from mh_assets.core import layout
from mh_assets.core.publish.report import ReportFigure, ReportTable, Section
from mh_assets.core.publish.suppression import RowMargin, suppress
from mh_assets.core.schema import SEXES
from mh_assets.core.storage import ArtifactStore


def _table(store: ArtifactStore, relative: str, title: str, caption: str = "") -> ReportTable:
    return ReportTable(title, pl.read_csv(store.path(relative), infer_schema=False), caption)


def _figure(store: ArtifactStore, stem: str, title: str, caption: str = "") -> ReportFigure:
    return ReportFigure(title, store.path(layout.figure(stem)).read_bytes(), caption)


def cohort_flow(store: ArtifactStore, min_cell: int) -> pl.DataFrame:
    """The cohort flow with its small counts hidden (rows sum across the sexes)."""
    flow = pl.read_csv(store.path(layout.COHORT_FLOW))
    return suppress(flow, ["female", "male", "unknown", "total"],
                    row_margins=[RowMargin("total", ("female", "male", "unknown"))],
                    min_cell=min_cell)


def verdicts(store: ArtifactStore) -> dict[str, dict]:
    """Each sex's published verdict record (level, representation, reasons, numbers)."""
    out = {}
    for sex in SEXES:
        path = store.path(layout.verdict(sex))
        if path.exists():
            out[sex] = json.loads(path.read_text())
    return out


def subtypes_section(store: ArtifactStore) -> Section:
    """"Are there subtypes?": the verdict per sex, plainly, and the numbers behind it."""
    from mh_assets.core.clustering.verdict import NOT_SUPPORTED, Verdict

    found = verdicts(store)
    items: list = []
    for sex, record in found.items():
        verdict = Verdict(record["level"], record["representation"], tuple(record["reasons"]),
                          record["numbers"])
        items.append(verdict.sentence(sex))
    if any(r["level"] == NOT_SUPPORTED for r in found.values()):
        items.append(
            "Where the data do not support subtypes, the clusters below are reported as a "
            "descriptive partition of the cohort -- a way to summarise it -- and should not "
            "be read as distinct clinical subtypes.")
    items.append(
        "How this was decided: the run's clustering is compared with the same pipeline on "
        "degree-preserving null cohorts made from each partition (every patient keeps their "
        "number of codes and every code its prevalence; only which codes go together is "
        "shuffled). Subtypes are supported when the silhouette and the bootstrap stability "
        "both beat the null clearly, every cluster is stable (mean Jaccard >= 0.75) and the "
        "clusters do not follow the number of codes per patient.")
    for sex in found:
        table = pl.read_csv(store.path(layout.table(f"clusterability_{sex}")))
        items.append(ReportTable(
            f"Clusterability against the null ({sex})", clusterability_display(table),
            "Each representation's clustering of the partition, and of degree-preserving "
            "null cohorts by the same pipeline: mean (sd) over the null cohorts, z and "
            "empirical p. Stability is the mean bootstrap Jaccard, the nulls' at the "
            "observed k."))
    return Section("Are there subtypes?", items)


def representation_section(store: ArtifactStore) -> Section:
    """"Which representation?": per sex the finding in one sentence, the criteria table
    (best per criterion marked) and the held-out comparison it rests on."""
    from mh_assets.core.evaluation.evaluate import comparison_table

    items: list = []
    for sex in SEXES:
        path = store.path(layout.recommendation(sex))
        if not path.exists():
            continue
        items.append(f"{sex.capitalize()}: {json.loads(path.read_text())['sentence']}")
    items.append(
        "How this was decided: every representation -- the run's, the descriptor mean "
        "(MiniLM vectors of the descriptors, IPF-weighted, no training), multi-hot "
        "categories, TF-IDF-SVD, and code count alone for reference -- predicts outcomes it "
        "never saw with a 5-fold cross-validated logistic regression (AUROC, bootstrap 95% "
        "CI), and predicts diagnoses masked out of it (the representation rebuilt without "
        "that block's codes). Length of stay and discharge type are independent of the "
        "coding; APR severity, mortality risk and cost are derived from the same diagnoses "
        "by the APR-DRG grouper, so they partly re-read the input. R² says how much of each "
        "representation is code count (lower is better).")
    for sex in SEXES:
        criteria = store.path(layout.table(f"representation_criteria_{sex}"))
        if not criteria.exists():
            continue
        items.append(ReportTable(
            f"Which representation? Criteria ({sex})", criteria_display(pl.read_csv(criteria)),
            "Mean AUROC over the scored outcomes and over the masked diagnoses; R² of code "
            "count from the representation; stability: mean bootstrap Jaccard at the run's "
            "k; clusterability: beats the degree-preserving null. * marks the best per "
            "criterion (the n_codes-only row is a reference, never marked)."))
        scores = pl.read_csv(store.path(layout.table(f"representation_evaluation_{sex}")))
        items.append(ReportTable(
            f"Held-out prediction, AUROC [95% CI] ({sex})",
            comparison_table(scores).rename({"group": "Group", "task": "Task",
                                             "prevalence": "Prevalence"}),
            "Outcomes with fewer than 10 patients with or without them are too rare to "
            "score."))
    return Section("Which representation?", items)


def criteria_display(table: pl.DataFrame) -> pl.DataFrame:
    """The criteria table rounded, with a * on each best value."""
    from mh_assets.core.evaluation.recommendation import (
        CLUSTERABLE,
        MASKED_AUROC,
        OUTCOME_AUROC,
        R2,
        STABILITY,
    )

    def marked(column: str, title: str, digits: int = 3) -> pl.Expr:
        value = pl.col(column).cast(pl.Float64).round(digits).cast(pl.Utf8).fill_null("n/a")
        best = pl.col("best").fill_null("").str.contains(column, literal=True)
        return pl.when(best).then(value + " *").otherwise(value).alias(title)

    verdict = pl.col(CLUSTERABLE).cast(pl.Utf8).replace_strict(
        {"true": "beats the null", "false": "within the null"}, default="n/a")
    verdict = pl.when(pl.col("best").fill_null("").str.contains(CLUSTERABLE, literal=True)
                      ).then(verdict + " *").otherwise(verdict)
    return table.select(
        pl.col("representation").alias("Representation"),
        marked(OUTCOME_AUROC, "Outcome AUROC"),
        marked(MASKED_AUROC, "Masked-diagnosis AUROC"),
        marked(R2, "n_codes R²"),
        marked(STABILITY, "Stability"),
        verdict.alias("Clusterability"),
    )


def clusterability_display(table: pl.DataFrame) -> pl.DataFrame:
    """The clusterability table as a reader wants it: rounded, null as mean (sd)."""
    def null(score: str) -> pl.Expr:
        return pl.format("{} ({})", pl.col(f"null_{score}_mean").round(3),
                         pl.col(f"null_{score}_sd").round(3))

    return table.select(
        pl.col("representation").alias("Representation"),
        pl.col("k").alias("k (this pipeline)"),
        pl.col("silhouette").round(3).alias("Silhouette"),
        null("silhouette").alias("Null silhouette"),
        pl.col("silhouette_z").round(1).alias("z (silhouette)"),
        pl.col("silhouette_p").round(3).alias("p (silhouette)"),
        pl.col("stability").round(3).alias("Stability"),
        null("stability").alias("Null stability"),
        pl.col("stability_z").round(1).alias("z (stability)"),
        pl.col("stability_p").round(3).alias("p (stability)"),
        pl.when(pl.col("beats_null")).then(pl.lit("yes")).otherwise(pl.lit("no"))
        .alias("Beats the null"),
    )


def build_sections(store: ArtifactStore) -> tuple[list[Section], Section]:
    """The report's sections in reading order, and the validity section."""
    figures_dir = store.path(layout.FIGURES)
    descriptive_figures = sorted(p.stem for p in figures_dir.glob("fig*.png"))
    maps = sorted(p.stem for p in figures_dir.glob("*_map_*.png"))
    from mh_assets.core.clustering.verdict import NOT_SUPPORTED

    descriptive_only = any(r["level"] == NOT_SUPPORTED for r in verdicts(store).values())
    clusters_title = ("All clusters, both sexes (a descriptive partition, not subtypes, where "
                      "the data do not support subtypes)" if descriptive_only
                      else "All clusters, both sexes")
    tables = Section("Supplementary tables", [
        _table(store, layout.table("sud_by_sex"), "Substance use disorders by sex",
               "Patients with a code of each group in any diagnosis field; chi-square with "
               "Yates' correction. F10 and F17 are additions to the study's table."),
        _table(store, layout.table("clusters"), clusters_title),
        _table(store, layout.table("cluster_pairs"), "Male/female cluster pairs",
               "Hungarian matching on cosine similarity of c-DF-IPF profiles."),
    ])
    descriptives = Section("Cohort descriptives", [
        _table(store, layout.table("descriptives"), "Tests by sex"),
        *(_figure(store, stem, stem.replace("_", " ")) for stem in descriptive_figures),
    ])
    cluster_maps = Section("Cluster maps", [_figure(store, s, s.replace("_", " ")) for s in maps])
    validity = Section("Validity", [
        item
        for sex in SEXES
        for item in (
            _figure(store, f"k_selection_{sex}", f"k selection ({sex})"),
            _table(store, layout.table(f"stability_{sex}"), f"Cluster stability ({sex})",
                   "Mean Jaccard to the best-matching cluster over bootstrap resamples."),
            _table(store, layout.table(f"confounder_audit_{sex}"), f"Confounder audit ({sex})",
                   "Association of cluster with codes per patient and admission year "
                   "(possible confounders) and with length of stay and APR severity "
                   "(outcomes, reported only): eta squared and AMI against the variable in "
                   "k quantile groups, beside the multi-hot baseline at the same k."),
            _table(store, layout.table(f"baselines_{sex}"), f"Baseline comparison ({sex})"),
        )
    ])
    return [tables, descriptives, cluster_maps], validity

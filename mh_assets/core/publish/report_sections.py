"""The study report's content, gathered from published files only.

Every table and figure is read back from ``tables/`` and ``figures/`` (already
small-cell suppressed), so nothing restricted can reach the report by construction;
the cohort flow is the one restricted aggregate it uses, and it is suppressed here.
"""

from __future__ import annotations

import json

import polars as pl

from mh_assets.core import layout
from mh_assets.core.cohort import analysed_sexes, present_sexes
from mh_assets.core.publish.report import ReportFigure, ReportTable, Section
from mh_assets.core.publish.suppression import suppress_flow
from mh_assets.core.schema import SEXES
from mh_assets.core.storage import ArtifactStore


def _table(store: ArtifactStore, relative: str, title: str, caption: str = "") -> ReportTable:
    return ReportTable(title, pl.read_csv(store.path(relative), infer_schema=False), caption)


def _catalog_table(store: ArtifactStore, key: str, qualifier: str = "") -> ReportTable:
    """A published table with its catalog title and caption and its display headers --
    the same as its Word and Excel files show."""
    from mh_assets.core.publish import display

    frame = pl.read_csv(store.path(layout.table(key)), infer_schema=False)
    found = display.entry(key)
    return ReportTable(found.title + qualifier, display.for_readers(key, frame),
                       " ".join(display.notes(key)), number=found.number)


#: Display names of the validity tables' columns (the rest: underscores to spaces).
HEADERS = {
    "cluster_label": "Cluster", "size": "n", "n_resamples": "Resamples",
    "mean_jaccard": "Mean Jaccard", "sd_jaccard": "SD Jaccard",
    "dissolved_rate": "Share dissolved (Jaccard < 0.5)",
    "recovered_rate": "Share recovered (Jaccard >= 0.75)",
    "unstable": "Unstable", "variable": "Variable", "role": "Role", "n_patients": "Patients",
    "eta_squared": "eta²", "ami_binned": "AMI (binned)", "baseline_eta_squared": "Baseline eta²",
    "baseline_ami_binned": "Baseline AMI", "eta_excess": "eta² excess over baseline",
    "method": "Representation", "k": "k", "silhouette": "Silhouette",
    "macro_silhouette": "Macro silhouette", "mean_stability": "Stability",
    "ari_vs_transformer": "ARI vs run's clusters", "own_k": "Own k",
    "eta2_n_codes": "eta² codes/patient", "eta2_stay": "eta² stay", "eta2_cost": "eta² cost",
    "silhouette_mean": "Silhouette", "silhouette_sd": "SD",
    "macro_silhouette_mean": "Macro silhouette", "macro_silhouette_sd": "SD (macro)",
    "calinski_harabasz_mean": "Calinski-Harabasz", "calinski_harabasz_sd": "SD (CH)",
    "davies_bouldin_mean": "Davies-Bouldin", "davies_bouldin_sd": "SD (DB)", "chosen": "Chosen",
    "n_codes": "codes per patient", "days_of_stay": "length of stay",
    "apr_severity": "APR severity", "year": "discharge year",
}
DROPPED = ("cluster",)  # internal 0-based ids: the label says the same


def readable(frame: pl.DataFrame, digits: int = 3) -> pl.DataFrame:
    """Human headers, floats rounded to ``digits``, internal id columns dropped, and
    snake_case values of a "variable" column named too."""
    frame = frame.drop([c for c in DROPPED if c in frame.columns])
    # a value rounded to -0.0 reads as 0; booleans as yes / no, not True / False
    def rounded(name: str) -> pl.Expr:
        value = pl.col(name).round(digits)
        return pl.when(value == 0).then(0.0).otherwise(value).alias(name)

    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    frame = frame.with_columns(
        *(rounded(c) for c in floats),
        pl.col(pl.Boolean).replace_strict({True: "yes", False: "no"}, return_dtype=pl.Utf8))
    if "variable" in frame.columns:
        frame = frame.with_columns(pl.col("variable").replace(HEADERS))
    return frame.rename({c: HEADERS.get(c, c.replace("_", " ").replace("v: ", "V: "))
                         for c in frame.columns})


def _readable_table(store: ArtifactStore, relative: str, title: str,
                    caption: str = "") -> ReportTable:
    return ReportTable(title, readable(pl.read_csv(store.path(relative))), caption)


def _dotted(substitution: str) -> str:
    """"T407X1A->T407" as the registry writes codes: "T40.7X1A -> T40.7"."""
    from mh_assets.core.corpus import SUBSTITUTION
    from mh_assets.core.icd import display_code

    return " -> ".join(display_code(code) for code in substitution.split(SUBSTITUTION))


def coverage_section(store: ArtifactStore) -> Section:
    """The headline fix: how many code occurrences found their descriptor, and how."""
    rows, substitutions = [], []
    for sex in present_sexes(store):
        path = store.path(layout.coverage(sex))
        if not path.exists():
            continue
        c = json.loads(path.read_text())
        rows.append({"Sex": sex, "Code occurrences": c["code_occurrences"],
                     "Exact match": f"{c['exact_share']:.2%}",
                     "With ancestors": f"{c['with_ancestors_share']:.2%}",
                     "Unresolved codes (distinct)": c["distinct_unresolved_codes"],
                     "Study's un-normalised lookup": f"{c['naive_lookup_share']:.2%}"})
        substitutions += [{"Sex": sex, "Retired code -> ancestor used": _dotted(k),
                           "Occurrences": v}
                          for k, v in list(c["top_substitutions"].items())[:10]]
    items: list = [
        "The registry writes codes with a dot (F12.10), the descriptor table without (F1210). "
        "Codes are normalised before the lookup; the study's lookup was not, and matched only "
        "bare three-character categories. The corpus is blocked when coverage falls below the "
        "thresholds in Methods."]
    if rows:
        items.append(ReportTable("Descriptor coverage by sex", pl.DataFrame(rows),
                                 "Shares of all code occurrences in the corpus."))
    if substitutions:
        items.append(ReportTable(
            "Most frequent substitutions by an ancestor's descriptor", pl.DataFrame(substitutions),
            "A code retired from or absent in the descriptor edition borrows its nearest valid "
            "ancestor's descriptor; occurrences under 10 are shown as <10."))
    return Section("Descriptor coverage", items)


def _catalog_figure(store: ArtifactStore, stem: str) -> ReportFigure:
    """A published figure with its catalog number, title and caption (per-sex stems
    are catalogued as ``<name>_{sex}``)."""
    from mh_assets.core.publish.catalog import FIGURES

    sex = next((s for s in SEXES if stem.endswith(f"_{s}")), None)
    key = stem.removesuffix(f"_{sex}") + "_{sex}" if sex else stem
    found = FIGURES.get(key)
    if found is None:
        return _figure(store, stem, stem.replace("_", " "))
    return ReportFigure(found.title.format(sex=sex), store.path(layout.figure(stem)).read_bytes(),
                        found.caption.format(sex=sex),
                        number=f"{found.number}{'' if sex is None else ' (' + sex + ')'}")


def _figure(store: ArtifactStore, stem: str, title: str, caption: str = "") -> ReportFigure:
    return ReportFigure(title, store.path(layout.figure(stem)).read_bytes(), caption)


def flagged_records(store: ArtifactStore, min_cell: int) -> list:
    """The kept records with a value the cohort rules flag as implausible, per flag and
    sex (small counts hidden; a row's total gives no hidden cell back): Methods says they
    are counted, and this is where."""
    from mh_assets.core.publish.suppression import RowMargin, suppress
    from mh_assets.core.schema import QUALITY_FLAGS, SEX

    if not store.path(layout.COHORT).exists():
        return []
    counts = (store.scan_parquet(layout.COHORT).select(SEX, QUALITY_FLAGS)
              .explode(QUALITY_FLAGS).drop_nulls(QUALITY_FLAGS)
              .group_by(QUALITY_FLAGS).agg(*[(pl.col(SEX) == sex).sum().alias(sex)
                                             for sex in SEXES])
              .sort(QUALITY_FLAGS).collect())
    if counts.height == 0:
        return ["No kept record was flagged as implausible."]
    counts = counts.with_columns(total=pl.sum_horizontal(SEXES))
    shown = suppress(counts, [*SEXES, "total"], row_margins=[RowMargin("total", SEXES)],
                     min_cell=min_cell).rename({QUALITY_FLAGS: "Flag", "total": "Total",
                                                **{sex: sex.capitalize() for sex in SEXES}})
    return [ReportTable(
        "Kept records flagged as implausible", shown,
        "Records with a value the cohort rules flag as implausible; they are kept and "
        "analysed (Methods). A record with several flags counts under each.")]


def cohort_flow(store: ArtifactStore, min_cell: int) -> pl.DataFrame:
    """The cohort flow with its small counts hidden (rows sum across the sexes)."""
    return suppress_flow(pl.read_csv(store.path(layout.COHORT_FLOW)), min_cell)


def verdicts(store: ArtifactStore) -> dict[str, dict]:
    """Each sex's published verdict record (level, representation, reasons, numbers)."""
    out = {}
    for sex in present_sexes(store):
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
            "observed k. This pipeline is the null test's own (a sample of patients, few "
            "resamples), so its silhouette and stability differ from the run's full-cohort "
            "figures in the stability and criteria tables. Beats the null: on both scores, by "
            "the z and p thresholds in Methods."))
    return Section("Are there subtypes?", items)


def representation_section(store: ArtifactStore) -> Section:
    """"Which representation?": per sex the finding in one sentence, the criteria table
    (best per criterion marked) and the held-out comparison it rests on."""
    from mh_assets.core.evaluation.evaluate import comparison_table

    items: list = []
    for sex in present_sexes(store):
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
    for sex in present_sexes(store):
        criteria = store.path(layout.table(f"representation_criteria_{sex}"))
        if not criteria.exists():
            continue
        items.append(ReportTable(
            f"Which representation? Criteria ({sex})", criteria_display(pl.read_csv(criteria)),
            "Mean AUROC over the scored outcomes and over the masked diagnoses; R² of code "
            "count from the representation; stability: mean bootstrap Jaccard at the run's "
            "k on the full cohort; clusterability: beats the degree-preserving null on both "
            "silhouette and stability. * marks the best per "
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
        {"true": "beats the null", "false": "does not beat the null"}, default="n/a")
    verdict = pl.when(pl.col("best").fill_null("").str.contains(CLUSTERABLE, literal=True)
                      ).then(verdict + " *").otherwise(verdict)
    return table.select(
        pl.col("representation").alias("Representation"),
        marked(OUTCOME_AUROC, "Outcome AUROC"),
        marked(MASKED_AUROC, "Masked-diagnosis AUROC"),
        marked(R2, "n_codes R²"),
        marked(STABILITY, "Stability (full cohort)"),
        verdict.alias("Clusterability"),
    )


def clusterability_display(table: pl.DataFrame) -> pl.DataFrame:
    """The clusterability table as a reader wants it: rounded, null as mean (sd)."""
    def fixed(column: str) -> pl.Expr:  # 0.150, not 0.15, beside 0.166
        return pl.col(column).map_elements(lambda v: f"{v:.3f}", return_dtype=pl.Utf8)

    def null(score: str) -> pl.Expr:
        return pl.format("{} ({})", fixed(f"null_{score}_mean"), fixed(f"null_{score}_sd"))

    return table.select(
        pl.col("representation").alias("Representation"),
        pl.col("k").alias("k (this pipeline)"),
        # the null test's own pipeline: not the run's full-cohort silhouette or stability
        pl.col("silhouette").round(3).alias("Silhouette (null-test pipeline)"),
        null("silhouette").alias("Null silhouette"),
        # two decimals: the rule is z >= 3, and a z of 2.96 must not read as 3
        pl.col("silhouette_z").round(2).alias("z (silhouette)"),
        pl.col("silhouette_p").round(3).alias("p (silhouette)"),
        pl.col("stability").round(3).alias("Stability (null-test pipeline)"),
        null("stability").alias("Null stability"),
        pl.col("stability_z").round(2).alias("z (stability)"),
        pl.col("stability_p").round(3).alias("p (stability)"),
        pl.when(pl.col("beats_null")).then(pl.lit("yes")).otherwise(pl.lit("no"))
        .alias("Beats the null"),
    )


def build_sections(store: ArtifactStore,
                   min_cell: int = 10) -> tuple[list[Section], Section]:
    """The report's sections in reading order, and the validity section (``min_cell``:
    the suppression threshold for the counts read from restricted data here)."""
    figures_dir = store.path(layout.FIGURES)
    descriptive_figures = sorted(p.stem for p in figures_dir.glob("fig*.png"))
    absent = [sex for sex in SEXES if sex not in analysed_sexes(store)]
    # tables that compare the sexes say so when one has no patients, not just show blanks
    no_patients = [sex for sex in SEXES if sex not in present_sexes(store)]
    by_sex = (f" (no {' or '.join(no_patients)} patients in this extract: nothing to compare)"
              if no_patients else "")
    maps = sorted(p.stem for p in figures_dir.glob("*_map_*.png")
                  if not p.stem.endswith(tuple(f"_{sex}" for sex in absent)))
    from mh_assets.core.clustering.verdict import NOT_SUPPORTED

    descriptive_only = any(r["level"] == NOT_SUPPORTED for r in verdicts(store).values())
    partition = (" (a descriptive partition, not subtypes, where the data do not support "
                 "subtypes)" if descriptive_only else "")
    tables = Section("Supplementary tables", [
        _catalog_table(store, "sud_by_sex", by_sex),
        _catalog_table(store, "clusters", partition),
        *([_catalog_table(store, "cluster_codes", partition)]
          if store.path(layout.table("cluster_codes")).exists() else []),
        # pairs need both sexes: an empty table says why rather than standing there blank
        _catalog_table(store, "cluster_pairs", f" (none: {' and '.join(absent)} not analysed "
                       "in this run)" if absent else ""),
    ])
    descriptives = Section("Cohort descriptives", [
        *flagged_records(store, min_cell),
        _catalog_table(store, "descriptives", by_sex),
        *(_catalog_figure(store, stem) for stem in descriptive_figures),
    ])
    cluster_maps = Section("Cluster maps", [_catalog_figure(store, s) for s in maps])
    validity = Section("Validity", [
        item
        for sex in analysed_sexes(store)
        for item in (
            _catalog_figure(store, f"k_selection_{sex}"),
            _readable_table(store, layout.table(f"k_selection_{sex}"), f"k selection ({sex})",
                            "Mean (SD) over the resamples; the chosen k is marked."),
            _readable_table(store, layout.table(f"stability_{sex}"), f"Cluster stability ({sex})",
                            "Mean Jaccard to the best-matching cluster over bootstrap "
                            "resamples."),
            _readable_table(store, layout.table(f"confounder_audit_{sex}"),
                            f"Confounder audit ({sex})",
                   "Association of cluster with codes per patient and discharge year "
                   "(possible confounders) and with length of stay and APR severity "
                   "(outcomes, reported only): eta squared and AMI against the variable in "
                   "k quantile groups, beside the multi-hot baseline at the same k."),
            _readable_table(store, layout.table(f"baselines_{sex}"),
                            f"Baseline comparison ({sex})",
                            "Every representation at the run's k (silhouette in its own space, "
                            "stability, ARI against the run's clusters), then at its own k: "
                            "how much its clusters separate code count and the outcomes "
                            "(eta², Cramér's V)."),
        )
    ])
    return [tables, descriptives, cluster_maps], validity

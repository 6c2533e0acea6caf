"""The study report's content, gathered from published files only.

Every table and figure is read back from ``tables/`` and ``figures/`` (already
small-cell suppressed), so nothing restricted can reach the report by construction;
the cohort flow is the one restricted aggregate it uses, and it is suppressed here.
"""

from __future__ import annotations

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


def build_sections(store: ArtifactStore) -> tuple[list[Section], Section]:
    """The report's sections in reading order, and the validity section."""
    figures_dir = store.path(layout.FIGURES)
    descriptive_figures = sorted(p.stem for p in figures_dir.glob("fig*.png"))
    maps = sorted(p.stem for p in figures_dir.glob("*_map_*.png"))
    tables = Section("Supplementary tables", [
        _table(store, layout.table("sud_by_sex"), "Substance use disorders by sex",
               "Patients with a code of each group in any diagnosis field; chi-square with "
               "Yates' correction. F10 and F17 are additions to the study's table."),
        _table(store, layout.table("clusters"), "All clusters, both sexes"),
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
                   "Association of cluster with codes per patient, admission year and "
                   "length of stay (AMI, eta squared). The published study scored AMI 0.72 "
                   "(male) and 0.83 (female) with n_codes."),
            _table(store, layout.table(f"baselines_{sex}"), f"Baseline comparison ({sex})"),
        )
    ])
    return [tables, descriptives, cluster_maps], validity

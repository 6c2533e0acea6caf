"""The cluster figures of every analysed sex, the sexes drawn side by side.

Why: one sex's figures -- its clusters x top-codes prevalence grid and its PCA and
UMAP maps of a sample of patients -- take seconds of one core (the UMAP layout, and
matplotlib drawing each figure twice, for the 300 dpi PNG and the SVG), and nothing in
one sex's figures depends on the other's. So each sex is drawn in its own worker
process (:func:`~mh_assets.core.clustering.geometry.parallel_map`, capped at the cores
this process may use: one core draws them one after the other). Projections are seeded
and drawing is deterministic, so the files are the same whichever way they are drawn.

    figures = cluster_figures({"female": SexFigureInputs(codes, embeddings, clusters,
                                                          names)}, min_cell, seed)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from mh_assets.core.clustering.geometry import parallel_map
from mh_assets.core.publish import figures as draw
from mh_assets.core.publish import maps

#: The order the figures are published in: every sex's grid, then the maps by method.
KINDS = ("cluster_prevalence_map", "embedding_map_pca", "embedding_map_umap")


@dataclass(frozen=True)
class SexFigureInputs:
    """What one sex's cluster figures are drawn from: its ``cluster_profiles`` code
    profile and its patients' embeddings, cluster numbers and cluster names."""

    codes: pl.DataFrame
    embeddings: np.ndarray
    clusters: np.ndarray
    names: Sequence[str]


def sex_figures(sex: str, inputs: SexFigureInputs, min_cell: int,
                seed: int) -> dict[str, draw.RenderedFigure]:
    """One sex's prevalence grid, PCA map and -- from ``UMAP_MIN_POINTS`` sampled
    patients (:func:`maps.map_methods`) -- UMAP map, by figure stem."""
    panel = draw.SEX_NAMES[sex]
    grid = f"cluster_prevalence_map_{sex}"
    figures = {grid: draw.prevalence_heatmap(maps.prevalence_cells(inputs.codes, min_cell),
                                             grid, draw.figure_entry(grid).title, panel=panel)}
    for method in maps.map_methods(len(inputs.embeddings)):
        axis = "PCA component" if method == "pca" else "UMAP"
        name = f"embedding_map_{method}_{sex}"
        figures[name] = draw.scatter_map(
            maps.embedding_points(inputs.embeddings, inputs.clusters, inputs.names, method,
                                  seed),
            draw.figure_entry(name).title, name=name, x_label=f"{axis} 1",
            y_label=f"{axis} 2", panel=panel,
            note=f"A seeded sample of up to {maps.EMBEDDING_SAMPLE} patients; no hovers.",
        )
    return figures


def cluster_figures(inputs: Mapping[str, SexFigureInputs], min_cell: int, seed: int,
                    jobs: int = 2) -> dict[str, draw.RenderedFigure]:
    """Every sex's :func:`sex_figures`, each sex in a worker process when ``jobs`` > 1
    (and the cores allow), published in :data:`KINDS` order, sexes in the given order."""
    drawn = parallel_map(sex_figures, [(sex, data, min_cell, seed)
                                       for sex, data in inputs.items()], jobs)
    by_name = {name: figure for figures in drawn for name, figure in figures.items()}
    return {f"{kind}_{sex}": by_name[f"{kind}_{sex}"] for kind in KINDS for sex in inputs
            if f"{kind}_{sex}" in by_name}

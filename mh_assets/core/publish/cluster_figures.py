"""The cluster figures of every analysed sex: its clusters x top-codes prevalence grid,
and PCA and UMAP maps of a sample of its patients.

The sexes are drawn one after the other, in one process. Drawing them side by side in
a worker process each was measured and dropped: a spawned worker re-imports matplotlib,
plotly and umap (~2-3 s) before it draws, and stopping the workers cleanly takes ~1 s,
which left ~1 s of a ~9.5 s step on 2 cores -- and inside a Dagster step the step was
slower (``benchmarks/README.md``, ``publish.py``). A forked worker would skip the
imports, but polars' thread pool does not survive a fork.

    figures = cluster_figures({"female": SexFigureInputs(codes, embeddings, clusters,
                                                          names)}, min_cell, seed)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

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


def cluster_figures(inputs: Mapping[str, SexFigureInputs], min_cell: int,
                    seed: int) -> dict[str, draw.RenderedFigure]:
    """Every sex's :func:`sex_figures`, published in :data:`KINDS` order, sexes in the
    given order."""
    by_name = {name: figure for sex, data in inputs.items()
               for name, figure in sex_figures(sex, data, min_cell, seed).items()}
    return {f"{kind}_{sex}": by_name[f"{kind}_{sex}"] for kind in KINDS for sex in inputs
            if f"{kind}_{sex}" in by_name}

"""The cluster maps' points: cluster profiles or a sample of patients, in 2-D.

A cluster point carries its label, its size (small sizes masked as in the tables)
and its top terms as hover text; a patient point carries only its cluster's name --
no hover, no label -- so a map can never show an individual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from mh_assets.core.clustering.projection import project, sample_rows
from mh_assets.core.publish.suppression import primary_mark
from mh_assets.core.schema import CLUSTER_LABEL

#: Patients drawn for an embedding map.
EMBEDDING_SAMPLE = 2000


def cluster_hover(
    codes: Mapping[str, pl.DataFrame], terms: Mapping[str, pl.DataFrame], min_cell: int
) -> pl.DataFrame:
    """Cluster-level hover text: label, size (masked below ``min_cell``), top terms."""
    rows = []
    for sex, frame in codes.items():
        sizes = frame.group_by(CLUSTER_LABEL).agg(pl.col("cluster_size").first())
        top = (terms[sex].filter(pl.col("rank") <= 3).sort("rank")
               .group_by(CLUSTER_LABEL).agg(pl.col("term").str.join("; ")))
        rows.append(sizes.join(top, on=CLUSTER_LABEL, how="left"))
    frame = pl.concat(rows)
    small = (pl.col("cluster_size") > 0) & (pl.col("cluster_size") < min_cell)
    size = pl.when(small).then(pl.lit(primary_mark(min_cell))).otherwise(
        pl.col("cluster_size").cast(pl.String))
    return frame.select(
        pl.col(CLUSTER_LABEL).alias("label"),
        pl.format("{} (n={}): {}", CLUSTER_LABEL, size, pl.col("term").fill_null("")).alias(
            "hover_text"),
        pl.col("cluster_size").cast(pl.Float64).alias("size"),
    )


def profile_points(
    matrices: Mapping[str, np.ndarray], labels: Mapping[str, list[str]],
    sexes: Sequence[str], hover: pl.DataFrame, method: str, seed: int,
) -> pl.DataFrame:
    """The clusters of ``sexes`` projected together from their c-DF-IPF profiles."""
    xy = project(np.vstack([matrices[s] for s in sexes]), method, seed)
    return pl.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1],
        "label": [lab for s in sexes for lab in labels[s]],
        "group": [s for s in sexes for _ in labels[s]],
    }).join(hover, on="label", how="left")


def embedding_points(
    embeddings: np.ndarray, clusters: np.ndarray, names: Sequence[str], method: str, seed: int,
) -> pl.DataFrame:
    """A seeded sample of patients projected from their embeddings, grouped by cluster."""
    idx = sample_rows(len(embeddings), EMBEDDING_SAMPLE, seed)
    xy = project(embeddings[idx], method, seed)
    return pl.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": [""] * len(idx),
                         "group": np.asarray(names)[clusters[idx]]})

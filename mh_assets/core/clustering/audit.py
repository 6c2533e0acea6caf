"""Confounder audit: do the clusters just re-encode how many codes a patient has?

The study's published clusters turned out to follow the number of codes per patient
(AMI 0.72 male, 0.83 female). For each variable -- n_codes, the year and the length of
stay -- two numbers describe how much the partition tells about it:

* AMI (sklearn ``adjusted_mutual_info_score``) between the cluster and the variable
  taken as categories: 0 for independence, 1 for identical partitions, corrected for
  chance so it does not grow with the number of distinct values;
* eta^2 = between-cluster sum of squares / total sum of squares of the variable: the
  share of its variance the clusters explain (one-way ANOVA effect size).

Patients with a missing value are left out of that variable's numbers; variables absent
from the corpus are skipped. ``warn`` is True when AMI(cluster, n_codes) exceeds
``ClusterConfig.ami_threshold`` (0.3 by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.metrics import adjusted_mutual_info_score

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.corpus import DAYS_OF_STAY, YEAR

AUDITED = (schema.N_CODES, YEAR, DAYS_OF_STAY)


def eta_squared(labels: np.ndarray, values: np.ndarray) -> float:
    """Between-group sum of squares over total sum of squares (0 if the variable is constant)."""
    labels = np.asarray(labels, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    counts = np.bincount(labels)
    present = counts > 0
    group_means = np.bincount(labels, weights=values)[present] / counts[present]
    grand = values.mean()
    total = float(((values - grand) ** 2).sum())
    between = float((counts[present] * (group_means - grand) ** 2).sum())
    return between / total if total > 0 else 0.0


@dataclass(frozen=True)
class Audit:
    """``table``: variable (Utf8), n_patients (Int64), n_categories (Int64), ami,
    eta_squared (Float64). ``warn``: AMI(cluster, n_codes) > ``threshold``."""

    table: pl.DataFrame
    warn: bool
    threshold: float

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for row in self.table.iter_rows(named=True):
            out[f"ami_{row['variable']}"] = round(row["ami"], 4)
            out[f"eta2_{row['variable']}"] = round(row["eta_squared"], 4)
        out["ami_threshold"] = self.threshold
        out["warn"] = self.warn
        return out


def confounder_audit(corpus: pl.DataFrame, labels: np.ndarray,
                     config: ClusterConfig = ClusterConfig()) -> Audit:
    """AMI and eta^2 of the clustering ``labels`` with n_codes, year and days_of_stay."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != corpus.height:
        raise ValueError(f"{len(labels)} cluster labels for {corpus.height} corpus rows")
    rows = []
    for variable in (v for v in AUDITED if v in corpus.columns):
        column = corpus[variable].cast(pl.Float64)
        keep = column.is_not_null().to_numpy() & ~np.isnan(column.fill_null(0.0).to_numpy())
        values = column.to_numpy()[keep]
        groups = labels[keep]
        if len(values) == 0:
            continue
        categories, codes = np.unique(values, return_inverse=True)
        rows.append((variable, int(keep.sum()), len(categories),
                     float(adjusted_mutual_info_score(groups, codes)),
                     eta_squared(groups, values)))
    table = pl.DataFrame(rows, orient="row", schema={
        "variable": pl.Utf8, "n_patients": pl.Int64, "n_categories": pl.Int64,
        "ami": pl.Float64, "eta_squared": pl.Float64,
    })
    n_codes = table.filter(pl.col("variable") == schema.N_CODES)["ami"]
    warn = bool(n_codes.len() and n_codes[0] > config.ami_threshold)
    return Audit(table=table, warn=warn, threshold=config.ami_threshold)

"""Confounder audit: do the clusters just re-encode how many codes a patient has?

The study's published clusters followed the number of codes per patient, and on a real
cohort of the study's size a k = 2 transformer clustering still split patients by code
count (eta^2 0.33-0.40) while an AMI-based check passed: AMI between a two-way split
and a 19-level variable is small by construction. So the audit uses statistics that
keep their meaning at any k:

* eta^2(variable | cluster) = between-cluster / total sum of squares of the variable:
  the share of its variance the clusters explain (one-way ANOVA effect size);
* AMI between the cluster and the variable *binned into k quantile groups*, so both
  partitions have the same number of parts;
* the same two figures for the multi-hot baseline clustered at the same k, because a
  representation that adds code-count structure beyond what the diagnoses themselves
  carry shows as an *excess* over the baseline.

Variables: ``n_codes`` and the admission ``year`` are possible confounders; length of
stay and APR severity are outcomes -- clusters may legitimately differ in them, so they
are reported, never warned on. ``warn`` is True when eta^2(n_codes) exceeds
``ClusterConfig.eta_threshold`` (0.15) or exceeds the baseline's by more than
``ClusterConfig.eta_excess`` (0.10). Patients with a missing value are left out of that
variable's numbers; variables absent from the corpus are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.metrics import adjusted_mutual_info_score

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.corpus import APR_SEVERITY, DAYS_OF_STAY, YEAR

CONFOUNDER, OUTCOME = "confounder", "outcome"
AUDITED = {schema.N_CODES: CONFOUNDER, YEAR: CONFOUNDER, DAYS_OF_STAY: OUTCOME,
           APR_SEVERITY: OUTCOME}
TABLE_SCHEMA = {
    "variable": pl.Utf8, "role": pl.Utf8, "n_patients": pl.Int64, "eta_squared": pl.Float64,
    "ami_binned": pl.Float64, "baseline_eta_squared": pl.Float64,
    "baseline_ami_binned": pl.Float64, "eta_excess": pl.Float64,
}


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


def quantile_bins(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` cut into at most ``k`` groups at their quantiles (ties stay together)."""
    values = np.asarray(values, dtype=np.float64)
    inner = np.quantile(values, np.linspace(0, 1, k + 1)[1:-1]) if k > 1 else np.array([])
    return np.searchsorted(np.unique(inner), values, side="right")


def binned_ami(labels: np.ndarray, values: np.ndarray, k: int) -> float:
    """AMI between a k-part clustering and the variable in k quantile groups."""
    return float(adjusted_mutual_info_score(labels, quantile_bins(values, k)))


@dataclass(frozen=True)
class Audit:
    """``table``: one row per audited variable (see ``TABLE_SCHEMA``); the baseline
    columns are null without baseline labels. ``warn`` and its ``reasons``."""

    table: pl.DataFrame
    warn: bool
    reasons: tuple[str, ...]
    eta_threshold: float
    eta_excess: float

    def value(self, variable: str, column: str = "eta_squared") -> float | None:
        row = self.table.filter(pl.col("variable") == variable)
        return None if row.height == 0 else row[column][0]

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for row in self.table.iter_rows(named=True):
            for column, key in (("eta_squared", "eta2"), ("ami_binned", "ami_binned"),
                                ("baseline_eta_squared", "baseline_eta2")):
                if row[column] is not None:
                    out[f"{key}_{row['variable']}"] = round(row[column], 4)
        out.update(eta_threshold=self.eta_threshold, eta_excess_threshold=self.eta_excess,
                   warn=self.warn, reasons="; ".join(self.reasons) or "none")
        return out


def _column(corpus: pl.DataFrame, variable: str) -> tuple[np.ndarray, np.ndarray]:
    column = corpus[variable].cast(pl.Float64, strict=False)
    values = column.fill_null(np.nan).to_numpy()
    return values, ~np.isnan(values)


def confounder_audit(corpus: pl.DataFrame, labels: np.ndarray,
                     config: ClusterConfig = ClusterConfig(),
                     baseline_labels: np.ndarray | None = None) -> Audit:
    """The audit of clustering ``labels`` (one per corpus row), against the multi-hot
    baseline's ``baseline_labels`` at the same k when given."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != corpus.height:
        raise ValueError(f"{len(labels)} cluster labels for {corpus.height} corpus rows")
    if baseline_labels is not None and len(baseline_labels) != len(labels):
        raise ValueError(f"{len(baseline_labels)} baseline labels for {len(labels)} patients")
    k = max(int(labels.max()) + 1, 2) if len(labels) else 2
    rows = []
    for variable, role in AUDITED.items():
        if variable not in corpus.columns:
            continue
        values, keep = _column(corpus, variable)
        if not keep.any():
            continue
        values, groups = values[keep], labels[keep]
        base = [None, None]
        if baseline_labels is not None:
            kept = np.asarray(baseline_labels, dtype=np.int64)[keep]
            base = [eta_squared(kept, values), binned_ami(kept, values, k)]
        eta = eta_squared(groups, values)
        rows.append((variable, role, int(keep.sum()), eta, binned_ami(groups, values, k),
                     *base, None if base[0] is None else eta - base[0]))
    table = pl.DataFrame(rows, orient="row", schema=TABLE_SCHEMA)
    reasons = _reasons(table, config)
    return Audit(table=table, warn=bool(reasons), reasons=reasons,
                 eta_threshold=config.eta_threshold, eta_excess=config.eta_excess)


def _reasons(table: pl.DataFrame, config: ClusterConfig) -> tuple[str, ...]:
    row = table.filter(pl.col("variable") == schema.N_CODES)
    if row.height == 0:
        return ()
    eta, excess = row["eta_squared"][0], row["eta_excess"][0]
    reasons = []
    if eta > config.eta_threshold:
        reasons.append(f"eta^2(n_codes | cluster) = {eta:.2f} > {config.eta_threshold:.2f}")
    if excess is not None and excess > config.eta_excess:
        reasons.append(f"eta^2(n_codes) exceeds the multi-hot baseline's at the same k by "
                       f"{excess:.2f} > {config.eta_excess:.2f}")
    return tuple(reasons)

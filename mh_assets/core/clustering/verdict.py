"""Are there subtypes at all? One honest verdict per sex, with the numbers behind it.

Three tests must agree before a clustering is called a set of subtypes:

1. it beats a degree-preserving null (:mod:`.null`): the same pipeline on cohorts that
   keep every patient's number of codes and every code's prevalence but shuffle which
   codes go together scores clearly lower, in silhouette *and* in bootstrap stability
   (z >= ``supported_z`` and empirical p <= ``supported_p``);
2. it is stable: every cluster's mean bootstrap Jaccard is at least ``stable_jaccard``
   (0.75, Hennig's "stable" threshold);
3. it does not re-encode the number of codes (the confounder audit, :mod:`.audit`).

``supported`` when all three hold; ``not supported`` when the null does as well on both
scores -- the clusters are then a descriptive partition of a continuum, not subtypes;
``weak`` otherwise (beats the null on one score only, unstable clusters, or clusters
that follow code count).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.null import beats_null

SUPPORTED, WEAK, NOT_SUPPORTED = "supported", "weak", "not supported"
LEVELS = (SUPPORTED, WEAK, NOT_SUPPORTED)


@dataclass(frozen=True)
class Verdict:
    """The level, the representation it judges, why, and the deciding numbers."""

    level: str
    representation: str
    reasons: tuple[str, ...]
    numbers: dict[str, float | int | bool] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        return self.level == SUPPORTED

    def sentence(self, sex: str) -> str:
        """The plain-language finding, first line of the report's first section."""
        k = self.numbers.get("k")
        if self.level == SUPPORTED:
            head = (f"{sex.capitalize()}: the data support {k} subtypes -- the clustering "
                    "beats the null clearly and every cluster is stable.")
        elif self.level == WEAK:
            head = (f"{sex.capitalize()}: weak evidence for subtypes; read the {k} clusters "
                    "with caution.")
        else:
            head = (f"{sex.capitalize()}: these data do not support subtypes; the {k} "
                    "clusters are a descriptive partition, not subtypes.")
        return head + " " + " ".join(f"{r[0].upper()}{r[1:]}." for r in self.reasons)

    def as_metadata(self) -> dict[str, object]:
        return {"verdict": self.level, "verdict_representation": self.representation,
                "verdict_reasons": "; ".join(self.reasons),
                **{f"verdict/{k}": v for k, v in self.numbers.items()}}

    def as_record(self) -> dict[str, object]:
        """JSON-able: what the published verdict file holds (aggregates only)."""
        return {"level": self.level, "representation": self.representation,
                "reasons": list(self.reasons), "numbers": self.numbers}


# The scores are the null test's own (a sample, few resamples), not the run's full-cohort
# figures: the sentence says so, as the report's tables do.
PIPELINE = " (null-test pipeline)"


def subtype_verdict(
    null_row: Mapping[str, object],
    cluster_jaccard: Mapping[str, float],
    audit_warn: bool,
    config: ClusterConfig = ClusterConfig(),
    representation: str = "transformer",
) -> Verdict:
    """The verdict for one representation's clustering.

    ``null_row``: that representation's row of the clusterability table (silhouette,
    silhouette_z, silhouette_p, null_silhouette_max, stability, stability_z,
    stability_p); ``cluster_jaccard``: mean bootstrap Jaccard per cluster of the final clustering;
    ``audit_warn``: whether the confounder audit warned.
    """
    beats_silhouette = beats_null(float(null_row["silhouette_z"]),
                                  float(null_row["silhouette_p"]), config)
    beats_stability = beats_null(float(null_row["stability_z"]),
                                 float(null_row["stability_p"]), config)
    least_stable = min(cluster_jaccard.values()) if cluster_jaccard else 0.0
    unstable = sorted(name for name, j in cluster_jaccard.items() if j < config.stable_jaccard)
    reasons = []
    if beats_silhouette:
        reasons.append(f"silhouette {float(null_row['silhouette']):.2f}{PIPELINE} beats the null "
                       f"(z = {float(null_row['silhouette_z']):.2f}, "
                       f"p = {float(null_row['silhouette_p']):.3f})")
    else:
        reasons.append(f"silhouette {float(null_row['silhouette']):.2f}{PIPELINE} is within the "
                       "range of degree-preserving null cohorts "
                       f"(z = {float(null_row['silhouette_z']):.2f},"
                       f" p = {float(null_row['silhouette_p']):.2f}; null max "
                       f"{float(null_row['null_silhouette_max']):.2f})")
    if beats_stability:
        reasons.append(f"stability {float(null_row['stability']):.2f}{PIPELINE} beats the null "
                       f"(z = {float(null_row['stability_z']):.2f})")
    else:
        reasons.append(f"stability {float(null_row['stability']):.2f}{PIPELINE} is no better than "
                       f"on the null (z = {float(null_row['stability_z']):.2f}, "
                       f"p = {float(null_row['stability_p']):.2f})")
    if unstable:
        reasons.append(f"{len(unstable)} of {len(cluster_jaccard)} clusters are unstable (mean "
                       f"Jaccard under {config.stable_jaccard:.2f}: {', '.join(unstable)})")
    if audit_warn:
        reasons.append("the clusters follow the number of codes per patient (confounder audit)")

    if beats_silhouette and beats_stability and not unstable and not audit_warn:
        level = SUPPORTED
    elif not beats_silhouette and not beats_stability:
        level = NOT_SUPPORTED
    else:
        level = WEAK
    numbers = {
        "k": len(cluster_jaccard),
        "silhouette": round(float(null_row["silhouette"]), 4),
        "silhouette_z": round(float(null_row["silhouette_z"]), 2),
        "silhouette_p": round(float(null_row["silhouette_p"]), 4),
        "stability": round(float(null_row["stability"]), 4),
        "stability_z": round(float(null_row["stability_z"]), 2),
        "stability_p": round(float(null_row["stability_p"]), 4),
        "least_stable_cluster_jaccard": round(float(least_stable), 4),
        "audit_warn": bool(audit_warn),
    }
    return Verdict(level, representation, tuple(reasons), numbers)

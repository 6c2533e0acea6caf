"""Male/female cluster pairs: which female subtype corresponds to which male one.

The study compared the sexes' subtypes by eye. Here each cluster is a c-DF-IPF
profile vector over the same ICD-10 codes (one row per cluster, one column per
code, non-negative), clusters are compared by the cosine of their profiles, and
the one-to-one matching that maximises the total similarity is found with the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``). A greedy "best
match first" pairing can pair two clusters that both have a better partner;
the assignment cannot. When the sexes have different k, the surplus clusters
are listed as unmatched rather than forced onto a partner.

Input contract: ``male_profiles`` (k_m x n_codes) and ``female_profiles``
(k_f x n_codes) float arrays whose columns are ``code_names`` in the same order;
``male_labels``/``female_labels`` name the rows ("M1".., "F1"..).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment

from mh_assets.core.schema import CLUSTER, CLUSTER_LABEL

PAIR_SCHEMA = {
    "pair": pl.Int64,  # 1.. for matched pairs by descending similarity; null when unmatched
    "male_label": pl.String,
    "female_label": pl.String,
    "similarity": pl.Float64,  # cosine of the two profiles; null when unmatched
    "matched": pl.Boolean,
    "shared_codes": pl.String,  # "; "-joined, highest min(male, female) first
    "differing_codes": pl.String,  # "; "-joined "CODE (M>F)" / "CODE (F>M)", largest gap first
}


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` against rows of ``b``; a zero profile is similar to nothing (0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    a_unit = np.divide(a, na, out=np.zeros_like(a), where=na > 0)
    b_unit = np.divide(b, nb, out=np.zeros_like(b), where=nb > 0)
    return a_unit @ b_unit.T


def pair_clusters(
    male_profiles: np.ndarray,
    female_profiles: np.ndarray,
    male_labels: Sequence[str],
    female_labels: Sequence[str],
    code_names: Sequence[str],
    *,
    top_n: int = 5,
) -> pl.DataFrame:
    """One row per matched pair (by descending similarity), then each unmatched cluster.

    Schema ``PAIR_SCHEMA``. Shared codes are those high in both profiles (ranked by
    the smaller of the two weights); differing codes are those with the largest
    absolute difference, marked with the sex in which the code weighs more. Profiles
    are compared as given, so pass them on the same scale (both c-DF-IPF).
    """
    male, female = np.asarray(male_profiles, float), np.asarray(female_profiles, float)
    codes = np.asarray(list(code_names), dtype=object)
    _check(male, male_labels, codes, "male")
    _check(female, female_labels, codes, "female")
    similarity = cosine_similarity(male, female)
    rows: list[dict] = []
    if similarity.size:
        m_idx, f_idx = linear_sum_assignment(similarity, maximize=True)
        order = sorted(zip(m_idx, f_idx, strict=True), key=lambda p: (-similarity[p], p))
        for rank, (i, j) in enumerate(order, start=1):
            rows.append({
                "pair": rank, "male_label": male_labels[i], "female_label": female_labels[j],
                "similarity": float(similarity[i, j]), "matched": True,
                "shared_codes": _shared(male[i], female[j], codes, top_n),
                "differing_codes": _differing(male[i], female[j], codes, top_n),
            })
    else:
        m_idx, f_idx = np.array([], int), np.array([], int)
    for i in sorted(set(range(len(male_labels))) - set(m_idx.tolist())):
        rows.append(_unmatched(male_label=male_labels[i]))
    for j in sorted(set(range(len(female_labels))) - set(f_idx.tolist())):
        rows.append(_unmatched(female_label=female_labels[j]))
    return pl.DataFrame(rows, schema=PAIR_SCHEMA)


def _check(profiles: np.ndarray, labels: Sequence[str], codes: np.ndarray, sex: str) -> None:
    if profiles.ndim != 2 or profiles.shape[0] != len(labels) or profiles.shape[1] != len(codes):
        raise ValueError(
            f"{sex} profiles have shape {profiles.shape}; expected ({len(labels)} labels, "
            f"{len(codes)} codes)"
        )


def _unmatched(male_label: str | None = None, female_label: str | None = None) -> dict:
    return {"pair": None, "male_label": male_label, "female_label": female_label,
            "similarity": None, "matched": False, "shared_codes": None, "differing_codes": None}


def _shared(m: np.ndarray, f: np.ndarray, codes: np.ndarray, top_n: int) -> str:
    both = np.minimum(m, f)
    order = np.lexsort((np.arange(len(both)), -both))  # stable: ties by column order
    return "; ".join(str(codes[k]) for k in order[:top_n] if both[k] > 0)


def _differing(m: np.ndarray, f: np.ndarray, codes: np.ndarray, top_n: int) -> str:
    gap = m - f
    order = np.lexsort((np.arange(len(gap)), -np.abs(gap)))
    return "; ".join(
        f"{codes[k]} ({'M>F' if gap[k] > 0 else 'F>M'})" for k in order[:top_n] if gap[k] != 0
    )


def profile_vectors(
    codes: Mapping[str, pl.DataFrame],
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], list[str]]:
    """c-DF-IPF profile matrices (clusters x codes) over the union of both sexes' codes.

    Returns per-sex matrices, per-sex cluster labels (row order = cluster number) and
    the shared column order (normalised codes).
    """
    vocabulary = sorted(set().union(*(set(f.get_column("code").to_list()) for f in codes.values())))
    column = {code: i for i, code in enumerate(vocabulary)}
    matrices, labels = {}, {}
    for sex, frame in codes.items():
        names = (frame.group_by(CLUSTER).agg(pl.col(CLUSTER_LABEL).first()).sort(CLUSTER)
                 .get_column(CLUSTER_LABEL).to_list())
        matrix = np.zeros((len(names), len(vocabulary)))
        cols = np.array([column[c] for c in frame.get_column("code").to_list()], dtype=np.int64)
        matrix[frame.get_column(CLUSTER).to_numpy(), cols] = frame.get_column("c_df_ipf").to_numpy()
        matrices[sex], labels[sex] = matrix, names
    return matrices, labels, vocabulary

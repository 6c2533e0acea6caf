"""Male/female cluster pairs: which female subtype corresponds to which male one.

The study compared the sexes' subtypes by eye. Here each cluster is a c-DF-IPF
profile vector over the same ICD-10 codes (one row per cluster, one column per
code, non-negative), clusters are compared by the cosine of their profiles, and
the one-to-one matching that maximises the total similarity is found with the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``). A greedy "best
match first" pairing can pair two clusters that both have a better partner;
the assignment cannot. When the sexes have different k, the surplus clusters
are listed without a partner rather than forced onto one.

The assignment decides who is paired with whom; whether the two are alike is a
separate question. A pair is *matched* only when its similarity is at least
``min_similarity`` (``ClusterConfig.pair_min_similarity``, 0.5); below it the row
is kept, marked "closest, not matched", so a reader sees the nearest counterpart
without being told that it is one.

Shared and differing codes partition the codes of a pair: with ``hi``/``lo`` the
larger/smaller of a code's two weights, its relative gap is ``(hi - lo) / hi``.
A code is *shared* when both weights are positive and the relative gap is at most
``shared_gap`` (``ClusterConfig.pair_shared_gap``, 0.5: the smaller weight is at
least half the larger), ranked by ``lo`` (high in both first); it is *differing*
when the relative gap is larger (present in one sex only: gap 1), ranked by the
absolute gap ``hi - lo`` and marked with the sex in which it weighs more. No code
can be in both lists.

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

MATCHED = "matched"
CLOSEST = "closest, not matched"
NO_PARTNER = "no partner"

PAIR_SCHEMA = {
    "pair": pl.Int64,  # 1.. for matched pairs by descending similarity; null otherwise
    "male_label": pl.String,
    "female_label": pl.String,
    "male_name": pl.String,  # descriptive name (naming.py); the label when none is given
    "female_name": pl.String,
    "similarity": pl.Float64,  # cosine of the two profiles; null without a partner
    "matched": pl.Boolean,  # similarity >= min_similarity
    "status": pl.String,  # MATCHED, CLOSEST or NO_PARTNER
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
    min_similarity: float = 0.5,
    shared_gap: float = 0.5,
    male_names: Mapping[str, str] | None = None,
    female_names: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """One row per assigned pair (matched first, each group by descending similarity),
    then each cluster without a partner.

    Schema ``PAIR_SCHEMA``; the matching and the shared/differing rule are in the module
    docstring. Profiles are compared as given, so pass them on the same scale (both
    c-DF-IPF). ``male_names``/``female_names`` map labels to descriptive names (a
    missing label is shown as itself).
    """
    if not 0 <= min_similarity <= 1:
        raise ValueError(f"min_similarity must be in [0, 1], got {min_similarity}")
    if not 0 < shared_gap < 1:
        raise ValueError(f"shared_gap must be in (0, 1), got {shared_gap}")
    male, female = np.asarray(male_profiles, float), np.asarray(female_profiles, float)
    codes = np.asarray(list(code_names), dtype=object)
    _check(male, male_labels, codes, "male")
    _check(female, female_labels, codes, "female")
    m_name, f_name = dict(male_names or {}), dict(female_names or {})
    similarity = cosine_similarity(male, female)
    rows: list[dict] = []
    if similarity.size:
        m_idx, f_idx = linear_sum_assignment(similarity, maximize=True)
        assigned = [(i, j, float(similarity[i, j])) for i, j in zip(m_idx, f_idx, strict=True)]
        order = sorted(assigned, key=lambda p: (p[2] < min_similarity, -p[2], p[0], p[1]))
        rank = 0
        for i, j, sim in order:
            matched = sim >= min_similarity
            rank += matched
            shared, differing = _split_codes(male[i], female[j], codes, top_n, shared_gap)
            rows.append({
                "pair": rank if matched else None,
                "male_label": male_labels[i], "female_label": female_labels[j],
                "male_name": m_name.get(male_labels[i], male_labels[i]),
                "female_name": f_name.get(female_labels[j], female_labels[j]),
                "similarity": sim, "matched": matched, "status": MATCHED if matched else CLOSEST,
                "shared_codes": shared, "differing_codes": differing,
            })
    else:
        m_idx, f_idx = np.array([], int), np.array([], int)
    for i in sorted(set(range(len(male_labels))) - set(m_idx.tolist())):
        rows.append(_unmatched(male_label=male_labels[i],
                               male_name=m_name.get(male_labels[i], male_labels[i])))
    for j in sorted(set(range(len(female_labels))) - set(f_idx.tolist())):
        rows.append(_unmatched(female_label=female_labels[j],
                               female_name=f_name.get(female_labels[j], female_labels[j])))
    return pl.DataFrame(rows, schema=PAIR_SCHEMA)


def _check(profiles: np.ndarray, labels: Sequence[str], codes: np.ndarray, sex: str) -> None:
    if profiles.ndim != 2 or profiles.shape[0] != len(labels) or profiles.shape[1] != len(codes):
        raise ValueError(
            f"{sex} profiles have shape {profiles.shape}; expected ({len(labels)} labels, "
            f"{len(codes)} codes)"
        )


def _unmatched(**cells: str) -> dict:
    row = {name: None for name in PAIR_SCHEMA}
    return {**row, "matched": False, "status": NO_PARTNER, **cells}


def _split_codes(m: np.ndarray, f: np.ndarray, codes: np.ndarray, top_n: int,
                 shared_gap: float) -> tuple[str, str]:
    """("; "-joined shared codes, "; "-joined differing codes): disjoint by construction,
    every code with a weight is on exactly one side of the relative-gap threshold."""
    hi, lo = np.maximum(m, f), np.minimum(m, f)
    relative = np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
    position = np.arange(len(hi))  # ties by column order
    is_shared = (lo > 0) & (relative <= shared_gap)
    is_differing = (hi > 0) & ~is_shared
    shared = [k for k in np.lexsort((position, -lo)) if is_shared[k]][:top_n]
    differing = [k for k in np.lexsort((position, -(hi - lo))) if is_differing[k]][:top_n]
    return (
        "; ".join(str(codes[k]) for k in shared),
        "; ".join(f"{codes[k]} ({'M>F' if m[k] > f[k] else 'F>M'})" for k in differing),
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

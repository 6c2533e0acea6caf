"""Clusterability: the degree-preserving null keeps the margins exactly and shuffles the
rest; planted structure beats it, a null used as the data does not."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from mh_assets.core import schema
from mh_assets.core.clustering import (
    Clusterability,
    ClusterConfig,
    cluster_statistics,
    clusterability,
    degree_preserving_null,
    multi_hot_features,
    tfidf_features,
)
from mh_assets.core.clustering.null import null_z_p, swap_codes
from mh_assets.core.cohort import CohortRules, select_cohort
from mh_assets.core.corpus import build_corpus
from mh_assets.core.icd import load_descriptors
from mh_assets.core.registry import read_extract
from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract

# Nine null cohorts keep the test fast; the smallest possible p is then 1/10, so the
# test's threshold is 0.1 (the default 0.05 needs B >= 19, and B = 20 is the default).
# Measured over config seeds 0..5: the planted corpus beats the null on 5 of 6 (silhouette
# z 39-80 on all; stability, each side at its own k, z 2.9-4.9, and 1.4 on seed 1), and
# the null used as the data beats it on none.
FAST = ClusterConfig(null_cohorts=9, supported_p=0.1, seed=3)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The female partition of a synthetic extract (five planted subtypes)."""
    out: Path = tmp_path_factory.mktemp("extract")
    result = write_synthetic_extract(SyntheticSpec(patients=3000, seed=3), out)
    frame, _ = read_extract(result.extract_path)
    cohort = select_cohort(frame, CohortRules(), id_key="test").cohort
    return build_corpus(cohort, load_descriptors(), "female")


def edges(frame: pl.DataFrame) -> pl.DataFrame:
    return (frame.select(pl.col(schema.PATIENT_ID), pl.col(schema.CODES))
            .explode(schema.CODES, empty_as_null=False, keep_nulls=False))


def column_sums(frame: pl.DataFrame) -> dict[str, int]:
    return dict(edges(frame).group_by(schema.CODES).len().iter_rows())


def test_null_keeps_both_margins_and_rebuilds_the_aligned_columns(corpus):
    real = corpus.head(400)
    null = degree_preserving_null(real, seed=1)
    assert null.columns == real.columns and null.schema == real.schema
    # Row sums: every patient keeps their number of distinct codes; column sums: every
    # code keeps its number of patients.
    assert null[schema.N_CODES].to_list() == real[schema.N_CODES].to_list()
    assert null[schema.CODES].list.len().to_list() == real[schema.N_CODES].to_list()
    assert (null[schema.CODES].list.n_unique() == null[schema.N_CODES]).all()
    assert column_sums(null) == column_sums(real)
    # Descriptors (and resolved codes, resolutions) still belong to their codes.
    for column in (schema.DESCRIPTORS, schema.RESOLVED_CODES, schema.RESOLUTION):
        pairs = (real.select(schema.CODES, column).explode([schema.CODES, column])
                 .unique().sort(schema.CODES))
        assert pairs[schema.CODES].is_unique().all()  # a function of the code in the corpus
        moved = (null.select(schema.CODES, column).explode([schema.CODES, column])
                 .unique().sort(schema.CODES))
        assert moved.equals(pairs)
    assert null[schema.TEXT].to_list() == null[schema.DESCRIPTORS].list.join(
        schema.DESCRIPTOR_SEPARATOR).to_list()
    # Everything that belongs to the patient is carried unchanged.
    kept = [c for c in real.columns if c not in (schema.CODES, schema.DESCRIPTORS, schema.TEXT,
                                                 schema.RESOLVED_CODES, schema.RESOLUTION)]
    assert null.select(kept).equals(real.select(kept))
    # And which codes go together is shuffled: most occurrences moved to another patient.
    stayed = edges(real).join(edges(null), on=[schema.PATIENT_ID, schema.CODES]).height
    moved_share = 1 - stayed / edges(real).height
    print(f"\n{moved_share:.1%} of {edges(real).height} code occurrences moved")
    assert moved_share >= 0.5


def test_principal_diagnoses_stay_principal(corpus):
    """Each code keeps how often it is a principal diagnosis: null texts still open with
    a mental-health principal, as the texts the model was trained on do."""
    null = degree_preserving_null(corpus, seed=5)
    before = corpus[schema.CODES].list.first().value_counts().sort("codes")
    after = null[schema.CODES].list.first().value_counts().sort("codes")
    assert before.equals(after)
    moved = (null[schema.CODES].list.first() != corpus[schema.CODES].list.first()).mean()
    assert moved > 0.5


def test_null_is_deterministic_per_seed(corpus):
    real = corpus.head(300)
    first = degree_preserving_null(real, seed=5)
    assert first.equals(degree_preserving_null(real, seed=5))
    assert not first[schema.CODES].equals(degree_preserving_null(real, seed=6)[schema.CODES])


def test_null_treats_repeated_codes_as_a_set():
    real = pl.DataFrame({
        schema.PATIENT_ID: ["a", "b", "c", "d"],
        schema.CODES: [["F10", "F10", "F12"], ["F32", "F41"], ["F12"], []],
        schema.DESCRIPTORS: [["alc", "alc", "can"], ["dep", "anx"], ["can"], []],
    }, schema={schema.PATIENT_ID: pl.Utf8, schema.CODES: pl.List(pl.Utf8),
               schema.DESCRIPTORS: pl.List(pl.Utf8)})
    null = degree_preserving_null(real, seed=0)
    assert null[schema.N_CODES].to_list() == [2, 2, 1, 0]
    assert column_sums(null) == {"F10": 1, "F12": 2, "F32": 1, "F41": 1}
    names = {"F10": "alc", "F12": "can", "F32": "dep", "F41": "anx"}
    for codes, descriptors in zip(null[schema.CODES], null[schema.DESCRIPTORS], strict=True):
        assert [names[c] for c in codes] == descriptors.to_list()
    assert null.columns == [schema.PATIENT_ID, schema.CODES, schema.DESCRIPTORS, schema.N_CODES,
                            schema.TEXT]


def random_corpus(patients: int, seed: int) -> pl.DataFrame:
    """Patients with 1..11 distinct codes (about 6) drawn from 300 codes of unequal
    prevalence."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 301) ** 0.8
    counts = rng.integers(1, 12, size=patients)
    p = weights / weights.sum()
    codes = [[f"C{c:03d}" for c in rng.choice(300, size=n, replace=False, p=p)] for n in counts]
    return pl.DataFrame({schema.PATIENT_ID: [f"p{i}" for i in range(patients)],
                         schema.CODES: codes}).with_columns(
        pl.col(schema.CODES).alias(schema.DESCRIPTORS),
        pl.col(schema.CODES).list.len().cast(pl.Int32).alias(schema.N_CODES))


def test_swaps_are_vectorised_and_reach_their_target():
    real = random_corpus(2500, seed=0)
    start = time.perf_counter()
    null = degree_preserving_null(real, seed=1, swaps_per_code=5)
    elapsed = time.perf_counter() - start
    occurrences = int(real[schema.N_CODES].sum())
    print(f"\nswaps for 2,500 patients x {occurrences / 2500:.1f} codes: {elapsed * 1000:.0f} ms")
    assert column_sums(null) == column_sums(real)
    assert null[schema.N_CODES].equals(real[schema.N_CODES])
    assert (null[schema.CODES].list.n_unique() == null[schema.N_CODES]).all()
    # The swap itself: exactly swaps_per_code x occurrences swaps accepted, margins exact.
    rng = np.random.default_rng(2)
    patients = np.repeat(np.arange(2500), real[schema.N_CODES].to_numpy())
    ids = np.unique(real[schema.CODES].explode().to_numpy(), return_inverse=True)[1]
    swapped, accepted = swap_codes(patients, ids, 5 * occurrences, rng)
    assert accepted == 5 * occurrences
    assert np.array_equal(np.bincount(swapped, minlength=ids.max() + 1), np.bincount(ids))
    assert len(np.unique(patients * (ids.max() + 1) + swapped)) == occurrences


def test_cluster_statistics_takes_dense_and_sparse_rows():
    config = ClusterConfig(null_resamples=3, max_k=5, null_sample_size=120)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 4
    dense = (centres[rng.integers(0, 3, 300)] + rng.normal(size=(300, 16))).astype(np.float32)
    k, silhouette, stability = cluster_statistics(dense, config, seed=1)
    assert (k, silhouette, stability) == cluster_statistics(dense, config, seed=1)
    assert k == 3 and silhouette > 0.5 and stability > 0.9
    multi_hot = multi_hot_features(config)(random_corpus(300, seed=1))
    assert sp.issparse(multi_hot)
    k, silhouette, stability = cluster_statistics(multi_hot, config, seed=1)
    assert 2 <= k <= 5 and -1 <= silhouette <= 1 and 0 < stability <= 1


def test_z_and_empirical_p_follow_their_definitions():
    # mean 0.2, sd (ddof 1) 0.1: z = (0.5 - 0.2) / 0.1 = 3; no null >= 0.5: p = 1 / 4.
    z, p = null_z_p(0.5, [0.1, 0.2, 0.3])
    assert z == pytest.approx(3.0) and p == pytest.approx(0.25)
    # Ties count against the observation: 0.2 and 0.3 are >= 0.2, p = (1 + 2) / 4.
    assert null_z_p(0.2, [0.1, 0.2, 0.3]) == (pytest.approx(0.0), pytest.approx(0.75))
    assert null_z_p(0.7, [0.7, 0.7]) == (0.0, 1.0)  # constant nulls: no spread, no z
    assert null_z_p(0.9, [0.7, 0.7]) == (math.inf, pytest.approx(1 / 3))

    result = Clusterability.from_statistics(
        {"a": (3, 0.5, 0.9)},
        {"a": [(2, 0.1, 0.5), (2, 0.2, 0.6), (4, 0.3, 0.7)]},
        ClusterConfig(supported_z=2.0, supported_p=0.3),
    )
    row = result.row("a")
    assert row["k"] == 3 and row["silhouette_z"] == pytest.approx(3.0)
    assert row["silhouette_p"] == pytest.approx(0.25) and row["null_silhouette_max"] == 0.3
    assert row["stability_z"] == pytest.approx(3.0) and row["stability_p"] == pytest.approx(0.25)
    assert row["beats_null_silhouette"] and row["beats_null_stability"] and row["beats_null"]
    assert not result.in_null_range("a")
    assert result.nulls.columns == ["representation", "cohort", "k", "silhouette", "stability"]
    assert result.nulls["cohort"].to_list() == [1, 2, 3]


@pytest.fixture(scope="module")
def verdicts(corpus) -> tuple[Clusterability, Clusterability, list[int]]:
    seen: list[int] = []
    features = multi_hot_features(FAST)

    def multi_hot(frame: pl.DataFrame) -> sp.csr_matrix:
        seen.append(frame.height)
        return features(frame)

    start = time.perf_counter()
    planted = clusterability(corpus, {"multi-hot": multi_hot}, FAST)
    print(f"\nclusterability, B = {FAST.null_cohorts}, {corpus.height} patients: "
          f"{time.perf_counter() - start:.1f} s")
    structureless = degree_preserving_null(corpus, seed=99)
    shuffled = clusterability(structureless, {"multi-hot": features}, FAST)
    return planted, shuffled, seen


def test_planted_structure_beats_the_null_and_a_null_does_not(corpus, verdicts):
    planted, shuffled, seen = verdicts
    with pl.Config(tbl_cols=-1, tbl_width_chars=250):
        print(planted.table, shuffled.table, sep="\n")
    # Only sampled patients reach the representation: B + 1 cohorts of null_sample_size.
    assert seen == [FAST.null_sample_size] * (FAST.null_cohorts + 1)
    assert planted.beats_null("multi-hot")
    assert not planted.in_null_range("multi-hot")
    assert not shuffled.beats_null("multi-hot")
    row = shuffled.row("multi-hot")
    assert not (row["beats_null_silhouette"] or row["beats_null_stability"])
    assert planted.nulls.height == FAST.null_cohorts


def test_metadata_holds_rounded_aggregates_only(corpus, verdicts):
    planted = verdicts[0]
    metadata = planted.as_metadata()
    assert metadata["clusterability.null_cohorts"] == FAST.null_cohorts
    numbers = metadata["multi-hot"]
    assert set(numbers) == set(planted.table.columns) - {"representation"}
    for key, value in numbers.items():
        assert isinstance(value, bool | int | float | str), key
        if isinstance(value, float):
            assert value == round(value, 4), key
    text = repr(metadata)
    patient_values = corpus[schema.PATIENT_ID].to_list() + corpus[schema.TEXT].head(50).to_list()
    assert not [value for value in patient_values if value in text]


def test_tfidf_features_use_the_config():
    features = tfidf_features(ClusterConfig(svd_components=7))(random_corpus(60, seed=2))
    assert features.shape == (60, 7) and features.dtype == np.float32


def test_a_per_patient_representation_embeds_all_cohorts_in_one_call_of_distinct_texts(
        corpus):
    """The transformer's null cohorts go through one embedding pass (batches of similar
    length, each distinct text once), and each cohort gets its own patients' rows."""
    from mh_assets.core.representations import PerPatient

    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:  # a text's row depends on the text only
        calls.append(texts)
        return np.array([[len(t), sum(map(ord, t)) % 97] for t in texts], dtype=np.float32)

    clusterability(corpus, {"transformer": PerPatient(embed)}, FAST)
    assert len(calls) == 1
    assert len(calls[0]) == len(set(calls[0])) < (FAST.null_cohorts + 1) * FAST.null_sample_size
    cohorts = [corpus.head(50), corpus.tail(80), corpus.head(50)]
    for got, cohort in zip(PerPatient(embed).many(cohorts), cohorts, strict=True):
        np.testing.assert_array_equal(got, embed(cohort[schema.TEXT].to_list()))

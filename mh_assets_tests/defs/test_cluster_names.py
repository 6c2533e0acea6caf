"""Wiring of the descriptive names: cluster_profiles writes and shows them, cluster_pairs
carries them and says which pairs are not a match."""

from __future__ import annotations

import json

import dagster as dg
import numpy as np
import polars as pl

from mh_assets.core import layout, schema
from mh_assets.core.clustering.io import read_display_names
from mh_assets.core.clustering.naming import SEPARATOR
from mh_assets.core.storage import ArtifactStore
from mh_assets.core.synthetic import SyntheticSpec
from mh_assets.core.synthetic.codes import SUBTYPES
from mh_assets.core.synthetic.cohorts import synthetic_corpora
from mh_assets_tests.support.platform import materialize

TINY = 4  # members of an extra cluster: its size must not show


def seed_clusters(store: ArtifactStore) -> dict[str, list[str]]:
    """Each sex's corpus with its planted subtypes as the clusters, plus a tiny cluster."""
    labels_by_sex = {}
    for sex, item in synthetic_corpora(SyntheticSpec(patients=1500, seed=5)).items():
        index = {s.name: k for k, s in enumerate(SUBTYPES[sex])}
        clusters = np.array([index[n] for n in item.truth["subtype_name"].to_list()])
        clusters[:TINY] = len(index)
        names = [f"{schema.SEX_LABEL_PREFIX[sex]}{k + 1}" for k in range(len(index) + 1)]
        store.write_parquet(layout.corpus(sex), item.corpus)
        store.write_parquet(layout.assignments(sex), pl.DataFrame({
            schema.PATIENT_ID: item.corpus[schema.PATIENT_ID],
            schema.CLUSTER: pl.Series(clusters, dtype=pl.Int32)}))
        store.write_text(layout.cluster_names(sex), json.dumps(names))
        labels_by_sex[sex] = names
    return labels_by_sex


def test_profiles_write_the_names_and_pairs_carry_them(platform, instance):
    store = ArtifactStore(platform.artifacts)
    labels = seed_clusters(store)
    for sex in schema.SEXES:
        assert materialize(instance, ["cluster_profiles"], partition_key=sex).success
        names = read_display_names(store, sex)
        assert list(names) == labels[sex]
        assert all(n.startswith(f"{label}{SEPARATOR}") for label, n in names.items())
        assert len(set(names.values())) == len(names)
        meta = instance.get_latest_materialization_event(
            dg.AssetKey("cluster_profiles")).asset_materialization.metadata
        table = meta["cluster_names"].value
        tiny = next(line for line in table.splitlines() if f"| {labels[sex][-1]} " in line)
        assert "<10" in tiny and f"| {TINY} " not in tiny
        assert names[labels[sex][0]] in table
        assert layout.cluster_display_names(sex) in meta["artifacts"].value

    assert materialize(instance, ["cluster_pairs"]).success
    pairs = pl.read_csv(store.path(layout.table("cluster_pairs")))
    female, male = read_display_names(store, "female"), read_display_names(store, "male")
    assigned = pairs.filter(pl.col("female_label").is_not_null()
                            & pl.col("male_label").is_not_null())
    for row in assigned.iter_rows(named=True):
        assert row["female_name"] == female[row["female_label"]]
        assert row["male_name"] == male[row["male_label"]]
        assert row["matched"] == (row["similarity"] >= 0.5)
    # the planted subtypes each sex shares are matched; the sex-specific ones are not
    matched = assigned.filter(pl.col("matched"))
    assert 0 < matched.height < assigned.height
    assert (assigned.filter(~pl.col("matched"))["status"] == "closest, not matched").all()

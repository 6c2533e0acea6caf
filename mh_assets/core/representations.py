"""The patient representations the platform compares, by name, built in one place.

Every comparison -- the clusterability test, the baselines at the run's k and at their
own, the held-out evaluation -- sees the same set, each a callable from a corpus to a
feature matrix (so it can be rebuilt on a null cohort or on a corpus with codes masked):

* the run's representation: the trained ``transformer`` (its texts embedded with the
  contrastive checkpoint), or ``descriptors`` under ``MH_PRESET=descriptors``;
* ``descriptors``: IPF-weighted mean of MiniLM descriptor vectors (no training) --
  always present, so every run says what a pretrained encoder gives for free;
* ``multi-hot categories`` and ``tfidf-svd``: the simple baselines;
* ``n_codes only`` (the evaluation's reference row): the number of codes, nothing else.
  What a representation scores above it is what it knows beyond code count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from mh_assets.core import schema
from mh_assets.core.clustering.baselines import MULTI_HOT, TFIDF_SVD
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.null import Representation, multi_hot_features, tfidf_features
from mh_assets.core.modelling.config import DESCRIPTOR_MEAN, TRANSFORMER, TrainingConfig

N_CODES_ONLY = "n_codes only"
#: How a sentence names each representation ("the multi-hot baseline predicts ...").
PROSE = {TRANSFORMER: "transformer", DESCRIPTOR_MEAN: "descriptor-mean representation",
         MULTI_HOT: "multi-hot baseline", TFIDF_SVD: "TF-IDF-SVD baseline",
         N_CODES_ONLY: "n_codes-only reference"}
__all__ = ["DESCRIPTOR_MEAN", "MULTI_HOT", "N_CODES_ONLY", "PROSE", "TFIDF_SVD", "TRANSFORMER",
           "PerPatient", "n_codes_features", "partition_representations"]


def n_codes_features(corpus: pl.DataFrame) -> np.ndarray:
    """One column: each patient's number of distinct codes (float64)."""
    return corpus.get_column(schema.N_CODES).cast(pl.Float64).to_numpy().reshape(-1, 1)


class PerPatient:
    """A representation whose row for a patient depends on that patient's text alone
    (the transformer embeds each text on its own). A corpus with a block of codes masked
    changes only the texts of the patients who had one, so the evaluation rebuilds just
    those rows and keeps the others' (:func:`mh_assets.core.evaluation.evaluate`)."""

    per_patient = True

    def __init__(self, embed: Callable[[list[str]], np.ndarray]):
        self.embed = embed

    def __call__(self, corpus: pl.DataFrame) -> np.ndarray:
        return self.embed(corpus.get_column(schema.TEXT).to_list())

    def many(self, corpora: list[pl.DataFrame]) -> list[np.ndarray]:
        """Each corpus's features, from one embedding call over their distinct texts.

        The null test embeds 21 cohorts of 300 patients: one by one, each cohort's few
        length-sorted batches spread widely in length (42% of the tokens were padding);
        together the batches are nearly uniform and a repeated text is embedded once.
        """
        texts = [corpus.get_column(schema.TEXT).to_list() for corpus in corpora]
        distinct = list(dict.fromkeys(text for cohort in texts for text in cohort))
        vectors = self.embed(distinct)
        row = {text: i for i, text in enumerate(distinct)}
        return [vectors[[row[text] for text in cohort]] for cohort in texts]


def partition_representations(training: TrainingConfig, model_dir: Path | None,
                              clustering: ClusterConfig,
                              log: Callable[[str], None] = lambda _msg: None,
                              ) -> dict[str, Representation]:
    """The run's representation first, then the descriptors (unless that is the run's),
    multi-hot and TF-IDF-SVD. ``model_dir``: the contrastive checkpoint (ignored when the
    run trains nothing). Models are loaded here, once."""
    from mh_assets.core.modelling.descriptors import DescriptorEncoder

    out: dict[str, Representation] = {}
    if training.trains:
        from mh_assets.core.modelling.embed import TextEmbedder

        if model_dir is None:
            raise ValueError("the transformer representation needs its contrastive checkpoint")
        embedder = TextEmbedder(model_dir, training, log)
        out[TRANSFORMER] = PerPatient(embedder)
    out[DESCRIPTOR_MEAN] = DescriptorEncoder(threads=training.torch_threads, log=log)
    out[MULTI_HOT] = multi_hot_features(clustering)
    out[TFIDF_SVD] = tfidf_features(clustering)
    return out


def run_representation(training: TrainingConfig) -> str:
    """The name of the representation a run's patient_embeddings hold."""
    return training.representation

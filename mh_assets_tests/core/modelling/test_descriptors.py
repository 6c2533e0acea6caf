"""The descriptor representation: IPF-weighted means of descriptor vectors, no training."""

import numpy as np
import polars as pl
import pytest

from mh_assets.core import schema
from mh_assets.core.modelling import preset_config
from mh_assets.core.modelling.descriptors import ipf_weights, patient_vectors


def corpus(codes: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame({schema.CODES: codes,
                         schema.DESCRIPTORS: [[f"about {c}" for c in row] for row in codes]})


class CountingEncoder:
    """Orthogonal unit vectors per descriptor, counting what it was asked to encode."""

    def __init__(self, dimension: int = 384):
        self.seen: list[str] = []
        self.dimension = dimension

    def __call__(self, descriptors):
        self.seen += list(descriptors)
        out = np.zeros((len(descriptors), self.dimension), dtype=np.float32)
        for i, text in enumerate(descriptors):
            out[i, int(text.split("F")[-1])] = 1.0
        return out


def test_a_patient_is_the_ipf_weighted_unit_mean_of_their_codes():
    # F1 is in 3 of 4 patients (IPF ln 4/3), F2 in one (ln 4), F3 in two (ln 2).
    frame = corpus([["F1", "F2"], ["F1"], ["F1", "F3"], ["F3"]])
    X = patient_vectors(frame, CountingEncoder())
    expected = np.array([np.log(4 / 3), np.log(4)])
    np.testing.assert_allclose(X[0, [1, 2]], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-6)
    assert X.dtype == np.float32


def test_each_distinct_descriptor_is_encoded_once():
    encoder = CountingEncoder()
    patient_vectors(corpus([["F1", "F2"], ["F1"], ["F2", "F1"]]), encoder)
    assert sorted(encoder.seen) == ["about F1", "about F2"]


def test_codes_every_patient_has_fall_back_to_equal_weights_not_a_zero_vector():
    frame = corpus([["F1", "F2"], ["F1", "F2"], ["F1"]])  # F1 everywhere: IPF 0
    X = patient_vectors(frame, CountingEncoder())
    assert X[2, 1] == pytest.approx(1.0)  # only F1, still a direction
    weights, descriptors = ipf_weights(frame)
    assert descriptors.to_list() == ["about F1", "about F2"]
    assert weights.shape == (3, 2)


def test_a_patient_without_codes_is_the_zero_vector():
    X = patient_vectors(corpus([["F1"], []]), CountingEncoder())
    assert not X[1].any()


def test_the_packaged_minilm_embeds_descriptors_offline(monkeypatch):
    from mh_assets.core.modelling.descriptors import DIMENSION, DescriptorEncoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = DescriptorEncoder(threads=1)
    frame = corpus([["F1", "F2"], ["F3"]]).with_columns(pl.Series(schema.DESCRIPTORS, [
        ["Cannabis dependence", "Alcohol abuse"], ["Major depressive disorder, single episode"]]))
    X = encoder(frame)
    assert X.shape == (2, DIMENSION)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    similar = encoder.vectors(["Cannabis abuse", "Cannabis dependence", "Fracture of femur"])
    assert similar[0] @ similar[1] > similar[0] @ similar[2]


def test_the_descriptors_preset_trains_nothing():
    config = preset_config("descriptors")
    assert not config.trains and config.representation == "descriptors"
    assert preset_config("demo").trains
    with pytest.raises(ValueError, match="representation"):
        preset_config("demo", representation="bag of words")


def test_a_second_encoder_in_the_process_reuses_the_first_ones_vectors():
    from mh_assets.core.modelling.descriptors import DescriptorEncoder

    first_log: list[str] = []
    second_log: list[str] = []
    first = DescriptorEncoder(threads=1, log=first_log.append)
    texts = ["Cannabis abuse, uncomplicated", "Conduct disorder, unspecified"]
    vectors = first.vectors(texts)
    second = DescriptorEncoder(threads=1, log=second_log.append)
    np.testing.assert_array_equal(second.vectors(texts), vectors)
    assert second_log == []  # nothing encoded again: the k-selection, baselines and
    # evaluation steps of one partition's run share the vectors


def test_a_descriptors_vector_does_not_depend_on_the_texts_encoded_with_it(monkeypatch):
    from mh_assets.core.modelling import descriptors

    short = "Conduct disorder"
    others = ["Mental and behavioural disorders due to use of cannabinoids, harmful use, "
              f"with psychotic features, episode {i}" for i in range(40)]
    monkeypatch.setattr(descriptors, "_VECTORS", {})
    together = descriptors.DescriptorEncoder(threads=1).vectors([short, *others])[0]
    monkeypatch.setattr(descriptors, "_VECTORS", {})
    alone = descriptors.DescriptorEncoder(threads=1).vectors([short])[0]
    assert together.tobytes() == alone.tobytes()  # bit for bit, so either sex may go first

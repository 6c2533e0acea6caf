"""Outcome targets and masked blocks: the tasks a representation is scored on."""

import numpy as np
import polars as pl

from mh_assets.core import schema
from mh_assets.core.evaluation.tasks import (
    BLOCKS,
    DERIVED,
    INDEPENDENT,
    MASKED,
    block_task,
    mask_block,
    outcome_tasks,
)

PSYCHOSIS = "psychotic disorders (F20-F29)"
SELF_HARM = "self-harm (X60-X84, Z91.5)"


def corpus() -> pl.DataFrame:
    codes = [["F200", "F1210", "Z915"], ["F1210"], ["F329", "X781", "F209"], [], ["F603"]]
    descriptors = [[f"d:{c}" for c in row] for row in codes]
    return pl.DataFrame({
        schema.PATIENT_ID: ["a", "b", "c", "d", "e"],
        schema.CODES: codes,
        schema.RESOLVED_CODES: codes,
        schema.DESCRIPTORS: descriptors,
        schema.RESOLUTION: [["exact"] * len(row) for row in codes],
        schema.N_CODES: pl.Series([len(r) for r in codes], dtype=pl.Int32),
        schema.TEXT: [" ; ".join(r) for r in descriptors],
        "days_of_stay": [1, 10, 20, None, 5],
        "discharge_type": ["1", "2", "1", "1", None],
        "apr_severity": pl.Series([1, 3, 4, 2, None], dtype=pl.Int8),
        "apr_mortality_risk": pl.Series([1, 1, 3, 1, 1], dtype=pl.Int8),
        "apr_cost": [100.0, 200.0, 900.0, 300.0, 400.0],
    })


def test_outcomes_are_binary_with_missing_values_left_unknown():
    tasks = {t.name: t for t in outcome_tasks(corpus())}
    assert [t.group for t in tasks.values()] == [INDEPENDENT] * 2 + [DERIVED] * 3
    stay = tasks["length of stay above the median"].target
    np.testing.assert_array_equal(stay[[0, 1, 2, 4]], [0, 1, 1, 0])  # median of known = 7.5
    assert np.isnan(stay[3])
    non_home = tasks["discharge other than home"].target
    np.testing.assert_array_equal(non_home[:4], [0, 1, 0, 0])
    assert np.isnan(non_home[4])
    severity = tasks["APR severity >= 3"].target
    np.testing.assert_array_equal(severity[:4], [0, 1, 1, 0])
    np.testing.assert_array_equal(tasks["APR cost in the top quartile"].target,
                                  [0, 0, 1, 0, 1])


def test_block_presence_reads_every_code_of_the_block():
    assert block_task(corpus(), PSYCHOSIS).group == MASKED
    np.testing.assert_array_equal(block_task(corpus(), PSYCHOSIS).target, [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(block_task(corpus(), SELF_HARM).target, [1, 0, 1, 0, 0])
    assert set(BLOCKS) >= {PSYCHOSIS, SELF_HARM}


def test_a_masked_corpus_keeps_no_code_descriptor_or_word_of_the_block():
    masked = mask_block(corpus(), PSYCHOSIS)
    assert masked[schema.CODES].to_list() == [["F1210", "Z915"], ["F1210"], ["F329", "X781"],
                                               [], ["F603"]]
    assert masked[schema.DESCRIPTORS][2].to_list() == ["d:F329", "d:X781"]
    assert masked[schema.RESOLVED_CODES].to_list() == masked[schema.CODES].to_list()
    assert masked[schema.N_CODES].to_list() == [2, 1, 2, 0, 1]
    assert "F20" not in " ".join(masked[schema.TEXT].to_list())
    assert block_task(masked, PSYCHOSIS).target.sum() == 0
    assert masked.columns == corpus().columns

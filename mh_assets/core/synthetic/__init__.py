"""Synthetic RAE-CMBD extracts for tests and demos, never real patients.

    result = write_synthetic_extract(SyntheticSpec(patients=5000, seed=1), out_dir)
    # result.extract_path: the raw registry layout; result.truth_path: planted truth

:mod:`.codes` holds the planted clinical subtypes and code vocabulary, :mod:`.draws`
draws each patient's codes from the cohort profile, :mod:`.fields` fills every other
registry column (and plants row-level problems), :mod:`.extract` writes the file.

``SyntheticSpec(scenario=...)`` is one of ``SCENARIOS``: ``"subtypes"`` (default,
planted subtypes to recover), ``"confounded"`` (the subtypes, plus a latent
complexity driving code counts and outcomes) or ``"null"`` (no structure at all),
the last two for showing that the pipeline fails where it should.
"""

from mh_assets.core.synthetic.extract import (
    SCENARIOS,
    SyntheticResult,
    SyntheticSpec,
    default_profile,
    extract_name,
    truth_path_for,
    write_synthetic_extract,
)

__all__ = [
    "SCENARIOS", "SyntheticResult", "SyntheticSpec", "default_profile", "extract_name",
    "truth_path_for", "write_synthetic_extract",
]

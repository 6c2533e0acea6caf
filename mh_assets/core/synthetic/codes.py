"""The planted structure of synthetic extracts: comorbidity subtypes and their codes.

Synthetic extracts exist so that tests and the demo exercise the whole pipeline
without restricted data, *and* so that the pipeline's output can be checked
against a known answer. The answer is planted here: per sex, five comorbidity
subtypes that clinicians would recognise in adolescent substance-use
admissions, each a reweighting of the cohort profile's codes by *theme*.

A code's theme is decided by its ICD-10-CM prefix. A subtype's codes mix a
*core* -- its clinical theme and the substance it is known for, codes keeping
the profile's relative prevalence within a theme -- with a *background* every
subtype shares (substance use, family history, asthma, ..., plus a little
leakage of the other clinical themes); its principal diagnosis comes from its
anchor theme. So subtypes differ in which 3-character categories they use (what
a multi-hot baseline sees, ARI around 0.9 with K-Means) while common codes stay
common to all, as in the real cohort. The code-count distributions only tilt a
little per subtype, so the number of codes alone cannot tell subtypes apart and
a confounder audit has something real to look for.

That is the ``"subtypes"`` scenario, the default. Two more (``SCENARIOS``) exist
to make the clustering pipeline fail where it should: ``"confounded"`` keeps the
subtypes' codes but lets a latent per-patient *complexity*, unrelated to subtype,
drive the number of codes and the outcomes (severity, stay, discharge), so a
method that clusters on how much is coded finds complexity rather than subtypes;
``"null"`` plants no subtype at all, so any cluster found is noise. In both,
subtypes (where they exist) shift outcomes a little (``OUTCOME_SHIFTS``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: What ``SyntheticSpec.scenario`` may be (see the module docstring); the first is
#: the default and the only one whose files match earlier versions byte for byte.
SCENARIOS: tuple[str, ...] = ("subtypes", "confounded", "null")

# Clinical themes: each belongs to at most one subtype per sex, and leaks into the
# background only at LEAKAGE, so they stay distinctive. Substance themes
# (alcohol, nicotine, cannabis) and "shared" codes form the common background; a
# subtype's core may also claim one of them.
CLINICAL_THEMES = (
    "psychosis", "induced_psychosis", "conduct", "mood", "neurodev", "personality", "eating",
)
LEAKAGE = 0.02

# First matching prefix wins, so the specific cannabis-induced psychotic codes
# (F12.x5x) are listed before the generic cannabis block.
_THEME_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("psychosis", ("F20", "F22", "F23", "F25", "F29")),
    (
        "induced_psychosis",
        ("F12.15", "F12.25", "F12.95", "F19.15", "F19.95", "F14.15", "F14.25", "F10.15"),
    ),
    ("conduct", ("F91", "F63", "F94", "Z60", "Z62", "Z63", "Z65", "Z55", "Z59", "Z72.8", "Z73")),
    ("mood", ("F30", "F31", "F32", "F33", "F34", "F39", "F41", "F42", "F43", "F44", "F93", "F51")),
    ("neurodev", ("F70", "F71", "F79", "F84", "F90", "F95", "F98", "G40", "G47", "R41.83")),
    (
        "personality",
        ("F60", "F11", "F13", "F14", "F15", "F16", "F18", "F19", "T3", "T4", "T14", "X7", "X8",
         "S5", "R45.851", "Z91.5", "Z91.4", "Z72.5"),
    ),
    ("eating", ("F50", "E66", "E73", "D50", "D64", "K59", "E03")),
    ("alcohol", ("F10",)),
    ("nicotine", ("F17", "Z72.0")),
    ("cannabis", ("F12",)),
)


def theme_of(code: str) -> str:
    """The theme a dotted ICD-10-CM code is planted under ("shared" if none)."""
    for theme, prefixes in _THEME_PREFIXES:
        if code.startswith(prefixes):
            return theme
    return "shared"


@dataclass(frozen=True)
class Subtype:
    """One planted subtype: its share of a sex's rows and its code mixture.

    A secondary code is drawn from the subtype's *core* with probability
    ``core_share`` and otherwise from the background every subtype shares.
    ``core`` gives each theme's share of the core mass; within a theme, codes
    keep the profile's relative prevalence. ``n_codes_tilt`` tilts the
    code-count distribution (exponentially per code) without separating it.
    """

    name: str
    share: float
    core: dict[str, float]
    core_share: float = 0.7
    n_codes_tilt: float = 0.0

    @property
    def anchor(self) -> str:
        """The theme principal diagnoses come from: the largest share of the core."""
        return max(self.core, key=self.core.__getitem__)


_PSYCHOSIS_CORE = {"psychosis": 0.5, "induced_psychosis": 0.3, "cannabis": 0.2}
# Shares 30/25/20/15/10: unequal, yet the smallest subtypes stay large enough
# that K-Means on category multi-hot vectors does not merge them to split the largest.
SUBTYPES: dict[str, tuple[Subtype, ...]] = {
    "male": (
        Subtype("cannabis-induced psychosis", 0.30, _PSYCHOSIS_CORE),
        Subtype(
            "conduct disorder + cannabis + family problems", 0.25,
            {"conduct": 0.75, "cannabis": 0.25}, n_codes_tilt=0.05,
        ),
        Subtype(
            "mood/anxiety + alcohol", 0.20, {"mood": 0.65, "alcohol": 0.35}, n_codes_tilt=-0.05
        ),
        Subtype(
            "ADHD/neurodevelopmental + nicotine", 0.15,
            {"neurodev": 0.65, "nicotine": 0.35}, n_codes_tilt=-0.1,
        ),
        Subtype(
            "personality disorder + multiple substances", 0.10, {"personality": 1.0},
            n_codes_tilt=0.1,
        ),
    ),
    "female": (
        Subtype(
            "borderline personality + self-harm + multiple substances", 0.30,
            {"personality": 1.0}, n_codes_tilt=0.05,
        ),
        Subtype("mood/anxiety + alcohol", 0.25, {"mood": 0.65, "alcohol": 0.35}),
        Subtype(
            "conduct disorder + cannabis + family problems", 0.20,
            {"conduct": 0.75, "cannabis": 0.25}, n_codes_tilt=-0.05,
        ),
        Subtype("cannabis-induced psychosis", 0.15, _PSYCHOSIS_CORE),
        Subtype(
            "eating disorder + nicotine", 0.10, {"eating": 0.7, "nicotine": 0.3},
            n_codes_tilt=-0.1,
        ),
    ),
}


@dataclass(frozen=True)
class OutcomeShift:
    """How a subtype moves its patients' outcomes, on top of complexity.

    Without it, outcome-based evaluation of clusters (do they differ in stay,
    severity, discharge?) would have nothing real to find in the ``"confounded"``
    scenario except complexity, which is exactly the confounder to see through.
    The shifts are small next to complexity's own effect, and clinically
    plausible for adolescent admissions: psychotic episodes and eating disorders
    stay longer; personality disorder with self-harm and multiple substances is
    graded more severe and is more often discharged elsewhere than home
    (transfer, voluntary discharge). ``stay`` is added to log-days,
    ``severity`` to the latent behind APR severity and mortality risk (in
    standard deviations of complexity), ``non_home`` to the log-odds of a
    discharge other than home. Applied only in the ``"confounded"`` scenario.
    """

    stay: float = 0.0
    severity: float = 0.0
    non_home: float = 0.0


#: Outcome shifts by a subtype's anchor theme; themes not listed shift nothing.
OUTCOME_SHIFTS: dict[str, OutcomeShift] = {
    "psychosis": OutcomeShift(stay=0.3),
    "personality": OutcomeShift(severity=0.4, non_home=0.6),
    "eating": OutcomeShift(stay=0.25),
}


def background_weight(theme: str) -> float:
    """Multiplier of a theme's profile counts in the background all subtypes share.

    Clinical themes leak in only a little, so they stay distinctive; substance
    use and shared codes (family history, asthma, ...) are common to everyone.
    """
    return LEAKAGE if theme in CLINICAL_THEMES else 1.0


def is_sud(code: str) -> bool:
    """Substance use disorder block F10-F19 (alcohol and nicotine included)."""
    return code.startswith("F1") and len(code) >= 3 and code[2].isdigit()


# Codes valid in earlier ICD-10-CM editions but retired before 2026: the
# cannabis poisoning codes T40.7X.. were split in 2023 (T40.71.., T40.72..).
# Their ancestor T40.7 is still valid.
RETIRED_CODES: tuple[str, ...] = ("T40.7X1A", "T40.7X2A", "T40.7X4A", "T40.7X5A")
PLACEHOLDER = "ZZZ.ZZZS"

# Non-chapter-F principal diagnoses for rows the cohort selection must exclude,
# with their ICD-10-CM chapter and block (checked against simple_icd_10_cm in tests).
NON_F_PRINCIPALS: dict[str, tuple[int, str]] = {
    "T42.4X2A": (19, "T36-T50"),
    "T43.222A": (19, "T36-T50"),
    "T14.91": (19, "T14"),  # T14 is a block of its own in ICD-10-CM
    "R45.851": (18, "R40-R46"),
}

# Blocks of ICD-10-CM chapter 5 (F01-F99), by 3-character category.
F_BLOCKS: tuple[tuple[int, int, str], ...] = (
    (1, 9, "F01-F09"),
    (10, 19, "F10-F19"),
    (20, 29, "F20-F29"),
    (30, 39, "F30-F39"),
    (40, 48, "F40-F48"),
    (50, 59, "F50-F59"),
    (60, 69, "F60-F69"),
    (70, 79, "F70-F79"),
    (80, 89, "F80-F89"),
    (90, 98, "F90-F98"),
    (99, 99, "F99-F99"),
)


def chapter_and_section(code: str) -> tuple[int, str]:
    """ICD-10-CM chapter number and block of a principal diagnosis."""
    if code in NON_F_PRINCIPALS:
        return NON_F_PRINCIPALS[code]
    if not code.startswith("F"):
        raise ValueError(f"no chapter/block known for principal code {code!r}")
    number = int(code[1:3])
    for low, high, block in F_BLOCKS:
        if low <= number <= high:
            return 5, block
    raise ValueError(f"no chapter-5 block for {code!r}")


# APR-DRG of a principal diagnosis by 3-character category (mental-health MDC 19
# and substance MDC 20), with a base Spanish relative weight.
_DRG_BY_CATEGORY: dict[str, int] = {
    **dict.fromkeys(("F20", "F25"), 750),
    **dict.fromkeys(("F22", "F23", "F29", "F32", "F33"), 751),
    **dict.fromkeys(("F60", "F63"), 752),
    **dict.fromkeys(("F30", "F31"), 753),
    **dict.fromkeys(("F34", "F39"), 754),
    **dict.fromkeys(("F41", "F42", "F43", "F44", "F93"), 755),
    **dict.fromkeys(("F84", "F90", "F91", "F94", "F95", "F98"), 758),
    "F50": 759,
    "F10": 775,
    "F11": 773,
    "F14": 774,
    **dict.fromkeys(("F12", "F13", "F15", "F16", "F17", "F18", "F19"), 776),
    **dict.fromkeys(("T42", "T43", "T14"), 812),
}
DRG_WEIGHT: dict[int, float] = {
    750: 1.10, 751: 0.95, 752: 0.80, 753: 1.00, 754: 0.75, 755: 0.70, 758: 0.85,
    759: 1.30, 760: 0.80, 773: 0.70, 774: 0.60, 775: 0.55, 776: 0.60, 812: 0.50,
}


def drg_of(code: str) -> int:
    """APR-DRG assigned to a principal diagnosis (760 "other mental health" by default)."""
    return _DRG_BY_CATEGORY.get(code[:3], 760)


# INE province code -> autonomous community code, with a rough population weight
# (hundreds of thousands), so hospital and residence codes are consistent and
# Madrid / Barcelona dominate as they do in the registry.
PROVINCES: dict[int, tuple[int, float]] = {
    1: (16, 3.3), 2: (8, 3.9), 3: (10, 18.8), 4: (1, 7.3), 5: (7, 1.6), 6: (11, 6.7),
    7: (4, 11.7), 8: (9, 56.0), 9: (7, 3.6), 10: (11, 3.9), 11: (1, 12.4), 12: (10, 5.8),
    13: (8, 4.9), 14: (1, 7.8), 15: (12, 11.2), 16: (8, 2.0), 17: (9, 7.8), 18: (1, 9.1),
    19: (8, 2.6), 20: (16, 7.2), 21: (1, 5.2), 22: (2, 2.2), 23: (1, 6.3), 24: (7, 4.6),
    25: (9, 4.3), 26: (17, 3.2), 27: (12, 3.3), 28: (13, 66.0), 29: (1, 16.6), 30: (14, 15.0),
    31: (15, 6.5), 32: (12, 3.1), 33: (3, 10.2), 34: (7, 1.6), 35: (5, 11.2), 36: (12, 9.4),
    37: (7, 3.3), 38: (5, 10.3), 39: (6, 5.8), 40: (7, 1.5), 41: (1, 19.4), 42: (7, 0.9),
    43: (9, 8.0), 44: (2, 1.3), 45: (8, 6.9), 46: (10, 25.6), 47: (7, 5.2), 48: (16, 11.5),
    49: (7, 1.7), 50: (2, 9.6), 51: (18, 0.8), 52: (19, 0.9),
}

# ICD-10-PCS codes seen on adolescent psychiatric stays (psychotherapy, medication
# management, detoxification, brain imaging, EEG).
PROCEDURES: tuple[str, ...] = (
    "GZ3ZZZZ", "GZHZZZZ", "GZ72ZZZ", "HZ2ZZZZ", "GZ13ZZZ", "B030ZZZ", "B020ZZZ", "4A0034Z",
)

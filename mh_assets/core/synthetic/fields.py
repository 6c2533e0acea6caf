"""The registry's columns for synthetic rows: layout, planted problems, administrative fields.

Given each row's drawn codes (:mod:`.draws`), this fills every other column
of the raw RAE-CMBD layout the way deliveries do -- dates as ``ddmmyyyy HHMM``,
birth dates as numbers, decimal commas in quotes -- and plants the row-level
problems the cohort stage must exclude or flag, so those stages are tested on
what real extracts carry. Values follow the cohort profile where it says
something (admission years, stay quartiles) and plausible registry codes where
it does not (provinces, discharge types, APR-DRGs).

In the ``"confounded"`` and ``"null"`` scenarios the outcomes follow each row's
latent complexity (:mod:`.draws`): APR severity and mortality risk are ordinal
cuts of ``SEVERITY_LOADING * z`` plus noise, log-stay gains ``STAY_LOADING * z``,
and a discharge other than home grows likelier with ``z`` -- each calibrated so
its marginal stays today's -- and, in ``"confounded"``, the subtype's
:data:`~.codes.OUTCOME_SHIFTS` move them a little further. Cost follows
severity through the APR weight, as it always did.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import polars as pl

from mh_assets.core.registry import columns
from mh_assets.core.synthetic import codes as sc
from mh_assets.core.synthetic.draws import SEX_ORDER, DrawnCodes

#: (Spanish header, English name) for every column of the raw layout, in file order --
#: the registry's one header table, read in the other direction.
REGISTRY_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (spanish, english) for english, spanish in columns.SPANISH_HEADERS.items()
)
SPANISH_HEADERS: tuple[str, ...] = tuple(es for es, _ in REGISTRY_COLUMNS)
ENGLISH_HEADERS: tuple[str, ...] = tuple(en for _, en in REGISTRY_COLUMNS)
_BLANK_CODE_COLUMNS = (
    columns.N_PROCEDURES - 2 + columns.N_EXTERNAL_PROCEDURES + columns.N_MORPHOLOGIES
)

# Planted row-level problems (names used in the ground-truth file).
EXCLUSIONS = ("admission_after_end", "sex_not_1_2", "principal_not_chapter_f")
EXCLUSION_RATES = (0.008, 0.004, 0.005)
FLAGS = ("admission_decades_before_discharge", "age_over_18")
FLAG_RATE = 0.0005
ADMISSION_END = np.datetime64("2020-03-15")
_AGE_WEIGHTS = {11: 1, 12: 2, 13: 5, 14: 10, 15: 17, 16: 23, 17: 25, 18: 9}
_UNIT_COST = 4549.62
# Outcomes (discharge type, APR severity and mortality risk) and their shares.
DISCHARGE_TYPES, DISCHARGE_P = (1, 2, 3, 5, 8), (0.86, 0.05, 0.05, 0.02, 0.02)
SEVERITY_P = (0.45, 0.38, 0.14, 0.03)
MORTALITY_P = (0.9, 0.08, 0.02)
# How complexity moves outcomes when a scenario has it (per standard deviation).
SEVERITY_LOADING = 0.8  # on the standard-normal latent behind severity and mortality
STAY_LOADING = 0.35  # on log-days
NON_HOME_LOADING = 0.5  # on the log-odds of a discharge other than home
_HERMITE = np.polynomial.hermite_e.hermegauss(40)  # E over z ~ N(0, 1), for calibration


def plant_problems(
    rng: np.random.Generator, drawn: DrawnCodes, quirks: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Pick disjoint rows for each planted exclusion and flag (-1 = none).

    Counts are binomial, but at least one of each kind from 100 rows up, so
    even a small test file shows every problem the cohort stage must handle.
    """
    n = drawn.codes.shape[0]
    exclusion = np.full(n, -1, dtype=np.int8)
    flag = np.full(n, -1, dtype=np.int8)
    if not quirks:
        return exclusion, flag
    floor = 1 if n >= 100 else 0
    counts = [max(floor, int(rng.binomial(n, r))) for r in EXCLUSION_RATES]
    counts += [max(floor, int(rng.binomial(n, FLAG_RATE))) for _ in FLAGS]
    order = rng.permutation(n)
    start = 0
    for kind, count in enumerate(counts):
        rows = order[start : start + count]
        start += count
        if kind < len(EXCLUSIONS):
            exclusion[rows] = kind
        else:
            flag[rows] = kind - len(EXCLUSIONS)
    # A non-F principal replaces the drawn one (a self-harm poisoning or
    # suicidal-ideation code coded first, as happens in the registry); the
    # random choice skips codes the row already carries.
    non_f = np.flatnonzero(exclusion == EXCLUSIONS.index("principal_not_chapter_f"))
    if non_f.size:
        choices = np.array([drawn.code_id[c] for c in sc.NON_F_PRINCIPALS], dtype=np.int32)
        present = (drawn.codes[non_f, 1:, None] == choices[None, None, :]).any(axis=1)
        keys = np.where(present, np.inf, rng.random((non_f.size, choices.size)))
        drawn.codes[non_f, 0] = choices[keys.argmin(axis=1)]
    return exclusion, flag


def _days_to_str(days: np.ndarray, fmt: str) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date).dt.strftime(fmt)


def _time_str(rng: np.random.Generator, n: int, midnight_share: float) -> pl.Series:
    """HHMM strings; many registry times are a bare ``0000``."""
    minutes = rng.integers(0, 24 * 60, size=n)
    minutes[rng.random(n) < midnight_share] = 0
    hhmm = (minutes // 60) * 100 + minutes % 60
    return pl.Series(hhmm).cast(pl.String).str.zfill(4)


def _decimal_comma(values: np.ndarray) -> pl.Series:
    """``"3230,218750"``: six decimals, comma separator, quoted as delivered."""
    micro = np.rint(values * 1e6).astype(np.int64)
    whole = pl.Series(micro // 1_000_000).cast(pl.String)
    frac = pl.Series(micro % 1_000_000).cast(pl.String).str.zfill(6)
    return pl.select(pl.concat_str(pl.lit('"'), whole, pl.lit(","), frac, pl.lit('"'))).to_series()


def registry_frame(
    rng: np.random.Generator,
    profile: dict,
    drawn: DrawnCodes,
    exclusion: np.ndarray,
    flag: np.ndarray,
) -> pl.DataFrame:
    """Every column of the raw layout as strings (blank = null), in file order."""
    n = drawn.codes.shape[0]
    shifts = outcome_shifts(drawn)
    dates = _episode_dates(rng, profile, drawn, exclusion, flag, shifts)
    province, residence, community = _provinces(rng, n)
    sex_code = np.where(drawn.sex == SEX_ORDER.index("female"), 2, 1)
    sex_code[exclusion == EXCLUSIONS.index("sex_not_1_2")] = 9

    table = drawn.code_table
    principal = drawn.codes[:, 0]
    chapter_of_code, section_of_code = _principal_classification(table, principal)
    drg, severity, mortality, weight, cost = _apr_grouping(
        rng, table, principal, drawn.complexity, shifts
    )
    n_proc = np.where(rng.random(n) < 0.15, rng.integers(1, 3, size=n), 0)
    proc = rng.integers(0, len(sc.PROCEDURES), size=(n, 2))

    def ints(values: np.ndarray) -> pl.Series:
        return pl.Series(values).cast(pl.String)

    def stamp(days: np.ndarray, midnight_share: float) -> pl.Series:
        return _days_to_str(days, "%d%m%Y") + " " + _time_str(rng, n, midnight_share)

    codes = pl.Series([*table, None], dtype=pl.String)
    code_idx = np.where(drawn.codes < 0, len(table), drawn.codes)
    principal_str = codes.gather(code_idx[:, 0])
    proc_table = pl.Series([*sc.PROCEDURES, None], dtype=pl.String)
    birth = _days_to_str(dates["birth"], "%d%m%Y")
    if drawn.quirks:
        birth = birth.str.strip_chars_start("0")  # written as a number
    discharge_year = dates["contact_end"].astype("datetime64[D]").astype("datetime64[Y]")
    blank = pl.repeat(None, n, dtype=pl.String, eager=True)

    columns: list[pl.Series] = [
        ints(1970 + discharge_year.astype(np.int64)),
        ints(community[province]),
        ints(province),
        birth,
        ints(sex_code),
        ints(community[residence]),
        ints(residence),
        stamp(dates["admission"], 0.4),
        stamp(dates["contact_end"], 0.2),
        stamp(dates["intervention"], 0.0).scatter(np.flatnonzero(dates["intervention"] < 0), None),
        ints(_discharge_type(rng, drawn.complexity, shifts, n)),
        ints(rng.choice([1, 2, 4, 9], size=n, p=[0.93, 0.02, 0.02, 0.03])),
        ints(rng.choice([2, 1, 9], size=n, p=[0.82, 0.16, 0.02])),
        ints(dates["stay"]),
        principal_str,
        ints(chapter_of_code[principal]),
        pl.Series(section_of_code, dtype=pl.String).gather(principal),
        principal_str.str.slice(0, 3),
        principal_str.str.slice(0, 5),
        *(codes.gather(code_idx[:, j]) for j in range(1, code_idx.shape[1])),
        proc_table.gather(np.where(n_proc >= 1, proc[:, 0], len(sc.PROCEDURES))),
        proc_table.gather(np.where(n_proc >= 2, proc[:, 1], len(sc.PROCEDURES))),
        *[blank] * _BLANK_CODE_COLUMNS,
        ints(drg),
        pl.repeat("M", n, dtype=pl.String, eager=True),
        ints(severity),
        ints(mortality),
        _decimal_comma(weight),
        _decimal_comma(cost),
    ]
    return pl.DataFrame(
        {name: col.alias(name) for name, col in zip(ENGLISH_HEADERS, columns, strict=True)}
    )


def outcome_shifts(drawn: DrawnCodes) -> dict[str, np.ndarray] | None:
    """Per-row ``stay``, ``severity`` and ``non_home`` shifts, or None without complexity.

    Only the ``"confounded"`` scenario shifts by subtype (:data:`.codes.OUTCOME_SHIFTS`,
    keyed by anchor theme); ``"null"`` has complexity but no subtypes, so zeros.
    """
    if drawn.complexity is None:
        return None
    n = drawn.codes.shape[0]
    shifts = {name: np.zeros(n) for name in ("stay", "severity", "non_home")}
    if drawn.scenario != "confounded":
        return shifts
    for sex_code, sex in enumerate(SEX_ORDER):
        for k, spec in enumerate(sc.SUBTYPES[sex]):
            shift = sc.OUTCOME_SHIFTS.get(spec.anchor)
            if shift is None:
                continue
            rows = (drawn.sex == sex_code) & (drawn.subtype == k)
            for name in shifts:
                shifts[name][rows] = getattr(shift, name)
    return shifts


def _episode_dates(
    rng: np.random.Generator,
    profile: dict,
    drawn: DrawnCodes,
    exclusion: np.ndarray,
    flag: np.ndarray,
    shifts: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Days since 1970 for admission (as shown), contact end, birth and intervention (-1 = none).

    Admission years follow the profile per sex, days uniform within the year
    (2020 only up to the study's 15 March cut-off, except rows planted to break
    it); stays are log-normal with the profile's median and interquartile range
    (plus ``STAY_LOADING * z`` and the subtype's shift where a scenario has
    complexity); a whole age 11-18 at admission, with day offsets that keep the
    calendar age inside that range.
    """
    n = drawn.codes.shape[0]
    sexes = profile["sexes"]
    admission = np.empty(n, dtype=np.int64)
    quartiles = np.empty((n, 3))
    for code, sex in enumerate(SEX_ORDER):
        rows = np.flatnonzero(drawn.sex == code)
        counts = sexes[sex]["admission_years"]
        years = np.array(sorted(int(y) for y in counts))
        weights = np.array([counts[str(y)] for y in years], float)
        year = rng.choice(years, size=rows.size, p=weights / weights.sum())
        start = _jan_first(year)
        end = np.where(year == 2020, ADMISSION_END.astype(np.int64) + 1, _jan_first(year + 1))
        admission[rows] = start + (rng.random(rows.size) * (end - start)).astype(np.int64)
        quartiles[rows] = sexes[sex]["days_of_stay_quartiles"]
    late = exclusion == EXCLUSIONS.index("admission_after_end")
    admission[late] = ADMISSION_END.astype(np.int64) + 1 + rng.integers(0, 270, int(late.sum()))

    q1, median, q3 = quartiles.T
    sigma = (np.log(q3) - np.log(q1)) / (2 * 0.6745)
    log_stay = np.log(median) + sigma * rng.standard_normal(n)
    if drawn.complexity is not None and shifts is not None:
        log_stay = log_stay + STAY_LOADING * drawn.complexity + shifts["stay"]
    stay = np.rint(np.exp(log_stay)).astype(np.int64)
    # Discharged by the end of 2020, the study's last year.
    stay = np.minimum(np.clip(stay, 1, 180), _jan_first(np.array(2021)) - 1 - admission)

    ages = np.array(list(_AGE_WEIGHTS))
    age_p = np.array(list(_AGE_WEIGHTS.values()), float)
    age = rng.choice(ages, size=n, p=age_p / age_p.sum())
    # 4020 days is past every 11th birthday, 6936 short of every 19th.
    offset = np.clip(np.rint(age * 365.25 + rng.random(n) * 365).astype(np.int64), 4020, 6936)
    old = flag == FLAGS.index("age_over_18")
    offset[old] = 6941 + rng.integers(0, 60, size=int(old.sum()))  # just past the 19th birthday

    # A typo'd admission year: decades before the discharge year.
    typo = flag == FLAGS.index("admission_decades_before_discharge")
    years_back = rng.integers(20, 36, size=int(typo.sum()))
    shown = admission.copy()
    shown[typo] -= years_back * 365 + years_back // 4

    intervention = admission + (rng.random(n) * (stay + 1)).astype(np.int64)
    intervention[rng.random(n) >= 0.03] = -1  # mostly blank
    return {
        "admission": shown,
        "contact_end": admission + stay,
        "stay": stay,
        "birth": admission - offset,
        "intervention": intervention,
    }


def _jan_first(year: np.ndarray) -> np.ndarray:
    return (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _provinces(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hospital and residence province (mostly the same), and a province -> community map."""
    ids = np.array(list(sc.PROVINCES))
    p = np.array([w for _, w in sc.PROVINCES.values()])
    p = p / p.sum()
    community = np.zeros(ids.max() + 1, dtype=np.int64)
    community[ids] = [c for c, _ in sc.PROVINCES.values()]
    province = rng.choice(ids, size=n, p=p)
    residence = np.where(rng.random(n) < 0.05, rng.choice(ids, size=n, p=p), province)
    return province, residence, community


def _apr_grouping(
    rng: np.random.Generator,
    table: list[str],
    principal: np.ndarray,
    complexity: np.ndarray | None = None,
    shifts: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """APR-DRG from the principal diagnosis, severity, mortality risk, weight and cost.

    Severity and mortality risk are drawn at their marginal shares, or, given
    complexity, cut from a latent that rises with it (and the subtype's shift).
    """
    n = principal.size
    drg_of_code = np.array([sc.drg_of(c) for c in table])
    weight_of_code = np.array([sc.DRG_WEIGHT[d] for d in drg_of_code])
    if complexity is None or shifts is None:
        severity = rng.choice([1, 2, 3, 4], size=n, p=list(SEVERITY_P))
        mortality = rng.choice([1, 2, 3], size=n, p=list(MORTALITY_P))
    else:
        severity = _ordinal(rng, complexity, shifts["severity"], SEVERITY_P)
        mortality = _ordinal(rng, complexity, shifts["severity"], MORTALITY_P)
    weight = weight_of_code[principal] * np.array([0, 1.0, 1.3, 1.9, 3.2])[severity]
    weight = weight * np.exp(0.05 * rng.standard_normal(n))
    cost = weight * _UNIT_COST * np.exp(0.02 * rng.standard_normal(n))
    return drg_of_code[principal], severity, mortality, weight, cost


def _ordinal(
    rng: np.random.Generator, z: np.ndarray, shift: np.ndarray, shares: tuple[float, ...]
) -> np.ndarray:
    """Levels 1..len(shares) cut from ``SEVERITY_LOADING * z + shift + N(0, 1)``.

    The latent is a normal mixture over the distinct shifts; the cut points
    solve (by bisection) for the mixture's expected level shares to be ``shares``.
    """
    scale = float(np.hypot(SEVERITY_LOADING, 1.0))
    means, counts = np.unique(shift, return_counts=True)
    weights = counts / counts.sum()
    normal = NormalDist()

    def share_below(cut: float) -> float:
        return float(sum(w * normal.cdf((cut - m) / scale) for m, w in zip(means, weights)))

    cuts = []
    for target in np.cumsum(shares)[:-1]:
        low, high = means.min() - 10 * scale, means.max() + 10 * scale
        for _ in range(60):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if share_below(mid) < target else (low, mid)
        cuts.append(0.5 * (low + high))
    latent = SEVERITY_LOADING * z + shift + rng.standard_normal(z.size)
    return np.searchsorted(np.array(cuts), latent) + 1


def _discharge_type(
    rng: np.random.Generator,
    complexity: np.ndarray | None,
    shifts: dict[str, np.ndarray] | None,
    n: int,
) -> np.ndarray:
    """Tipo Alta: home (1) at its marginal share, likelier otherwise as complexity grows.

    Given complexity, P(not home) is logistic in ``NON_HOME_LOADING * z`` plus the
    subtype's shift, its intercept set so the expected share of home discharges
    stays ``DISCHARGE_P[0]``; the other types keep their relative shares.
    """
    if complexity is None or shifts is None:
        return rng.choice(list(DISCHARGE_TYPES), size=n, p=list(DISCHARGE_P))
    nodes, node_w = _HERMITE
    node_w = node_w / node_w.sum()
    means, counts = np.unique(shifts["non_home"], return_counts=True)
    logits = NON_HOME_LOADING * nodes[None, :] + means[:, None]
    grid_w = (counts / counts.sum())[:, None] * node_w[None, :]
    target = 1 - DISCHARGE_P[0]
    low, high = -20.0, 20.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        expected = float((grid_w / (1 + np.exp(-(mid + logits)))).sum())
        low, high = (mid, high) if expected < target else (low, mid)
    intercept = 0.5 * (low + high)
    p_other = 1 / (1 + np.exp(-(intercept + NON_HOME_LOADING * complexity + shifts["non_home"])))
    others = np.array(DISCHARGE_P[1:]) / sum(DISCHARGE_P[1:])
    other = rng.choice(list(DISCHARGE_TYPES[1:]), size=n, p=others)
    return np.where(rng.random(n) < p_other, other, DISCHARGE_TYPES[0])


def _principal_classification(
    table: list[str], principal: np.ndarray
) -> tuple[np.ndarray, list[str | None]]:
    """Chapter number and block for every code that occurs as a principal diagnosis."""
    chapter = np.zeros(len(table), dtype=np.int64)
    section: list[str | None] = [None] * len(table)
    for index in np.flatnonzero(np.bincount(principal, minlength=len(table))):
        chapter[index], section[index] = sc.chapter_and_section(table[index])
    return chapter, section

"""Drawing each synthetic row's sex, planted subtype and diagnosis codes.

The generative story, per sex and subtype: a number of codes from the
profile's codes-per-patient histogram (tilted slightly per subtype); a
chapter-F principal diagnosis from the subtype's anchor theme; then secondary
codes without replacement from the subtype's core/background mixture (see
:mod:`.codes`). Every row carries a substance-use code (F10-F19), as every
patient of the study's cohort does: a one-code row gets an SUD principal, and a
row whose principal is not an SUD gets one as its first secondary code -- in
both cases one of the subtype's own substances, so short rows still say which
subtype they belong to.

Principal weights are the profile's counts raised to ``SHARPEN``: each
subtype's principal diagnoses concentrate on its commonest categories, as a
recognisable clinical picture does.

Weighted sampling without replacement is vectorised with exponential keys:
drawing ``E_c / w_c`` with ``E_c ~ Exp(1)`` for every code and keeping the
smallest ``n`` is a weighted draw of ``n`` distinct codes (Efraimidis and
Spirakis). Forcing a code means giving it a key below every other; excluding
one (the principal) means an infinite key.

That is the ``"subtypes"`` scenario. In ``"confounded"`` each row also has a
latent complexity ``z ~ N(0, 1)``, independent of subtype, and its number of
codes is the profile's codes-per-patient quantile at a Gaussian copula of ``z``
(correlation ``COMPLEXITY_RHO``) instead of the subtype-tilted draw: the
marginal stays the profile's, but how much is coded says complexity, not
subtype. In ``"null"`` there are no subtypes: the number of codes comes from
complexity the same way, the principal from the sex's chapter-F principal
marginal, secondary codes from the secondary-code marginal, so codes co-occur
only through how many each row has (the SUD rule above still holds, its code
drawn from the SUD marginal). Complexity and the copula noise come from their
own generator, so the default scenario draws exactly what it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mh_assets.core.synthetic import codes as sc

SEX_ORDER: tuple[str, ...] = ("male", "female")  # internal codes 0 and 1
MAX_CODES = 20  # principal + Diagnosis2..Diagnosis20
RETIRED_RATE = 0.002  # share of code occurrences replaced by a retired code
PLACEHOLDER_RATE = 0.001
_CHUNK = 65_536  # rows per key matrix: bounds memory at chunk x vocabulary floats
_TAIL_DECAY = 0.6  # share kept per extra code in the suppressed codes-per-patient tail
SHARPEN = 1.5  # exponent on profile counts for principal diagnoses
COMPLEXITY_RHO = 0.85  # copula correlation of complexity with the number of codes


@dataclass
class DrawnCodes:
    """Per-row draws; ``codes`` holds ids into ``code_table``, -1 for a blank field."""

    sex: np.ndarray  # int8, index into SEX_ORDER
    subtype: np.ndarray  # int8, index into sc.SUBTYPES[sex]; -1 in the null scenario
    codes: np.ndarray  # int32 (rows, MAX_CODES); column 0 is the principal diagnosis
    code_table: list[str]
    code_id: dict[str, int]
    quirks: bool
    retired_occurrences: int = 0
    placeholder_occurrences: int = 0
    scenario: str = "subtypes"
    complexity: np.ndarray | None = None  # float64 latent z; None in the subtypes scenario


def vocabulary(sex_profile: dict) -> list[str]:
    """The profile's codes for one sex, minus placeholders and retired codes.

    Those two are planted at controlled rates instead, so the valid-code share
    of a synthetic extract is a setting rather than an accident of the profile.
    """
    codes = set(sex_profile["code_patients"]) | set(sex_profile["principal_diagnosis_patients"])
    codes -= {sc.PLACEHOLDER, *sc.RETIRED_CODES}
    return sorted(codes)


def code_table(profile: dict) -> list[str]:
    """Every code a synthetic extract can contain, sorted so ids are stable."""
    codes: set[str] = {sc.PLACEHOLDER, *sc.RETIRED_CODES, *sc.NON_F_PRINCIPALS}
    for sex in SEX_ORDER:
        codes.update(vocabulary(profile["sexes"][sex]))
    return sorted(codes)


def n_codes_distribution(sex_profile: dict) -> np.ndarray:
    """P(n codes) for n = 1..20: the histogram, its suppressed tail spread geometrically."""
    p = np.zeros(MAX_CODES)
    for n, count in sex_profile["codes_per_patient"].items():
        p[int(n) - 1] = count
    top = max(int(n) for n in sex_profile["codes_per_patient"])
    if top < MAX_CODES:
        decay = _TAIL_DECAY ** np.arange(MAX_CODES - top)
        p[top:] = sex_profile.get("codes_per_patient_suppressed_tail", 0) * decay / decay.sum()
    return p / p.sum()


def n_codes_from_complexity(base_n: np.ndarray, z: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Codes per row: ``base_n``'s quantile at ``Phi(rho * z + sqrt(1 - rho^2) * noise)``.

    The copula argument is standard normal, so the marginal is ``base_n``
    (P(n) for n = 1..MAX_CODES) whatever ``rho``, and the count rises with ``z``.
    Comparing on the normal scale (``Phi^-1`` of the cumulative probabilities)
    is the same inverse CDF without evaluating ``Phi`` per row.
    """
    cdf = np.cumsum(base_n)[:-1] / base_n.sum()
    edges = np.array([NormalDist().inv_cdf(q) if 0 < q < 1 else np.sign(q - 0.5) * np.inf
                      for q in cdf])
    latent = COMPLEXITY_RHO * z + np.sqrt(1 - COMPLEXITY_RHO**2) * noise
    return (np.searchsorted(edges, latent, side="left") + 1).astype(np.int64)


def draw_codes(
    rng: np.random.Generator,
    profile: dict,
    n: int,
    *,
    quirks: bool,
    scenario: str = "subtypes",
    latent: np.random.Generator | None = None,
) -> DrawnCodes:
    """Sex, subtype and code ids for ``n`` rows (see the module docstring).

    ``latent`` draws complexity and the copula noise; the scenarios other than
    ``"subtypes"`` need it, and ``"subtypes"`` never touches it.
    """
    if scenario not in sc.SCENARIOS:
        raise ValueError(f"scenario {scenario!r} is not one of {', '.join(sc.SCENARIOS)}")
    complexity = noise = None
    if scenario != "subtypes":
        if latent is None:
            raise ValueError(f"the {scenario!r} scenario needs a latent generator")
        complexity = latent.standard_normal(n)
        noise = latent.standard_normal(n)
    table = code_table(profile)
    code_id = {code: i for i, code in enumerate(table)}
    patients = np.array([profile["sexes"][s]["patients"] for s in SEX_ORDER], float)
    sex = (rng.random(n) < patients[1] / patients.sum()).astype(np.int8)
    subtype = np.full(n, -1 if scenario == "null" else 0, dtype=np.int8)
    codes = np.full((n, MAX_CODES), -1, dtype=np.int32)

    for sex_code, sex_name in enumerate(SEX_ORDER):
        sex_profile = profile["sexes"][sex_name]
        subtypes = sc.SUBTYPES[sex_name]
        rows = np.flatnonzero(sex == sex_code)
        if scenario != "null":
            shares = np.array([t.share for t in subtypes])
            drawn_subtype = rng.choice(len(subtypes), size=rows.size, p=shares / shares.sum())
            subtype[rows] = drawn_subtype

        vocab = vocabulary(sex_profile)
        ids = np.array([code_id[c] for c in vocab], dtype=np.int32)
        themes = [sc.theme_of(c) for c in vocab]
        sud = np.array([sc.is_sud(c) for c in vocab])
        chapter_f = np.array([c.startswith("F") for c in vocab])
        principal_counts = np.array(
            [sex_profile["principal_diagnosis_patients"].get(c, 0) for c in vocab], float
        )
        all_counts = np.array([sex_profile["code_patients"].get(c, 0) for c in vocab], float)
        # Secondary prevalence: the code's patients minus those who had it as principal.
        secondary_counts = np.maximum(all_counts - principal_counts, 0.5)
        base_n = n_codes_distribution(sex_profile)

        if scenario == "null":
            # The marginals only: nothing ties one code to another but the count.
            if not (principal_counts * chapter_f).any():
                raise ValueError(f"the profile has no {sex_name} chapter-F principal diagnosis")
            local = _draw_rows(
                rng,
                n_codes_from_complexity(base_n, complexity[rows], noise[rows]),
                principal_w=principal_counts * chapter_f,
                secondary_w=secondary_counts / secondary_counts.sum(),
                sud=sud,
                own_sud_w=secondary_counts * sud,
            )
            codes[rows] = np.where(local >= 0, ids[np.maximum(local, 0)], -1)
            continue

        background = secondary_counts * np.array([sc.background_weight(t) for t in themes])
        background /= background.sum()
        for k, spec in enumerate(subtypes):
            members = rows[drawn_subtype == k]
            core_theme = np.array([spec.core.get(t, 0.0) for t in themes])
            anchor = np.array([t == spec.anchor for t in themes])
            core = _theme_normalised(secondary_counts, themes, core_theme)
            if scenario == "subtypes":
                p_n = base_n * np.exp(spec.n_codes_tilt * np.arange(1, MAX_CODES + 1))
                n_codes = rng.choice(
                    np.arange(1, MAX_CODES + 1), size=members.size, p=p_n / p_n.sum()
                )
            else:  # confounded: complexity, not subtype, sets the count
                n_codes = n_codes_from_complexity(base_n, complexity[members], noise[members])
            principal_w = principal_counts**SHARPEN * anchor * chapter_f
            if not principal_w.any():
                raise ValueError(
                    f"the profile has no {sex_name} principal diagnosis in theme {spec.anchor!r}"
                    f" for the planted subtype {spec.name!r}"
                )
            local = _draw_rows(
                rng,
                n_codes,
                principal_w=principal_w,
                secondary_w=spec.core_share * core + (1 - spec.core_share) * background,
                sud=sud,
                own_sud_w=core * sud if (core * sud).any() else background * sud,
            )
            codes[members] = np.where(local >= 0, ids[np.maximum(local, 0)], -1)

    drawn = DrawnCodes(
        sex, subtype, codes, table, code_id, quirks, scenario=scenario, complexity=complexity
    )
    if quirks:
        _plant_invalid_codes(rng, drawn)
    return drawn


def _theme_normalised(counts: np.ndarray, themes: list[str], share: np.ndarray) -> np.ndarray:
    """Weights giving each theme its ``share`` of the mass, split by profile counts within it."""
    totals: dict[str, float] = {}
    for count, theme in zip(counts, themes):
        totals[theme] = totals.get(theme, 0.0) + count
    weights = counts * share / np.array([totals[t] for t in themes])
    return weights / weights.sum()


def _draw_rows(
    rng: np.random.Generator,
    n_codes: np.ndarray,
    *,
    principal_w: np.ndarray,
    secondary_w: np.ndarray,
    sud: np.ndarray,
    own_sud_w: np.ndarray,
) -> np.ndarray:
    """Local code indices (rows, MAX_CODES), -1 after each row's last code.

    ``own_sud_w`` weighs the substance-use codes that a one-code row's
    principal, or the first secondary of a row without an SUD principal
    (``sud`` marks them), is drawn from: the subtype's own substances.
    """
    m, vocab = n_codes.size, secondary_w.size
    own_sud_p = own_sud_w / own_sud_w.sum()
    principal = rng.choice(vocab, size=m, p=principal_w / principal_w.sum())
    single = n_codes == 1
    principal[single] = rng.choice(vocab, size=int(single.sum()), p=own_sud_p)
    needs_sud = ~sud[principal] & (n_codes >= 2)
    forced = rng.choice(vocab, size=m, p=own_sud_p)
    inverse = (1.0 / secondary_w).astype(np.float32)
    slots = min(MAX_CODES - 1, vocab - 1)

    out = np.full((m, MAX_CODES), -1, dtype=np.int32)
    out[:, 0] = principal
    for start in range(0, m, _CHUNK):
        stop = min(start + _CHUNK, m)
        size = stop - start
        at = np.arange(size)
        keys = rng.standard_exponential((size, vocab), dtype=np.float32) * inverse
        keys[at, principal[start:stop]] = np.inf
        force = needs_sud[start:stop]
        keys[at[force], forced[start:stop][force]] = -1.0
        smallest = np.argpartition(keys, slots - 1, axis=1)[:, :slots]
        order = np.argsort(np.take_along_axis(keys, smallest, axis=1), axis=1, kind="stable")
        secondary = np.take_along_axis(smallest, order, axis=1).astype(np.int32)
        secondary[np.arange(slots)[None, :] >= (n_codes[start:stop, None] - 1)] = -1
        out[start:stop, 1 : 1 + slots] = secondary
    return out


def _plant_invalid_codes(rng: np.random.Generator, drawn: DrawnCodes) -> None:
    """Replace a few secondary codes (Diagnosis3 on) by retired codes or placeholders.

    Diagnosis2 and the principal are left alone so each row keeps its SUD code;
    at most one replacement per row, so a row never repeats a code.
    """
    codes = drawn.codes
    eligible = np.flatnonzero(codes[:, 2:].ravel() >= 0)
    total = int((codes >= 0).sum())
    n_retired = int(rng.binomial(total, RETIRED_RATE))
    n_placeholder = int(rng.binomial(total, PLACEHOLDER_RATE))
    picks = min(n_retired + n_placeholder, eligible.size)
    if picks == 0:
        return
    position = eligible[rng.choice(eligible.size, size=picks, replace=False)]
    is_retired = np.arange(picks) < n_retired
    _, first = np.unique(position // (MAX_CODES - 2), return_index=True)
    first = np.sort(first)
    position, is_retired = position[first], is_retired[first]
    row, col = position // (MAX_CODES - 2), position % (MAX_CODES - 2) + 2
    retired_ids = np.array([drawn.code_id[c] for c in sc.RETIRED_CODES], dtype=np.int32)
    codes[row, col] = np.where(
        is_retired,
        rng.choice(retired_ids, size=row.size),
        drawn.code_id[sc.PLACEHOLDER],
    )
    drawn.retired_occurrences = int(is_retired.sum())
    drawn.placeholder_occurrences = int((~is_retired).sum())

"""The study's cohort selection: which discharges are analysed, and why the others are not.

Every rule is a setting (:class:`~mh_assets.settings.CohortRules`). No row is dropped
silently: a row that fails any rule goes to ``excluded`` with *every* reason that
applies, and the flow table counts each reason by sex, so the selection can be
reported as a flow diagram and audited row by row. Implausible but possible values
(an admission decades before the discharge year, an age just past 18 at discharge)
are flagged and counted rather than excluded, unless the rules say otherwise: the
registry carries them, and excluding them is an analytic choice. Impossible records --
a negative stay, a discharge before the admission, a birth after it, an age at
admission outside the plausible range -- are always excluded: no analysis can use them.

The registry has no patient identifier, so each discharge row gets a pseudonymous id
that depends only on its position in the extract and a key (the extract's sha256):
it is stable across re-runs on the same extract and reveals nothing about the person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl

from mh_assets.core.registry.values import SEX_UNKNOWN, missing, reason_lists, unparsable
from mh_assets.core.schema import (
    AGE,
    DIAGNOSIS_COLUMNS,
    DROPPED_CODES,
    EXCLUSION_REASONS,
    PATIENT_ID,
    PRINCIPAL,
    QUALITY_FLAGS,
    RECORD_NUMBER,
    ROW_ISSUES,
    SEX,
    SEXES,
)

ADULT_AGE = 18
SEX_RULE = "sex not 1/2"
ADMISSION_RULE = "admission date missing or unparsable"
#: Row issues of the parser (:mod:`mh_assets.core.registry.values`) that a cohort rule
#: states again. Such a record is excluded under the rule's reason alone: the flow counted
#: it twice, under two names ("Sex unknown" and "sex not 1/2"), and the rule's row is the
#: one that shows even when it excludes no one.
RESTATED_BY_RULES = {SEX_UNKNOWN: SEX_RULE, missing("AdmissionDate"): ADMISSION_RULE,
                     unparsable("AdmissionDate"): ADMISSION_RULE}
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint8).reshape(256, 2)


@dataclass(frozen=True)
class CohortRules:
    """The study's cohort selection; every rule is a setting.

    Defaults follow Corpas et al. (2025): admissions up to 15 March 2020, sex coded
    1 (male) or 2 (female), and a mental-health principal diagnosis (ICD-10 chapter F).
    The age window and the F10-F19 requirement are off by default because the
    registry request that produced the extract already applied them.
    """

    admission_end: datetime = datetime(2020, 3, 15, 23, 59)
    admission_start: datetime | None = None
    principal_chapter: str = "F"
    age_min: int | None = None
    age_max: int | None = None
    require_sud_code: bool = False
    sud_blocks: tuple[str, ...] = tuple(f"F1{i}" for i in range(10))
    # Implausible values are flagged and counted; excluding them is a choice.
    exclude_implausible: bool = False
    # An admission more than this many years before the discharge year is implausible.
    max_years_before_discharge: int = 2
    # Impossible records are always excluded: a negative stay, a discharge before the
    # admission, a birth after it, and an age at admission outside this range (every
    # patient of the study's cohort was 11 to 19 at admission, so it excludes none).
    plausible_age_min: int = 11
    plausible_age_max: int = 19

    @property
    def adult_age(self) -> int:
        """The age at discharge above which a record is flagged: the age window's upper
        bound when one is set (the study's definition of its age group), else 18."""
        return self.age_max if self.age_max is not None else ADULT_AGE

    def __post_init__(self) -> None:
        if self.plausible_age_min > self.plausible_age_max:
            raise ValueError(f"plausible_age_min={self.plausible_age_min} is above "
                             f"plausible_age_max={self.plausible_age_max}")


@dataclass(frozen=True)
class CohortSelection:
    """Kept rows, excluded rows (with reasons), the flow table and flag counts."""

    cohort: pl.DataFrame
    excluded: pl.DataFrame
    flow: pl.DataFrame
    flag_counts: dict[str, int]


def pseudonymous_ids(record_numbers: np.ndarray, key: str) -> pl.Series:
    """``p`` + 16 hex digits per record number: a keyed bijection on 64-bit integers.

    The record number is XOR-ed with 64 bits of sha256(key) and mixed with the
    splitmix64 finaliser, which is invertible, so distinct rows never share an id;
    without the key the id says nothing about the row, and it uses no personal data.
    """
    key64 = np.uint64(int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big"))
    z = np.asarray(record_numbers).astype(np.uint64) ^ key64
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    # Hex formatting through a byte lookup table: str formatting per row is a loop.
    digits = _HEX[z.astype(">u8").view(np.uint8).reshape(-1, 8)].reshape(-1, 16)
    text = np.empty((len(z), 17), dtype=np.uint8)
    text[:, 0] = ord("p")
    text[:, 1:] = digits
    return pl.Series(PATIENT_ID, text.view("S17").ravel()).cast(pl.String)


def _prepend(issues: pl.Series, reasons: pl.Series) -> pl.Series:
    """Parse issues followed by rule reasons. Few rows have parse issues, so the
    (costly) list concatenation runs on those rows only."""
    index = issues.list.len().gt(0).arg_true()
    if index.len() == 0:
        return reasons
    joined = pl.select(pl.concat_list(issues.gather(index), reasons.gather(index))).to_series()
    patch = pl.DataFrame({"_row": index, "_joined": joined})
    return (
        pl.DataFrame({"_reasons": reasons})
        .with_row_index("_row")
        .join(patch, on="_row", how="left", maintain_order="left")
        .select(pl.coalesce("_joined", "_reasons"))
        .to_series()
    )


def _age(born: pl.Expr, at: pl.Expr) -> pl.Expr:
    """Whole years from ``born`` to ``at``: one less until the birthday is reached."""
    before_birthday = (at.dt.month() < born.dt.month()) | (
        (at.dt.month() == born.dt.month()) & (at.dt.day() < born.dt.day())
    )
    years = at.dt.year().cast(pl.Int32) - born.dt.year().cast(pl.Int32)
    return years - before_birthday.cast(pl.Int32)


def _stamp(moment: datetime | date) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if isinstance(moment, datetime) else f"{moment:%Y-%m-%d}"


def _as_datetime(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime(moment.year, moment.month, moment.day)


def _rule_conditions(rules: CohortRules) -> dict[str, pl.Expr]:
    """Value-free reason -> condition (true = exclude) for every active rule, in order."""
    admitted = pl.col("AdmissionDate")
    chapter = rules.principal_chapter.strip().upper()
    conditions: dict[str, pl.Expr] = {
        SEX_RULE: ~pl.col("Sex").is_in([1, 2]).fill_null(False),
        ADMISSION_RULE: admitted.is_null(),
        f"admission after {_stamp(rules.admission_end)}": admitted
        > pl.lit(_as_datetime(rules.admission_end)),
    }
    if rules.admission_start is not None:
        conditions[f"admission before {_stamp(rules.admission_start)}"] = admitted < pl.lit(
            _as_datetime(rules.admission_start)
        )
    conditions.update(_impossible(rules))
    in_chapter = pl.col(PRINCIPAL).str.starts_with(chapter).fill_null(False)
    conditions[f"principal diagnosis not in chapter {chapter}"] = ~in_chapter
    if rules.age_min is not None or rules.age_max is not None:
        age = pl.col(AGE)
        outside = age.is_null()
        if rules.age_min is not None:
            outside = outside | (age < rules.age_min)
        if rules.age_max is not None:
            outside = outside | (age > rules.age_max)
        low = rules.age_min if rules.age_min is not None else 0
        window = f"{low}-{rules.age_max}" if rules.age_max is not None else f"{low}+"
        conditions[f"age outside {window}"] = outside.fill_null(True)
    if rules.require_sud_code:
        blocks = sorted(b.strip().upper() for b in rules.sud_blocks)
        pattern = "^(?:" + "|".join(blocks) + ")"
        has_code = pl.any_horizontal(
            [pl.col(c).str.contains(pattern).fill_null(False) for c in DIAGNOSIS_COLUMNS]
        )
        label = f"{blocks[0]}-{blocks[-1]}" if len(blocks) > 1 else blocks[0]
        conditions[f"no code in {label}"] = ~has_code
    return conditions


def _impossible(rules: CohortRules) -> dict[str, pl.Expr]:
    """Records no admission can have: always exclusions (nulls never exclude here; a
    missing date is its own reason)."""
    low, high = rules.plausible_age_min, rules.plausible_age_max
    return {
        "negative length of stay": pl.col("DaysOfStay") < 0,
        "discharge before admission": pl.col("ContactEndDate") < pl.col("AdmissionDate"),
        "birth after admission": pl.col("AdmissionDate").dt.date() < pl.col("DateOfBirth"),
        f"age at admission outside {low}-{high}": ~pl.col(AGE).is_between(low, high),
    }


def _flag_conditions(rules: CohortRules) -> dict[str, pl.Expr]:
    """Implausible-value flags (true = implausible); nulls never flag.

    The age limit at discharge is :attr:`CohortRules.adult_age`: the registry request
    for an adolescent cohort makes an adult at discharge suspicious.
    """
    years = rules.max_years_before_discharge
    adult = rules.adult_age
    return {
        f"admission more than {years} years before discharge year": (
            pl.col("Year").cast(pl.Int32) - pl.col("AdmissionDate").dt.year().cast(pl.Int32)
        )
        > years,
        f"age over {adult} at discharge": _age(pl.col("DateOfBirth"), pl.col("ContactEndDate"))
        > adult,
    }


_FLOW_SCHEMA = {
    "step": pl.String,
    "female": pl.Int64,
    "male": pl.Int64,
    "unknown": pl.Int64,
    "total": pl.Int64,
}


def _sex_counts() -> list[pl.Expr]:
    """Rows by the raw sex code: 2 female, 1 male, anything else (or blank) unknown."""
    sex = pl.col("Sex")
    return [
        (sex == 2).fill_null(False).sum().cast(pl.Int64).alias("female"),
        (sex == 1).fill_null(False).sum().cast(pl.Int64).alias("male"),
        (~sex.is_in([1, 2]).fill_null(False)).sum().cast(pl.Int64).alias("unknown"),
        pl.len().cast(pl.Int64).alias("total"),
    ]


#: The flow's summary steps; between read and excluded come the reasons, one row each,
#: after kept the kept records that lost a malformed code.
FLOW_READ, FLOW_EXCLUDED, FLOW_KEPT = "read", "excluded (any reason)", "kept"


def _flow(frame: pl.DataFrame, reasons: list[str], excluded: pl.Series) -> pl.DataFrame:
    """Rows per step by sex: read, each reason (a row under every reason it has),
    excluded for any reason, kept. Reasons keep the given order; zero rows still show."""
    rows = frame.select("Sex", EXCLUSION_REASONS).with_columns(excluded.alias("_excluded"))

    def step(name: str, part: pl.DataFrame) -> pl.DataFrame:
        return part.select(pl.lit(name).alias("step"), *_sex_counts())

    per_reason = (
        rows.filter("_excluded")  # the rows with a reason: exploding the others adds nulls
        .explode(EXCLUSION_REASONS)
        .drop_nulls(EXCLUSION_REASONS)
        .group_by(pl.col(EXCLUSION_REASONS).alias("step"))
        .agg(_sex_counts())
    )
    per_reason = (
        pl.DataFrame({"step": reasons}, schema={"step": pl.String})
        .join(per_reason, on="step", how="left", maintain_order="left")
        .fill_null(0)
    )
    kept = rows.filter(~pl.col("_excluded"))
    parts = [
        step(FLOW_READ, rows),
        per_reason,
        step(FLOW_EXCLUDED, rows.filter("_excluded")),
        step(FLOW_KEPT, kept),
        # the two columns it reads, not a copy of every kept row's every column
        _dropped_code_steps(frame.select(pl.col("Sex", DROPPED_CODES) if DROPPED_CODES in
                                         frame.columns else pl.col("Sex")).filter(~excluded)),
    ]
    return pl.concat([part.select(list(_FLOW_SCHEMA)).cast(_FLOW_SCHEMA) for part in parts])


def _dropped_code_steps(kept: pl.DataFrame) -> pl.DataFrame:
    """Kept records that lost a malformed secondary code, per field (after "kept": they
    are in the cohort, with their other diagnoses)."""
    if DROPPED_CODES not in kept.columns:
        return pl.DataFrame(schema=_FLOW_SCHEMA)
    kept = kept.filter(pl.col(DROPPED_CODES).list.len() > 0)  # few records lost a code
    fields = (kept.select("Sex", pl.col(DROPPED_CODES).list.eval(
        pl.element().str.split(":").list.first()).list.unique().alias("_field"))
        .explode("_field").drop_nulls("_field"))
    return (fields.group_by(pl.format(FLOW_KEPT + ", a {} code dropped (not ICD-10-shaped)",
                                      pl.col("_field")).alias("step"))
            .agg(_sex_counts()).sort("step"))


def select_cohort(extract: pl.DataFrame, rules: CohortRules, id_key: str) -> CohortSelection:
    """Apply the cohort rules to a parsed extract (see :func:`registry.read_extract`).

    ``cohort`` has the extract's columns (less ``row_issues``, empty for kept rows)
    plus ``patient_id``, ``sex`` ("female"/"male"), ``age_at_admission`` (Int16) and
    ``quality_flags``; ``excluded`` has every extract column plus the same additions
    and ``exclusion_reasons``. ``flag_counts`` counts each implausibility flag over all
    rows read, whether they were kept or not.
    """
    frame = extract.with_columns(
        pseudonymous_ids(extract[RECORD_NUMBER].to_numpy(), id_key),
        pl.col("Sex")
        .replace_strict({2: "female", 1: "male"}, default=None, return_dtype=pl.String)
        .alias(SEX),
        _age(pl.col("DateOfBirth"), pl.col("AdmissionDate")).cast(pl.Int16).alias(AGE),
    )
    flags = _flag_conditions(rules)
    flag_frame = frame.select(**{k: v.fill_null(False) for k, v in flags.items()})
    flag_counts = {k: int(v) for k, v in flag_frame.sum().row(0, named=True).items()}
    rules_now = _rule_conditions(rules)
    if rules.exclude_implausible:
        rules_now.update({name: pl.col(f"_flag_{name}") for name in flags})
    rule_frame = frame.with_columns(
        flag_frame.rename(lambda name: f"_flag_{name}")
    ).select(**{k: v.fill_null(False) for k, v in rules_now.items()})

    issues = frame[ROW_ISSUES].list.eval(
        pl.element().filter(~pl.element().is_in(list(RESTATED_BY_RULES))))
    frame = frame.with_columns(
        reason_lists(flag_frame).alias(QUALITY_FLAGS),
        _prepend(issues, reason_lists(rule_frame)).alias(EXCLUSION_REASONS),
    )
    is_excluded = frame[EXCLUSION_REASONS].list.len() > 0
    issue_names = sorted(set(issues.explode().drop_nulls().unique().to_list()) - set(rules_now))
    flow = _flow(frame, issue_names + list(rules_now), is_excluded)

    front = [RECORD_NUMBER, PATIENT_ID]
    added = [SEX, AGE, QUALITY_FLAGS]
    columns = [c for c in extract.columns if c not in front] + added
    cohort = frame.filter(~is_excluded).select(
        *front, *[c for c in columns if c != ROW_ISSUES]
    )
    excluded = frame.filter(is_excluded).select(*front, *columns, EXCLUSION_REASONS)
    return CohortSelection(cohort=cohort, excluded=excluded, flow=flow, flag_counts=flag_counts)


def sexes_with_patients(flow: pl.DataFrame) -> list[str]:
    """The sexes the cohort keeps at least one patient of (from its flow table): the
    partitions that run; a sex without patients is skipped, not an error."""
    kept = flow.filter(pl.col("step") == FLOW_KEPT)
    return [sex for sex in SEXES
            if kept.height and sex in kept.columns and int(kept[sex][0]) > 0]


#: What every output says of a sex the extract has no patient of (logs, checks, report).
ABSENT_SEX = "no patients of this sex in the extract"


def present_sexes(store) -> list[str]:
    """:func:`sexes_with_patients` of the cohort flow in ``store`` (an
    :class:`~mh_assets.core.storage.ArtifactStore`); both sexes before any cohort exists."""
    from mh_assets.core import layout

    path = store.path(layout.COHORT_FLOW)
    return sexes_with_patients(pl.read_csv(path)) if path.exists() else list(SEXES)


def analysed_sexes(store) -> list[str]:
    """The present sexes whose partition has been clustered (its code profiles exist):
    what the cross-sex tables, maps and report can be built from -- e.g. after
    ``mh-assets run --sex female`` on a fresh instance, only the female one."""
    from mh_assets.core import layout

    return [sex for sex in present_sexes(store)
            if store.path(layout.profile(sex, "codes")).exists()]

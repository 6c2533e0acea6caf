"""Descriptive cluster names: "F3 · conduct disorder + cannabis abuse".

A name is the cluster's stable label (``F3``), a middle dot, and the one or two ICD-10
codes that most *distinguish* the cluster, by their shortened descriptors.

Why not simply its most common codes, or its top c-DF-IPF codes? A reader takes a name
as what defines the cluster. A code that half of all patients carry is common in every
cluster, so naming a cluster after it says nothing about the cluster and suggests a
difference that is not there. c-DF-IPF does not exclude that: it is
``prevalence_in * ln(1 / prevalence_overall)`` = ``prevalence_in * ln(lift)`` +
``prevalence_in * ln(1 / prevalence_in)``, and the second term rewards any code of
middling prevalence in the cluster whether or not it is more common there than
elsewhere (a code at 37% everywhere scores 0.37, as much as many distinctive codes).

The rule (:class:`NamingRule` holds its thresholds):

1. **Candidates** are the cluster's codes with lift >= ``min_lift`` (1.5: at least half
   again as common in the cluster as in the partition -- lift > 1 alone would admit a
   code 2% more common, which distinguishes nothing; since lift <= 1 / overall
   prevalence, a code held by over 2/3 of the partition can never name a cluster),
   prevalence in the cluster >= ``min_prevalence`` (10%) and at least
   ``min_patients`` members with the code (the asset passes the platform's small-cell
   threshold, 10: no name rests on a handful of patients).
2. **Score** = ``prevalence_in * ln(lift)``: the cluster's pointwise mutual information
   with the code weighted by how often the code occurs in it. It is 0 for a code
   exactly as common inside as outside, whatever its prevalence, and it needs both
   high prevalence and lift to be large. Ties go to the code in sort order.
3. The best candidate names the cluster. The next candidate whose short descriptor is
   not redundant with the first (not the same words, not contained in it: "personality
   disorder" adds nothing to "borderline personality disorder") is added with " + "
   when its score is at least ``second_share`` (half) of the first's.
4. **Short descriptors**: qualifiers that do not tell clusters apart are dropped
   ("unspecified", "uncomplicated", "not elsewhere classified", "not due to a substance
   or known physiological condition", a leading "other"/"other specified", and the
   CIE-10-ES equivalents "no especificado", "sin complicaciones", ...); ADHD, OCD and
   PTSD (TDAH, TOC, TEPT) are abbreviated; the first word is lower-cased unless it is
   an acronym (HIV, ADHD). A code without a descriptor is shown dotted (F12.10).
5. **Length**: the whole name stays within ``max_length`` (60) characters: the full
   short descriptors first, then their head clauses (before the first comma that does
   not separate list items), then those without trailing "with ..." clauses; if two
   codes still do not fit, the first code alone the same way, and as a last resort its
   descriptor cut at a word with "…".
6. **Unique within a sex**: clusters are named in label order (largest first); a
   cluster whose description a previous cluster already took gets the next free
   combination of its candidates (its first code alone, the first with each later
   candidate, then each later one alone). The label keeps the full name unique even
   when no combination is free.
7. A cluster without a candidate is "F3 · no distinctive code": it is told apart by
   its mix of codes, not by any one of them, and the name says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import polars as pl

from mh_assets.core.icd import display_code
from mh_assets.core.schema import CLUSTER, CLUSTER_LABEL

SEPARATOR = " · "
JOINER = " + "
NO_DISTINCTIVE_CODE = "no distinctive code"
ELLIPSIS = "…"


@dataclass(frozen=True)
class NamingRule:
    """The thresholds of the naming rule (the module docstring gives the reasons)."""

    max_length: int = 60
    min_lift: float = 1.5
    min_prevalence: float = 0.10
    min_patients: int = 10
    second_share: float = 0.5

    def __post_init__(self) -> None:
        if self.max_length < 20:
            raise ValueError(f"max_length must be at least 20, got {self.max_length}")
        if not (math.isfinite(self.min_lift) and self.min_lift > 1):
            raise ValueError(f"min_lift must be above 1 (distinctive), got {self.min_lift}")
        if not 0 < self.min_prevalence <= 1:
            raise ValueError(f"min_prevalence must be in (0, 1], got {self.min_prevalence}")
        if self.min_patients < 1:
            raise ValueError(f"min_patients must be at least 1, got {self.min_patients}")
        if not 0 <= self.second_share <= 1:
            raise ValueError(f"second_share must be in [0, 1], got {self.second_share}")


# Qualifiers removed from every descriptor (ICD-10-CM English, then CIE-10-ES Spanish).
_DROPPED = [re.compile(p, re.IGNORECASE) for p in (
    r"\s+not due to a substance or known physiological condition",
    r",?\s+not elsewhere classified",
    r",\s*(?:uncomplicated|unspecified(?:\s+(?:type|site|episode|severity))?)(?=,|\s|$)",
    r"^(?:unspecified|other specified|other)\s+",
    r",?\s+no clasificad[oa]s? bajo otro concepto",
    r",?\s*sin complicaciones",
    r",?\s+no especificad[oa]s?",
    r"^(?:otr[oa]s|no especificad[oa]s?)\s+(?:especificad[oa]s\s+)?",
)]
# The clinical abbreviations every reader of the study knows, for the longest names.
_ABBREVIATIONS = [(re.compile(p, re.IGNORECASE), a) for p, a in (
    (r"attention[- ]deficit[- ]hyperactivity disorder", "ADHD"),
    (r"obsessive[- ]compulsive disorder", "OCD"),
    (r"post[- ]?traumatic stress disorder", "PTSD"),
    (r"trastorno por d[ée]ficit de atenci[óo]n (?:con|e) hiperactividad", "TDAH"),
    (r"trastorno obsesivo[- ]compulsivo", "TOC"),
    (r"trastorno de estr[ée]s post[- ]?traum[áa]tico", "TEPT"),
)]


def short_descriptor(descriptor: str | None, code: str = "") -> tuple[str, str]:
    """(full, compact) short forms of one code's descriptor for a name.

    full: the descriptor without non-distinguishing qualifiers, first word lower-cased
    (acronyms kept); compact: its head clause (before the first comma that does not
    separate list items). A missing
    descriptor, or the code standing in for one, gives the dotted code for both.
    """
    text = (descriptor or "").strip()
    if not text or text.replace(".", "").upper() == code.upper():
        shown = display_code(code) if code else text
        return shown, shown
    for pattern in _DROPPED:
        text = pattern.sub("", text)
    for pattern, abbreviation in _ABBREVIATIONS:
        text = pattern.sub(abbreviation, text)
    text = re.sub(r"\s+", " ", re.sub(r"\s*,(\s*,)+", ",", text)).strip(" ,;")
    if not text:  # the descriptor was nothing but qualifiers
        text = (descriptor or "").strip()
    first, _, rest = text.partition(" ")
    if not (len(first) > 1 and first.isupper()):
        first = first[:1].lower() + first[1:]
    full = f"{first} {rest}".strip()
    return full, _head_clause(full)


# A comma after these words, or before a clause holding a conjunction, separates list
# items ("Sedative, hypnotic or anxiolytic abuse"), not a head from its qualifier.
_OPEN_ENDED = {"by", "of", "to", "and", "or", "in", "with", "de", "por", "y", "o", "en", "con"}
_CONJUNCTION = re.compile(r"\b(?:and|or|y|o|e|u)\b", re.IGNORECASE)


def _head_clause(text: str) -> str:
    """The part before the first comma ("conduct disorder, adolescent-onset type" ->
    "conduct disorder") unless that comma separates the items of a list."""
    head, comma, rest = text.partition(",")
    if not comma or not head.strip():
        return text
    if head.split()[-1].lower() in _OPEN_ENDED or _CONJUNCTION.search(rest.split(",")[0]):
        return text
    return head.strip()


def _trim_with(text: str, limit: int) -> str:
    """Drop trailing " with ..." clauses while ``text`` is longer than ``limit``."""
    while len(text) > limit and " with " in text:
        text = text.rsplit(" with ", 1)[0]
    return text


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)].rsplit(" ", 1)[0].rstrip(" ,;+")
    return cut + ELLIPSIS


def _key(text: str) -> str:
    """Words without plural "s", for redundancy: "conduct disorders" ~ "conduct disorder"."""
    words = re.findall(r"[^\W_]+", text.lower())
    return " " + " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words) + " "


def _redundant(a: str, b: str) -> bool:
    ka, kb = _key(a), _key(b)
    return ka in kb or kb in ka


@dataclass(frozen=True)
class _Candidate:
    code: str
    score: float
    full: str
    compact: str


def candidates(codes: pl.DataFrame, rule: NamingRule = NamingRule()) -> pl.DataFrame:
    """The rows of a ``code_profiles`` frame that may name their cluster, with ``score``
    (``prevalence_in * ln(lift)``), best first within each cluster (ties by code)."""
    return (
        codes.filter(
            (pl.col("lift") >= rule.min_lift)
            & (pl.col("prevalence_in") >= rule.min_prevalence)
            & (pl.col("patients_with_code") >= rule.min_patients)
        )
        .with_columns((pl.col("prevalence_in") * pl.col("lift").log()).alias("score"))
        .sort([CLUSTER, "score", "code"], descending=[False, True, False])
    )


def _describe(chosen: Sequence[_Candidate], budget: int) -> str | None:
    """The first rendering of ``chosen`` that fits ``budget`` characters (module
    docstring, point 5); None for two codes that do not fit, never None for one."""
    renderings = [
        [c.full for c in chosen],
        [c.compact for c in chosen],
        [_trim_with(c.compact, budget // len(chosen)) for c in chosen],
    ]
    for parts in renderings:
        text = JOINER.join(parts)
        if len(text) <= budget:
            return text
    return _truncate(renderings[-1][0], budget) if len(chosen) == 1 else None


def _options(ranked: list[_Candidate], rule: NamingRule) -> list[list[_Candidate]]:
    """Combinations in order of preference (module docstring, points 3 and 6): the
    preferred one, the first code alone, the first with each later one, each later one."""
    first = ranked[0]
    rest = [c for c in ranked[1:] if not _redundant(first.compact, c.compact)]
    preferred = [first]
    if rest and rest[0].score >= rule.second_share * first.score:
        preferred = [first, rest[0]]
    options: list[list[_Candidate]] = []
    for option in [preferred, [first], *([first, c] for c in rest), *([c] for c in rest)]:
        if option not in options:
            options.append(option)
    return options


@dataclass(frozen=True)
class ClusterName:
    """One cluster's name and the codes (normalised) it was made from (none when the
    cluster has no distinctive code)."""

    label: str
    name: str
    codes: tuple[str, ...]

    @property
    def description(self) -> str:
        return self.name.split(SEPARATOR, 1)[1]


def name_cluster(label: str, ranked: Sequence[_Candidate], rule: NamingRule = NamingRule(),
                 taken: Collection[str] = ()) -> ClusterName:
    """One cluster's name from its candidates (best first), avoiding the descriptions
    in ``taken`` where another combination of its candidates is free."""
    if not ranked:
        return ClusterName(label, f"{label}{SEPARATOR}{NO_DISTINCTIVE_CODE}", ())
    budget = rule.max_length - len(label) - len(SEPARATOR)
    fitting = [(d, o) for o in _options(list(ranked), rule)
               if (d := _describe(o, budget)) is not None]
    # fitting[0] is the preferred combination, or the first code alone when two are too long
    text, chosen = next(((d, o) for d, o in fitting if d not in taken), fitting[0])
    return ClusterName(label, f"{label}{SEPARATOR}{text}", tuple(c.code for c in chosen))


def name_clusters(codes: pl.DataFrame, labels: Sequence[str],
                  rule: NamingRule = NamingRule()) -> list[ClusterName]:
    """Every cluster of one partition named (the rule in the module docstring), in
    label order.

    ``codes`` is the partition's :func:`~mh_assets.core.clustering.profiles.code_profiles`
    frame (all rows, not only the top codes); ``labels`` the cluster names in cluster
    order (``["F1", "F2", ...]``) -- a cluster without rows in ``codes`` is named too.
    Names carry descriptors only, no counts.
    """
    ranked: dict[str, list[_Candidate]] = {label: [] for label in labels}
    for row in candidates(codes, rule).iter_rows(named=True):
        if row[CLUSTER_LABEL] in ranked:
            full, compact = short_descriptor(row["descriptor"], row["code"])
            ranked[row[CLUSTER_LABEL]].append(
                _Candidate(row["code"], float(row["score"]), full, compact))
    named: list[ClusterName] = []
    for label in labels:
        named.append(name_cluster(label, ranked[label], rule,
                                  {n.description for n in named}))
    return named


def display_names(codes: pl.DataFrame, labels: Sequence[str],
                  rule: NamingRule = NamingRule()) -> dict[str, str]:
    """{label: descriptive name} of :func:`name_clusters`."""
    return {n.label: n.name for n in name_clusters(codes, labels, rule)}

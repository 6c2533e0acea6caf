"""The settings a run's steps recorded, read back for the report's Methods.

Why: run config may override any training or clustering setting for one step and one
sex (the Dagster launchpad), so the environment's settings and the defaults do not say
what a run used. Each step records the configuration it was built from on its
materialization (the training summary's ``hp.*``, ``clustering_settings``); the Methods
are written from those records, and a setting that differs between the sexes is named
instead of being reported as one value.

    config, differences = recorded_config(ClusterConfig, "k_selection",
                                          {"female": {...}, "male": {...}}, fallback)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from mh_assets.core.environment import provenance_text

C = TypeVar("C")


def recorded_config(cls: type[C], step: str, records: Mapping[str, Mapping[str, Any]],
                    fallback: C) -> tuple[C, list[str]]:
    """The configuration ``step`` recorded (``records``: sex -> its recorded fields), and
    one line per field whose value differs between the sexes.

    The first sex's record is the one the Methods describe (fields it lacks keep the
    fallback's value: a record from an older version of the step); without any record,
    ``fallback``. Fields the class does not have are ignored.
    """
    if not records:
        return fallback, []
    names = {f.name for f in fields(cls)}
    known = {sex: {k: v for k, v in record.items() if k in names}
             for sex, record in records.items()}
    first = next(iter(known.values()))
    base = {f.name: getattr(fallback, f.name) for f in fields(cls)} | first
    config = cls(**base)
    differences = []
    for name in sorted(set().union(*known.values())):
        values = {sex: record.get(name, base[name]) for sex, record in known.items()}
        if len({repr(v) for v in values.values()}) > 1:
            differences.append(f"{step} {name}: " + ", ".join(
                f"{provenance_text(v)} ({sex})" for sex, v in values.items()))
    return config, differences

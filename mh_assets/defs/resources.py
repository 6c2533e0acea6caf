"""The platform resource: the run's settings and its artifact store, shared by every asset.

:func:`mh_assets.definitions.build_defs` builds it from the one ``Settings`` object of
the code location (or of ``mh-assets run``), so every asset, check and sensor of a
run sees the same settings, and tests pass their own.

A write the environment refuses (a read-only or full disk, a file where a folder
should be) fails the asset with a ``dg.Failure`` whose description is the store's
one sentence -- the path and what to do -- rather than a wrapped ``OSError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from mh_assets.core.storage import ArtifactStorageError, ArtifactStore, open_store
from mh_assets.settings import Settings


@dataclass(frozen=True)
class Platform:
    """Where extracts land, where artifacts go, and every other setting of the run."""

    settings: Settings

    @property
    def store(self) -> ArtifactStore:
        return open_store(self.settings.artifacts_dir, raise_as=storage_failure)


def storage_failure(error: ArtifactStorageError) -> dg.Failure:
    """What an asset raises for a refused write: the sentence, the path, the kind."""
    return dg.Failure(
        description=str(error),
        metadata={"path": str(error.path), "storage_problem": error.kind},
    )


#: How an asset, check or sensor asks for the platform: ``platform: PlatformParam``.
PlatformParam = dg.ResourceParam[Platform]

"""The platform resource: the run's settings and its artifact store, shared by every asset.

:func:`mh_assets.definitions.build_defs` builds it from the one ``Settings`` object of
the code location (or of ``mh-assets run``), so every asset, check and sensor of a
run sees the same settings, and tests pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from mh_assets.core.storage import ArtifactStore, open_store
from mh_assets.settings import Settings


@dataclass(frozen=True)
class Platform:
    """Where extracts land, where artifacts go, and every other setting of the run."""

    settings: Settings

    @property
    def store(self) -> ArtifactStore:
        return open_store(self.settings.artifacts_dir)


#: How an asset, check or sensor asks for the platform: ``platform: PlatformParam``.
PlatformParam = dg.ResourceParam[Platform]

"""The platform resource: settings and the artifact store, shared by every asset.

Environment variables give the defaults (see ``mh_assets.settings``); the resource's
fields let a run or a deployment override them without touching the environment.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg

from mh_assets.core.artifacts import ArtifactStore
from mh_assets.settings import Settings


class PlatformResource(dg.ConfigurableResource):
    """Where extracts land, where artifacts go, and which model preset to use."""

    extracts_dir: str | None = None
    artifacts_dir: str | None = None
    preset: str | None = None

    @property
    def settings(self) -> Settings:
        base = Settings.from_env()
        overrides: dict[str, object] = {}
        if self.extracts_dir:
            overrides["extracts_dir"] = Path(self.extracts_dir)
        if self.artifacts_dir:
            overrides["artifacts_dir"] = Path(self.artifacts_dir)
        if self.preset:
            overrides["preset"] = self.preset
        return replace(base, **overrides) if overrides else base

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore(self.settings.artifacts_dir)

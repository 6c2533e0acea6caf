"""mh-assets: sex-specific diagnostic subtypes from RAE-CMBD discharge extracts, as Dagster assets.

Science lives in :mod:`mh_assets.core` (no Dagster import); the Dagster wiring in
:mod:`mh_assets.defs`; the one ``Definitions`` object in :mod:`mh_assets.definitions`.
"""

__version__ = "0.1.0"

"""Operating the platform: the staged runner, lineage, run provenance and graph helpers.

    instance = ensure_instance()                       # the persistent DAGSTER_HOME
    materialize_all(defs, instance, sexes=("female",)) # ingest -> each sex -> publish
    write_run_provenance(instance, run_id, store)      # provenance/<run_id>.json
    build_lineage(path, instance, defs, root)          # a published file -> its extract

:mod:`.graph` is the one place the asset graph is walked (ancestors, descendants) and
the instance asked for the latest materialization of an asset partition.
"""

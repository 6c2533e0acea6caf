"""The code location loads, and every asset spec keeps the design's contract."""

import subprocess
import sys

import dagster as dg
import pytest

from mh_assets.defs.executor import GPU_POOL, GPU_TAG
from mh_assets_tests.support.platform import load_defs

PARTITIONED = {
    "descriptor_corpus", "mlm_checkpoint", "contrastive_checkpoint", "patient_embeddings",
    "k_selection", "cluster_assignments", "cluster_stability", "cluster_profiles",
    "baseline_clusters", "representation_evaluation",
}
GPU_ASSETS = {"mlm_checkpoint", "contrastive_checkpoint", "patient_embeddings"}
UNPARTITIONED = {
    "registry_extract", "cohort", "excluded_records", "icd_descriptors",
    "sud_by_sex_table", "cohort_descriptives",
}


@pytest.fixture(scope="module")
def graph():
    return load_defs().resolve_asset_graph()


def _node(graph, name):
    return graph.get(dg.AssetKey(name))


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(load_defs())


def test_every_designed_asset_is_defined(graph):
    names = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert PARTITIONED | UNPARTITIONED <= names


def test_every_asset_has_code_version_group_and_description(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.code_version, f"{key} has no code_version"
        assert node.group_name and node.group_name != "default", f"{key} has no group"
        assert node.description, f"{key} has no description"


def test_sex_assets_are_partitioned_by_female_and_male(graph):
    for name in PARTITIONED:
        partitions = _node(graph, name).partitions_def
        assert partitions is not None, name
        assert set(partitions.get_partition_keys()) == {"female", "male"}
    for name in UNPARTITIONED:
        assert _node(graph, name).partitions_def is None, name


def test_gpu_assets_carry_pool_and_tag_and_cpu_assets_do_not(graph):
    for key in graph.get_all_asset_keys():
        assets_def = load_defs().get_assets_def(key)
        spec = assets_def.specs_by_key[key]
        op_tags = assets_def.op.tags
        if key.to_user_string() in GPU_ASSETS:
            assert assets_def.op.pool == GPU_POOL
            assert op_tags.get(GPU_TAG) == "true"
        else:
            assert assets_def.op.pool is None, key
            assert GPU_TAG not in op_tags, key
        assert spec.key == key


def test_design_edges(graph):
    expected = {
        "cohort": {"registry_extract"},
        "descriptor_corpus": {"cohort", "icd_descriptors"},
        "mlm_checkpoint": {"descriptor_corpus"},
        "contrastive_checkpoint": {"mlm_checkpoint", "descriptor_corpus"},
        "patient_embeddings": {"contrastive_checkpoint", "descriptor_corpus"},
        "sud_by_sex_table": {"cohort"},
        "representation_evaluation": {"descriptor_corpus", "patient_embeddings",
                                      "contrastive_checkpoint", "k_selection",
                                      "baseline_clusters"},
        "baseline_clusters": {"k_selection", "cluster_assignments", "patient_embeddings"},
        "study_report": {"representation_evaluation", "baseline_clusters"},
    }
    for child, parents in expected.items():
        actual = {k.to_user_string() for k in _node(graph, child).parent_keys}
        assert parents <= actual, (child, actual)


def test_blocking_checks_guard_the_corpus(graph):
    checks = {key.name: key for key in graph.asset_check_keys}
    assert {"descriptor_coverage", "corpus_not_empty", "cohort_not_empty",
            "extract_schema"} <= set(checks)
    for name in ("descriptor_coverage", "cohort_not_empty"):
        assert graph.get_check_spec(checks[name]).blocking, name
    # an empty sex is skipped all the way down, so blocking on it would only stop the
    # automation from publishing the other sex (test_bad_input.py)
    assert not graph.get_check_spec(checks["corpus_not_empty"]).blocking


def test_every_check_of_a_per_sex_asset_is_partitioned_by_sex(graph):
    """Each sex has its own latest result and history (not whichever sex ran last)."""
    checks = list(graph.asset_check_keys)
    assert {"confounder_audit", "subtypes_supported", "clusters_stable"} <= {c.name for c in checks}
    for key in checks:
        partitioned = _node(graph, key.asset_key.to_user_string()).partitions_def is not None
        spec = graph.get_check_spec(key)
        assert (spec.partitions_def is not None) == partitioned, key
        if partitioned:
            assert spec.partitions_def.get_partition_keys() == ["female", "male"]


#: what the science imports only inside asset bodies: each costs 0.3-5 s of every
#: code-location load (the UI, every run's process, every `dagster asset materialize`)
HEAVY = ("torch", "transformers", "sentence_transformers", "plotly", "umap", "numba",
         "matplotlib", "sklearn", "scipy.stats", "scipy.optimize", "pandas")


def test_loading_the_code_location_imports_no_heavy_science_library():
    code = (
        "import sys, mh_assets.definitions;"
        f"heavy=[m for m in {HEAVY!r} if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _html_tags_outside_code(text: str) -> list[str]:
    """What Dagster's Markdown rendering would swallow as an HTML tag."""
    import re

    prose = re.sub(r"`[^`]*`", "", text or "")
    return re.findall(r"<[A-Za-z_/][^>]*>", prose)


def test_descriptions_render_in_the_ui_without_losing_placeholders_to_html():
    defs = load_defs()
    graph = defs.resolve_asset_graph()
    texts = [graph.get(key).description for key in graph.get_all_asset_keys()]
    texts += [spec.description for spec in graph.asset_check_keys and
              [graph.get_check_spec(k) for k in graph.asset_check_keys]]
    texts += [s.description for s in defs.sensors or []]
    texts += [s.description for s in defs.schedules or []]
    for text in texts:
        assert not _html_tags_outside_code(text), text
    assert _html_tags_outside_code("models/<sex>/mlm") == ["<sex>"]  # the probe can fail

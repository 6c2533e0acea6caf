"""The cluster maps' projections: tiny inputs never reach UMAP, and UMAP's compiled code
is cached on disk in a folder set before umap (numba, pynndescent) is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mh_assets.core.clustering import projection
from mh_assets.core.publish import maps


def _python(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, check=True, env=env)
    return out.stdout.strip()


def test_a_umap_of_few_points_is_their_pca_and_never_imports_umap():
    n = projection.UMAP_MIN_POINTS - 1
    loaded = _python(f"""
        import sys
        import numpy as np
        from sklearn.decomposition import PCA
        from mh_assets.core.clustering import projection
        matrix = np.random.default_rng(0).random(({n}, 6))
        xy = projection.project(matrix, "umap", seed=3)
        assert np.allclose(xy, PCA(n_components=2, random_state=3).fit_transform(matrix))
        print(",".join(m for m in ("umap", "numba", "pynndescent") if m in sys.modules))
    """)
    assert loaded == ""


def test_a_sex_with_few_patients_gets_no_umap_map():
    assert maps.map_methods(projection.UMAP_MIN_POINTS - 1) == ("pca",)
    assert maps.map_methods(projection.UMAP_MIN_POINTS) == ("pca", "umap")
    assert maps.map_methods(50_000) == ("pca", "umap")  # the sample is what counts


def test_numba_cache_folder_is_numba_cache_dir_or_the_users_cache():
    assert projection.numba_cache_dir({"NUMBA_CACHE_DIR": "/x/nb"}) == Path("/x/nb")
    assert projection.numba_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/mh-assets/numba")


def test_the_cache_folder_is_set_before_umap_is_imported(tmp_path):
    """A stand-in umap package records what it finds when it is imported."""
    fake = tmp_path / "fake" / "umap"
    fake.mkdir(parents=True)
    record = tmp_path / "seen.json"
    (fake / "__init__.py").write_text(textwrap.dedent(f"""
        import json, os, sys
        with open({str(record)!r}, "w") as f:
            json.dump({{"cache": os.environ.get("NUMBA_CACHE_DIR"),
                       "numba": "numba" in sys.modules}}, f)
    """))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"),
               PYTHONPATH=os.pathsep.join([str(fake.parent), env.get("PYTHONPATH", "")]))
    _python("from mh_assets.core.clustering import projection; projection.import_umap()", env)
    seen = json.loads(record.read_text())
    folder = tmp_path / "xdg" / "mh-assets" / "numba"
    assert seen == {"cache": str(folder), "numba": False}
    assert folder.is_dir()


@pytest.mark.slow
def test_a_second_process_loads_umaps_compiled_code_instead_of_compiling_it(tmp_path):
    """Cold: a fresh cache folder (pynndescent compiles on import, ~30 s on 2 cores)."""
    code = """
        import json
        import numpy as np
        from numba.core import event
        compiled = []
        class Listener(event.Listener):
            def on_start(self, e):
                compiled.append(e.data["dispatcher"].py_func.__name__)
            def on_end(self, e):
                pass
        event.register("numba:compile", Listener())
        from mh_assets.core.clustering import projection
        rng = np.random.default_rng(0)
        matrix = rng.random((150, 8)).astype(np.float32)
        matrix[100:110] = matrix[0]  # duplicate patients: ties in the neighbour sort
        xy = projection.umap_layout(matrix, seed=5)
        print(json.dumps({"compiled": sorted(set(compiled)), "xy": xy.round(6).tolist()}))
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first, second = (json.loads(_python(code, env).splitlines()[-1]) for _ in range(2))
    map_functions = {"smooth_knn_dist", "compute_membership_strengths",
                     "_optimize_layout_euclidean_single_epoch", "cosine_distances"}
    assert map_functions <= set(first["compiled"])  # the cold run compiles them ...
    assert not map_functions & set(second["compiled"])  # ... the warm one loads them
    assert {p.name.split("-")[0] for p in (tmp_path / "numba").rglob("*.nbi")} >= {
        "umap_.smooth_knn_dist", "umap_.compute_membership_strengths",
        "layouts._optimize_layout_euclidean_single_epoch", "umap_kernels.cosine_distances"}
    np.testing.assert_array_equal(np.array(first["xy"]), np.array(second["xy"]))
    assert np.array(first["xy"]).shape == (150, 2)

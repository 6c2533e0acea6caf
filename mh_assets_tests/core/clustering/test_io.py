"""Reading and writing the clustering artifacts: the descriptive names and their fallback."""

import json
import stat

from mh_assets.core import layout
from mh_assets.core.clustering.io import read_display_names, write_display_names
from mh_assets.core.storage import ArtifactStore


def test_display_names_written_are_read_back_restricted_and_in_label_order(tmp_path):
    store = ArtifactStore(tmp_path)
    names = {"F1": "F1 · borderline personality disorder", "F2": "F2 · psicosis"}
    write_display_names(store, "female", names)
    assert read_display_names(store, "female") == names
    assert list(read_display_names(store, "female")) == ["F1", "F2"]
    path = store.path(layout.cluster_display_names("female"))
    assert layout.is_restricted(layout.cluster_display_names("female"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_display_names_the_bare_labels_stand_in(tmp_path):
    store = ArtifactStore(tmp_path)
    assert read_display_names(store, "male") == {}
    store.write_text(layout.cluster_names("male"), json.dumps(["M1", "M2"]))
    assert read_display_names(store, "male") == {"M1": "M1", "M2": "M2"}

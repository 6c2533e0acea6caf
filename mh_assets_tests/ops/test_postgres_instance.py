"""deploy/dagster-postgres.yaml against a real PostgreSQL server started for the test.

The server is the distribution's package (``.ci/run`` installs ``postgresql``), run from
a temporary directory on a free localhost port; as root it runs as the ``postgres``
user (initdb refuses root). Skipped where the package is absent, unless ``CI`` is set.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mh_assets.core.storage import sha256_file
from mh_assets.settings import PROJECT_ROOT
from mh_assets_tests.support.platform import materialize
from mh_assets_tests.support.programs import require_program

pytestmark = pytest.mark.slow


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    initdb = require_program(found[-1] if found else "/usr/lib/postgresql/N/bin/initdb",
                             "PostgreSQL server (initdb)")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    user = "postgres" if _has_user("postgres") else "nobody"
    return ["runuser", "-u", user, "--", *cmd]


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway server; yields the DAGSTER_PG_* environment pointing at it."""
    bin_dir = _bin_dir()
    base = Path(tempfile.mkdtemp(prefix="mh-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres" if _has_user("postgres") else "nobody")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, port = base / "data", _free_port()

    def run(*cmd):
        return subprocess.run(_as_server_user([str(c) for c in cmd]), check=True,
                              capture_output=True, text=True, timeout=120)

    try:
        run(bin_dir / "initdb", "-D", data, "-U", "dagster", "--auth=trust", "-E", "UTF8",
            "--no-sync")
        run(bin_dir / "pg_ctl", "-D", data, "-l", base / "server.log", "-w", "-t", "60", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off", "start")
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="dagster", dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        conn.cursor().execute("CREATE DATABASE dagster")
        conn.close()
        yield {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port),
               "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "unused-trust-auth",
               "DAGSTER_PG_DB": "dagster"}
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                                        "immediate", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_a_materialization_is_stored_in_and_read_back_from_postgres(
    postgres, tmp_path, monkeypatch
):
    from mh_assets.ops.provenance import run_provenance
    from mh_assets.settings import Settings
    from mh_assets_tests.support.platform import make_platform, use_platform

    platform = make_platform(tmp_path, patients=200, seed=7)
    use_platform(monkeypatch, platform)
    for key, value in postgres.items():
        monkeypatch.setenv(key, value)
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster-postgres.yaml", platform.home / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(platform.home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = materialize(instance, ["registry_extract"])
        assert result.success
        run_id = result.run_id

    # a second process (a fresh instance on the same database) sees the run and events
    with dg.DagsterInstance.from_config(str(platform.home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        event = instance.get_latest_materialization_event(dg.AssetKey("registry_extract"))
        assert event.run_id == run_id
        assert event.asset_materialization.tags["dagster/data_version"] == sha256_file(
            platform.extract)
        assert run_provenance(instance, run_id, Settings.from_env())["status"] == "SUCCESS"


def test_ensure_instance_picks_the_postgres_template_when_its_host_is_set(
    postgres, tmp_path, monkeypatch
):
    from mh_assets.ops.runner import ensure_instance

    for key, value in postgres.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    instance = ensure_instance()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert (tmp_path / "home").stat().st_mode & 0o777 == 0o700
    finally:
        instance.dispose()

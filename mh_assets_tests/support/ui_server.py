"""Start ``dagster dev`` on a free localhost port and talk to it as the UI does (GraphQL).

Used by the end-to-end browser test; kept apart so the test reads as the user's steps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mh_assets.settings import PROJECT_ROOT

LOCATION = {"repositoryLocationName": "mh_assets", "repositoryName": "__repository__"}
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
SENSORS = """
query Sensors($repo: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repo) {
    __typename
    ... on Sensors {
      results { name jobOriginId sensorState { id selectorId status ticks(limit: 1) { status } } }
    }
  }
}"""
STOP_SENSOR = """
mutation Stop($id: String, $origin: String, $selector: String) {
  stopSensor(id: $id, jobOriginId: $origin, jobSelectorId: $selector) {
    __typename ... on StopSensorMutationResult { instigationState { status } }
  }
}"""
START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) { __typename }
}"""
RUN_STATUS = "query R($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status assetSelection { path } tags { key value } } }
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterDev:
    """A running ``dagster dev`` process group and its URL."""

    process: subprocess.Popen
    url: str
    log: Path

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": dict(variables or {})}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def sensors(self) -> dict[str, dict]:
        data = self.graphql(SENSORS, {"repo": LOCATION})["sensorsOrError"]
        if data["__typename"] != "Sensors":
            return {}
        return {s["name"]: s for s in data["results"]}

    def stop_sensor(self, name: str, timeout: float = 60) -> None:
        """Stop a sensor once the daemon has ticked it (before that, the daemon's first
        tick can write its default RUNNING state over ours), and check it stayed stopped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sensor = self.sensors()[name]
            state = sensor["sensorState"]
            if state["ticks"]:
                self.graphql(STOP_SENSOR, {"id": state["id"], "origin": sensor["jobOriginId"],
                                           "selector": state["selectorId"]})
                time.sleep(2)
                if self.sensors()[name]["sensorState"]["status"] == "STOPPED":
                    return
            time.sleep(1)
        raise TimeoutError(f"sensor {name} could not be stopped")

    def start_sensor(self, name: str) -> None:
        self.graphql(START_SENSOR, {"selector": {**LOCATION, "sensorName": name}})

    def launch(self, assets: list[str], *, partition: str | None = None,
               run_config: Mapping[str, Any] | None = None) -> str:
        """What the Materialize button sends: the asset job with an asset selection."""
        params = {
            "selector": {**LOCATION, "jobName": "__ASSET_JOB",
                         "assetSelection": [{"path": [a]} for a in assets]},
            "runConfigData": dict(run_config or {}),
            "mode": "default",
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]
                                  if partition else []},
        }
        result = self.graphql(LAUNCH, {"params": params})["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launch failed: {result}")
        return result["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"].get("status")
            if status in FINISHED:
                return status
            time.sleep(2)
        raise TimeoutError(f"run {run_id} did not finish in {timeout:.0f} s; see {self.log}")

    def runs(self, tags: Mapping[str, str] | None = None) -> list[dict]:
        flt = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        return self.graphql(RUNS, {"filter": flt})["runsOrError"]["results"]

    def stop(self) -> None:
        """Interrupt the process group (as Ctrl-C would), then kill what is left."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:  # dagster dev rarely exits within 30 s of Ctrl-C; the test is done by now
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def start_dagster_dev(env: Mapping[str, str], log: Path, timeout: float = 180) -> DagsterDev:
    """``dagster dev -w workspace.yaml`` on 127.0.0.1; returns once the code location loaded."""
    port = free_port()
    dagster = Path(sys.executable).with_name("dagster")
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    server = DagsterDev(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"dagster dev exited ({process.returncode}); see {log}")
            try:
                with urllib.request.urlopen(f"{server.url}/server_info", timeout=5):
                    pass
                if "new_extract_sensor" in server.sensors():
                    return server
            except (urllib.error.URLError, ConnectionError, TimeoutError, RuntimeError):
                pass
            time.sleep(1)
        raise TimeoutError(f"dagster dev did not serve the code location in {timeout:.0f} s")
    except BaseException:
        server.stop()
        raise

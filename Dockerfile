# mh-assets: the Dagster webserver + daemon + the code location in one image.
#
# CPU (default):  docker build -t mh-assets .
# GPU (CUDA 12.8 torch; needs the NVIDIA container toolkit on the host):
#                 docker build --build-arg TORCH_VARIANT=cu128 -t mh-assets:gpu .
# Run (the UI only on this machine's loopback; put an authenticating proxy in front
# for team use, see README "Operations"):
#   docker run -p 127.0.0.1:3000:3000 \
#     -v "$PWD/data/extracts:/app/data/extracts:ro" -v mh-artifacts:/app/artifacts \
#     -v mh-dagster-home:/app/.dagster_home mh-assets
# Inside the container the webserver binds 0.0.0.0 (a container's loopback is unreachable
# from the host); the host-side -p 127.0.0.1:... keeps it private.
# Kubernetes: the same image serves the user-code deployment (deploy/k8s/values.yaml).
FROM python:3.11-slim

ARG TORCH_VARIANT=cpu
ARG TORCH_SPEC="torch==2.13.0"
ARG GIT_COMMIT=unknown

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/app/.dagster_home \
    HF_HUB_OFFLINE=1 \
    MH_GIT_COMMIT=${GIT_COMMIT}

WORKDIR /app

# The README's install commands: torch first from the PyTorch index of the chosen variant
# (cpu or a CUDA build), then the project in editable mode, so the project's data/ and
# artifacts/ defaults resolve under /app. (TORCH_SPEC pins torch: DL3013 cannot see it.)
# hadolint ignore=DL3013
RUN pip install --index-url "https://download.pytorch.org/whl/${TORCH_VARIANT}" "${TORCH_SPEC}"

COPY pyproject.toml README.md workspace.yaml ./
COPY mh_assets ./mh_assets
COPY data/reference ./data/reference
COPY deploy/dagster.yaml deploy/dagster-postgres.yaml ./deploy/
RUN pip install -e .

# A non-root user owns the landing zone, the artifacts and the instance (owner-only).
RUN useradd --create-home --uid 10001 mh \
    && mkdir -p data/extracts artifacts .dagster_home \
    && cp deploy/dagster.yaml .dagster_home/dagster.yaml \
    && chown -R mh:mh data/extracts artifacts .dagster_home \
    && chmod 0700 .dagster_home artifacts
USER 10001:10001

EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/server_info', timeout=4)"]

# Webserver and daemon (sensors, schedules, automation, run queue) in one process tree.
CMD ["dagster", "dev", "-w", "workspace.yaml", "-h", "0.0.0.0", "-p", "3000"]

# mh-assets: Dagster webserver + daemon + the code location, CPU build.
# Build: docker build -t mh-assets .
# Run:   docker run -p 127.0.0.1:3000:3000 -v $PWD/data/extracts:/app/data/extracts mh-assets
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/app/.dagster_home \
    HF_HUB_OFFLINE=1

WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

# The README's install steps: CPU torch first, then the project.
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX="https://download.pytorch.org/whl/cpu"
RUN pip install --index-url "${TORCH_INDEX}" "${TORCH_SPEC}"

COPY pyproject.toml README.md workspace.yaml ./
COPY mh_assets ./mh_assets
COPY data/reference ./data/reference
COPY deploy/dagster.yaml ./.dagster_home/dagster.yaml
RUN pip install -e . \
    && mkdir -p data/extracts artifacts

EXPOSE 3000
CMD ["dagster", "dev", "-w", "workspace.yaml", "-h", "0.0.0.0", "-p", "3000"]

#!/usr/bin/env bash
# paper-arch on a CUDA GPU (issue 14): the study's way against the platform's way.
#
# Sets up a Python environment with the CUDA build of torch and this project, then
# runs benchmarks/training.py with the GPU arguments: the paper-arch backbone
# (DeBERTa-v3-base architecture, random init, nothing downloaded) through MLM,
# contrastive and embeddings on 2,500 synthetic patients per sex, both sexes, each
# the study's way (pad to 256, fp32, no length grouping) and the platform's way
# (dynamic padding, length grouping, bf16 where supported). It prints tokens/s, wall
# seconds per stage, peak GPU memory and the ratio platform/study, the GPU model and
# the torch / CUDA versions, and writes the figures as JSON.
#
#   benchmarks/gpu.sh                                  # fresh venv, CUDA torch, the GPU run
#   benchmarks/gpu.sh --json /somewhere/gpu.json       # choose where the JSON goes
#   PIP_FIND_LINKS=/wheels PIP_NO_INDEX=1 benchmarks/gpu.sh   # offline, pre-downloaded wheels
#   benchmarks/gpu.sh --wheels /wheels                 # the same
#   benchmarks/gpu.sh --python /opt/conda/bin/python   # has CUDA torch already: no install
#   benchmarks/gpu.sh --reuse-venv                     # the current venv (or .venv) as it is
#   benchmarks/gpu.sh --smoke                          # CPU smoke test: demo backbone, tiny, .venv
#   benchmarks/gpu.sh -- --threads 4                   # anything after -- goes to training.py
#
# Options:
#   --backbone NAME --patients N --sexes LIST --steps N --warmup N --embed-patients N
#                           what training.py measures (defaults: paper-arch, 2500 per
#                           sex, female,male, 50 timed steps after 5, every patient)
#   --json FILE             where the figures go
#   --venv DIR              the venv to create; --base-python PY creates it (python3.11)
#   --system-site-packages  the venv sees system packages (a preinstalled CUDA torch)
#   --wheels DIR            offline: pip installs from DIR only
#   --python PY | --reuse-venv   no install: run with PY / the current venv as it is
#   --allow-cpu             run paper-arch even without a CUDA GPU
#   --smoke                 demo backbone, 24 patients per sex, 1 step, --reuse-venv
#
# Environment (options win over these):
#   TORCH_VERSION           torch to install (default 2.13.0)
#   TORCH_INDEX_URL         where the CUDA wheel comes from (default .../whl/cu128)
#   PIP_FIND_LINKS, PIP_NO_INDEX   read by pip itself: a folder of wheels, no network
#   MH_GPU_BENCH_VENV       venv to create (default ${TMPDIR:-/tmp}/mh-gpu-venv)
#   MH_GPU_BENCH_PYTHON     interpreter for --reuse-venv (default $VIRTUAL_ENV or .venv)
#   MH_GPU_BENCH_BACKBONE   paper-arch (default), demo or minilm
#   MH_GPU_BENCH_PATIENTS, MH_GPU_BENCH_SEXES, MH_GPU_BENCH_STEPS, MH_GPU_BENCH_WARMUP,
#   MH_GPU_BENCH_EMBED_PATIENTS, MH_GPU_BENCH_JSON
#                           (JSON default: ${TMPDIR:-/tmp}/mh-gpu-benchmark-<backbone>.json)
#
# The venv is made once: a stamp file records what was installed, and a rerun with the
# same torch and index goes straight to the benchmark (delete the folder to rebuild).
# Without a CUDA GPU the run refuses paper-arch (hours on a CPU) unless --allow-cpu;
# the demo backbone runs anywhere and says that no CUDA GPU is visible.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cu128}
VENV=${MH_GPU_BENCH_VENV:-${TMPDIR:-/tmp}/mh-gpu-venv}
BASE_PYTHON=${MH_GPU_BENCH_BASE_PYTHON:-}
PYTHON=${MH_GPU_BENCH_PYTHON:-}
BACKBONE=${MH_GPU_BENCH_BACKBONE:-paper-arch}
PATIENTS=${MH_GPU_BENCH_PATIENTS:-2500}
SEXES=${MH_GPU_BENCH_SEXES:-female,male}
STEPS=${MH_GPU_BENCH_STEPS:-50}
WARMUP=${MH_GPU_BENCH_WARMUP:-5}
EMBED_PATIENTS=${MH_GPU_BENCH_EMBED_PATIENTS:-}
JSON=${MH_GPU_BENCH_JSON:-}
REUSE=0
SYSTEM_SITE=0
ALLOW_CPU=0
EXTRA=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "gpu.sh: $*" >&2; exit 2; }
need() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --backbone) need "$@"; BACKBONE=$2; shift 2 ;;
    --patients) need "$@"; PATIENTS=$2; shift 2 ;;
    --sexes) need "$@"; SEXES=$2; shift 2 ;;
    --steps) need "$@"; STEPS=$2; shift 2 ;;
    --warmup) need "$@"; WARMUP=$2; shift 2 ;;
    --embed-patients) need "$@"; EMBED_PATIENTS=$2; shift 2 ;;
    --json) need "$@"; JSON=$2; shift 2 ;;
    --venv) need "$@"; VENV=$2; shift 2 ;;
    --base-python) need "$@"; BASE_PYTHON=$2; shift 2 ;;
    --python) need "$@"; PYTHON=$2; REUSE=1; shift 2 ;;
    --reuse-venv) REUSE=1; shift ;;
    --wheels) need "$@"; export PIP_FIND_LINKS=$2 PIP_NO_INDEX=1; shift 2 ;;
    --system-site-packages) SYSTEM_SITE=1; shift ;;
    --allow-cpu) ALLOW_CPU=1; shift ;;
    --smoke)  # the whole path on a CPU in well under a minute, no install
      BACKBONE=demo; PATIENTS=24; STEPS=1; WARMUP=1; REUSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
EMBED_PATIENTS=${EMBED_PATIENTS:-$PATIENTS}
JSON=${JSON:-${TMPDIR:-/tmp}/mh-gpu-benchmark-$BACKBONE.json}

# --- the environment --------------------------------------------------------------
if [[ $REUSE == 1 ]]; then
  if [[ -z $PYTHON ]]; then
    if [[ -n ${VIRTUAL_ENV:-} && -x $VIRTUAL_ENV/bin/python ]]; then PYTHON=$VIRTUAL_ENV/bin/python
    elif [[ -x $REPO/.venv/bin/python ]]; then PYTHON=$REPO/.venv/bin/python
    else PYTHON=$(command -v python3) || die "no python found for --reuse-venv"
    fi
  fi
  echo "environment: reusing $PYTHON as it is (nothing installed)"
else
  if [[ -z $BASE_PYTHON ]]; then
    BASE_PYTHON=$(command -v python3.11 || command -v python3.12 || command -v python3) \
      || die "no python3 to create the venv with (set --base-python)"
  fi
  STAMP=$VENV/.mh-gpu-bench-installed
  WANT="torch==$TORCH_VERSION from ${PIP_FIND_LINKS:+$PIP_FIND_LINKS }${TORCH_INDEX_URL}; $REPO"
  if [[ -f $STAMP && $(cat "$STAMP") == "$WANT" ]]; then
    echo "environment: $VENV already has $WANT"
  else
    echo "environment: creating $VENV with $BASE_PYTHON"
    venv_args=()
    [[ $SYSTEM_SITE == 1 ]] && venv_args+=(--system-site-packages)
    "$BASE_PYTHON" -m venv ${venv_args[@]+"${venv_args[@]}"} "$VENV"
    if [[ -n ${PIP_FIND_LINKS:-} ]]; then
      echo "environment: pip also looks in PIP_FIND_LINKS=$PIP_FIND_LINKS" \
        "${PIP_NO_INDEX:+(PIP_NO_INDEX set: no network)}"
    fi
    if "$VENV/bin/python" -c "import sys, torch; sys.exit(not (torch.__version__.split('+')[0] \
        == '$TORCH_VERSION' and torch.version.cuda))" 2>/dev/null; then
      echo "environment: a CUDA torch $TORCH_VERSION is already visible; not reinstalling it"
    else
      echo "environment: installing torch==$TORCH_VERSION from $TORCH_INDEX_URL"
      "$VENV/bin/python" -m pip install --quiet --index-url "$TORCH_INDEX_URL" \
        "torch==$TORCH_VERSION"
    fi
    echo "environment: installing the project (pip install -e $REPO)"
    # torch's range in pyproject.toml admits the CUDA build, so pip keeps it
    "$VENV/bin/python" -m pip install --quiet -e "$REPO"
    echo "$WANT" > "$STAMP"
  fi
  PYTHON=$VENV/bin/python
fi

# --- what this machine has ----------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
    | sed 's/^/nvidia-smi: /' || true
fi
TORCH_INFO=$("$PYTHON" -c "import torch; print(int(torch.cuda.is_available()), 'torch', \
torch.__version__, '· CUDA build', torch.version.cuda or 'none (CPU build)', \
'· CUDA GPU visible:', torch.cuda.is_available())") || die "$PYTHON cannot import torch"
echo "${TORCH_INFO#* }"
if [[ ${TORCH_INFO%% *} != 1 ]]; then
  echo "gpu.sh: NO CUDA GPU VISIBLE -- running on the CPU: bf16 off, peak GPU memory n/a."
  if [[ $BACKBONE == paper-arch && $ALLOW_CPU != 1 ]]; then
    die "paper-arch on a CPU takes hours at these sizes; use --smoke (or" \
      "MH_GPU_BENCH_BACKBONE=demo) for a CPU check, or --allow-cpu to insist"
  fi
fi

# --- the benchmark --------------------------------------------------------------------
cmd=("$PYTHON" "$REPO/benchmarks/training.py" --backbone "$BACKBONE" --sexes "$SEXES"
     --patients "$PATIENTS" --embed-patients "$EMBED_PATIENTS" --steps "$STEPS"
     --warmup "$WARMUP" --json "$JSON" ${EXTRA[@]+"${EXTRA[@]}"})
echo "running: ${cmd[*]}"
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "${cmd[@]}"

#!/usr/bin/env bash
# On a machine with CUDA: the CUDA tests, then one step of MP and of DARTS-2nd timed on the
# GPU beside the CPU (benchmarks/nas_step_cost.py), on a built-in cell space and on the
# NAS-Bench-201-style space written with the search-space API. About 3 minutes.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        # OUT_DIR default: $TMPDIR/bmp_gpu_check (JSON + logs)
#
# The CPU path stays the tested one; without CUDA this script stops with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${TMPDIR:-/tmp}/bmp_gpu_check}"
mkdir -p "$out"
python - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (torch %s); nothing to check" % torch.__version__)
print("CUDA:", torch.cuda.get_device_name(0), "torch", torch.__version__)
PY
python -m pytest -q -p no:cacheprovider tests/test_nas_mp.py::test_cuda_path_matches_cpu \
  "tests/test_nas_own_network.py::test_a_search_runs_on_cuda" 2>&1 | tee "$out/tests.log"
python benchmarks/nas_step_cost.py --devices cuda cpu --spaces cell3 nb201 --iters 10 \
  --k 3 --hvp-modes rev-rev --json "$out/step_cost.json" 2>&1 | tee "$out/step_cost.log"

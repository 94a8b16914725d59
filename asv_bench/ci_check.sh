#!/usr/bin/env bash
# CI check of the benchmark suite (a few minutes on 2 cores), from the repository root:
#   bash asv_bench/ci_check.sh
# 1. `asv check`: every benchmark imports and is discovered;
# 2. one --quick pass over a small subset in the current environment (no builds);
# 3. the core target script in --quick mode (smoke run: small sizes, 1e5-row stream);
# 4. the float32 error sweep (below).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/asv_bench"
export ASV_PYTHONPATH="$ROOT"          # asv drops PYTHONPATH; this makes it import this checkout
export FASTCCA_BENCH_SIZES=small       # the smallest labelled size only
asv machine --yes >/dev/null
asv check --python=same
asv run --python=same --quick --show-stderr --dry-run \
    --bench 'AddScatterRank1|MomentMerge|FromMoments.time_from_moments|Speedup'
cd "$ROOT"
PYTHONPATH="$ROOT" python asv_bench/bench_core.py --quick --no-speed --stream-n 20000
# 4. the float32 error estimate, every measure: fails if an error above 1e-4 comes without a warning (~15 s)
PYTHONPATH="$ROOT" python asv_bench/float32_error_sweep.py --n 8000 --p 128

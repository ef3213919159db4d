#!/bin/sh
# Every comparison round of docs/nas.md (issue: NAS ground truth), 5 seeds each, 2 processes.
# About an hour on this 2-core machine at the default budgets (cell4 100 epochs, mlp 200).
#     nice -n 5 sh benchmarks/nas_compare_all.sh [cell-budget-epochs] [mlp-budget-epochs]
set -e
E=${1:-100}
M=${2:-200}
cd "$(dirname "$0")/.."
cmp() { python benchmarks/nas_compare.py --seeds 5 --jobs 2 "$@"; }
cmp --space cell4 --budget-epochs "$E" --out "results/nas_cell4_e$E"
cmp --space cell4 --budget-epochs "$E" --resource params:4500 --out "results/nas_cell4_e${E}_params4500"
cmp --space mlp --budget-epochs "$M" --methods mp,darts1,darts2,random,evolution,grid \
    --out "results/nas_mlp_e$M"

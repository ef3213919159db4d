#!/bin/sh
# Rebuild the three NAS ground-truth tables in order (cell3 smoke set, mlp, cell4 main table)
# where the package ships them and oracle="table" reads them: nas_frontend/tables/.
# Resumable: rerunning skips the (genotype, seed) rows already in each CSV.
# Usage: sh benchmarks/nas_truth/build_all.sh   (EPOCHS, JOBS override the defaults 20, 2)
set -u
cd "$(dirname "$0")/../.."
E=${EPOCHS:-20}
J=${JOBS:-2}
D=benchmarks/nas_truth
T=nas_frontend/tables
for S in cell3 mlp cell4; do
    EXTRA=""
    [ "$S" = cell4 ] && EXTRA="--reuse $T/cell3.csv"
    echo "$(date '+%F %T') start $S"
    python $D/build.py --space $S --dataset mnist1d --seeds 0 1 --epochs "$E" --jobs "$J" \
        --out $T/$S.csv $EXTRA >> $D/$S.log 2>&1
    echo "$(date '+%F %T') end $S rc=$?"
done
python $D/summarize.py > $D/summary.txt 2>&1
echo "$(date '+%F %T') summary written to $D/summary.txt"

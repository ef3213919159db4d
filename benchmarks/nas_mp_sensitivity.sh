#!/bin/sh
# MP-NAS sensitivity on the cell4 ground truth (issue: NAS ground truth, "if MP-NAS loses,
# find out why"): one setting changed at a time from the defaults, 5 seeds, 20-epoch budget,
# without and with the parameter budget (radius=0.2 is the default: the reference row). Tables: results/nas_sens/<resource>_<setting>/table.md
#     nice -n 5 sh benchmarks/nas_mp_sensitivity.sh [budget-epochs]
set -e
E=${1:-20}
cd "$(dirname "$0")/.."
run() {  # $1 = resource or "none", rest = --mp settings
  res=$1; shift
  name=$(echo "$res $*" | tr ' =:' '___')
  [ -f "results/nas_sens/$name/table.md" ] && return 0
  if [ "$res" = none ]; then r=""; else r="--resource $res"; fi
  set -- $(for s in "$@"; do printf -- '--mp %s ' "$s"; done)
  python benchmarks/nas_compare.py --space cell4 --seeds 5 --budget-epochs "$E" --methods mp \
      --jobs 2 $r "$@" --out "results/nas_sens/$name" > /dev/null
  tail -n 1 "results/nas_sens/$name/table.md" | sed "s/^| mp |/| $res $* |/"
}
for res in none params:4500; do
  [ "$res" = none ] || run $res select=argmax
  run $res radius=0.2
  run $res radius=0.05
  [ "$res" = none ] && run $res radius=0.5
  [ "$res" = none ] && run $res delta=0.25
  run $res delta=4.0
  run $res k=1
  [ "$res" = none ] && run $res k=8
  [ "$res" = none ] && run $res refresh_steps=0
  [ "$res" = none ] && run $res refresh_steps=20
  [ "$res" = none ] && run $res basis=cg
  run $res norm=2
done

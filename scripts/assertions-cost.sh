#!/usr/bin/env bash
# What debug assertions and overflow checks cost a sweep (issue 16): the
# same sweep from the `release` build and from the `sweep` build (release
# with both checks on), run in turn A B A B ... so drift in the machine's
# load hits both alike, then the median of each and the median ratio.
#
#   scripts/assertions-cost.sh [PAIRS] [steadfast run arguments...]
#   scripts/assertions-cost.sh 5 --seeds 200 --jobs 2
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
pairs=${1:-5}
shift || true
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--seeds 200 --jobs 2)
cargo build -q --release -p steadfast-scenarios --bin steadfast
cp target/release/steadfast /tmp/steadfast-release.$$
cargo build -q --profile sweep -p steadfast-scenarios --bin steadfast
cp target/sweep/steadfast /tmp/steadfast-sweep.$$
trap 'rm -f /tmp/steadfast-release.$$ /tmp/steadfast-sweep.$$' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
rel=(); swp=(); ratio=()
for i in $(seq "$pairs"); do
  r=$(secs /tmp/steadfast-release.$$ run "${args[@]}")
  s=$(secs /tmp/steadfast-sweep.$$ run "${args[@]}")
  rel+=("$r"); swp+=("$s"); ratio+=("$(echo "scale=4; $s / $r" | bc)")
  echo "pair $i: release ${r} s, sweep ${s} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "run ${args[*]}: release median $(median "${rel[@]}") s, sweep median $(median "${swp[@]}") s," \
  "sweep/release median ratio $(median "${ratio[@]}") (min $(printf '%s\n' "${ratio[@]}" | sort -g | head -1), max $(printf '%s\n' "${ratio[@]}" | sort -g | tail -1))"

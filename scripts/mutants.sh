#!/usr/bin/env bash
# Mutation testing of core under the simulator (issue 20; MUTANTS.md has
# the method and the last report).
#
#   scripts/mutants.sh [cargo-mutants options, e.g. --shard 3/40 or -f core/src/lock/guard.rs]
#
# MUTANTS_SKIP_JUDGED="DIR ..." leaves out every mutant an earlier run under
# those directories judged (its */mutants.out/*.txt), by file and
# description, whatever its line and column now: round-robin shards are
# disjoint only within one mutant list, and every edit of core changes the
# list, so a fresh sample must skip what earlier shards took.
#
# Pass 1 tests each mutant of core's logic modules (.cargo/mutants.toml says
# which, and what is excluded and why) against the hold sweeps alone
# (scenarios/tests/mutants.rs, about 15 s on 2 cores): a mutant is killed
# when any seed breaks any invariant. Pass 2 tests the mutants pass 1 missed
# against the whole test suite, to tell "only the sweeps miss it" from
# "nothing catches it". Results: $MUTANTS_OUT/{sweeps,suite}/mutants.out
# (default MUTANTS_OUT=mutants.out-run), then a one-line summary.
set -euo pipefail
cd "$(dirname "$0")/.."
# RUSTFLAGS would replace `--cfg madsim` from .cargo/config.toml.
unset RUSTFLAGS
# A mutant that makes a task spin without yielding (core/src/signal.rs's
# waits) stops virtual time; the runner's watchdog (RUN6) ends such a seed
# after this long, far above the slowest seed of the judge's sweeps, so it
# counts as caught instead of running into cargo-mutants' timeout.
export STEADFAST_SEED_TIMEOUT_S=${STEADFAST_SEED_TIMEOUT_S:-60}
out=${MUTANTS_OUT:-mutants.out-run}
mkdir -p "$out"

# cargo-mutants' own baseline always runs the mutated package's tests;
# ours is the sweeps, so run it here and skip theirs.
echo "== baseline: the sweeps hold on unmutated core"
cargo test -p steadfast-scenarios --test mutants --quiet

skip=()
for dir in ${MUTANTS_SKIP_JUDGED:-}; do
  while IFS= read -r name; do
    file=${name%%:*}
    desc=${name#*:*:*: }
    esc() { printf '%s' "$1" | sed 's/[][\\.^$|?*+(){}]/\\&/g'; }
    skip+=(-E "^$(esc "$file"):[0-9]+:[0-9]+: $(esc "$desc")\$")
  done < <(find "$dir" -path '*/mutants.out/*' \( -name caught.txt -o -name missed.txt -o -name timeout.txt -o -name unviable.txt \) -exec cat {} + | sort -u)
done
[ ${#skip[@]} -gt 0 ] && echo "leaving out $(( ${#skip[@]} / 2 )) mutants judged before"

echo "== pass 1: every mutant against the hold sweeps"
cargo mutants --baseline=skip --timeout 300 -o "$out/sweeps" \
  --cargo-test-arg=--test --cargo-test-arg=mutants ${skip[@]+"${skip[@]}"} "$@" || true

echo "== pass 2: what the sweeps missed, against the whole suite"
rm -rf "$out/suite" && mkdir -p "$out/suite"
# Exactly the mutants pass 1 missed, named by anchored, escaped patterns
# (a shard option would pick other mutants once the caught ones are gone).
args=()
while IFS= read -r name; do
  args+=(-F "^$(printf '%s' "$name" | sed 's/[][\\.^$|?*+(){}]/\\&/g')\$")
done < "$out/sweeps/mutants.out/missed.txt"
if [ ${#args[@]} -gt 0 ]; then
  cargo mutants --baseline=skip --timeout 900 --test-workspace=true -o "$out/suite" "${args[@]}" || true
fi

# Lines in a result file (0 when it is missing or empty: `grep -c` exits 1
# on no match, which must not print a second count).
count() { local n=0; [ -f "$1" ] && n=$(grep -c . "$1" || true); echo "${n:-0}"; }
s="$out/sweeps/mutants.out"
echo "mutants: $(( $(count "$s/caught.txt") + $(count "$s/missed.txt") + $(count "$s/timeout.txt") )) viable," \
  "$(count "$s/caught.txt") caught by the sweeps, $(count "$s/timeout.txt") timed out in them," \
  "$(count "$s/missed.txt") missed by them, of which $(count "$out/suite/mutants.out/missed.txt") also by the whole suite;" \
  "$(count "$s/unviable.txt") unviable"

#!/usr/bin/env bash
# CI for the outside-crate example: with each planted bug the durability
# test must fail, and the replay command its failure prints, run exactly as
# printed in this directory, must fail with the same report, byte for byte.
set -euo pipefail
cd "$(dirname "$0")"
unset RUSTFLAGS
out=$(mktemp -d)
trap 'rm -rf "$out" steadfast-regressions' EXIT
# The report: from its first line to the line before the replay command.
report() { awk '/^scenario kvstore\/put-survives-crash seed /{on=1} on && /^  replay: /{exit} on' "$1"; }
for feature in planted-bug planted-bug-dir; do
  rm -rf steadfast-regressions
  if cargo test --features "$feature" --test durability >"$out/sweep" 2>&1; then
    echo "check-replay: $feature was not caught" >&2
    exit 1
  fi
  cmd=$(grep -m1 '^  replay: ' "$out/sweep" | sed 's/^  replay: *//')
  [ -n "$cmd" ] || { echo "check-replay: no replay command in the failure output" >&2; cat "$out/sweep" >&2; exit 1; }
  echo "check-replay: $feature: replaying: $cmd"
  if bash -c "$cmd" >"$out/replay" 2>&1; then
    echo "check-replay: $feature: the replay passed" >&2
    exit 1
  fi
  report "$out/sweep" >"$out/a"
  report "$out/replay" >"$out/b"
  [ -s "$out/a" ] || { echo "check-replay: no report in the sweep's output" >&2; exit 1; }
  if ! cmp -s "$out/a" "$out/b"; then
    echo "check-replay: $feature: the replay's report differs from the sweep's" >&2
    diff "$out/a" "$out/b" >&2 || true
    exit 1
  fi
  echo "check-replay: $feature: $(grep -m1 'seeds violate' "$out/sweep"), and the replay reproduced the report byte for byte ($(wc -l <"$out/a") lines)"
done

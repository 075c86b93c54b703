#!/usr/bin/env bash
# Busy-lock acquire latency, before and after: builds core/examples/lock_busy.rs
# against revision REV (default: the parent of the lock hardening, 43eb38f) in a
# scratch worktree and against the working tree, then runs them interleaved
# ROUNDS times (default 3). Usage: scripts/lock-busy-before-after.sh [REV] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
rev="${1:-43eb38f}"; rounds="${2:-3}"
old="$(mktemp -d)/old"
git worktree add --detach "$old" "$rev" >/dev/null
trap 'git worktree remove --force "$old"' EXIT
mkdir -p "$old/core/examples"
cp core/examples/lock_busy.rs "$old/core/examples/"
(cd "$old" && CARGO_TARGET_DIR="$PWD/../target" cargo build -q --release -p steadfast-core --features real --example lock_busy)
cargo build -q --release -p steadfast-core --features real --example lock_busy
for i in $(seq "$rounds"); do
  echo "before ($rev), round $i:"; "$old/../target/release/examples/lock_busy"
  echo "after (working tree), round $i:"; target/release/examples/lock_busy
done

#!/usr/bin/env bash
# The README's setup in a fresh clone: clones this repository's HEAD into an empty folder
# (nothing beside it: no sibling folders, no corpus script, no build) and runs there
# `scripts/demo.sh` (the first command) and the essentials of `scripts/test.sh` (the second):
# the clone builds and its tests pass (`cargo test`; the real-data tests, lints and fuzzing
# already ran in this checkout and are not run twice). Reuses the corpus cache
# (scripts/corpus.sh) and, through a shared CARGO_TARGET_DIR, the compiled dependencies of
# this checkout. Called last by scripts/test.sh; prints both timings.
#
#   scripts/clone-check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '== %s\n' "$*"; }

head=$(git -C "$here" rev-parse --short HEAD)
if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
  say "fresh clone check: note: uncommitted changes are not in the clone of HEAD ($head)"
fi
parent=$(mktemp -d "${TMPDIR:-/tmp}/kbuild-lineinfo-clone.XXXXXX")
trap 'rm -rf "$parent"' EXIT
git clone -q --no-hardlinks "$here" "$parent/kbuild-lineinfo"
[ "$(ls -A "$parent")" = kbuild-lineinfo ] || { echo "clone-check.sh: $parent is not empty" >&2; exit 1; }
cd "$parent/kbuild-lineinfo"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
# The clone's tests must not lean on this checkout's corpus variables.
unset KBUILD_LINEINFO_VMLINUX KBUILD_LINEINFO_MODULES_DIR KBUILD_LINEINFO_MODULES_ORDER

say "fresh clone check: $head in $PWD: scripts/demo.sh"
start=$(date +%s)
scripts/demo.sh cloud "$parent/demo-work"
demo_s=$(($(date +%s) - start))
say "fresh clone check: cargo test (the clone builds and its tests pass)"
start=$(date +%s)
cargo test --workspace --quiet
test_s=$(($(date +%s) - start))
say "fresh clone check passed: scripts/demo.sh ${demo_s} s, cargo test ${test_s} s (corpus cached, dependencies from $CARGO_TARGET_DIR)"

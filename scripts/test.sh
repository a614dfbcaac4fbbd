#!/usr/bin/env bash
# The project's test command (what .ci/run calls): installs the test tools, fetches the Debian
# cloud kernel corpus for the real-data tests, checks formatting and lints, runs every test, and
# finally clones the repository into an empty folder and runs the README's two commands there.
# Stops at the first failed step.
#
#   scripts/test.sh
#   KBUILD_LINEINFO_NO_CORPUS=1 scripts/test.sh       # real-data tests listed as ignored, not run
#   KBUILD_LINEINFO_NO_CLONE_CHECK=1 scripts/test.sh  # without the fresh-clone check
#
# Under CI=true a corpus that cannot be fetched fails the run, and neither variable is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=
case "${CI:-}" in "" | false | 0) ;; *) ci=1 ;; esac
say() { printf '== %s\n' "$*"; }
die() { echo "test.sh: $*" >&2; exit 1; }

say "test tools (scripts/deps.sh)"
scripts/deps.sh

# The real-data tests are #[ignore = "needs the corpus: scripts/corpus.sh"]: they run here with
# --include-ignored once the corpus is here. The other ignored tests are no tests of their own
# (a child process of embed.rs, a benchmark) or need booted kernels' logs that only the manual
# kernel harness (tests/kernel/) makes, and are skipped by name.
include_ignored=()
if [ -n "${KBUILD_LINEINFO_NO_CORPUS:-}" ] && [ -z "$ci" ]; then
  say "real-data tests: not run (KBUILD_LINEINFO_NO_CORPUS); listed as ignored below"
elif corpus=$(scripts/corpus.sh cloud); then
  eval "$corpus"
  export KBUILD_LINEINFO_VMLINUX=$VMLINUX KBUILD_LINEINFO_MODULES_DIR=$MODULES_DIR \
    KBUILD_LINEINFO_MODULES_ORDER=$MODULES_ORDER
  include_ignored=(--include-ignored --skip embed::child_embed --skip embed::bench_module_tree
    --skip annotate::booted_kernel_logs_round_trip)
  say "real-data tests on $KERNEL_VERSION ($VMLINUX)"
elif [ -n "$ci" ]; then
  die "CI=true: the Debian kernel corpus could not be fetched (scripts/corpus.sh cloud said why above)"
else
  echo "WARNING: the Debian kernel corpus could not be fetched; the real-data tests are listed as ignored" >&2
fi

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
cargo test --workspace -- ${include_ignored[@]+"${include_ignored[@]}"}

# A short run of each fuzz target where cargo-fuzz and a nightly toolchain are present.
if [ -n "$ci" ] && cargo +nightly fuzz --version >/dev/null 2>&1; then
  for target in $(cd fuzz && cargo +nightly fuzz list); do
    say "fuzz $target (30 s)"
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time=30 -rss_limit_mb=2048 -timeout=10) ||
      die "fuzz target $target failed"
  done
else
  say "fuzz: skipped (needs CI=true, cargo-fuzz and a nightly toolchain)"
fi

# The README's two commands in a fresh clone with nothing beside it (no sibling folders), reusing the
# corpus cache and this build's compiled dependencies. Not again inside that clone.
if [ -n "${KBUILD_LINEINFO_IN_CLONE_CHECK:-}" ]; then
  say "fresh clone check: this is the clone"
elif [ -n "${KBUILD_LINEINFO_NO_CLONE_CHECK:-}" ] && [ -z "$ci" ]; then
  say "fresh clone check: skipped (KBUILD_LINEINFO_NO_CLONE_CHECK)"
else
  scripts/clone-check.sh
fi

#!/usr/bin/env bash
# The project's test command (what .ci/run calls): installs the test tools, fetches the Debian
# cloud kernel corpus for the real-data tests, checks formatting and lints, runs every test.
#
#   scripts/test.sh            # everything
#   KBUILD_LINEINFO_NO_CORPUS=1 scripts/test.sh   # without the real-data tests
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

if [ -z "${KBUILD_LINEINFO_NO_CORPUS:-}" ]; then
  if corpus=$(scripts/corpus.sh cloud); then
    eval "$corpus"
    export KBUILD_LINEINFO_VMLINUX=$VMLINUX KBUILD_LINEINFO_MODULES_DIR=$MODULES_DIR \
      KBUILD_LINEINFO_MODULES_ORDER=$MODULES_ORDER KBUILD_LINEINFO_REQUIRE_CORPUS=1
    echo "real-data tests on $KERNEL_VERSION"
  else
    echo "WARNING: the Debian kernel corpus could not be fetched; real-data tests will be skipped" >&2
  fi
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace

# A short run of each fuzz target where cargo-fuzz and a nightly toolchain are present.
if [ -n "${CI:-}" ] && cargo +nightly fuzz --version >/dev/null 2>&1; then
  for target in $(cd fuzz && cargo +nightly fuzz list); do
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time=30 -rss_limit_mb=2048 -timeout=10) \
      || { echo "fuzz target $target failed" >&2; exit 1; }
  done
else
  echo "fuzz: skipped (needs CI=true, cargo-fuzz and a nightly toolchain)"
fi

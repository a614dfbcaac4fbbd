#!/usr/bin/env bash
# The project's test command (what .ci/run calls): installs the test tools, fetches the Debian
# cloud kernel corpus for the real-data tests, checks formatting and lints (fuzz/ included), runs
# every test, runs every fuzz target, and finally clones the repository into an empty folder
# and checks the README's setup there (scripts/clone-check.sh). Stops at the first failed step;
# prints each stage's wall time at the end, failed or not.
#
#   scripts/test.sh
#   KBUILD_LINEINFO_NO_CORPUS=1 scripts/test.sh       # real-data tests listed as ignored, not run
#   KBUILD_LINEINFO_NO_CLONE_CHECK=1 scripts/test.sh  # without the fresh-clone check
#   KBUILD_LINEINFO_FUZZ_SECONDS=60 scripts/test.sh   # per cargo-fuzz target (default 30)
#
# Under CI=true a corpus that cannot be fetched fails the run, and neither NO_ variable is honoured.
#
# Fuzzing: every target of fuzz/fuzz_targets runs twice over. On stable, `replay` runs each
# target's body on its corpus and on a fixed-seed stream of 20,000 inputs generated from it (the
# same inputs every run). Where a nightly toolchain exists (scripts/deps.sh then installs
# cargo-fuzz), each target is also fuzzed by libFuzzer under AddressSanitizer for
# KBUILD_LINEINFO_FUZZ_SECONDS; its new inputs go to a temporary folder, not to fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=
case "${CI:-}" in "" | false | 0) ;; *) ci=1 ;; esac
say() { printf '== %s\n' "$*"; }
die() { echo "test.sh: $*" >&2; exit 1; }

# stage NAME: NAME starts (the one before it ends); the table of stages is printed on exit.
stage_names=() stage_secs=() stage_now= stage_start= run_start=$EPOCHREALTIME
stage() { stage_end; stage_now=$1; stage_start=$EPOCHREALTIME; say "$1"; }
stage_end() {
  [ -n "$stage_now" ] || return 0
  stage_names+=("$stage_now")
  stage_secs+=("$(awk -v a="$stage_start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')")
  stage_now=
}
stage_table() {
  local rc=${1:-$?} i
  [ -z "$stage_now" ] || stage_now="$stage_now (FAILED)"
  stage_end
  echo "== stage times (wall, load now $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
  for i in "${!stage_names[@]}"; do
    printf '%9s s  %s\n' "${stage_secs[$i]}" "${stage_names[$i]}"
  done
  printf '%9s s  total (%s)\n' "$(awk -v a="$run_start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')" \
    "$([ "$rc" = 0 ] && echo passed || echo "FAILED, exit $rc")"
}
trap stage_table EXIT

stage "test tools (scripts/deps.sh)"
scripts/deps.sh

# The real-data tests are #[ignore = "needs the corpus: scripts/corpus.sh"]: they run here with
# --include-ignored once the corpus is here. The other ignored tests are no tests of their own
# (the child processes of embed.rs, jobs.rs and cache.rs) or need booted kernels' logs that only the manual
# kernel harness (tests/kernel/) makes, and are skipped by name.
stage "Debian kernel corpus (scripts/corpus.sh cloud)"
include_ignored=()
if [ -n "${KBUILD_LINEINFO_NO_CORPUS:-}" ] && [ -z "$ci" ]; then
  say "real-data tests: not run (KBUILD_LINEINFO_NO_CORPUS); listed as ignored below"
elif corpus=$(scripts/corpus.sh cloud); then
  eval "$corpus"
  export KBUILD_LINEINFO_VMLINUX=$VMLINUX KBUILD_LINEINFO_MODULES_DIR=$MODULES_DIR \
    KBUILD_LINEINFO_MODULES_ORDER=$MODULES_ORDER KBUILD_LINEINFO_VMLINUZ=${VMLINUZ:-}
  include_ignored=(--include-ignored --skip embed::child_embed --skip jobs::child_jobs
    --skip cache::child_cache --skip annotate::booted_kernel_logs_round_trip
    --skip annotate::installed_kernel_logs_round_trip)
  say "real-data tests on $KERNEL_VERSION ($VMLINUX)"
elif [ -n "$ci" ]; then
  die "CI=true: the Debian kernel corpus could not be fetched (scripts/corpus.sh cloud said why above)"
else
  echo "WARNING: the Debian kernel corpus could not be fetched; the real-data tests are listed as ignored" >&2
fi

stage "cargo fmt --check (workspace and fuzz/)"
cargo fmt --all -- --check
cargo fmt --all --manifest-path fuzz/Cargo.toml -- --check
stage "cargo clippy -D warnings (workspace)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
stage "cargo clippy -D warnings (fuzz/)"
cargo clippy --manifest-path fuzz/Cargo.toml --workspace --all-targets --quiet -- -D warnings
stage "cargo test"
cargo test --workspace -- ${include_ignored[@]+"${include_ignored[@]}"}

fuzz=(--manifest-path fuzz/Cargo.toml -p kbuild-lineinfo-fuzz-checks)
stage "fuzz: every target replayed on stable (corpus + generated inputs)"
cargo test --release --quiet "${fuzz[@]}"
cargo run --release --quiet "${fuzz[@]}" --bin replay

if cargo +nightly fuzz --version >/dev/null 2>&1; then
  seconds=${KBUILD_LINEINFO_FUZZ_SECONDS:-30}
  stage "fuzz: cargo-fuzz build (nightly, AddressSanitizer)"
  (cd fuzz && cargo +nightly fuzz build)
  fuzz_new=$(mktemp -d "${TMPDIR:-/tmp}/kbuild-lineinfo-fuzz.XXXXXX")
  trap 'rc=$?; rm -rf "$fuzz_new"; stage_table $rc' EXIT
  for target in $(cd fuzz && cargo +nightly fuzz list); do
    stage "fuzz: $target under libFuzzer ($seconds s)"
    mkdir -p "$fuzz_new/$target" "fuzz/corpus/$target"
    log=$fuzz_new/$target.log
    if (cd fuzz && cargo +nightly fuzz run "$target" "$fuzz_new/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1) > "$log" 2>&1; then
      grep -E '^(INFO: seed corpus|Done |stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    else
      tail -n 60 "$log"
      die "fuzz target $target failed (above; its crash input is in fuzz/artifacts/$target/)"
    fi
    say "fuzz $target: $(find "$fuzz_new/$target" -type f | wc -l) new inputs kept in a temporary folder"
  done
else
  say "fuzz: libFuzzer not run: no nightly toolchain or cargo-fuzz (scripts/deps.sh installs cargo-fuzz where nightly exists); every target ran under replay above"
fi

# The README's setup in a fresh clone with nothing beside it (no sibling folders): scripts/demo.sh
# and `cargo test` there, reusing the corpus cache and this build's compiled dependencies.
if [ -n "${KBUILD_LINEINFO_NO_CLONE_CHECK:-}" ] && [ -z "$ci" ]; then
  say "fresh clone check: skipped (KBUILD_LINEINFO_NO_CLONE_CHECK)"
else
  stage "fresh clone check (scripts/clone-check.sh)"
  scripts/clone-check.sh
fi
stage_end

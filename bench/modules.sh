#!/usr/bin/env bash
# Batch-mode benchmark on real data (not a test): `kbuild-lineinfo modules` at -j2 over every
# module of the Debian full kernel (~4,230 modules, 6.1 GB), in the states an incremental kernel
# build meets, against the targets of issues 3 and 4.
#
#   bench/modules.sh [FLAVOUR|ENV_FILE] [RUNS]
#
# FLAVOUR (default full) is fetched by scripts/corpus.sh; an ENV_FILE instead sets MODULES_DIR
# and MODULES_ORDER (and KERNEL_VERSION) for a tree of your own. The corpus is never
# modified: it is copied once to $BENCH_COPY (default /tmp/bench-full, reused by later runs) and
# restored from the corpus between runs; copies and restores are not timed.
#
# Scenarios (layout v1, -j2, -s):
#   cold, --no-cache          every module original, no cache
#   cold, empty cache dir     every module original, an empty cache (computes and stores)
#   warm, nothing changed     every module already done, warm cache (reads, compares, no writes)
#   one module relinked       one module restored to its original bytes, warm cache
#   all relinked (identical)  every module restored to its original bytes, warm cache
# Each: wall time (median of RUNS where a run needs no full restore, else one run), CPU time
# (user + sys), peak RSS, and bytes written (wchar of the run, from /proc/PID/io).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-full}
runs=${2:-3}
if [ -f "$corpus" ]; then
  # shellcheck disable=SC1090
  source "$corpus"
else
  corpus=$("$here/scripts/corpus.sh" "$corpus") # a failure stops here (set -e), before the eval
  eval "$corpus"
fi
copy=${BENCH_COPY:-/tmp/bench-full}/modules

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
tool=${CARGO_TARGET_DIR:-$here/target}/release/kbuild-lineinfo
work=$(mktemp -d "${TMPDIR:-/tmp}/kbuild-lineinfo-bench-modules.XXXXXX")
trap 'rm -rf "$work"' EXIT

# restore_all: every module of the copy back to the corpus bytes (not timed).
restore_all() {
  if [ ! -e "$copy/.complete" ]; then
    rm -rf "$copy"; mkdir -p "$(dirname "$copy")"
    cp -a "$MODULES_DIR" "$copy"
    touch "$copy/.complete"
  else
    (cd "$MODULES_DIR" && find . -name '*.ko' -print0 | xargs -0 -n 200 cp --parents -p -t "$copy")
  fi
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# measure FILE ARGS...: one run of the batch; appends "wall user sys maxrss_kb wchar" to FILE.
measure() {
  local f=$1; shift
  /usr/bin/time -o "$work/t" -f "%e %U %S %M" \
    sh -c '"$@" >/dev/null; rc=$?; awk "/^wchar/ {print \$2}" /proc/$$/io > "'"$work/io"'"; exit $rc' \
    sh "$tool" modules --objtree "$copy" --order "$MODULES_ORDER" --layout v1 -j2 -s "$@"
  echo "$(cat "$work/t") $(cat "$work/io")" >> "$f"
}

# report NAME TARGET FILE
report() {
  local f=$3
  printf '%-28s %7.2f s wall  %7.2f s CPU  %6d MB peak RSS  %10d bytes written  (%d run%s; target %s)\n' \
    "$1" "$(awk '{print $1}' "$f" | median)" "$(awk '{print $2 + $3}' "$f" | median)" \
    "$(($(awk '{print $4}' "$f" | sort -n | tail -1) / 1024))" "$(awk '{print $5}' "$f" | median)" \
    "$(wc -l < "$f")" "$([ "$(wc -l < "$f")" = 1 ] || echo s)" "$2"
}

restore_all
n=$(grep -c . "$MODULES_ORDER")
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ${KERNEL_VERSION:-?}: $n modules, $(du -sh "$MODULES_DIR" | cut -f1)"
cache=$work/cache

: > "$work/cold-nocache"
measure "$work/cold-nocache" --no-cache
report "cold, --no-cache" "<= 8 s; C flow 49 s" "$work/cold-nocache"

restore_all
: > "$work/cold-cache"
measure "$work/cold-cache" --cache-dir "$cache"
report "cold, empty cache dir" "<= 8 s; C flow 49 s" "$work/cold-cache"
echo "  cache after the cold run: $(du -sh "$cache" | cut -f1) in $(find "$cache" -type f | wc -l) files"

: > "$work/warm"
for _ in $(seq "$runs"); do measure "$work/warm" --cache-dir "$cache"; done
report "warm, nothing changed" "<= 1 s" "$work/warm"

one=$(grep -m1 'kvm\.ko$' "$MODULES_ORDER" || head -1 "$MODULES_ORDER")
: > "$work/one"
for _ in $(seq "$runs"); do
  cp -p "$MODULES_DIR/$one" "$copy/$one"
  measure "$work/one" --cache-dir "$cache"
done
report "one module relinked ($(basename "$one"))" "<= 0.5 s" "$work/one"

restore_all
: > "$work/all"
measure "$work/all" --cache-dir "$cache"
report "all relinked (identical)" "<= 2 s" "$work/all"

# Every state above must end in the same bytes: a final warm run finds nothing to do.
out=$("$tool" modules --objtree "$copy" --order "$MODULES_ORDER" --layout v1 -j2 --cache-dir "$cache" -v 2>&1 | tail -1)
echo "check: $out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

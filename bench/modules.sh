#!/usr/bin/env bash
# Batch-mode benchmark on real data (not a test): `kbuild-lineinfo modules` at -j2 over every
# module of the Debian full kernel (~4,230 modules, 6.1 GB), first paired with the series' own
# flow, then in the states an incremental kernel build meets, against the targets of issues 3 and 4.
#
#   bench/modules.sh [FLAVOUR|ENV_FILE] [RUNS]
#   KBUILD_LINEINFO_BENCH_EVERY=10 bench/modules.sh cloud 3   # the pairs on every 10th module only
#   KBUILD_LINEINFO_BENCH_PAIRS_ONLY=1 bench/modules.sh ...    # the pairs, not the scenarios
#
# FLAVOUR (default full) is fetched by scripts/corpus.sh; an ENV_FILE instead sets MODULES_DIR
# and MODULES_ORDER (and KERNEL_VERSION) for a tree of your own. The corpus is never
# modified: it is copied once to $BENCH_COPY (default /tmp/bench-full, reused by later runs) and
# restored from the corpus between runs; copies and restores are not timed.
#
# Paired with the series' flow (layout $KBUILD_LINEINFO_BENCH_LAYOUT, v1 by default): RUNS pairs,
# the order alternating within pairs (ours first, then the series' first), each side on its own
# fresh copy of the modules (copies not timed). Ours: `modules --no-cache -j2`. The series':
# its scripts/gen-mod-lineinfo.sh as make runs it, one process per module, two at a time
# (`xargs -P2`): gen_lineinfo --module, gcc -c, objcopy twice in v1 (ld -r in v7); gen_lineinfo and
# the script are built and taken from $KBUILD_LINEINFO_SERIES by bench/series-tool.sh. The
# kernel's assembler flags are not passed to gcc (the .S needs none). Then both sides' outputs are
# compared (bench/modules-compare.py). KBUILD_LINEINFO_BENCH_EVERY=N takes every Nth module of
# modules.order for the pairs (the series' flow takes about a minute per 1,000 modules); the
# scenarios below always take every module. Without the series the pairs are skipped, saying so.
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

# --- Paired with the series' flow ---
layout=${KBUILD_LINEINFO_BENCH_LAYOUT:-v1}
every=${KBUILD_LINEINFO_BENCH_EVERY:-1}
# shellcheck source=bench/series-tool.sh
source "$here/bench/series-tool.sh"
series=$(series_tool "$work/series" "$layout")
if [ -z "$series" ]; then
  echo "series' flow: not run (bench/series-tool.sh said why above); no comparison"
else
  mkdir -p "$work/series/scripts"
  cp "$series" "$work/series/scripts/gen_lineinfo"
  series_diff=${KBUILD_LINEINFO_SERIES:-$here/../shared/series}/linux-6.12-$layout.diff
  series_new_file "$series_diff" scripts/gen-mod-lineinfo.sh > "$work/series/gen-mod-lineinfo.sh"
  awk -v n="$every" 'NF && (NR - 1) % n == 0' "$MODULES_ORDER" > "$work/pairs.order"
  m=$(grep -c . "$work/pairs.order")
  # fresh DIR: DIR holds the original bytes of the modules of the pairs (not timed).
  fresh() { rm -rf "$1"; mkdir -p "$1"; (cd "$MODULES_DIR" && xargs cp --parents -t "$1") < "$work/pairs.order"; }
  ours_run() {
    /usr/bin/time -a -o "$work/p-ours" -f "%e %U %S %M" "$tool" modules --objtree "$work/ours" \
      --order "$work/pairs.order" --layout "$layout" -j2 --no-cache -s
  }
  series_run() {
    objtree=$work/series CC=gcc OBJCOPY=objcopy LD=ld /usr/bin/time -a -o "$work/p-series" -f "%e %U %S %M" sh -c \
      'cd "$1" && xargs -P2 -n1 sh "$2" < "$3"' sh "$work/theirs" "$work/series/gen-mod-lineinfo.sh" "$work/pairs.order"
  }
  : > "$work/p-ours"; : > "$work/p-series"
  for i in $(seq "$runs"); do
    fresh "$work/ours"; fresh "$work/theirs"
    if [ $((i % 2)) = 1 ]; then ours_run; series_run; else series_run; ours_run; fi
  done 2> "$work/series.log"
  [ ! -s "$work/series.log" ] || { echo "the series' flow said (first lines):"; head -5 "$work/series.log"; }
  subset="every module"; [ "$every" = 1 ] || subset="every ${every}th module of modules.order"
  printf "paired, layout %s, %d modules (%s), %d pairs, order alternating:\n" "$layout" "$m" "$subset" "$runs"
  for side in ours series; do
    printf '  %-38s %7.2f s wall median  %7.2f s CPU  %6d MB peak RSS  per run: %s\n' \
      "$([ $side = ours ] && echo "ours (modules -j2 --no-cache)" || echo "series' flow (gen-mod-lineinfo.sh, -P2)")" \
      "$(awk '{print $1}' "$work/p-$side" | median)" "$(awk '{print $2 + $3}' "$work/p-$side" | median)" \
      "$(($(awk '{print $4}' "$work/p-$side" | sort -n | tail -1) / 1024))" "$(awk '{printf "%s ", $1}' "$work/p-$side")"
  done
  printf '  ratio (series / ours, wall medians): %.1fx; per pair: %s\n' \
    "$(echo "$(awk '{print $1}' "$work/p-series" | median) / $(awk '{print $1}' "$work/p-ours" | median)" | bc -l)" \
    "$(paste -d' ' "$work/p-ours" "$work/p-series" | awk '{printf "%.1fx ", $5 / $1}')"
  "$here/bench/modules-compare.py" "$MODULES_DIR" "$work/ours" "$work/theirs" "$work/pairs.order" "$tool" | sed 's/^/  /'
  rm -rf "$work/ours" "$work/theirs"
fi
if [ -n "${KBUILD_LINEINFO_BENCH_PAIRS_ONLY:-}" ]; then exit 0; fi

: > "$work/cold-nocache"
measure "$work/cold-nocache" --no-cache
report "cold, --no-cache" "<= 1.5 s" "$work/cold-nocache"

restore_all
: > "$work/cold-cache"
measure "$work/cold-cache" --cache-dir "$cache"
report "cold, empty cache dir" "<= 8 s" "$work/cold-cache"
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

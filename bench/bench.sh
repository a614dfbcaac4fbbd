#!/usr/bin/env bash
# Real-data benchmark (not a test): figures for the README, medians of several runs.
#
#   bench/bench.sh [cloud|full] [vmlinux|modules|all] [RUNS]
#
# vmlinux: the .o path (wall, CPU, peak RSS) and the .S path including `gcc -c`, with the table's
#   rows, entries, files, bytes per entry and output bytes; and the series' own flow
#   (`scripts/gen_lineinfo vmlinux > X.S; gcc -c X.S`, built by bench/series-tool.sh from
#   $KBUILD_LINEINFO_SERIES, default ../shared/series) in the same run, interleaved with ours run
#   by run: medians of RUNS pairs and their ratio. Layout: $KBUILD_LINEINFO_BENCH_LAYOUT (v1, the
#   default, or v7), for both tools. Without the series the column is skipped with a note.
# modules: every module of modules.order, on a scratch copy of the corpus (the copy is not timed):
#   cold at -j2 (bench/modules.sh runs the series' flow beside ours, paired).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-cloud}
what=${2:-all}
runs=${3:-5}
layout=${KBUILD_LINEINFO_BENCH_LAYOUT:-v1}
corpus=$("$here/scripts/corpus.sh" "$flavour") # a failure stops here (set -e), before the eval
eval "$corpus"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
tool=${CARGO_TARGET_DIR:-$here/target}/release/kbuild-lineinfo
work=$(mktemp -d "${TMPDIR:-/tmp}/kbuild-lineinfo-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time_cmd FILE CMD...: appends "wall maxrss_kb cpu" of CMD to FILE (cpu = user + sys: on a
# loaded machine it says what the work costs when wall time does not).
time_cmd() { local f=$1; shift; /usr/bin/time -a -o "$f" -f "%e %M %U %S" "$@"; }
cpu() { awk '{print $3 + $4}' "$1" | median; }
wall() { awk '{print $1}' "$1" | median; }
rss_mb() { awk '{print $2}' "$1" | sort -n | tail -1 | awk '{print int($1 / 1024)}'; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); kernel corpus $KERNEL_VERSION ($flavour)"

if [ "$what" = vmlinux ] || [ "$what" = all ]; then
  # Ours and the series' flow, interleaved run by run (a noisy machine slows both alike).
  # shellcheck source=bench/series-tool.sh
  source "$here/bench/series-tool.sh"
  series=$(series_tool "$work/series" "$layout")
  : > "$work/o.t"; : > "$work/c.t"; : > "$work/s.t"; : > "$work/gcc.t"
  for _ in $(seq "$runs"); do
    time_cmd "$work/o.t" "$tool" vmlinux --layout "$layout" -o "$work/lineinfo.o" "$VMLINUX" 2> "$work/summary"
    if [ -n "$series" ]; then
      time_cmd "$work/c.t" sh -c '"$1" "$2" > "$3" && gcc -c "$3" -o "$4"' sh \
        "$series" "$VMLINUX" "$work/series.S" "$work/series.o" 2> /dev/null
    fi
  done
  # Our .S path (for trees that assemble it), after the pairs: fewer runs.
  for _ in $(seq $(( (runs + 1) / 2 ))); do
    time_cmd "$work/s.t" "$tool" vmlinux --layout "$layout" -o "$work/lineinfo.S" "$VMLINUX" 2>/dev/null
    time_cmd "$work/gcc.t" gcc -c "$work/lineinfo.S" -o "$work/lineinfo-as.o"
  done
  cmp -s <(objcopy -O binary -j .rodata "$work/lineinfo.o" /dev/stdout) \
         <(objcopy -O binary -j .rodata "$work/lineinfo-as.o" /dev/stdout) \
    || { echo "the .o and the assembled .S differ" >&2; exit 1; }
  o_wall=$(wall "$work/o.t"); o_rss=$(rss_mb "$work/o.t"); o_cpu=$(cpu "$work/o.t")
  s_wall=$(wall "$work/s.t"); g_wall=$(wall "$work/gcc.t")
  rodata=$(size -A "$work/lineinfo.o" | awk '$1 == ".rodata" {print $2}')
  echo "vmlinux: $(grep '^lineinfo:' "$work/summary" | head -1 | sed 's/^lineinfo: [^:]*: //')"
  printf 'vmlinux .o path (layout %s): %.3f s median wall, %.3f s CPU (%d runs), %d MB peak RSS, %d bytes of .rodata\n' \
    "$layout" "$o_wall" "$o_cpu" "$runs" "$o_rss" "$rodata"
  printf 'vmlinux .S path: %.2f s tool + %.2f s gcc -c = %.2f s (CPU %.2f + %.2f s), .S is %d bytes\n' \
    "$s_wall" "$g_wall" "$(echo "$s_wall + $g_wall" | bc -l)" "$(cpu "$work/s.t")" "$(cpu "$work/gcc.t")" \
    "$(stat -c %s "$work/lineinfo.S")"
  if [ -n "$series" ]; then
    c_wall=$(wall "$work/c.t"); c_rss=$(rss_mb "$work/c.t"); c_cpu=$(cpu "$work/c.t")
    c_rodata=$(size -A "$work/series.o" | awk '$1 == ".rodata" {print $2}')
    printf 'series flow (gen_lineinfo %s > X.S; gcc -c X.S): %.3f s median wall, %.3f s CPU (%d runs, paired), %d MB peak RSS, %d bytes of .rodata\n' \
      "$layout" "$c_wall" "$c_cpu" "$runs" "$c_rss" "$c_rodata"
    printf 'ratio, same run: %.1fx faster (wall medians), %.1fx less CPU, %.1fx less memory; per pair: %s\n' \
      "$(echo "$c_wall / $o_wall" | bc -l)" "$(echo "$c_cpu / $o_cpu" | bc -l)" \
      "$(echo "$c_rss / $o_rss" | bc -l)" \
      "$(paste "$work/o.t" "$work/c.t" | awk '{printf "%.1fx ", $5 / $1}')"
  fi
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [ "$what" = modules ] || [ "$what" = all ]; then
  copy=$work/modules
  cp -a "$MODULES_DIR" "$copy"
  n=$(grep -c . "$MODULES_ORDER")
  : > "$work/m.t"
  time_cmd "$work/m.t" "$tool" modules --objtree "$copy" --order "$MODULES_ORDER" -j2 --no-cache -s
  m_wall=$(awk '{print $1}' "$work/m.t"); m_rss=$(awk '{print $2}' "$work/m.t")
  bytes=$(find "$copy" -name '*.ko' -newer "$MODULES_ORDER" -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  printf 'modules: %d modules cold at -j2: %.2f s wall (%.2f s CPU), %d MB peak RSS (bench/modules.sh pairs it with the series' flow)\n' \
    "$n" "$m_wall" "$(cpu "$work/m.t")" $((m_rss / 1024))
fi

#!/usr/bin/env bash
# Real-data benchmark (not a test): figures for the README, medians of several runs.
#
#   bench/bench.sh [cloud|full] [vmlinux|modules|all] [RUNS]
#
# vmlinux: the .o path (wall, peak RSS) and the .S path including `gcc -c`, with the table's
#   rows, entries, files, bytes per entry and output bytes, against the C tool's published figures
#   (FORMAT.md: 1.7–2.3 s and 641 MB for the cloud vmlinux, plus 0.9 s of `gcc -c`).
# modules: every module of modules.order, on a scratch copy of the corpus (the copy is not timed):
#   cold at -j2, and the C flow's 49 s for comparison.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-cloud}
what=${2:-all}
runs=${3:-5}
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

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); kernel corpus $KERNEL_VERSION ($flavour)"

if [ "$what" = vmlinux ] || [ "$what" = all ]; then
  : > "$work/o.t"; : > "$work/s.t"; : > "$work/gcc.t"
  for _ in $(seq "$runs"); do
    time_cmd "$work/o.t" "$tool" vmlinux -o "$work/lineinfo.o" "$VMLINUX" 2> "$work/summary"
    grep -v '^lineinfo:' "$work/o.t" > /dev/null || true
    time_cmd "$work/s.t" "$tool" vmlinux -o "$work/lineinfo.S" "$VMLINUX" 2>/dev/null
    time_cmd "$work/gcc.t" gcc -c "$work/lineinfo.S" -o "$work/lineinfo-as.o"
  done
  cmp -s <(objcopy -O binary -j .rodata "$work/lineinfo.o" /dev/stdout) \
         <(objcopy -O binary -j .rodata "$work/lineinfo-as.o" /dev/stdout) \
    || { echo "the .o and the assembled .S differ" >&2; exit 1; }
  o_wall=$(awk '{print $1}' "$work/o.t" | median); o_rss=$(awk '{print $2}' "$work/o.t" | sort -n | tail -1)
  s_wall=$(awk '{print $1}' "$work/s.t" | median); g_wall=$(awk '{print $1}' "$work/gcc.t" | median)
  sg=$(echo "$s_wall + $g_wall" | bc -l)
  rodata=$(size -A "$work/lineinfo.o" | awk '$1 == ".rodata" {print $2}')
  echo "vmlinux: $(grep '^lineinfo:' "$work/summary" | head -1 | sed 's/^lineinfo: [^:]*: //')"
  printf 'vmlinux .o path: %.2f s median wall (%.2f s CPU; %d runs), %d MB peak RSS, %d bytes of .rodata\n' \
    "$o_wall" "$(cpu "$work/o.t")" "$runs" $((o_rss / 1024)) "$rodata"
  printf 'vmlinux .S path: %.2f s tool + %.2f s gcc -c = %.2f s (CPU %.2f + %.2f s), .S is %d bytes\n' \
    "$s_wall" "$g_wall" "$sg" "$(cpu "$work/s.t")" "$(cpu "$work/gcc.t")" "$(stat -c %s "$work/lineinfo.S")"
  printf 'vs the C tool (1.7-2.3 s, 641 MB, + 0.9 s gcc -c; cloud): .o path %.1fx-%.1fx faster, %.1fx less memory\n' \
    "$(echo "1.7 / $o_wall" | bc -l)" "$(echo "2.3 / $o_wall" | bc -l)" "$(echo "641 * 1024 / $o_rss" | bc -l)"
fi

if [ "$what" = modules ] || [ "$what" = all ]; then
  copy=$work/modules
  cp -a "$MODULES_DIR" "$copy"
  n=$(grep -c . "$MODULES_ORDER")
  : > "$work/m.t"
  time_cmd "$work/m.t" "$tool" modules --objtree "$copy" --order "$MODULES_ORDER" -j2 --no-cache -s
  m_wall=$(awk '{print $1}' "$work/m.t"); m_rss=$(awk '{print $2}' "$work/m.t")
  bytes=$(find "$copy" -name '*.ko' -newer "$MODULES_ORDER" -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  printf 'modules: %d modules cold at -j2: %.2f s wall (%.2f s CPU), %d MB peak RSS (C flow: 49 s at two processes)\n' \
    "$n" "$m_wall" "$(cpu "$work/m.t")" $((m_rss / 1024))
fi

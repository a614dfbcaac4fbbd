#!/usr/bin/env bash
# `annotate` against the kernel's scripts/decode_stacktrace.sh (one nm and one addr2line per
# frame) on the same Call Trace of the Debian cloud vmlinux: both sides get the same warm-up runs
# and the same number of timed runs, interleaved, the order alternating within pairs; medians of
# wall and CPU time and their ratio. Building our table object from vmlinux (which a kernel build
# does once, and decode_stacktrace.sh does not need) is timed apart, over the same number of runs.
#
#   bench/annotate.sh [FRAMES] [RUNS] [WARMUP]     # defaults: 20 frames, 3 runs, 1 warm-up
#
# decode_stacktrace.sh takes about 1.5 s per frame here: 200 frames and 3 runs are 15 minutes.
# Needs: the corpus (scripts/corpus.sh), linux-source-6.12 (apt-get install linux-source-6.12:
# decode_stacktrace.sh is taken from its tarball), binutils, GNU time, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-20}
runs=${2:-3}
warmup=${3:-1}
corpus=${KBUILD_LINEINFO_CORPUS_DIR:-$HOME/.cache/kbuild-lineinfo/corpus/cloud}
vmlinux=${KBUILD_LINEINFO_VMLINUX:-$corpus/vmlinux}
bin=${KBUILD_LINEINFO_BIN:-$here/target/release/kbuild-lineinfo}
work=$(mktemp -d /tmp/annotate-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

[ -x "$bin" ] || (cd "$here" && nice -n 10 cargo build --release -q)
tarball=/usr/src/linux-source-6.12.tar.xz
[ -f "$tarball" ] || { echo "$0: needs $tarball (apt-get install linux-source-6.12)" >&2; exit 1; }
tar -xJf "$tarball" -C "$work" linux-source-6.12/scripts/decode_stacktrace.sh
decode=$work/linux-source-6.12/scripts/decode_stacktrace.sh

# timed FILE CMD...: one run of CMD, its output to FILE.out; appends "wall cpu" to FILE.
timed() {
  local f=$1; shift
  /usr/bin/time -a -o "$f" -f "%e %U %S" "$@" > "$f.out" 2> "$f.err" || { cat "$f.err" >&2; exit 1; }
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wall() { awk '{print $1}' "$1" | median; }
cpu() { awk '{print $2 + $3}' "$1" | median; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The table object, timed apart (the same number of runs as the pairs).
: > "$work/table.t"
for _ in $(seq "$runs"); do timed "$work/table.t" "$bin" vmlinux -o "$work/table.o" "$vmlinux"; done
# A Call Trace of random text symbols of [_text, _etext): sizes up to the next symbol (kallsyms),
# offsets from 1 to the size (%pB prints return address - symbol).
nm -n "$vmlinux" | python3 -c '
import random, sys
rows = [l.split() for l in sys.stdin]
rows = [(int(r[0], 16), r[1], r[2]) for r in rows if len(r) == 3]
text = next(a for a, _, n in rows if n == "_text")
etext = next(a for a, _, n in rows if n == "_etext")
addrs = sorted({a for a, _, _ in rows})
import bisect
syms = []
for a, k, n in rows:
    if text <= a < etext and k in "tT" and not n.startswith("__pfx_"):
        i = bisect.bisect_right(addrs, a)
        if i < len(addrs) and addrs[i] - a > 1:
            syms.append((n, addrs[i] - a))
rng = random.Random(42)
print("[   10.000000] Call Trace:")
print("[   10.000000]  <TASK>")
for _ in range(int(sys.argv[1])):
    n, size = rng.choice(syms)
    print(f"[   10.000000]  {n}+{1 + rng.randrange(size):#x}/{size:#x}")
print("[   10.000000]  </TASK>")
' "$frames" > "$work/trace.log"

ours() { timed "$1" "$bin" annotate --vmlinux "$vmlinux" --table "$work/table.o" "$work/trace.log"; }
script() { timed "$1" sh -c 'bash "$1" "$2" < "$3"' sh "$decode" "$vmlinux" "$work/trace.log"; }
: > "$work/ours.t"; : > "$work/script.t"
for _ in $(seq "$warmup"); do ours "$work/warm"; script "$work/warm"; done
for i in $(seq "$runs"); do
  if [ $((i % 2)) = 1 ]; then ours "$work/ours.t"; script "$work/script.t"; else script "$work/script.t"; ours "$work/ours.t"; fi
done
# Answers: ours `name+0x1/0x2 (file:line)`, the script's `name (file:line file:line ...)`, innermost
# inline first; the same line order.
python3 - "$work/ours.t.out" "$work/script.t.out" <<'PY'
import re, sys
place = re.compile(r"\(([^()]+:[0-9]+)[^()]*\)")
def places(line):
    m = place.search(line)
    return m.group(1).split() if m else []
ours = [places(l) for l in open(sys.argv[1])]
theirs = [places(l) for l in open(sys.argv[2])]
def same(a, b):
    return a == b or b.endswith("/" + a) or a.endswith("/" + b)
pairs = [(o, t) for o, t in zip(ours, theirs) if o or t]
first = sum(1 for o, t in pairs if o and t and same(o[0], t[0]))
chain = sum(1 for o, t in pairs if o and t and any(same(o[0], x) for x in t))
print(f"answers: annotate gave file:line for {sum(1 for o in ours if o)} frames, decode_stacktrace.sh for "
      f"{sum(1 for t in theirs if t)}; ours is its innermost place for {first} of {len(pairs)}, "
      f"one of its inline chain for {chain}")
PY
printf 'table object (vmlinux -o table.o, once per kernel build): %.2f s wall median, %.2f s CPU (%d runs)\n' \
  "$(wall "$work/table.t")" "$(cpu "$work/table.t")" "$runs"
printf 'annotate:             %9.3f s wall median, %9.3f s CPU (%d runs after %d warm-up)\n' \
  "$(wall "$work/ours.t")" "$(cpu "$work/ours.t")" "$runs" "$warmup"
printf 'decode_stacktrace.sh: %9.3f s wall median, %9.3f s CPU (%d runs after %d warm-up, interleaved)\n' \
  "$(wall "$work/script.t")" "$(cpu "$work/script.t")" "$runs" "$warmup"
printf '%s-frame trace: annotate %.0fx faster in wall time, %.0fx in CPU; with the table built each time: %.1fx\n' \
  "$frames" "$(echo "$(wall "$work/script.t") / $(wall "$work/ours.t")" | bc -l)" \
  "$(echo "$(cpu "$work/script.t") / $(cpu "$work/ours.t")" | bc -l)" \
  "$(echo "$(wall "$work/script.t") / ($(wall "$work/ours.t") + $(wall "$work/table.t"))" | bc -l)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

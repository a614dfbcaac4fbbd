#!/usr/bin/env bash
# `annotate` against the kernel's scripts/decode_stacktrace.sh (one nm and one addr2line per
# frame) on the same log of the Debian cloud debug kernel, which carries no tables: a Call Trace
# of random vmlinux frames and frames of a few modules ([xfs], [virtio_net], ...). Ours is run as
# a user runs it on a debug package (`annotate --vmlinux VMLINUX --modules DIR`, tables built from
# DWARF), twice per round: cold (an empty build-id cache) and warm (the cache the cold run
# filled). All three get the same warm-up runs (page cache) and the same number of timed runs,
# interleaved, the order rotating; medians of wall and CPU time and the ratios.
#
#   bench/annotate.sh [FRAMES] [RUNS] [WARMUP] [SIDES]
#       # defaults: 300 frames, 3 runs, 0 warm-up, SIDES "cold warm script"
#
# decode_stacktrace.sh takes about 1.5 s per frame here: 300 frames and 3 runs are 25 minutes.
# SIDES "cold warm" leaves it out (ours alone, in seconds: `bench/annotate.sh 300 21 3 "cold
# warm"`); KBUILD_LINEINFO_BENCH_LOG=FILE keeps the log it made.
# Needs: the corpus (scripts/corpus.sh), linux-source-6.12 (apt-get install linux-source-6.12:
# decode_stacktrace.sh is taken from its tarball), binutils, GNU time, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-300}
runs=${2:-3}
warmup=${3:-0}
sides=${4:-cold warm script}
corpus=${KBUILD_LINEINFO_CORPUS_DIR:-$HOME/.cache/kbuild-lineinfo/corpus/cloud}
vmlinux=${KBUILD_LINEINFO_VMLINUX:-$corpus/vmlinux}
modules=${KBUILD_LINEINFO_MODULES_DIR:-$corpus/modules}
bin=${KBUILD_LINEINFO_BIN:-$here/target/release/kbuild-lineinfo}
work=$(mktemp -d /tmp/annotate-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

[ -x "$bin" ] || (cd "$here" && nice -n 10 cargo build --release -q)
side() { case " $sides " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if side script; then
  tarball=/usr/src/linux-source-6.12.tar.xz
  [ -f "$tarball" ] || { echo "$0: needs $tarball (apt-get install linux-source-6.12)" >&2; exit 1; }
  tar -xJf "$tarball" -C "$work" linux-source-6.12/scripts/decode_stacktrace.sh
  decode=$work/linux-source-6.12/scripts/decode_stacktrace.sh
fi

# timed FILE CMD...: one run of CMD, its output to FILE.out; appends "wall user system" to FILE
# (wall from bash's microsecond clock: ours takes tens of milliseconds warm; CPU from GNU time).
timed() {
  local f=$1; shift
  local start=$EPOCHREALTIME
  /usr/bin/time -o "$f.cpu" -f "%U %S" "$@" > "$f.out" 2> "$f.err" || { cat "$f.err" >&2; exit 1; }
  local end=$EPOCHREALTIME
  echo "$(echo "$end - $start" | bc -l) $(cat "$f.cpu")" >> "$f"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wall() { awk '{print $1}' "$1" | median; }
cpu() { awk '{print $2 + $3}' "$1" | median; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# A Call Trace: 4 of 5 frames random text symbols of vmlinux's [_text, _etext), 1 of 5 of the
# .text of a few modules; sizes up to the next symbol (kallsyms), offsets from 1 to the size (%pB
# prints return address - symbol).
for m in fs/xfs/xfs.ko drivers/net/virtio_net.ko arch/x86/kvm/kvm.ko net/sched/cls_flower.ko \
         net/ipv4/tcp_bbr.ko; do
  readelf -SW "$modules/$m" | sed -n "s|^ *\[ *\([0-9]*\)\] \.text  *[A-Z]*  *[0-9a-f]*  *[0-9a-f]*  *\([0-9a-f]*\) .*|S $m \1 \2|p"
  readelf -sW "$modules/$m" | awk -v m="$m" '$4 == "FUNC" {print "F", m, $7, $2, $8}'
done > "$work/modsyms"
nm -n "$vmlinux" | python3 -c '
import bisect, collections, os, random, sys
rows = [l.split() for l in sys.stdin]
rows = [(int(r[0], 16), r[1], r[2]) for r in rows if len(r) == 3]
text = next(a for a, _, n in rows if n == "_text")
etext = next(a for a, _, n in rows if n == "_etext")
addrs = sorted({a for a, _, _ in rows})
syms = []
for a, k, n in rows:
    if text <= a < etext and k in "tT" and not n.startswith("__pfx_"):
        i = bisect.bisect_right(addrs, a)
        if i < len(addrs) and addrs[i] - a > 1:
            syms.append((n, addrs[i] - a, ""))
text_index, text_size, funcs = {}, {}, collections.defaultdict(list)
for l in open(sys.argv[2]):
    f = l.split()
    if f[0] == "S":
        text_index[f[1]], text_size[f[1]] = f[2], int(f[3], 16)
    elif len(f) == 5:
        funcs[(f[1], f[2])].append((int(f[3], 16), f[4]))
mods = []
for m, index in text_index.items():
    fs = sorted(funcs[(m, index)])
    starts = sorted({v for v, _ in fs}) + [text_size[m]]
    name = os.path.basename(m)[:-3].replace("-", "_")
    for v, n in fs:
        size = starts[bisect.bisect_right(starts, v)] - v
        if size > 1 and not n.startswith("__pfx_"):
            mods.append((n, size, f" [{name}]"))
rng = random.Random(42)
print("[   10.000000] Call Trace:")
print("[   10.000000]  <TASK>")
for i in range(int(sys.argv[1])):
    n, size, mod = rng.choice(mods if i % 5 == 4 else syms)
    print(f"[   10.000000]  {n}+{1 + rng.randrange(size):#x}/{size:#x}{mod}")
print("[   10.000000]  </TASK>")
' "$frames" "$work/modsyms" > "$work/trace.log"
[ -z "${KBUILD_LINEINFO_BENCH_LOG:-}" ] || cp "$work/trace.log" "$KBUILD_LINEINFO_BENCH_LOG"

cold() {
  rm -rf "$work/cache"
  KBUILD_LINEINFO_CACHE=$work/cache timed "$1" "$bin" annotate --vmlinux "$vmlinux" --modules "$modules" "$work/trace.log"
}
warm() {
  [ -d "$work/cache" ] || KBUILD_LINEINFO_CACHE=$work/cache "$bin" annotate --vmlinux "$vmlinux" --modules "$modules" "$work/trace.log" > /dev/null
  KBUILD_LINEINFO_CACHE=$work/cache timed "$1" "$bin" annotate --vmlinux "$vmlinux" --modules "$modules" "$work/trace.log"
}
script() { timed "$1" sh -c 'bash "$1" "$2" auto "$3" < "$4"' sh "$decode" "$vmlinux" "$modules" "$work/trace.log"; }
# run SIDE FILE: one run of SIDE if it is asked for.
run() { if side "$1"; then "$1" "$2"; fi; }
: > "$work/cold.t"; : > "$work/warm.t"; : > "$work/script.t"
for _ in $(seq "$warmup"); do run cold "$work/w"; run warm "$work/w"; run script "$work/w"; done
for i in $(seq "$runs"); do
  case $((i % 3)) in
    1) run cold "$work/cold.t"; run warm "$work/warm.t"; run script "$work/script.t" ;;
    2) run script "$work/script.t"; run cold "$work/cold.t"; run warm "$work/warm.t" ;;
    0) run warm "$work/warm.t"; run script "$work/script.t"; run cold "$work/cold.t" ;;
  esac
done
if side cold && side warm && ! cmp -s "$work/cold.t.out" "$work/warm.t.out"; then
  echo "$0: cold and warm outputs differ" >&2; exit 1
fi
print() {
  local name
  if [ "$1" = script ]; then name=decode_stacktrace.sh; else name="annotate, $1 cache"; fi
  printf '%-22s %8.3f s wall median, %8.3f s CPU (%d runs after %d warm-up)\n' \
    "$name:" "$(wall "$work/$1.t")" "$(cpu "$work/$1.t")" "$runs" "$warmup"
}
if ! side script; then
  for t in cold warm; do if side $t; then print $t; fi; done
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
# Answers: ours `name+0x1/0x2 (file:line)`, the script's `name (file:line file:line ...)`, innermost
# inline first; the same line order.
python3 - "$work/cold.t.out" "$work/script.t.out" <<'PY'
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
for t in cold warm script; do print $t; done
printf '%s-frame trace: annotate cold %.0fx faster than decode_stacktrace.sh in wall time (%.0fx CPU), warm %.0fx (%.0fx CPU)\n' \
  "$frames" \
  "$(echo "$(wall "$work/script.t") / $(wall "$work/cold.t")" | bc -l)" \
  "$(echo "$(cpu "$work/script.t") / $(cpu "$work/cold.t")" | bc -l)" \
  "$(echo "$(wall "$work/script.t") / $(wall "$work/warm.t")" | bc -l)" \
  "$(echo "$(cpu "$work/script.t") / $(cpu "$work/warm.t")" | bc -l)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

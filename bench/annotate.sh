#!/usr/bin/env bash
# `annotate` against the kernel's scripts/decode_stacktrace.sh (one nm and one addr2line per
# frame) on the same 200-frame trace of the Debian cloud vmlinux; prints both medians (hyperfine)
# and their ratio.
#
#   bench/annotate.sh [FRAMES] [RUNS_OF_THE_SCRIPT]
#
# Needs: the corpus (scripts/corpus.sh), hyperfine and linux-source-6.12 (apt-get install
# hyperfine linux-source-6.12: decode_stacktrace.sh is taken from its tarball), binutils, jq or
# python3. The table object is made with our own tool (the cloud vmlinux carries none).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-200}
script_runs=${2:-3}
corpus=${KBUILD_LINEINFO_CORPUS_DIR:-$HOME/.cache/kbuild-lineinfo/corpus/cloud}
vmlinux=${KBUILD_LINEINFO_VMLINUX:-$corpus/vmlinux}
bin=${KBUILD_LINEINFO_BIN:-$here/target/release/kbuild-lineinfo}
work=$(mktemp -d /tmp/annotate-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

[ -x "$bin" ] || (cd "$here" && nice -n 10 cargo build --release -q)
command -v hyperfine >/dev/null || { echo "$0: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
tarball=/usr/src/linux-source-6.12.tar.xz
[ -f "$tarball" ] || { echo "$0: needs $tarball (apt-get install linux-source-6.12)" >&2; exit 1; }
tar -xJf "$tarball" -C "$work" linux-source-6.12/scripts/decode_stacktrace.sh
decode=$work/linux-source-6.12/scripts/decode_stacktrace.sh

"$bin" vmlinux -o "$work/table.o" "$vmlinux" 2>/dev/null
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

"$bin" annotate --vmlinux "$vmlinux" --table "$work/table.o" "$work/trace.log" > "$work/ours.txt"
echo "trace: $(grep -c '+0x' "$work/trace.log") frames; annotate wrote $(grep -c ':[0-9]*)$' "$work/ours.txt") annotations"

nice -n 10 hyperfine -N --warmup 2 --runs 20 --export-json "$work/ours.json" \
  "$bin annotate --vmlinux $vmlinux --table $work/table.o $work/trace.log"
nice -n 10 hyperfine --warmup 0 --runs "$script_runs" --export-json "$work/script.json" \
  "bash $decode $vmlinux < $work/trace.log"

median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
ours=$(median "$work/ours.json")
theirs=$(median "$work/script.json")
python3 - "$ours" "$theirs" "$frames" <<'EOF'
import sys
ours, theirs, frames = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print(f"{frames}-frame trace: annotate median {ours*1000:.1f} ms, decode_stacktrace.sh median {theirs:.1f} s, ratio {theirs/ours:.0f}x")
EOF

#!/usr/bin/env bash
# The main job on a real kernel: fetches Debian's 6.12 cloud debug kernel (vmlinux + 1,138
# modules), builds the vmlinux table object, embeds .mod_lineinfo in a scratch copy of every
# module under make-style parallelism, and shows a few lookups against llvm-symbolizer.
#
#   scripts/demo.sh [cloud|full] [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-cloud}
work=${2:-${TMPDIR:-/tmp}/kbuild-lineinfo-demo}
"$here/scripts/deps.sh"
corpus=$("$here/scripts/corpus.sh" "$flavour") # a failure stops here (set -e), before the eval
eval "$corpus"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
tool=${CARGO_TARGET_DIR:-$here/target}/release/kbuild-lineinfo
mkdir -p "$work"

echo "== vmlinux ($KERNEL_VERSION): tables as an ELF object"
time "$tool" vmlinux -o "$work/lineinfo.o" "$VMLINUX"
size -A "$work/lineinfo.o" | awk '$1 == ".rodata"'

echo "== modules: every module of modules.order, in a scratch copy, -j2, fresh cache"
rm -rf "$work/modules" "$work/cache"
cp -a "$MODULES_DIR" "$work/modules"
time "$tool" modules --objtree "$work/modules" --order "$MODULES_ORDER" -j2 --cache-dir "$work/cache" -s
echo "   again, nothing changed (all up to date):"
time "$tool" modules --objtree "$work/modules" --order "$MODULES_ORDER" -j2 --cache-dir "$work/cache" -s

echo "== lookups from the embedded tables only, next to llvm-symbolizer reading DWARF"
nm "$VMLINUX" > "$work/vmlinux.nm"   # once, and no pipeline for pipefail to trip on
text=$(awk '$3 == "_text" {print $1}' "$work/vmlinux.nm")
for sym in vfs_write do_sys_openat2 schedule; do
  addr=$(awk -v s="$sym" '$3 == s && !done {print $1; done = 1}' "$work/vmlinux.nm")
  [ -n "$addr" ] || continue
  a=$(printf '0x%x' $((0x$addr + 0x20)))
  off=$(printf '0x%x' $((a - 0x$text)))
  ours=$("$tool" lookup --vmlinux "$work/lineinfo.o" "$off" | cut -d' ' -f3)
  theirs=$(llvm-symbolizer --no-inlines --obj="$VMLINUX" "$a" | sed -n 2p)
  printf '%-24s %s: ours %-32s llvm-symbolizer %s\n' "$sym+0x20" "$a" "$ours" "$theirs"
done
ko=$(awk '/kvm\.ko$/ && !done {print; done = 1}' "$MODULES_ORDER")
echo "$ko: $("$tool" lookup --module "$work/modules/$ko" .text+0x100)"

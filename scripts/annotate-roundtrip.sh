#!/usr/bin/env bash
# Round trip of `annotate` on a log a booted kernel printed with its own (file:line)s: strip every
# ` (file:line)` that follows a frame (with perl, not our parser), annotate again with the tables of
# that kernel, and require the original back byte for byte. Also runs `annotate --check` on the
# original (every annotation the kernel printed must be what the tables say).
#
#   scripts/annotate-roundtrip.sh LOG VMLINUX [MODULES_DIR]
#   scripts/annotate-roundtrip.sh LOG -- ANNOTATE-ARGS...    (e.g. -r REL --root ROOT)
#
# TABLE=table.o in the environment: the tables of a vmlinux built without them.
#
# `--like-kernel` is used: a v7 kernel prints lines for backtrace (%pB) frames only.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${KBUILD_LINEINFO_BIN:-$here/target/debug/kbuild-lineinfo}
log=$1
shift
if [ "${1:-}" = -- ]; then
  shift
  args=("$@")
else
  args=(--vmlinux "$1")
  [ -n "${2:-}" ] && args+=(--modules "$2")
  [ -n "${TABLE:-}" ] && args+=(--table "$TABLE")
fi
work=$(mktemp -d /tmp/annotate-roundtrip.XXXXXX)
trap 'rm -rf "$work"' EXIT

perl -pe 's{(\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[^\]\s]+(?: [0-9a-f]+)?\])?) \([^()\s]+:[0-9]+\)}{$1}g' \
  "$log" > "$work/stripped"
annotations=$(grep -aoE '\+0x[0-9a-f]+/0x[0-9a-f]+( \[[^]]+\])? \([^() ]+:[0-9]+\)' "$log" | wc -l || true)
"$bin" annotate --like-kernel "${args[@]}" "$work/stripped" > "$work/again"
if cmp -s "$log" "$work/again"; then
  echo "$log: round trip byte-exact ($annotations annotations stripped and restored)"
  rc=0
else
  echo "$log: round trip DIFFERS:"
  diff <(cat -A "$log") <(cat -A "$work/again") | head -40
  rc=1
fi
if ! "$bin" annotate --check "${args[@]}" "$log" > /dev/null; then
  echo "$log: --check reports disagreements (above)"
  rc=1
fi
exit $rc

#!/usr/bin/env bash
# Fetch (once) and print the paths of the Debian debug kernel corpus used by the real-data tests
# and the benchmark: VMLINUX=… MODULES_DIR=… MODULES_ORDER=… KERNEL_VERSION=…
#
#   scripts/corpus.sh [cloud|full]
#
# Wraps ../shared/corpus/debian-kernel.sh (the project's shared corpus script), refreshing the apt
# lists first: without them the script cannot find the debug packages.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-cloud}
fetch=${KBUILD_LINEINFO_CORPUS_SCRIPT:-$here/../shared/corpus/debian-kernel.sh}
[ -f "$fetch" ] || { echo "$0: $fetch not found (set KBUILD_LINEINFO_CORPUS_SCRIPT)" >&2; exit 1; }
root=${KBUILD_LINEINFO_CORPUS:-$HOME/.cache/kbuild-lineinfo-corpus}
if [ ! -f "$root/$flavour/.complete" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
fi
out=$(bash "$fetch" "$flavour" "$root")
# The shared script can stop without a word (a pipeline under pipefail); say so here.
case "$out" in
  *VMLINUX=*MODULES_ORDER=*) printf '%s\n' "$out" ;;
  *) echo "$0: the corpus script printed no paths (apt lists, network?)" >&2; exit 1 ;;
esac

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Drop-in for the series' scripts/gen-mod-lineinfo.sh: embeds .mod_lineinfo into one .ko, in
# place, with kbuild-lineinfo (no assembler, no objcopy). Exits 0 and leaves the module alone
# when it has no DWARF, like the original. The tool: $KBUILD_LINEINFO, else kbuild-lineinfo in
# PATH. The layout: $LINEINFO_LAYOUT, else from ${srctree}/include/linux/mod_lineinfo.h.
set -e

if [ $# -ne 1 ]; then
	echo "Usage: $0 <module.ko>" >&2
	exit 1
fi

tool=${KBUILD_LINEINFO:-kbuild-lineinfo}
if ! command -v "$tool" >/dev/null 2>&1; then
	echo "$0: kbuild-lineinfo not found: put it in PATH or set KBUILD_LINEINFO" >&2
	exit 1
fi

layout=${LINEINFO_LAYOUT:-}
if [ -z "$layout" ]; then
	layout=v1
	grep -qs 'init.mod_lineinfo\|anchor' "${srctree:-.}/include/linux/mod_lineinfo.h" && layout=v7
fi

# Names relative to the source tree (Kbuild exports srctree; the compiler saw its realpath).
exec "$tool" gen-mod-lineinfo --layout "$layout" --srctree "$(cd "${srctree:-.}" && pwd -P)" "$1"

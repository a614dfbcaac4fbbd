# SPDX-License-Identifier: GPL-2.0-only OR MIT
# shellcheck shell=sh
#
# vmlinux step for scripts/link-vmlinux.sh, to be sourced from it (after `info` is defined):
#
#	. "${srctree}/path/to/make/link-vmlinux.lineinfo.sh"
#
# then, where the script links .tmp_vmlinux1 and later images:
#
#	if is_enabled CONFIG_KALLSYMS_LINEINFO; then
#		lineinfo_stub            # before the first link: lineinfo_o=.tmp_lineinfo.o (empty)
#	fi
#	...                          # link .tmp_vmlinux1 with ${lineinfo_o}, keeping its DWARF
#	if is_enabled CONFIG_KALLSYMS_LINEINFO; then
#		lineinfo_table .tmp_vmlinux1   # the real table, linked into every later image
#	fi
#
# No assembler run: the tool writes the ELF objects itself (class, byte order and machine
# copied from vmlinux.o). KBUILD_LINEINFO names the tool (default: kbuild-lineinfo in PATH);
# LINEINFO_LAYOUT the layout (default: from include/linux/mod_lineinfo.h, else v1).

: "${KBUILD_LINEINFO:=kbuild-lineinfo}"
if [ -z "${LINEINFO_LAYOUT}" ]; then
	if grep -qs 'init.mod_lineinfo\|anchor' "${srctree}/include/linux/mod_lineinfo.h"; then
		LINEINFO_LAYOUT=v7
	else
		LINEINFO_LAYOUT=v1
	fi
fi

# The empty table (all counts 0, the same symbols) for the first link.
lineinfo_stub()
{
	info LINEINFO .tmp_lineinfo.o
	if ! "${KBUILD_LINEINFO}" vmlinux --stub --layout "${LINEINFO_LAYOUT}" --like vmlinux.o \
		-o .tmp_lineinfo.o; then
		echo >&2 "Failed to generate the empty lineinfo table"
		exit 1
	fi
	lineinfo_o=.tmp_lineinfo.o
}

# The table of ${1} (an image with DWARF), to link into every later image.
lineinfo_table()
{
	info LINEINFO "${1}"
	if ! "${KBUILD_LINEINFO}" vmlinux --layout "${LINEINFO_LAYOUT}" \
		--srctree "$(cd "${srctree:-.}" && pwd -P)" -o .tmp_lineinfo.o "${1}"; then
		echo >&2 "Failed to generate lineinfo from ${1}"
		echo >&2 "Try to disable CONFIG_KALLSYMS_LINEINFO"
		exit 1
	fi
	lineinfo_o=.tmp_lineinfo.o
}

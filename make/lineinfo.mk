# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Batch step after modfinal, for a tree WITHOUT the lineinfo series (or to redo every table at
# once): embeds .mod_lineinfo into every module of modules.order and writes the vmlinux table
# object, all in one kbuild-lineinfo process that shares make's jobserver and a build-id cache.
#
#   make O=/tmp/obj -j2 vmlinux modules
#   make -f make/lineinfo.mk -j2 objtree=/tmp/obj
#
# or, from a Makefile of your own:  include path/to/make/lineinfo.mk  and depend on `lineinfo`.
#
# Variables:
#   KBUILD_LINEINFO  the tool (default: kbuild-lineinfo from PATH)
#   objtree          the object tree (O=) holding modules.order and vmlinux (default: .)
#   LINEINFO_VMLINUX the image to build the vmlinux table from (default: $(objtree)/vmlinux;
#                    empty: modules only)
#   LINEINFO_OUT     the table object (default: $(objtree)/lineinfo.o)
#   LINEINFO_FLAGS   more options for `kbuild-lineinfo modules` (--layout v7, --cache-dir D, -v)
#
# `kbuild-lineinfo modules` runs even if the tree's .config does not set
# CONFIG_KALLSYMS_LINEINFO_MODULES: --force is passed, since including this file is the request.

objtree ?= .
KBUILD_LINEINFO ?= $(shell command -v kbuild-lineinfo)
LINEINFO_VMLINUX ?= $(objtree)/vmlinux
LINEINFO_OUT ?= $(objtree)/lineinfo.o
LINEINFO_FLAGS ?=

ifeq ($(KBUILD_LINEINFO),)
$(error kbuild-lineinfo not found: put it in PATH or set KBUILD_LINEINFO)
endif

# Kbuild's command echo, for use outside Kbuild (inside it, Kbuild.include defines `cmd`).
ifndef cmd
# As Kbuild decides it: V=1 echoes the command, make -s prints nothing (silent_cmd_* is empty).
quiet ?= $(if $(filter 1,$(V) $(KBUILD_VERBOSE)),,$(if $(findstring s,$(firstword -$(MAKEFLAGS))),silent_,quiet_))
cmd = @$(if $($(quiet)cmd_$(1)),echo '  $($(quiet)cmd_$(1))';) $(cmd_$(1))
endif

quiet_cmd_lineinfo_batch = LINEINFO modules.order$(if $(LINEINFO_VMLINUX), + $(LINEINFO_VMLINUX))
      cmd_lineinfo_batch = $(KBUILD_LINEINFO) modules --objtree $(objtree) --force \
			$(if $(LINEINFO_VMLINUX),--vmlinux $(LINEINFO_VMLINUX) -o $(LINEINFO_OUT)) \
			$(LINEINFO_FLAGS)

PHONY += lineinfo
lineinfo: $(KBUILD_LINEINFO)
	+$(call cmd,lineinfo_batch)

.PHONY: lineinfo
.DEFAULT_GOAL := lineinfo

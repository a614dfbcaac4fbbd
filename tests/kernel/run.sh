#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# The kernel as the judge (manual, not in CI: a cell builds a kernel, 5-20 minutes on 2 cores).
# For one cell, or the matrix: unpack Debian's linux-source-6.12, apply the real
# CONFIG_KALLSYMS_LINEINFO series (v1 or v7), point its hooks at this tool (`kbuild install`)
# or leave the series' own C tool in place, build a small kernel, boot it under QEMU (TCG,
# KASLR on) with a busybox initrd, provoke traces, and judge every frame against
# llvm-symbolizer and the series' KUnit suite's KTAP (tests/kernel/judge.py). See README.md.
#
#   tests/kernel/run.sh                        # one cell: LAYOUT=v7 CC=gcc ARCH=x86_64 TOOL=ours
#   LAYOUT=v1 TOOL=c tests/kernel/run.sh       # the series' own C tool in the v1 tree
#   MATRIX=1 tests/kernel/run.sh               # every cell: 7 ARCHs x gcc, clang x v7, v1 x ours, c
#                                              # (MATRIX_ARCHS, MATRIX_CCS, MATRIX_LAYOUTS,
#                                              # MATRIX_KUNIT narrow it: MATRIX_ARCHS="s390x arm")
#
# Environment:
#   LAYOUT=v1|v7  CC=gcc|clang|clang-N (Debian's clang-N, e.g. clang-16: LLVM=-16)  TOOL=ours|c
#   ARCH=x86_64|arm64|riscv64|ppc64le|s390x|i386|arm   (Debian's cross gcc and qemu-system-*;
#                    a busybox-static of that architecture is fetched from Debian 13 with apt)
#   KUNIT=m|y        the series' KUnit suite (v7) as a module (insmod from the initrd) or built in
#   KBUILD_LINEINFO  the tool (default: target/release/kbuild-lineinfo of this repository)
#   KBUILD_LINEINFO_SERIES  the series' diffs (default: ../shared/series beside the repository)
#   E2E_WORK         unpacked trees and build directories, kept between runs (default /tmp/kernel-e2e)
#   E2E_LOGS         if set, each boot's console, vmlinux and .ko files are copied to
#                    $E2E_LOGS/<cell>/ (console.log, vmlinux, modules/)
#   E2E_JOBS         make -j (default 2)   E2E_NICE  nice level of the build (default 5)
#   E2E_BOOT_TIMEOUT seconds (default 1500)
#   E2E_STOP=config  stop after configuring (to check a cell's .config without building)
#   E2E_SAMPLES      the judge also checks the embedded tables offline: this many random vmlinux
#                    text addresses, a tenth of it per module (default 20000; 0: no)
#
# Reruns reuse the unpacked tree and the build directory: make rebuilds only what changed
# (switching TOOL, or a new build of ours, relinks vmlinux and every .ko, nothing else). One
# source tree per layout serves every ARCH/CC/TOOL of that layout, and TOOL rewrites its hooks:
# never run two cells of one layout at once in the same E2E_WORK (use another E2E_WORK for a
# concurrent cell).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tool=$(readlink -f "${KBUILD_LINEINFO:-$repo/target/release/kbuild-lineinfo}")
series=${KBUILD_LINEINFO_SERIES:-$repo/../shared/series}
work=${E2E_WORK:-/tmp/kernel-e2e}
jobs=${E2E_JOBS:-2}
nicelevel=${E2E_NICE:-5}
boot_timeout=${E2E_BOOT_TIMEOUT:-1500}

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'kernel-e2e: %s\n' "$*" >&2; exit 2; }

[ -x "$tool" ] || die "no tool at $tool: cargo build --release, or set KBUILD_LINEINFO"
mkdir -p "$work/bin"

# The build calls the tool through this wrapper, which logs how long each call took.
timed=$work/bin/kbuild-lineinfo-timed
new=$(mktemp "$timed.XXXXXX")
cat >"$new" <<'EOF'
#!/bin/bash
s=$(date +%s%N)
"$KBUILD_LINEINFO_REAL" "$@"
rc=$?
[ -z "${KBUILD_LINEINFO_TIMES:-}" ] || echo "$1 $(( ($(date +%s%N) - s) / 1000000 ))" >>"$KBUILD_LINEINFO_TIMES"
exit $rc
EOF
chmod +x "$new"
cmp -s "$new" "$timed" 2>/dev/null && rm "$new" || mv "$new" "$timed"
# A new tool is a new wrapper for make (the rewritten Makefile.modfinal depends on it).
[ "$timed" -nt "$tool" ] || [ "$timed" -ot "$tool" ] && touch -r "$tool" "$timed"

# --- Architectures --------------------------------------------------------------------------------
# For ARCH (the cell's name): KARCH (make's ARCH=), CROSS (CROSS_COMPILE for gcc), IMAGE (the boot
# image, relative to the build directory; its basename is the make target), DEBARCH (Debian's name,
# for busybox-static), QEMU (the command line, less -kernel/-initrd/-append), CONSOLE, PKGS.
arch_setup() {
	case $1 in
	x86_64) KARCH=x86_64 CROSS= IMAGE=arch/x86/boot/bzImage DEBARCH=amd64 CONSOLE=ttyS0
		QEMU=(qemu-system-x86_64 -accel tcg -smp 2 -m 1G) PKGS=(qemu-system-x86) ;;
	i386) KARCH=i386 CROSS=i686-linux-gnu- IMAGE=arch/x86/boot/bzImage DEBARCH=i386 CONSOLE=ttyS0
		QEMU=(qemu-system-i386 -accel tcg -smp 2 -m 1G) PKGS=(qemu-system-x86 gcc-i686-linux-gnu) ;;
	arm64) KARCH=arm64 CROSS=aarch64-linux-gnu- IMAGE=arch/arm64/boot/Image DEBARCH=arm64
		CONSOLE=ttyAMA0 QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg -smp 2 -m 1G)
		PKGS=(qemu-system-arm gcc-aarch64-linux-gnu) ;;
	arm) KARCH=arm CROSS=arm-linux-gnueabihf- IMAGE=arch/arm/boot/zImage DEBARCH=armhf
		CONSOLE=ttyAMA0 QEMU=(qemu-system-arm -M virt -cpu cortex-a15 -accel tcg -smp 2 -m 1G)
		PKGS=(qemu-system-arm gcc-arm-linux-gnueabihf) ;;
	riscv64) KARCH=riscv CROSS=riscv64-linux-gnu- IMAGE=arch/riscv/boot/Image DEBARCH=riscv64
		CONSOLE=ttyS0 QEMU=(qemu-system-riscv64 -M virt -bios default -accel tcg -smp 2 -m 1G)
		PKGS=(qemu-system-misc gcc-riscv64-linux-gnu) ;;
	ppc64le) KARCH=powerpc CROSS=powerpc64le-linux-gnu- IMAGE=vmlinux DEBARCH=ppc64el
		CONSOLE=hvc0 QEMU=(qemu-system-ppc64 -M pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off
			-cpu power9 -accel tcg -smp 2 -m 1G) PKGS=(qemu-system-ppc gcc-powerpc64le-linux-gnu) ;;
	s390x) KARCH=s390 CROSS=s390x-linux-gnu- IMAGE=arch/s390/boot/bzImage DEBARCH=s390x
		CONSOLE=ttysclp0 QEMU=(qemu-system-s390x -M s390-ccw-virtio -cpu max -accel tcg -smp 2 -m 1G)
		PKGS=(qemu-system-misc gcc-s390x-linux-gnu) ;;
	*) die "ARCH=$1: not one of x86_64 i386 arm64 arm riscv64 ppc64le s390x" ;;
	esac
}

install_missing() {
	local need=(linux-source-6.12 bc flex bison libelf-dev libssl-dev libdw-dev cpio
		busybox-static e2fsprogs zstd xz-utils "${PKGS[@]}") missing=()
	# CC=clang is Debian's default LLVM; CC=clang-16 that version (LLVM=-16 to Kbuild).
	case $CC_NAME in
	clang) need+=(clang lld llvm) ;;
	clang-[0-9]*) need+=("$CC_NAME" "lld-${CC_NAME#clang-}" "llvm-${CC_NAME#clang-}") ;;
	esac
	for p in "${need[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'install ok installed'* ]] ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
	fi
}

# busybox-static of the cell's architecture: the host's for x86_64, else Debian 13's package
# (every architecture of the matrix has one there), fetched with apt through a private list
# (nothing is added to the host's sources) and unpacked into $work.
busybox_for() {
	local debarch=$1 bb=$work/busybox-$1
	[ "$debarch" = amd64 ] && { echo /bin/busybox; return; }
	if [ ! -x "$bb" ]; then
		local apt=$work/apt o
		mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
		echo "deb [arch=$debarch] http://deb.debian.org/debian trixie main" >"$apt/sources-$debarch.list"
		o=(-o Dir::Etc::SourceList="$apt/sources-$debarch.list" -o Dir::Etc::SourceParts=/dev/null
			-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache"
			-o APT::Architectures::="$debarch" -o APT::Sandbox::User=root)
		say "fetching busybox-static:$debarch (Debian 13) into $work"
		apt-get "${o[@]}" update >&2 || die "apt-get update for busybox-static:$debarch failed"
		(cd "$apt/deb" && rm -f busybox-static_*_"$debarch".deb &&
			apt-get "${o[@]}" download "busybox-static:$debarch" >&2) ||
			die "cannot download busybox-static:$debarch"
		rm -rf "$apt/x" && dpkg-deb -x "$apt/deb"/busybox-static_*_"$debarch".deb "$apt/x"
		cp "$apt/x/usr/bin/busybox" "$bb"
	fi
	echo "$bb"
}

# --- The tree: Debian's 6.12 with the series applied (one per layout) ----------------------------
unpack() {
	local layout=$1 src=$work/src-$1
	[ -f "$src/scripts/gen_lineinfo.c" ] && return
	local diff=$series/linux-6.12-$layout.diff
	[ -f "$diff" ] || die "the series is not at $series (no linux-6.12-$layout.diff): set KBUILD_LINEINFO_SERIES"
	say "unpacking linux-source-6.12 into $src and applying $(basename "$diff")"
	rm -rf "$work/linux-source-6.12" "$src"
	tar -xaf /usr/src/linux-source-6.12.tar.xz -C "$work"
	mv "$work/linux-source-6.12" "$src"
	patch -d "$src" -p1 -s <"$diff"
	pristine "$layout"
}

# The hooked files as the series leaves them, made apart from the tree (Debian's file + the
# series' hunks for it), to check that `kbuild uninstall` restores them.
pristine() {
	local p=$work/pristine-$1 f
	[ -f "$p/scripts/Makefile" ] && return
	rm -rf "$p" && mkdir -p "$p"
	tar -xaf /usr/src/linux-source-6.12.tar.xz -C "$p" --strip-components=1 \
		"${hooked[@]/#/linux-source-6.12/}"
	for f in "${hooked[@]}"; do
		awk -v f="$f" '/^diff /{ on = ($NF ~ ("/" f "$")) } on' "$series/linux-6.12-$1.diff" |
			patch -s -d "$p" -p1
	done
}

hooked=(scripts/link-vmlinux.sh scripts/Makefile.modfinal scripts/Makefile)

# ours: the series' hooks call this tool (through the timing wrapper); c: the series as posted.
select_tool() {
	local src=$work/src-$1 which=$2
	pristine "$1"
	if [ "$which" = ours ]; then
		"$tool" kbuild install --srctree "$src" --tool "$timed" >&2
	elif [ -e "$src/.kbuild-lineinfo" ]; then
		"$tool" kbuild uninstall --srctree "$src" >&2
		local f
		for f in "${hooked[@]}"; do
			cmp -s "$work/pristine-$1/$f" "$src/$f" ||
				die "kbuild uninstall did not restore $f as the series left it"
		done
	fi
}

# --- Configuration ----------------------------------------------------------------------------------
make_args() { # arch cc obj
	arch_setup "$1"
	local a=(-C "$work/src-$LAYOUT" O="$3" ARCH="$KARCH")
	[ "$2" = gcc ] && [ -n "$CROSS" ] && a+=(CROSS_COMPILE="$CROSS")
	case $2 in
	clang) a+=(LLVM=1) ;;
	clang-[0-9]*) a+=(LLVM=-"${2#clang-}") ;;
	esac
	# s390 has no ld.lld nor llvm-objcopy: GNU's, as Documentation/kbuild/llvm.rst says.
	[[ $2 == clang* && $1 == s390x ]] && a+=(LD="${CROSS}ld.bfd" OBJCOPY="${CROSS}objcopy")
	printf '%s\n' "${a[@]}"
}

configure() {
	local arch=$1 cc=$2 obj=$3 kunit=$4 margs
	mapfile -t margs < <(make_args "$arch" "$cc" "$obj")
	# shellcheck source=tests/kernel/config.sh
	source "$here/config.sh"
	local args=() o en dis mods
	en="${arch}_enable[@]"
	dis="${arch}_disable[@]"
	mods="${arch}_modules[@]"
	# RISC-V with linker relaxation: DWARF 5 needs LLVM 18 (ARCH_HAS_BROKEN_DWARF5).
	local dwarf=DEBUG_INFO_DWARF5 enable=()
	[[ $cc == clang* && $arch == riscv64 ]] && dwarf=DEBUG_INFO_DWARF4
	for o in "${common_enable[@]}" "${!en}"; do
		[ "$o" = DEBUG_INFO_DWARF5 ] && o=$dwarf
		enable+=("$o")
		args+=(--enable "$o")
	done
	for o in "${common_modules[@]}" "${!mods}"; do args+=(--module "$o"); done
	for o in "${common_disable[@]}" "${!dis}"; do args+=(--disable "$o"); done
	if [ "$LAYOUT" = v7 ]; then
		[ "$kunit" = y ] && args+=(--enable LINEINFO_KUNIT_TEST) || args+=(--module LINEINFO_KUNIT_TEST)
	fi
	if [ ! -f "$obj/.config" ]; then
		say "configuring $obj (tinyconfig + tests/kernel/config.sh)"
		mkdir -p "$obj"
		make "${margs[@]}" tinyconfig >/dev/null
	fi
	cp "$obj/.config" "$obj/.config.before"
	local pass
	for pass in 1 2 3; do
		"$work/src-$LAYOUT/scripts/config" --file "$obj/.config" "${args[@]}"
		make "${margs[@]}" olddefconfig >/dev/null
	done
	local missing=()
	# An option the architecture turns off (arm: SMP) is not missing.
	for o in "${enable[@]}"; do
		[[ " ${!dis} " == *" $o "* ]] || grep -q "^CONFIG_$o=y" "$obj/.config" || missing+=("$o")
	done
	for o in "${common_modules[@]}" "${!mods}"; do grep -q "^CONFIG_$o=m" "$obj/.config" || missing+=("$o=m"); done
	[ ${#missing[@]} -eq 0 ] || say "not in .config (dependencies): ${missing[*]}"
	for o in KALLSYMS_LINEINFO KALLSYMS_LINEINFO_MODULES "$dwarf" MODULES; do
		grep -q "^CONFIG_$o=y" "$obj/.config" || die "$obj/.config lacks CONFIG_$o=y"
	done
}

# --- The kernel as a distribution installs it ------------------------------------------------------
# Into $keep/root, with the release in $keep/release: `make modules_install INSTALL_MOD_STRIP=1`
# (DWARF gone, .mod_lineinfo and the symbol table kept), the modules compressed in turn with xz
# (Debian, Fedora; the kernel's own `xz --check=crc32 --lzma2=dict=1MiB`) and zstd (Ubuntu), the
# boot image as /boot/vmlinuz-REL (x86: the bzImage; arm64: Image.gz) and /boot/System.map-REL.
# `annotate -r REL --root ROOT` must find everything there (tests/annotate.rs:
# installed_kernel_logs_round_trip).
install_like_a_distribution() { # arch obj dir image keep
	local arch=$1 obj=$2 dir=$3 image=$4 keep=$5 root=$5/root rel margs i=0 ko
	mapfile -t margs < <(make_args "$arch" "$CC_NAME" "$obj")
	rel=$(cat "$obj/include/config/kernel.release")
	rm -rf "$root" && mkdir -p "$root/boot"
	make "${margs[@]}" INSTALL_MOD_PATH="$root" INSTALL_MOD_STRIP=1 modules_install >/dev/null
	make "${margs[@]}" M="$dir/e2e_mod" INSTALL_MOD_PATH="$root" INSTALL_MOD_STRIP=1 \
		modules_install >/dev/null
	while IFS= read -r -d '' ko; do
		if (( i++ % 2 )); then
			zstd -q --rm -T1 -19 "$ko"
		else
			xz --check=crc32 --lzma2=dict=1MiB "$ko"
		fi
	done < <(find "$root/lib/modules" -name '*.ko' -print0 | sort -z)
	if [ "$arch" = arm64 ]; then
		gzip -9n <"$obj/$image" >"$root/boot/vmlinuz-$rel"
	else
		cp "$obj/$image" "$root/boot/vmlinuz-$rel"
	fi
	cp "$obj/System.map" "$root/boot/System.map-$rel"
	echo "$rel" >"$keep/release"
	say "installed as a distribution does: $root (release $rel, $i modules)"
}

# --- One cell ---------------------------------------------------------------------------------------
run_cell() {
	local arch=$1 cc=$2 layout=$3 which=$4 kunit=$5
	LAYOUT=$layout CC_NAME=$cc
	local cell=$arch-$cc-$layout dir=$work/$arch-$cc-$layout
	local obj=$dir/obj name=$arch-$cc-$layout-$which-kunit$kunit
	local margs start build_s steps_ms=0
	arch_setup "$arch"
	install_missing "$arch"
	unpack "$layout"
	select_tool "$layout" "$which"
	mkdir -p "$dir"
	configure "$arch" "$cc" "$obj" "$kunit"
	[ "${E2E_STOP:-}" = config ] && { say "$name: configured ($obj/.config)"; return 0; }
	mapfile -t margs < <(make_args "$arch" "$cc" "$obj")
	# Another tool (or another build of ours) made vmlinux and the .ko files last time: make
	# would not redo their step, the tool is no prerequisite of theirs.
	local made_by=$which
	[ "$which" = ours ] && made_by="ours $(cksum <"$tool")"
	if [ "$(cat "$obj/.e2e-tool" 2>/dev/null)" != "$made_by" ]; then
		find "$obj" -name '*.ko' -delete
		rm -f "$obj/vmlinux"
		echo "$made_by" >"$obj/.e2e-tool"
	fi
	local image=$IMAGE
	local times=$dir/steps-$which.log log=$dir/build-$which.log
	rm -f "$times"
	say "$name: make -j$jobs $(basename $image) modules (log: $log)"
	start=$(date +%s%N)
	KBUILD_LINEINFO_REAL=$tool KBUILD_LINEINFO_TIMES=$times \
		nice -n "$nicelevel" make "${margs[@]}" -j"$jobs" "$(basename $image)" modules >"$log" 2>&1 ||
		{ tail -30 "$log" >&2; die "$name: the kernel build failed, see $log"; }
	# The module of our own, built out of tree like a user's, through the same hooks.
	rm -rf "$dir/e2e_mod" && cp -r "$here/e2e_mod" "$dir/e2e_mod"
	KBUILD_LINEINFO_REAL=$tool KBUILD_LINEINFO_TIMES=$times \
		make "${margs[@]}" M="$dir/e2e_mod" modules >>"$log" 2>&1 ||
		{ tail -30 "$log" >&2; die "$name: building tests/kernel/e2e_mod failed, see $log"; }
	build_s=$(( ($(date +%s%N) - start) / 1000000 ))
	[ -f "$times" ] && steps_ms=$(awk '{ s += $2 } END { print s + 0 }' "$times")
	local nsteps=0
	[ -f "$times" ] && nsteps=$(wc -l <"$times")

	# Initrd: busybox, every module of modules.order and ours, an ext4 image.
	local rd=$dir/initrd
	rm -rf "$rd" && mkdir -p "$rd/bin" "$rd/modules" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/mnt"
	cp "$(busybox_for "$DEBARCH")" "$rd/bin/busybox"
	cp "$here/init.sh" "$rd/init"
	chmod +x "$rd/init"
	: >"$rd/modules.list"
	local m
	while read -r m; do
		m=${m%.o}.ko
		cp "$obj/$m" "$rd/modules/"
		case $(basename "$m") in lineinfo_kunit.ko) ;; *) basename "$m" >>"$rd/modules.list" ;; esac
	done <"$obj/modules.order"
	cp "$dir/e2e_mod/lineinfo_e2e.ko" "$rd/modules/"
	mkfs.ext4 -q -F "$rd/ext4.img" 4M
	(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initrd.cpio.gz"

	# Boot (TCG; KASLR on: no nokaslr).
	local console=$dir/console-$which-kunit$kunit.log qemu
	say "$name: booting under QEMU (TCG), console: $console"
	qemu=("${QEMU[@]}" -kernel "$obj/$image" -append "console=$CONSOLE panic=-1 loglevel=7")
	timeout "$boot_timeout" "${qemu[@]}" -initrd "$dir/initrd.cpio.gz" -nographic -no-reboot \
		-monitor none -serial stdio </dev/null >"$console" 2>&1 || true
	grep -q E2E-END "$console" || say "$name: the boot did not reach E2E-END (see $console)"

	if [ -n "${E2E_LOGS:-}" ]; then
		local keep=$E2E_LOGS/$name
		rm -rf "$keep" && mkdir -p "$keep/modules"
		cp "$console" "$keep/console.log"
		cp "$obj/vmlinux" "$keep/vmlinux"
		cp "$rd/modules/"*.ko "$keep/modules/"
		printf 'kernel 6.12 + series %s, %s, %s, tables by %s, KUnit suite %s\n' \
			"$layout" "$arch" "$cc" "$which" "$kunit" >"$keep/README"
		case $arch in
		x86_64 | arm64) install_like_a_distribution "$arch" "$obj" "$dir" "$image" "$keep" ;;
		*) say "$name: not installed as a distribution does (annotate reads x86 and arm64 images)" ;;
		esac
	fi

	local report=$dir/judge-$which-kunit$kunit.txt json
	# GNU ld of the architecture links clang's objects too (the judge passes it GNU options).
	local ld=${CROSS}ld
	json=$(LD=$ld python3 "$here/judge.py" --arch "$arch" --console "$console" --vmlinux "$obj/vmlinux" \
		--modules "$rd/modules" --layout "$layout" --work "$dir/judge" --report "$report" \
		--sample "${E2E_SAMPLES:-20000}" --tool "$tool" --srctree "$work/src-$layout")
	echo "$json" >"$dir/judge-$which-kunit$kunit.json"
	[ -z "${E2E_LOGS:-}" ] || cp "$report" "$dir/judge-$which-kunit$kunit.json" "$E2E_LOGS/$name/"
	python3 - "$name" "$json" "$build_s" "$steps_ms" "$nsteps" "$which" <<'EOF'
import json, sys
name, j, build_ms, steps_ms, nsteps, which = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
k = j["kunit"]
ks = " ".join("%d/%d/%d" % (s["ok"], s["fail"], s["skip"]) for s in k) or "-"
step = "step %.1f s in %d calls" % (steps_ms / 1000, nsteps) if which == "ours" else "step: the C tool's"
t = j.get("tables")
if t:
    v, m = t["vmlinux"], t["modules"]
    step += " | tables offline: vmlinux %d/%d agree, %d unannotated, %d bad names; %d modules %d/%d, %d, %d" % (
        v["agree"], v["compared"], v["unannotated"], v["bad_names"], m["count"], m["agree"],
        m["compared"], m["unannotated"], m["bad_names"])
    if m.get("without_table"):
        step += " (%d without a table)" % m["without_table"]
    step += "; a line where DWARF has none: %d, %d" % (
        v.get("line_where_dwarf_has_none", 0), m.get("line_where_dwarf_has_none", 0))
print("CELL %-34s frames %d: right %d wrong %d unannotated %d (%%pS, bare by design: %d) | KUnit ok/fail/skip %s | build %.0f s (%s)"
      % (name, j["frames"], j["right"], j["wrong"], j["unannotated"], j.get("pS_bare", 0), ks, build_ms / 1000, step))
EOF
}

if [ -n "${MATRIX:-}" ]; then
	# Every architecture x compiler x layout x tool; v7 with the KUnit suite as a module and
	# built in. A cell that fails (its own subshell: die exits it) says so and the matrix goes on.
	for a in ${MATRIX_ARCHS:-x86_64 arm64 riscv64 ppc64le s390x i386 arm}; do
		for c in ${MATRIX_CCS:-gcc clang}; do
			for l in ${MATRIX_LAYOUTS:-v7 v1}; do
				for t in ours c; do
					for k in $([ "$l" = v7 ] && echo "${MATRIX_KUNIT:-m y}" || echo m); do
						(run_cell "$a" "$c" "$l" "$t" "$k") || say "$a-$c-$l-$t-kunit$k: failed"
					done
				done
			done
		done
	done
else
	run_cell "${ARCH:-x86_64}" "${CC:-gcc}" "${LAYOUT:-v7}" "${TOOL:-ours}" "${KUNIT:-m}"
fi

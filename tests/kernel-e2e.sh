#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# End to end on a real kernel: build a small x86-64 kernel from Debian's linux-source-6.12,
# run the kbuild-lineinfo step through make/lineinfo.mk, and check every module table and the
# vmlinux table against llvm-symbolizer; then touch one module's source, rebuild, and check
# that only that module is processed again. See docs/kbuild.md. This is the tree WITHOUT the
# series (the batch step); the real series, booted, is tests/kernel/run.sh.
#
# Environment:
#   KBUILD_LINEINFO  the tool (default: target/release/kbuild-lineinfo of this repository)
#   E2E_WORK         work directory, kept for reruns (default: /tmp/kernel-e2e)
#   E2E_JOBS         make -j (default: 2)
#   E2E_SAMPLES      vmlinux addresses to sample (default: 20000); modules: up to 2000 each
#
# Reruns skip the unpack and the configuration when they are already there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tool=${KBUILD_LINEINFO:-$repo/target/release/kbuild-lineinfo}
work=${E2E_WORK:-/tmp/kernel-e2e}
jobs=${E2E_JOBS:-2}
samples=${E2E_SAMPLES:-20000}
src=$work/linux
obj=$work/obj
logs=$work/logs
cache=$work/cache
failures=()

say() { printf '== %s\n' "$*"; }
fail() { failures+=("$*"); printf 'FAIL: %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ -x "$tool" ] || { echo "no tool at $tool: cargo build --release, or set KBUILD_LINEINFO" >&2; exit 2; }
tool=$(readlink -f "$tool")
export KBUILD_LINEINFO=$tool
mkdir -p "$work" "$logs"

# --- 1. Packages: only what is missing -----------------------------------------------------
install_missing() {
	local missing=()
	for p in linux-source-6.12 bc flex bison libelf-dev libssl-dev cpio; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'install ok installed'* ]] ||
			missing+=("$p")
	done
	for t in llvm-symbolizer ld gcc make python3; do
		command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 2; }
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	fi
}

# --- 2. Unpack, and make the tree accept the two options (kconfig/) ------------------------
unpack() {
	[ -f "$src/Makefile" ] && return
	say "unpacking linux-source-6.12 into $src"
	rm -rf "$work/linux-source-6.12" "$src"
	tar -xaf /usr/src/linux-source-6.12.tar.xz -C "$work"
	mv "$work/linux-source-6.12" "$src"
	cp "$repo/kconfig/Kconfig.lineinfo" "$src/init/Kconfig.lineinfo"
	printf '\nsource "init/Kconfig.lineinfo"\n' >>"$src/init/Kconfig"
}

# --- 3. A small configuration ---------------------------------------------------------------
enable=(64BIT DEBUG_KERNEL DEBUG_INFO_DWARF5 KALLSYMS MODULES MODULE_UNLOAD PRINTK BLOCK
	EXPERT DEBUG_FS NET INET NETDEVICES NET_CORE RUNTIME_TESTING_MENU CRYPTO
	KALLSYMS_LINEINFO KALLSYMS_LINEINFO_MODULES)
modules=(EXT4_FS FAT_FS VFAT_FS MSDOS_FS ISO9660_FS LKDTM TEST_BITOPS TEST_KSTRTOX TEST_UUID
	TEST_HEXDUMP TUN CRYPTO_SHA512 CRYPTO_MD5 CRYPTO_ECB CRYPTO_XTS CRYPTO_CBC)
disable=(DEBUG_INFO_NONE DEBUG_INFO_BTF DEBUG_INFO_REDUCED DEBUG_INFO_SPLIT MODULE_SIG
	DEBUG_INFO_COMPRESSED_ZLIB DEBUG_INFO_COMPRESSED_ZSTD)

configure() {
	[ -f "$obj/.config" ] && grep -q '^CONFIG_KALLSYMS_LINEINFO_MODULES=y' "$obj/.config" && return
	say "configuring (tinyconfig + options) in $obj"
	mkdir -p "$obj"
	make -C "$src" O="$obj" ARCH=x86_64 tinyconfig >"$logs/config.log"
	local args=()
	for o in "${enable[@]}"; do args+=(--enable "$o"); done
	for o in "${modules[@]}"; do args+=(--module "$o"); done
	for o in "${disable[@]}"; do args+=(--disable "$o"); done
	"$src/scripts/config" --file "$obj/.config" "${args[@]}"
	make -C "$src" O="$obj" ARCH=x86_64 olddefconfig >>"$logs/config.log"
	# Options that depend on options enabled above appear only after a second pass.
	"$src/scripts/config" --file "$obj/.config" "${args[@]}"
	make -C "$src" O="$obj" ARCH=x86_64 olddefconfig >>"$logs/config.log"
}

check_config() {
	local missing=()
	for o in 64BIT DEBUG_INFO DEBUG_INFO_DWARF5 KALLSYMS MODULES KALLSYMS_LINEINFO \
		KALLSYMS_LINEINFO_MODULES; do
		grep -q "^CONFIG_$o=y" "$obj/.config" || missing+=("$o=y")
	done
	for o in EXT4_FS ISO9660_FS; do
		grep -q "^CONFIG_$o=m" "$obj/.config" || missing+=("$o=m")
	done
	[ ${#missing[@]} -eq 0 ] || fail "configuration lacks ${missing[*]}"
	local kept=()
	for o in "${modules[@]}"; do grep -q "^CONFIG_$o=m" "$obj/.config" && kept+=("$o"); done
	say "modules kept by olddefconfig: ${kept[*]}"
}

# --- 4. Build, then the step ------------------------------------------------------------------
# Both set $elapsed (seconds) rather than print it: failures must reach the caller's shell.
build() {
	local log=$1 t
	t=$(now)
	if ! make -C "$src" O="$obj" ARCH=x86_64 -j"$jobs" vmlinux modules >"$log" 2>&1; then
		tail -30 "$log"
		echo "kernel build failed, see $log" >&2
		exit 1
	fi
	elapsed=$(since "$t")
}

step() {
	local log=$1 t
	t=$(now)
	make -f "$repo/make/lineinfo.mk" -j"$jobs" objtree="$obj" \
		LINEINFO_FLAGS="--cache-dir $cache -v" >"$log" 2>&1 || {
		cat "$log"
		echo "the lineinfo step failed, see $log" >&2
		exit 1
	}
	elapsed=$(since "$t")
}

# --- 5. Oracles ---------------------------------------------------------------------------------
check_modules() {
	local out=$work/check-modules.txt
	PYTHONPATH="$repo/tests/kernel" python3 - "$obj" "$tool" "$work/linked" >"$out" <<'EOF' ||
		fail "module tables (see $out)"
import os, random, re, subprocess, sys
from judge import compare, lookup, symbolize  # tests/kernel/judge.py: the booted-log judge's oracle
obj, tool, linked = sys.argv[1:4]
os.makedirs(linked, exist_ok=True)
lds = os.path.join(linked, "text-at-1m.lds")
open(lds, "w").write("SECTIONS {\n  . = 0x100000;\n  .text : { *(.text) }\n}\n")

def text_size(ko):
    out = subprocess.run(["readelf", "-SW", ko], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.search(r"\]\s+\.text\s+\S+\s+\S+\s+\S+\s+([0-9a-f]+)", line)
        if m:
            return int(m.group(1), 16)
    return 0

rng = random.Random(1)
kos = [l.strip() for l in open(os.path.join(obj, "modules.order")) if l.strip()]
kos = [os.path.join(obj, k[:-2] + ".ko" if k.endswith(".o") else k) for k in kos]
total = [0, 0, 0, 0]  # compared, agree, unannotated, bad names
bad_modules = []
for ko in kos:
    size = text_size(ko)
    copy = os.path.join(linked, os.path.basename(ko) + ".elf")
    subprocess.run(["ld", "-o", copy, "-T", lds, "--unresolved-symbols=ignore-all", "-e", "0",
                    "--no-warn-rwx-segments", ko], check=True, capture_output=True)
    if size == 0:
        print("%-40s .text empty: no table to check" % os.path.relpath(ko, obj))
        continue
    offs = sorted(rng.sample(range(size), min(size, 2000)))
    want = symbolize(copy, [0x100000 + o for o in offs])
    got = lookup(tool, ["--module", ko], [".text+%#x" % o for o in offs])
    c, a, u, b, wrong = compare(offs, want, got)
    for o, w, g in wrong[:3]:
        print("  %s .text+%#x: llvm-symbolizer %s:%d, ours %s:%d" % (os.path.basename(ko), o, w[0], w[1], g[0], g[1]))
    rate = 100.0 * a / c if c else 100.0
    print("%-40s .text %7d bytes, %4d compared, %4d agree (%.2f %%), %d unannotated"
          % (os.path.relpath(ko, obj), size, c, a, rate, u))
    for i, v in enumerate((c, a, u, b)):
        total[i] += v
    if c and rate < 99.9:
        bad_modules.append(os.path.relpath(ko, obj))
c, a, u, b = total
rate = 100.0 * a / c if c else 0.0
print("MODULES %d modules, %d addresses with a DWARF answer, %d agree (%.3f %%), %d unannotated, %d bad names"
      % (len(kos), c, a, rate, u, b))
sys.exit(0 if kos and c and rate >= 99.9 and not bad_modules and b == 0 else 1)
EOF
	grep '^MODULES' "$out" || cat "$out"
}

# $1: the file holding the table (lineinfo.o: queries are offsets from _text; vmlinux: the
# linked image's own table, absolute addresses, symbol-start guard applied); $2: report name.
check_vmlinux() {
	local table=$1 out=$work/check-$2.txt
	PYTHONPATH="$repo/tests/kernel" python3 - "$obj" "$tool" "$samples" "$table" "$2" >"$out" <<'EOF' ||
		fail "$2 table (see $out)"
import os, random, subprocess, sys
from judge import sample_vmlinux  # tests/kernel/judge.py: the booted-log judge's oracle
obj, tool, count, table, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
c, a, u, b, wrong, text_size = sample_vmlinux(tool, os.path.join(obj, "vmlinux"), table, count)
for addr, w, g in wrong[:10]:
    print("  %#x: llvm-symbolizer %s:%d, ours %s:%d" % (addr, w[0], w[1], g[0], g[1]))
rate = 100.0 * a / c if c else 0.0
print(name.upper() + " %d addresses in [_text,_etext) (%d KiB), %d with a DWARF answer, %d agree (%.3f %%), %d unannotated, %d bad names"
      % (count, text_size >> 10, c, a, rate, u, b))
# x86-64 pads the text to 2 MiB boundaries (entry text, static call text): most random
# addresses of a small kernel have no DWARF answer, so only a tenth must have one.
sys.exit(0 if c >= count // 10 and rate >= 99.9 and u == 0 and b == 0 else 1)
EOF
	grep -i "^$2 " "$out" || cat "$out"
}

# --- Main ---------------------------------------------------------------------------------------
install_missing
unpack
configure
check_config
nmods=0
elapsed=0

[ -n "${E2E_CONFIG_ONLY:-}" ] && exit 0
say "build 1: make -j$jobs vmlinux modules (log: $logs/build1.log)"
build "$logs/build1.log"; build_s=$elapsed
nmods=$(wc -l <"$obj/modules.order")
say "build took ${build_s} s; $nmods modules"

say "step 1: make -f make/lineinfo.mk (log: $logs/step1.log)"
step "$logs/step1.log"; step_s=$elapsed
step1_lines=$(grep -c 'LINEINFO \[M\]' "$logs/step1.log" || true)
say "step took ${step_s} s; $step1_lines modules processed"
grep -E 'processed \(' "$logs/step1.log" || true
# v1 covers text memory, not init memory: a module whose code is all in .init.text gets no section.
for ko in $(sed 's/\.o$/.ko/' "$obj/modules.order"); do
	sections=$(readelf -SW "$obj/$ko")
	if grep -qE '\] \.text +PROGBITS +[0-9a-f]+ [0-9a-f]+ 0*[1-9a-f]' <<<"$sections"; then
		grep -q '\.mod_lineinfo' <<<"$sections" || fail "$ko has code in .text but no .mod_lineinfo"
	else
		grep -q '\.mod_lineinfo' <<<"$sections" && fail "$ko has no code in .text but a .mod_lineinfo"
		say "$ko: empty .text, no .mod_lineinfo (as expected)"
	fi
done

say "checking module tables against llvm-symbolizer"
check_modules
say "checking the vmlinux table against llvm-symbolizer"
check_vmlinux "$obj/lineinfo.o" vmlinux

say "incremental: touch fs/isofs/inode.c, rebuild, rerun the step"
touch "$src/fs/isofs/inode.c"
build "$logs/build2.log"; rebuild_s=$elapsed
step "$logs/step2.log"; step2_s=$elapsed
step2_lines=$(grep -c 'LINEINFO \[M\]' "$logs/step2.log" || true)
grep 'LINEINFO \[M\]' "$logs/step2.log" || true
grep -E 'processed \(' "$logs/step2.log" || true
[ "$step2_lines" = 1 ] && grep -q 'LINEINFO \[M\] fs/isofs/isofs.ko' "$logs/step2.log" ||
	fail "after touching fs/isofs/inode.c, $step2_lines modules were processed (want 1: fs/isofs/isofs.ko)"
say "rebuild took ${rebuild_s} s, step ${step2_s} s"

echo
echo "================ kernel-e2e summary ================"
echo "kernel:        $(make -s -C "$src" O="$obj" kernelversion 2>/dev/null), $nmods modules"
echo "build:         ${build_s} s (make -j$jobs vmlinux modules)"
echo "lineinfo step: ${step_s} s ($step1_lines modules processed + vmlinux table)"
echo "rebuild:       ${rebuild_s} s; step ${step2_s} s, $step2_lines module(s) processed"
grep -h '^MODULES\|^VMLINUX\|^LINKED' "$work"/check-*.txt || true
if [ ${#failures[@]} -eq 0 ]; then
	echo "PASS"
else
	printf 'FAIL: %s\n' "${failures[@]}"
	exit 1
fi

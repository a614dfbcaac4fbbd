#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# The kernel as the judge, with Rust (manual, like run.sh; issue #24): Debian 12's rustc-web and
# rust-web-src, bindgen-cli from crates.io at 6.12's minimum version, LLVM=1, CONFIG_RUST=y and
# the Rust minimal sample as a module, changed to print a backtrace from its init (a frame of
# .text and one of .init.text in the Rust module). Prints `make rustavailable`'s verdict, then
# runs one cell of run.sh (x86_64, clang, v7, this tool) in its own work folder, so that the
# .config it seeds (tinyconfig + config.sh + Rust) is the cell's.
#
#   tests/kernel/rust.sh
#
# Environment: E2E_WORK (default /tmp/kernel-e2e-rust, never run.sh's own folder) and every
# other variable of run.sh; RUSTC_WEB (default /usr/bin/rustc), BINDGEN_VERSION (default 6.12's
# scripts/min-tool-version.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export KBUILD_LINEINFO_SERIES=${KBUILD_LINEINFO_SERIES:-$repo/../shared/series}
export E2E_WORK=${E2E_WORK:-/tmp/kernel-e2e-rust}
work=$E2E_WORK
rustc=${RUSTC_WEB:-/usr/bin/rustc}
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'kernel-e2e-rust: %s\n' "$*" >&2; exit 2; }

[ "$work" != /tmp/kernel-e2e ] || die "E2E_WORK: use a folder of its own, not run.sh's /tmp/kernel-e2e"
mkdir -p "$work"

# --- The toolchain: rustc-web, its library sources, libclang, bindgen -------------------------------
need=()
for p in rustc-web rust-web-src libclang-dev; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'install ok installed'* ]] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "apt-get install ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
[ -x "$rustc" ] || die "no rustc at $rustc (rustc-web installs /usr/bin/rustc)"

# The tree run.sh unpacks (v7); done here first to read the minimum bindgen and change the sample.
src=$work/src-v7
if [ ! -f "$src/scripts/gen_lineinfo.c" ]; then
	say "unpacking linux-source-6.12 into $src and applying linux-6.12-v7.diff"
	rm -rf "$work/linux-source-6.12" "$src"
	tar -xaf /usr/src/linux-source-6.12.tar.xz -C "$work"
	mv "$work/linux-source-6.12" "$src"
	patch -d "$src" -p1 -s <"$KBUILD_LINEINFO_SERIES/linux-6.12-v7.diff"
fi
bindgen_version=${BINDGEN_VERSION:-$("$src/scripts/min-tool-version.sh" bindgen)}
bindgen=$work/cargo/bin/bindgen
if ! "$bindgen" --version 2>/dev/null | grep -qx "bindgen $bindgen_version"; then
	say "cargo install bindgen-cli --version $bindgen_version --locked (into $work/cargo)"
	cargo install bindgen-cli --version "$bindgen_version" --locked --root "$work/cargo" >&2
fi

# Kbuild's RUSTC and BINDGEN are plain `rustc` and `bindgen` from PATH: a folder of links first.
mkdir -p "$work/rust-bin"
ln -sf "$rustc" "$work/rust-bin/rustc"
ln -sf "$(dirname "$rustc")/rustdoc" "$work/rust-bin/rustdoc"
ln -sf "$bindgen" "$work/rust-bin/bindgen"
export PATH=$work/rust-bin:$PATH
say "$(rustc --version), $(bindgen --version), RUST_LIB_SRC $(rustc --print sysroot)/lib/rustlib/src/rust/library"

# --- The sample: rust_minimal prints a backtrace from a function of its own -----------------------
sample=$src/samples/rust/rust_minimal.rs
if ! grep -q lineinfo_e2e_trace "$sample"; then
	say "changing $sample: dump_stack() from lineinfo_e2e_trace(), called by init"
	python3 - "$sample" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
helper = '''
extern "C" {
    fn dump_stack();
}

/// A frame of `.text` in the backtrace: not inlined, and not a tail call (the sum follows).
#[inline(never)]
fn lineinfo_e2e_trace(numbers: &KVec<i32>) -> i32 {
    // SAFETY: `dump_stack` takes nothing and only prints.
    unsafe { dump_stack() };
    numbers.iter().sum()
}

impl kernel::Module for RustMinimal {'''
s = s.replace("\nimpl kernel::Module for RustMinimal {", helper, 1)
s = s.replace("        Ok(RustMinimal { numbers })",
              '        pr_info!("lineinfo e2e: sum {}\\n", lineinfo_e2e_trace(&numbers));\n\n'
              "        Ok(RustMinimal { numbers })", 1)
open(p, "w").write(s)
EOF
	grep -q 'lineinfo_e2e_trace(&numbers)' "$sample" || die "could not change $sample"
fi

# --- rustavailable, then the seeded .config ----------------------------------------------------------
obj=$work/x86_64-clang-v7/obj
margs=(-C "$src" O="$obj" ARCH=x86_64 LLVM=1)
mkdir -p "$obj"
say "make LLVM=1 rustavailable"
make "${margs[@]}" rustavailable >&2 || die "make LLVM=1 rustavailable failed (above)"
if ! grep -q '^CONFIG_SAMPLE_RUST_MINIMAL=m' "$obj/.config" 2>/dev/null; then
	say "seeding $obj/.config: tinyconfig + tests/kernel/config.sh + RUST, SAMPLES_RUST, SAMPLE_RUST_MINIMAL=m"
	make "${margs[@]}" tinyconfig >/dev/null
	# shellcheck source=tests/kernel/config.sh
	source "$here/config.sh"
	args=()
	for o in "${common_enable[@]}" "${x86_64_enable[@]}" RUST SAMPLES SAMPLES_RUST; do args+=(--enable "$o"); done
	for o in "${common_modules[@]}" "${x86_64_modules[@]}" SAMPLE_RUST_MINIMAL; do args+=(--module "$o"); done
	for o in "${common_disable[@]}" "${x86_64_disable[@]}"; do args+=(--disable "$o"); done
	for pass in 1 2 3; do
		"$src/scripts/config" --file "$obj/.config" "${args[@]}"
		make "${margs[@]}" olddefconfig >/dev/null
	done
	for o in RUST=y SAMPLES_RUST=y SAMPLE_RUST_MINIMAL=m; do
		grep -q "^CONFIG_$o\$" "$obj/.config" || die "$obj/.config lacks CONFIG_$o (Kconfig dependencies)"
	done
fi

# --- One cell of run.sh on that .config --------------------------------------------------------------
CC=clang LAYOUT=v7 ARCH=x86_64 TOOL=ours "$here/run.sh"
console=$work/x86_64-clang-v7/console-ours-kunit${KUNIT:-m}.log
report=$work/x86_64-clang-v7/judge-ours-kunit${KUNIT:-m}.txt
say "the Rust module's frames (console: $console, judged in $report)"
grep -E '\[rust_minimal\]' "$console" || die "no frame of rust_minimal in $console"
grep -E 'rust_minimal' "$report" || true

#!/usr/bin/env bash
# Install what the tests and the benchmark need beyond the Rust toolchain: the independent
# oracles (llvm-dwarfdump, llvm-symbolizer), binutils, gcc (with 32-bit support for i386
# fixtures), clang and ld.lld (the fixtures are built with both toolchains, as `make LLVM=1`
# does), the aarch64 and riscv64 cross binutils (arm64/riscv64 module oracles and fixtures), GNU
# make, GNU time, man and groff (the generated man pages are checked with both). Installs only
# what is missing; needs root (apt-get).
set -euo pipefail
need=()
command -v llvm-symbolizer >/dev/null || need+=(llvm)
command -v llvm-dwarfdump >/dev/null || need+=(llvm)
command -v ld >/dev/null || need+=(binutils)
command -v gcc >/dev/null || need+=(gcc)
command -v clang >/dev/null || need+=(clang)
command -v ld.lld >/dev/null || need+=(lld)
command -v aarch64-linux-gnu-ld >/dev/null || need+=(binutils-aarch64-linux-gnu)
command -v riscv64-linux-gnu-ld >/dev/null || need+=(binutils-riscv64-linux-gnu)
command -v make >/dev/null || need+=(make)
command -v xz >/dev/null || need+=(xz-utils)       # the kernel's compressors, for unpack's tests
command -v zstd >/dev/null || need+=(zstd)
command -v lz4 >/dev/null || need+=(lz4)
command -v gzip >/dev/null || need+=(gzip)
[ -x /usr/bin/time ] || need+=(time)
command -v man >/dev/null || need+=(man-db)
command -v groff >/dev/null || need+=(groff-base)
if ! echo 'int main(void){return 0;}' | gcc -m32 -x c -c -o /dev/null - 2>/dev/null; then
  need+=(gcc-multilib)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

#!/bin/sh
# Rebuilds the clang DWARF 5 relocatable objects of this directory (clang 14, ld.lld 14): two
# units merged with `ld.lld -r` like a module, with and without -gsplit-dwarf. The names are
# mapped to /usr/src/clang-fixture so the bytes do not depend on where this is run.
set -eu
cd "$(dirname "$0")"
flags="-O2 -gdwarf-5 -fno-pie -ffreestanding -fno-asynchronous-unwind-tables -fdebug-prefix-map=$PWD=/usr/src/clang-fixture"
for split in "" -gsplit-dwarf; do
	clang $flags $split -c a.c -o a.o
	clang $flags $split -c b.c -o b.o
	ld.lld -r a.o b.o -o "m${split}.ko"
	rm -f a.o b.o a.dwo b.dwo
done

//! A relocatable ELF object carrying the vmlinux tables, written directly with `object`.

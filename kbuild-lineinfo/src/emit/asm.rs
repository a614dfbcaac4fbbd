//! GNU as assembly of the vmlinux tables, for the classic `gen_lineinfo FILE > out.S` interface.

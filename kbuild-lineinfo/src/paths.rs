//! DWARF file entries → names that read like the kernel tree (FORMAT.md §2).

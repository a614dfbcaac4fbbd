//! DWARF `.debug_line` → rows (FORMAT.md §1).

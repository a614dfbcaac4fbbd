//! Layout v1 (the series' first posting, 2026-03-03): vmlinux symbols (FORMAT.md §4.1) and the
//! `.text`-only module blob `.mod_lineinfo` (FORMAT.md §4.2).

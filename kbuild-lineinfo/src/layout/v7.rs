//! Layout v7 (the series' latest posting, 2026-07-09): vmlinux symbols with the two size symbols
//! (FORMAT.md §4.1) and per-section module blobs with relocated anchors (FORMAT.md §4.3).

//! LEB128 and zig-zag (FORMAT.md §3): minimal-length writers, readers that stop after 5 bytes.

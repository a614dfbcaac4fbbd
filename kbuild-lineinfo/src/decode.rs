//! The kernel's lookup (FORMAT.md §3 and §5), on borrowed bytes.
//!
//! Mirrors the C code: malformed bytes make a lookup miss, never panic or read out of bounds.

//! The words that the writers and the readers of tables share: which [`Layout`] the bytes
//! follow, which [`Endian`] byte order their integers use, and how many entries a block holds
//! ([`BLOCK_ENTRIES`]), so that neither of `encode` and `decode` imports the other.
//!
//! A leaf: it imports nothing of the crate, so every module may use it without an arrow
//! pointing back up (object's `endian.rs` plays the same part).

use std::fmt;

/// Entries per block of the delta compression (docs/format.md §3): the kernel's
/// `LINEINFO_BLOCK_ENTRIES`, the same in every layout.
pub const BLOCK_ENTRIES: usize = 64;

/// Which posting of the kernel series the output is for (docs/format.md §3–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// The first posting (2026-03-03): zig-zag deltas, one `.text`-only module blob.
    V1,
    /// The latest posting (2026-07-09): SLEB128 deltas, size symbols, per-section module blobs.
    V7,
}

impl Layout {
    /// Every layout, oldest first.
    pub const ALL: [Layout; 2] = [Layout::V1, Layout::V7];

    /// The name used on the command line, in cache keys and in a Kbuild tree's hooks; the
    /// one place the names are spelled ([`FromStr`](std::str::FromStr) reads them back).
    pub const fn name(self) -> &'static str {
        match self {
            Layout::V1 => "v1",
            Layout::V7 => "v7",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that [`Layout::name`] does not spell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLayout(pub String);

impl fmt::Display for UnknownLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Layout::ALL.iter().map(|l| l.name()).collect();
        write!(
            f,
            "unknown layout `{}` (one of {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownLayout {}

impl std::str::FromStr for Layout {
    type Err = UnknownLayout;

    /// The layout [`Layout::name`] spells `s`.
    fn from_str(s: &str) -> Result<Layout, UnknownLayout> {
        Layout::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| UnknownLayout(s.to_string()))
    }
}

/// Byte order of the target, taken from the input ELF; every table integer uses it. Reading
/// and writing integers in it is object's [`object::Endian`] trait (the crate's `bytes` module wraps it).
pub use object::Endianness as Endian;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_read_back() {
        for layout in Layout::ALL {
            assert_eq!(layout.name().parse::<Layout>(), Ok(layout));
            assert_eq!(layout.to_string(), layout.name());
        }
        let err = "v2".parse::<Layout>().unwrap_err().to_string();
        assert_eq!(err, "unknown layout `v2` (one of v1, v7)");
    }
}

//! Entries and file names: the content of one table, before any encoding.
//!
//! A [`LineTable`] is what FORMAT.md §1 rule 5 produces: entries with strictly increasing offsets,
//! file ids assigned by first use, no unreferenced names. It knows nothing of DWARF or of bytes.

/// One table entry: from `offset` on (until the next entry), the code is at `files[file]:line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry {
    /// Offset from the table's base (`_text` for vmlinux, the section start for modules).
    pub offset: u32,
    /// Index into [`LineTable::files`].
    pub file: u32,
    /// Source line, never 0.
    pub line: u32,
}

/// The content of one table.
///
/// Invariants: `entries` offsets strictly increase; every `entry.file < files.len()`;
/// `files.len() <= 65535`; every file is referenced by at least one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTable {
    /// Entries in strictly increasing offset order.
    pub entries: Vec<Entry>,
    /// File names as printed by the kernel (no NUL inside), in id order.
    pub files: Vec<Vec<u8>>,
}

/// The largest number of file names one table may hold (file ids are 16-bit in the kernel).
pub const MAX_FILES: usize = 65535;

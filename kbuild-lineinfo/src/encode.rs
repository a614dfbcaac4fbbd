//! Block delta compression (FORMAT.md §3): [`LineTable`](crate::LineTable) → [`EncodedTable`].
//!
//! The encoder knows nothing of DWARF; it only turns entries and names into the arrays every
//! layout shares. Layouts ([`crate::layout`]) decide where the arrays go.

/// Entries per block: the kernel's `LINEINFO_BLOCK_ENTRIES`.
pub const BLOCK_ENTRIES: usize = 64;

/// The arrays of one encoded table, shared by every layout.
///
/// Invariants: `block_addrs.len() == block_offsets.len() == ceil(num_entries / 64)`;
/// `file_offsets.len()` is the number of files; `filenames` is the names back to back, each
/// NUL-terminated, and `file_offsets[i]` is where name `i` starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedTable {
    pub num_entries: u32,
    pub block_addrs: Vec<u32>,
    pub block_offsets: Vec<u32>,
    pub data: Vec<u8>,
    pub file_offsets: Vec<u32>,
    pub filenames: Vec<u8>,
}

impl EncodedTable {
    pub fn num_blocks(&self) -> u32 {
        self.block_addrs.len() as u32
    }
    pub fn num_files(&self) -> u32 {
        self.file_offsets.len() as u32
    }
}

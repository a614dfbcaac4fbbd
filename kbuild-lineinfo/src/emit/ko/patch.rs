//! What an embedding takes and gives: the [`NewSection`]s asked for, with their
//! [`AnchorReloc`]s, and the [`Patch`] that turns the module into the new file.

/// A section to add (replacing any section of the same name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSection {
    pub name: String,
    pub data: Vec<u8>,
    /// `sh_addralign`; 0 means 1. Must be a power of two.
    pub align: u64,
    /// `sh_flags`, e.g. `SHF_ALLOC`.
    pub flags: u64,
    /// Anchors to fill at load time; their bytes in `data` must be zero.
    pub relocations: Vec<AnchorReloc>,
}

impl NewSection {
    /// A section of `data` with an anchor relocation per `(offset, size, target_section)`.
    ///
    /// The anchored bytes of `data` are zeroed, as [`embed_sections`](super::embed_sections) requires; an anchor that
    /// does not fit in `data` is kept as given, for [`embed_sections`](super::embed_sections) to reject.
    pub fn with_anchors<T: Into<String>>(
        name: impl Into<String>,
        mut data: Vec<u8>,
        align: u64,
        flags: u64,
        anchors: impl IntoIterator<Item = (u64, u8, T)>,
    ) -> NewSection {
        let relocations = anchors
            .into_iter()
            .map(|(offset, size, target)| {
                let start = usize::try_from(offset).ok();
                let bytes = start.and_then(|s| data.get_mut(s..s.checked_add(usize::from(size))?));
                if let Some(bytes) = bytes {
                    bytes.fill(0);
                }
                AnchorReloc {
                    offset,
                    size,
                    target_section: target.into(),
                }
            })
            .collect();
        NewSection {
            name: name.into(),
            data,
            align,
            flags,
            relocations,
        }
    }
}

/// An absolute relocation at `offset` in a new section: the run-time address of
/// `target_section` (through its `STT_SECTION` symbol, addend 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorReloc {
    pub offset: u64,
    /// 4 or 8 bytes.
    pub size: u8,
    pub target_section: String,
}

/// The new file: the input's first `tail_offset` bytes with the first `header.len()` bytes
/// replaced by `header`, followed by `tail`.
///
/// Applied in place: write `tail` at `tail_offset` (bytes no current header field refers to),
/// then write `header` at 0 (the commit: one write inside the first page), then truncate to
/// [`Patch::len`]. Until the commit the old file is intact as ELF; after it the new one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub header: Vec<u8>,
    pub tail_offset: u64,
    pub tail: Vec<u8>,
}

impl Patch {
    /// Length of the new file.
    pub fn len(&self) -> u64 {
        self.tail_offset + self.tail.len() as u64
    }

    /// Never true: a patch always holds at least a section header table.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The whole new file, given the input it was computed from.
    pub fn image(&self, ko: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() as usize);
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&ko[self.header.len()..self.tail_offset as usize]);
        out.extend_from_slice(&self.tail);
        out
    }
}

//! Cache keys: everything that must be equal for a cached result to be reused.
//!
//! Owns the key recipe ([`Key::new`]), the version constant to bump ([`CACHE_VERSION`]) and how an
//! object file is identified ([`Identity`]: its GNU build-id, else a hash of its bytes). Reads ELF
//! notes with `object`; touches no files.

use std::fmt;

use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{elf, Endianness, FileKind};

/// Bump when the cached bytes for the same key inputs change meaning (encoder or layout fixes
/// that keep the tool version, a new entry payload, a change of the key recipe below), and with
/// the entry format (`entry.rs`), so that no entry of the old format is even read (2: xxh3; 5:
/// holes, docs/format.md §1 rule 7).
pub const CACHE_VERSION: u32 = 5;

/// A 32-byte blake3 digest naming one cache entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

/// What identifies an object file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The descriptor of its `NT_GNU_BUILD_ID` note (the linker hashed the whole output).
    BuildId(Vec<u8>),
    /// blake3 of the whole file, when it has no build-id.
    Content([u8; 32]),
}

impl Identity {
    /// The build-id of `file` if it is an ELF file that has one, else a hash of all its bytes.
    pub fn of(file: &[u8]) -> Identity {
        match build_id(file) {
            Some(id) => Identity::BuildId(id),
            None => Identity::Content(*blake3::hash(file).as_bytes()),
        }
    }
}

impl Key {
    /// The key of a result computed from one object file.
    ///
    /// Hashed inputs, in this order, each as a length-prefixed field so no two input lists
    /// give the same byte stream:
    /// 1. the domain `kbuild-lineinfo cache` and [`CACHE_VERSION`];
    /// 2. the tool version (`CARGO_PKG_VERSION`), so a new release never reuses old entries;
    /// 3. the object's [`Identity`]: `build-id` + the note descriptor, or `blake3` + the digest;
    /// 4. the layout name (`v1`, `v7`, ...);
    /// 5. every option that changes the output, as name and value, in the caller's fixed order
    ///    (srctree, objtree and any path-mapping prefix, section or symbol naming options).
    ///
    /// An option that changes output but is missing from 5. would let a stale result be reused:
    /// when adding such an option, add it to the caller's list (and bump [`CACHE_VERSION`] if the
    /// meaning of an existing input changes).
    pub fn new(identity: &Identity, layout: &str, options: &[(&str, &[u8])]) -> Key {
        let mut h = blake3::Hasher::new();
        field(&mut h, b"kbuild-lineinfo cache");
        field(&mut h, &CACHE_VERSION.to_le_bytes());
        field(&mut h, env!("CARGO_PKG_VERSION").as_bytes());
        match identity {
            Identity::BuildId(id) => (field(&mut h, b"build-id"), field(&mut h, id)),
            Identity::Content(digest) => (field(&mut h, b"blake3"), field(&mut h, digest)),
        };
        field(&mut h, layout.as_bytes());
        field(&mut h, &(options.len() as u64).to_le_bytes());
        for (name, value) in options {
            field(&mut h, name.as_bytes());
            field(&mut h, value);
        }
        Key(*h.finalize().as_bytes())
    }

    /// The digest bytes (stored in each entry's header).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex of the digest: the entry's file name.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.to_hex())
    }
}

fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The GNU build-id of an ELF file: the descriptor of the first `NT_GNU_BUILD_ID` note in any
/// `SHT_NOTE` section (`.note.gnu.build-id`, or vmlinux's merged `.notes`), else in any
/// `PT_NOTE` segment. `None` for non-ELF input, an empty descriptor or no such note; malformed
/// note sections are skipped, never an error.
pub fn build_id(elf: &[u8]) -> Option<Vec<u8>> {
    let id = match FileKind::parse(elf).ok()? {
        FileKind::Elf32 => notes_build_id::<elf::FileHeader32<Endianness>>(elf),
        FileKind::Elf64 => notes_build_id::<elf::FileHeader64<Endianness>>(elf),
        _ => None,
    }?;
    (!id.is_empty()).then(|| id.to_vec())
}

fn notes_build_id<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<&[u8]> {
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    if let Ok(sections) = header.sections(endian, data) {
        for section in sections.iter() {
            if let Ok(Some(notes)) = section.notes(endian, data) {
                if let Some(id) = find_build_id(notes, endian) {
                    return Some(id);
                }
            }
        }
    }
    for segment in header.program_headers(endian, data).ok()? {
        if let Ok(Some(notes)) = segment.notes(endian, data) {
            if let Some(id) = find_build_id(notes, endian) {
                return Some(id);
            }
        }
    }
    None
}

fn find_build_id<'d, Elf: FileHeader<Endian = Endianness>>(
    mut notes: object::read::elf::NoteIterator<'d, Elf>,
    endian: Endianness,
) -> Option<&'d [u8]> {
    while let Ok(Some(note)) = notes.next() {
        if note.name() == elf::ELF_NOTE_GNU && note.n_type(endian) == elf::NT_GNU_BUILD_ID {
            return Some(note.desc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_changes_the_key() {
        let id = Identity::BuildId(vec![1, 2, 3]);
        let base = Key::new(&id, "v7", &[("srctree", b"/src")]);
        assert_eq!(
            base,
            Key::new(&id, "v7", &[("srctree", b"/src")]),
            "deterministic"
        );
        let others = [
            Key::new(
                &Identity::BuildId(vec![1, 2, 4]),
                "v7",
                &[("srctree", b"/src")],
            ),
            Key::new(&id, "v1", &[("srctree", b"/src")]),
            Key::new(&id, "v7", &[("srctree", b"/src2")]),
            Key::new(&id, "v7", &[("objtree", b"/src")]),
            Key::new(&id, "v7", &[]),
            Key::new(&Identity::Content([0; 32]), "v7", &[("srctree", b"/src")]),
        ];
        for other in others {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn fields_are_length_prefixed() {
        // Shifting a byte from one field to the next must not collide.
        let id = Identity::BuildId(vec![9]);
        let a = Key::new(&id, "v7", &[("ab", b"c")]);
        let b = Key::new(&id, "v7", &[("a", b"bc")]);
        assert_ne!(a, b);
    }

    #[test]
    fn non_elf_input_is_identified_by_content() {
        assert_eq!(build_id(b"not an elf file"), None);
        let Identity::Content(digest) = Identity::of(b"abc") else {
            panic!("expected a hash")
        };
        assert_eq!(digest, *blake3::hash(b"abc").as_bytes());
    }

    #[test]
    fn hex_names_the_digest() {
        let key = Key([0xab; 32]);
        assert_eq!(key.to_hex(), "ab".repeat(32));
    }
}

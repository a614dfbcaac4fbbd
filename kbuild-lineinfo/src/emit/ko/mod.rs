//! Embedding new sections into a kernel module (`.ko`, `ET_REL`) without disturbing anything
//! else: the `.mod_lineinfo` blobs of docs/format.md §4.2 and §4.3 and their anchor relocations.
//!
//! [`embed_sections`] is pure: it reads the module's bytes and returns a [`Patch`] that a caller
//! can apply *in place* with one commit write, or [`Embedded::UpToDate`] when the module already
//! holds exactly the requested sections (so an incremental build never rewrites it).
//!
//! Nothing that exists is moved or changed. Every kept section keeps its header bytes, its index
//! and its data at the same file offset; the only exception is `.shstrtab`, which is rewritten
//! (old bytes first, so every existing `sh_name` stays valid) when a new name is needed. New
//! section data, relocation sections, the name table and a new section header table go into a
//! *tail*, and the ELF header's `e_shoff`/`e_shnum` switch the file over to it. Sections being
//! replaced hand their index to the new section of the same name, so symbols that point at them
//! stay correct and a replacement keeps the file the same shape; the tail goes right after the
//! kept bytes when that space is not referenced by the current header, else after the file's
//! live end, so alternating replacements keep the file within two tails of its kept size.
//!
//! Anchors are relocated against the target section's `STT_SECTION` symbol. When `.symtab` has
//! none, that is an error: adding one would renumber every symbol of every relocation section.
//! The modules: `raw` (ELF fields), `module` (a parsed view), `anchor` (relocation types
//! per machine, and the relocation sections of the new sections), `patch` (what goes in and
//! what comes out), `plan` (the new layout).

mod anchor;
mod module;
mod patch;
mod plan;
pub(super) mod raw;

use crate::error::Result;
use anchor::Relocs;
use module::Module;
pub use patch::{AnchorReloc, NewSection, Patch};
use raw::{effective_align, invalid, SHF_INFO_LINK, SHT_PROGBITS};

/// What [`embed_sections`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Embedded {
    /// The module already holds exactly the requested sections. Its referenced bytes end at
    /// `len`; a longer file carries bytes left by an interrupted update, safe to truncate.
    UpToDate { len: u64 },
    /// The module needs the change described by the patch.
    Update(Patch),
}

impl Embedded {
    /// The whole new file, given the input it was computed from.
    pub fn image(&self, ko: &[u8]) -> Vec<u8> {
        match self {
            Embedded::UpToDate { len } => ko[..*len as usize].to_vec(),
            Embedded::Update(patch) => patch.image(ko),
        }
    }
}

/// Adds `new` to the module `ko`, dropping sections named in `remove` or in `new` (and the
/// relocation sections that apply to them).
///
/// Errors name the problem: not an `ET_REL` ELF, a signed module, an unknown machine, a missing
/// target section or section symbol, anchors out of range, a removed section still used.
pub fn embed_sections(ko: &[u8], new: &[NewSection], remove: &[&str]) -> Result<Embedded> {
    let module = Module::parse(ko)?;
    check_new(new)?;
    let relocs = Relocs::compute(&module, new)?;
    if up_to_date(&module, new, remove, &relocs) {
        return Ok(Embedded::UpToDate {
            len: module.live_end(),
        });
    }
    plan::build(&module, new, remove, &relocs).map(Embedded::Update)
}

fn check_new(new: &[NewSection]) -> Result<()> {
    for (k, s) in new.iter().enumerate() {
        let bad = |msg: String| Err(invalid(msg).at(s.name.clone()));
        if s.name.is_empty() || s.name.contains('\0') {
            return bad(format!(
                "new section {k}: name must be non-empty without NUL"
            ));
        }
        if new[..k].iter().any(|t| t.name == s.name) {
            return bad("section requested twice".into());
        }
        if !effective_align(s.align).is_power_of_two() {
            return bad(format!("alignment {} is not a power of two", s.align));
        }
        for r in &s.relocations {
            let end = r
                .offset
                .checked_add(u64::from(r.size))
                .filter(|&e| e <= s.data.len() as u64);
            let Some(end) = end else {
                return bad(format!(
                    "anchor at {:#x} size {} beyond {} bytes",
                    r.offset,
                    r.size,
                    s.data.len()
                ));
            };
            if s.data[r.offset as usize..end as usize]
                .iter()
                .any(|&b| b != 0)
            {
                return bad(format!(
                    "anchor bytes at {:#x} are not zero (REL addend)",
                    r.offset
                ));
            }
        }
    }
    Ok(())
}

/// True when every new section exists once with exactly these header fields, bytes and
/// relocations, and no section named in `remove` is left.
fn up_to_date(m: &Module, new: &[NewSection], remove: &[&str], relocs: &Relocs) -> bool {
    let removed_gone = remove
        .iter()
        .all(|name| new.iter().any(|s| s.name == *name) || m.find(name).is_empty());
    removed_gone
        && new
            .iter()
            .zip(&relocs.bytes)
            .all(|(s, bytes)| section_matches(m, s, bytes, relocs))
}

fn section_matches(m: &Module, s: &NewSection, bytes: &[u8], relocs: &Relocs) -> bool {
    let Ok(index) = m.find_unique(&s.name) else {
        return false;
    };
    let h = &m.sections[index].header;
    let header_ok = (
        h.kind,
        h.flags,
        h.addr,
        h.link,
        h.info,
        h.addralign,
        h.entsize,
    ) == (SHT_PROGBITS, s.flags, 0, 0, 0, effective_align(s.align), 0);
    if !header_ok || m.data_of(index) != s.data.as_slice() {
        return false;
    }
    match (&m.relocations_for(index)[..], relocs.format) {
        ([], _) => bytes.is_empty(),
        (&[r], Some(f)) => {
            let sec = &m.sections[r];
            let h = &sec.header;
            sec.name == relocs.section_name(&s.name).as_bytes()
                && (
                    h.kind,
                    h.flags,
                    h.addr,
                    h.link as usize,
                    h.addralign,
                    h.entsize,
                ) == (
                    f.section_type(),
                    SHF_INFO_LINK,
                    0,
                    m.symtab,
                    m.class().word(),
                    f.entry_size(),
                )
                && m.data_of(r) == bytes
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;

//! The new layout of a module: which section goes in which header slot, the section name table,
//! and the tail (new section bytes, relocations, names, section header table) with its offset.
//!
//! Slots of kept sections never change index, so no `sh_link`, `sh_info` or symbol needs
//! renumbering. A dropped section's slot goes to the new section of the same name; dropped slots
//! at the end of the table are cut, and any other unused one becomes an all-zero `SHT_NULL`.
use super::anchor::Relocs;
use super::module::Module;
use super::patch::{NewSection, Patch};
use super::raw::{
    effective_align, invalid, SectionHeader, SHF_INFO_LINK, SHN_LORESERVE, SHT_PROGBITS, SHT_REL,
    SHT_RELA,
};
use crate::error::Result;
use std::collections::HashSet;

/// What one section header slot of the new file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Input section `i`, unchanged.
    Keep(usize),
    /// Input section `i` is dropped; the slot is not assigned yet.
    Free(usize),
    /// New section `k`.
    New(usize),
    /// The relocation section of new section `k`.
    Rel(usize),
    /// An unused slot: an all-zero header.
    Null,
}

/// Inputs shared by the planning steps.
struct Plan<'m, 'a> {
    m: &'m Module<'a>,
    new: &'m [NewSection],
    relocs: &'m Relocs,
    slots: Vec<Slot>,
    /// `sh_name` of each slot (used for `New` and `Rel` slots).
    names: Vec<u32>,
    /// The rewritten `.shstrtab`, when a name had to be added.
    shstrtab: Option<Vec<u8>>,
}

pub(super) fn build(
    m: &Module,
    new: &[NewSection],
    remove: &[&str],
    relocs: &Relocs,
) -> Result<Patch> {
    let dropped = dropped_sections(m, new, remove)?;
    let slots = assign_slots(m, new, relocs, &dropped);
    let mut plan = Plan {
        m,
        new,
        relocs,
        names: Vec::new(),
        shstrtab: None,
        slots,
    };
    if dropped.iter().any(|&d| d) {
        plan.check_symbols(&dropped)?;
    }
    plan.name_slots()?;
    let low = plan.kept_end();
    let (mut offset, mut tail) = (low, plan.tail(low)?);
    let end = low + tail.0.len() as u64;
    if m.live_ranges().iter().any(|&(s, e)| s < end && low < e) {
        offset = m.live_end();
        tail = plan.tail(offset)?;
    }
    let (bytes, shoff) = tail;
    let count = plan.slots.len() as u64;
    let shnum = if count >= u64::from(SHN_LORESERVE) {
        0
    } else {
        count as u16
    };
    let header = m.header.rewrite(m.data, shoff, shnum, m.header.shstrndx);
    Ok(Patch {
        header,
        tail_offset: offset,
        tail: bytes,
    })
}

/// Sections named in `remove` or `new`, and the relocation sections applying to them.
fn dropped_sections(m: &Module, new: &[NewSection], remove: &[&str]) -> Result<Vec<bool>> {
    let names: HashSet<&[u8]> = remove
        .iter()
        .map(|n| n.as_bytes())
        .chain(new.iter().map(|s| s.name.as_bytes()))
        .collect();
    let n = m.sections.len();
    let mut drop: Vec<bool> = m.sections.iter().map(|s| names.contains(s.name)).collect();
    drop[0] = false;
    for i in 1..n {
        let h = &m.sections[i].header;
        if matches!(h.kind, SHT_REL | SHT_RELA) && drop.get(h.info as usize) == Some(&true) {
            drop[i] = true;
        }
    }
    let vital = [
        m.symtab,
        m.shstrndx,
        m.sections[m.symtab].header.link as usize,
    ];
    for i in (1..n).filter(|&i| drop[i]) {
        if vital.contains(&i) {
            return Err(invalid(format!(
                "cannot remove `{}`",
                show(m.sections[i].name)
            )));
        }
    }
    for i in (1..n).filter(|&i| !drop[i]) {
        let h = &m.sections[i].header;
        let info = if h.flags & SHF_INFO_LINK != 0 {
            h.info as usize
        } else {
            0
        };
        for j in [h.link as usize, info] {
            if j != 0 && drop.get(j) == Some(&true) {
                let (a, b) = (show(m.sections[i].name), show(m.sections[j].name));
                return Err(invalid(format!(
                    "section `{a}` refers to removed section `{b}`"
                )));
            }
        }
    }
    Ok(drop)
}

fn assign_slots(m: &Module, new: &[NewSection], relocs: &Relocs, drop: &[bool]) -> Vec<Slot> {
    let mut slots: Vec<Slot> = (0..drop.len())
        .map(|i| {
            if drop[i] {
                Slot::Free(i)
            } else {
                Slot::Keep(i)
            }
        })
        .collect();
    let mut pending = Vec::new();
    for (k, s) in new.iter().enumerate() {
        let mut wanted = vec![(Slot::New(k), s.name.clone())];
        if !relocs.bytes[k].is_empty() {
            wanted.push((Slot::Rel(k), relocs.section_name(&s.name)));
        }
        for (slot, name) in wanted {
            let free = slots
                .iter()
                .position(|x| matches!(x, Slot::Free(i) if m.sections[*i].name == name.as_bytes()));
            match free {
                Some(p) => slots[p] = slot,
                None => pending.push(slot),
            }
        }
    }
    while matches!(slots.last(), Some(Slot::Free(_))) {
        slots.pop();
    }
    slots.extend(pending);
    slots
        .iter()
        .map(|&s| if let Slot::Free(_) = s { Slot::Null } else { s })
        .collect()
}

impl Plan<'_, '_> {
    fn slot_name(&self, slot: Slot) -> Option<String> {
        match slot {
            Slot::New(k) => Some(self.new[k].name.clone()),
            Slot::Rel(k) => Some(self.relocs.section_name(&self.new[k].name)),
            _ => None,
        }
    }

    /// A symbol may point at a dropped section only if a section of the same name takes its slot.
    fn check_symbols(&self, drop: &[bool]) -> Result<()> {
        let m = self.m;
        for (n, (_, index)) in m.symbols()?.iter().enumerate() {
            let i = *index as usize;
            if drop.get(i) != Some(&true) {
                continue;
            }
            let successor = self.slots.get(i).and_then(|&s| self.slot_name(s));
            if successor.as_deref().map(str::as_bytes) != Some(m.sections[i].name) {
                let name = show(m.sections[i].name);
                return Err(invalid(format!(
                    "symbol {n} is defined in removed section `{name}`"
                )));
            }
        }
        Ok(())
    }

    /// Finds or appends each new name in the section name table.
    fn name_slots(&mut self) -> Result<()> {
        let old = self.m.data_of(self.m.shstrndx);
        let mut table = old.to_vec();
        self.names = vec![0; self.slots.len()];
        for (i, &slot) in self.slots.iter().enumerate() {
            let Some(name) = self.slot_name(slot) else {
                continue;
            };
            let offset = find_name(&table, name.as_bytes()).unwrap_or_else(|| {
                table.extend_from_slice(name.as_bytes());
                table.push(0);
                table.len() - name.len() - 1
            });
            self.names[i] = u32::try_from(offset)
                .map_err(|_| invalid(format!("section name table exceeds 4 GiB at `{name}`")))?;
        }
        self.shstrtab = (table.len() != old.len()).then_some(table);
        Ok(())
    }

    /// End of the bytes the new file keeps from the input.
    fn kept_end(&self) -> u64 {
        let m = self.m;
        let mut end = m.class().ehdr_size();
        let h = &m.header;
        if h.phnum > 0 {
            end = end.max(h.phoff + u64::from(h.phnum) * u64::from(h.phentsize));
        }
        for slot in &self.slots {
            if let Slot::Keep(i) = *slot {
                let moved = i == m.shstrndx && self.shstrtab.is_some();
                if let (false, Some((_, e))) = (moved, m.sections[i].header.file_range()) {
                    end = end.max(e);
                }
            }
        }
        end
    }

    /// The tail placed at file offset `base`, and the offset of its section header table.
    /// A flat sequential writer: data, relocations, names, then headers.
    fn tail(&self, base: u64) -> Result<(Vec<u8>, u64)> {
        let c = self.m.class();
        let mut out = Vec::new();
        let mut placed = vec![(0u64, 0u64); self.slots.len()];
        let place = |out: &mut Vec<u8>, align: u64, bytes: &[u8]| {
            pad_to(out, base, align);
            let at = base + out.len() as u64;
            out.extend_from_slice(bytes);
            (at, bytes.len() as u64)
        };
        for (i, &slot) in self.slots.iter().enumerate() {
            placed[i] = match slot {
                Slot::New(k) => place(
                    &mut out,
                    effective_align(self.new[k].align),
                    &self.new[k].data,
                ),
                Slot::Rel(k) => place(&mut out, c.word(), &self.relocs.bytes[k]),
                _ => continue,
            };
        }
        let strtab = self.shstrtab.as_deref().map(|t| place(&mut out, 1, t));
        pad_to(&mut out, base, c.word());
        let shoff = base + out.len() as u64;
        for (i, &slot) in self.slots.iter().enumerate() {
            let header = self.slot_header(i, slot, placed[i], strtab);
            out.extend_from_slice(&header);
        }
        if !c.is64 && base + out.len() as u64 > u64::from(u32::MAX) {
            return Err(invalid("the new ELF32 file would exceed 4 GiB"));
        }
        Ok((out, shoff))
    }

    fn slot_header(
        &self,
        i: usize,
        slot: Slot,
        at: (u64, u64),
        strtab: Option<(u64, u64)>,
    ) -> Vec<u8> {
        let c = self.m.class();
        let blank = SectionHeader {
            name: self.names[i],
            kind: 0,
            flags: 0,
            addr: 0,
            offset: at.0,
            size: at.1,
            link: 0,
            info: 0,
            addralign: 0,
            entsize: 0,
        };
        match slot {
            Slot::Keep(0) => self.null_header(),
            Slot::Keep(j) if j == self.m.shstrndx && strtab.is_some() => {
                let (offset, size) = strtab.unwrap_or_default();
                SectionHeader {
                    offset,
                    size,
                    ..self.m.sections[j].header.clone()
                }
                .write(c)
            }
            Slot::Keep(j) => self.m.sections[j].raw.to_vec(),
            Slot::New(k) => {
                let s = &self.new[k];
                let align = effective_align(s.align);
                SectionHeader {
                    kind: SHT_PROGBITS,
                    flags: s.flags,
                    addralign: align,
                    ..blank
                }
                .write(c)
            }
            Slot::Rel(k) => {
                let Some(f) = self.relocs.format else {
                    return vec![0; c.shdr_size() as usize];
                };
                let target = self
                    .slots
                    .iter()
                    .position(|&s| s == Slot::New(k))
                    .unwrap_or(0);
                SectionHeader {
                    kind: f.section_type(),
                    flags: SHF_INFO_LINK,
                    link: self.m.symtab as u32,
                    info: target as u32,
                    addralign: c.word(),
                    entsize: f.entry_size(),
                    ..blank
                }
                .write(c)
            }
            Slot::Free(_) | Slot::Null => vec![0; c.shdr_size() as usize],
        }
    }

    /// Section 0, carrying the section count when it does not fit `e_shnum`.
    fn null_header(&self) -> Vec<u8> {
        let m = self.m;
        let count = self.slots.len() as u64;
        let mut h = m.sections[0].header.clone();
        if count >= u64::from(SHN_LORESERVE) {
            h.size = count;
        } else if m.header.shnum == 0 {
            h.size = 0;
        } else {
            return m.sections[0].raw.to_vec();
        }
        h.write(m.class())
    }
}

/// Offset of `name` followed by NUL anywhere in the table (suffixes of longer names count).
fn find_name(table: &[u8], name: &[u8]) -> Option<usize> {
    table
        .windows(name.len() + 1)
        .position(|w| &w[..name.len()] == name && w[name.len()] == 0)
}

/// Pads `out` (which starts at file offset `base`) with zeros to a multiple of `align`.
fn pad_to(out: &mut Vec<u8>, base: u64, align: u64) {
    let at = base + out.len() as u64;
    let padded = at.div_ceil(align) * align;
    out.resize(out.len() + (padded - at) as usize, 0);
}

fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_as_suffixes_and_need_a_terminator() {
        let t = b"\0.text\0.rela.mod_lineinfo\0.mod_lineinf";
        assert_eq!(find_name(t, b".text"), Some(1));
        assert_eq!(find_name(t, b".mod_lineinfo"), Some(12));
        assert_eq!(find_name(t, b".init.text"), None);
        assert_eq!(find_name(b"\0.mod_lineinf", b".mod_lineinf"), None);
    }

    #[test]
    fn padding_is_relative_to_the_file_offset() {
        let mut out = vec![1];
        pad_to(&mut out, 6, 8); // file offset 7 → 8
        assert_eq!(out, [1, 0]);
        pad_to(&mut out, 6, 8);
        assert_eq!(out.len(), 2);
    }
}

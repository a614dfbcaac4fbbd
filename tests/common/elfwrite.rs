//! A minimal ELF executable writer for synthetic inputs: ELF32 or ELF64,
//! either byte order, `ET_EXEC`, one `PT_LOAD` per allocated section,
//! arbitrary extra (debug) sections, a symbol table. Written by hand so that
//! the test controls every byte the tool reads (object's writers target
//! relocatable files).

/// The non-empty sections that `gimli::write` makes of `dwarf`, as (name, bytes), ready to be
/// [`OutSection`]s of a synthetic file.
pub fn dwarf_sections(
    dwarf: &mut gimli::write::Dwarf,
    endian: gimli::RunTimeEndian,
) -> Vec<(String, Vec<u8>)> {
    let mut sections = gimli::write::Sections::new(gimli::write::EndianVec::new(endian));
    dwarf.write(&mut sections).expect("gimli write");
    let mut out = Vec::new();
    sections
        .for_each(|id, data| -> Result<(), ()> {
            if !data.slice().is_empty() {
                out.push((id.name().to_string(), data.slice().to_vec()));
            }
            Ok(())
        })
        .expect("collect sections");
    out
}

/// Target description for the file header.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub name: &'static str,
    pub is_64: bool,
    pub big_endian: bool,
    pub e_machine: u16,
}

pub const X86_64: Target = Target {
    name: "x86-64",
    is_64: true,
    big_endian: false,
    e_machine: 62,
};
pub const S390X: Target = Target {
    name: "s390x",
    is_64: true,
    big_endian: true,
    e_machine: 22,
};
pub const I386: Target = Target {
    name: "i386",
    is_64: false,
    big_endian: false,
    e_machine: 3,
};
pub const PPC32: Target = Target {
    name: "ppc",
    is_64: false,
    big_endian: true,
    e_machine: 20,
};

pub const SHT_PROGBITS: u32 = 1;
pub const SHF_ALLOC: u64 = 2;
pub const SHF_EXECINSTR: u64 = 4;
pub const STT_NOTYPE: u8 = 0;
pub const STT_FUNC: u8 = 2;

/// A section to write; `addr != 0` with SHF_ALLOC gets a PT_LOAD.
#[derive(Clone, Debug)]
pub struct OutSection {
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub addr: u64,
    pub align: u64,
    pub data: Vec<u8>,
}

impl OutSection {
    /// A non-allocated `SHT_PROGBITS` section, as debug sections are.
    pub fn debug(name: String, data: Vec<u8>) -> OutSection {
        OutSection {
            name,
            sh_type: SHT_PROGBITS,
            flags: 0,
            addr: 0,
            align: 1,
            data,
        }
    }
}

/// A symbol defined in section `section` (index into the section list).
#[derive(Clone, Debug)]
pub struct OutSymbol {
    pub name: String,
    pub value: u64,
    pub section: usize,
    pub st_type: u8,
    pub global: bool,
}

struct Buf {
    bytes: Vec<u8>,
    t: Target,
}

impl Buf {
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        let b = if self.t.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend(b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.t.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend(b);
    }
    fn u64(&mut self, v: u64) {
        let b = if self.t.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend(b);
    }
    /// An address-sized word.
    fn word(&mut self, v: u64) {
        if self.t.is_64 {
            self.u64(v);
        } else {
            self.u32(u32::try_from(v).expect("ELF32 value fits in 32 bits"));
        }
    }
    fn align(&mut self, a: usize) {
        while !self.bytes.len().is_multiple_of(a) {
            self.bytes.push(0);
        }
    }
}

/// Name tables: offset of each added name.
fn strtab(names: impl Iterator<Item = String>) -> (Vec<u8>, Vec<u32>) {
    let mut data = vec![0u8];
    let mut offs = Vec::new();
    for n in names {
        offs.push(data.len() as u32);
        data.extend(n.as_bytes());
        data.push(0);
    }
    (data, offs)
}

/// Writes the whole file. Sections are numbered from 1 in `sections` order;
/// `.symtab`, `.strtab`, `.shstrtab` follow. Locals are sorted first.
/// A flat sequential writer, long by nature.
pub fn write_exec(t: Target, sections: &[OutSection], symbols: &[OutSymbol]) -> Vec<u8> {
    let mut syms: Vec<&OutSymbol> = symbols.iter().collect();
    syms.sort_by_key(|s| s.global);
    let first_global = 1 + syms.iter().filter(|s| !s.global).count() as u32;
    let (strtab_data, sym_names) = strtab(syms.iter().map(|s| s.name.clone()));
    let extra = [".symtab", ".strtab", ".shstrtab"];
    let (shstr_data, sec_names) = strtab(
        sections
            .iter()
            .map(|s| s.name.clone())
            .chain(extra.map(String::from)),
    );

    let (ehsize, phentsize, shentsize, symentsize) = if t.is_64 {
        (64, 56, 64, 24)
    } else {
        (52, 32, 40, 16)
    };
    let loads: Vec<usize> = (0..sections.len())
        .filter(|&i| sections[i].flags & SHF_ALLOC != 0 && sections[i].addr != 0)
        .collect();

    // Section contents after the headers, then the symbol table and names.
    let mut b = Buf {
        bytes: vec![0; ehsize + phentsize * loads.len()],
        t,
    };
    let mut offsets = Vec::new();
    for s in sections {
        // Keep file offset congruent to the address modulo the page size.
        if s.addr != 0 {
            while (b.bytes.len() as u64) % 0x1000 != s.addr % 0x1000 {
                b.u8(0);
            }
        } else {
            b.align(s.align.max(1) as usize);
        }
        offsets.push(b.bytes.len() as u64);
        b.bytes.extend(&s.data);
    }
    b.align(if t.is_64 { 8 } else { 4 });
    let symtab_off = b.bytes.len() as u64;
    b.bytes.extend(std::iter::repeat_n(0u8, symentsize));
    for (s, &name) in syms.iter().zip(&sym_names) {
        let info = (u8::from(s.global) << 4) | s.st_type;
        let shndx = u16::try_from(s.section + 1).expect("few sections");
        if t.is_64 {
            b.u32(name);
            b.u8(info);
            b.u8(0);
            b.u16(shndx);
            b.u64(s.value);
            b.u64(0);
        } else {
            b.u32(name);
            b.word(s.value);
            b.u32(0);
            b.u8(info);
            b.u8(0);
            b.u16(shndx);
        }
    }
    let symtab_size = b.bytes.len() as u64 - symtab_off;
    let strtab_off = b.bytes.len() as u64;
    b.bytes.extend(&strtab_data);
    let shstr_off = b.bytes.len() as u64;
    b.bytes.extend(&shstr_data);
    b.align(8);
    let shoff = b.bytes.len() as u64;

    // Section headers: null, given sections, .symtab, .strtab, .shstrtab.
    let n = sections.len() as u32;
    let (symtab_idx, strtab_idx, shstr_idx) = (n + 1, n + 2, n + 3);
    let sh = |b: &mut Buf,
              name: u32,
              ty: u32,
              flags: u64,
              addr: u64,
              off: u64,
              size: u64,
              link: u32,
              info: u32,
              align: u64,
              entsize: u64| {
        b.u32(name);
        b.u32(ty);
        b.word(flags);
        b.word(addr);
        b.word(off);
        b.word(size);
        b.u32(link);
        b.u32(info);
        b.word(align);
        b.word(entsize);
    };
    sh(&mut b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    for (i, s) in sections.iter().enumerate() {
        let size = s.data.len() as u64;
        sh(
            &mut b,
            sec_names[i],
            s.sh_type,
            s.flags,
            s.addr,
            offsets[i],
            size,
            0,
            0,
            s.align,
            0,
        );
    }
    let k = sections.len();
    sh(
        &mut b,
        sec_names[k],
        2,
        0,
        0,
        symtab_off,
        symtab_size,
        strtab_idx,
        first_global,
        if t.is_64 { 8 } else { 4 },
        symentsize as u64,
    );
    sh(
        &mut b,
        sec_names[k + 1],
        3,
        0,
        0,
        strtab_off,
        strtab_data.len() as u64,
        0,
        0,
        1,
        0,
    );
    sh(
        &mut b,
        sec_names[k + 2],
        3,
        0,
        0,
        shstr_off,
        shstr_data.len() as u64,
        0,
        0,
        1,
        0,
    );

    // Program headers.
    let mut ph = Buf {
        bytes: Vec::new(),
        t,
    };
    for &i in &loads {
        let s = &sections[i];
        let size = s.data.len() as u64;
        let flags = 4 | if s.flags & SHF_EXECINSTR != 0 { 1 } else { 0 };
        if t.is_64 {
            ph.u32(1);
            ph.u32(flags);
            ph.u64(offsets[i]);
            ph.u64(s.addr);
            ph.u64(s.addr);
            ph.u64(size);
            ph.u64(size);
            ph.u64(0x1000);
        } else {
            ph.u32(1);
            ph.word(offsets[i]);
            ph.word(s.addr);
            ph.word(s.addr);
            ph.word(size);
            ph.word(size);
            ph.u32(flags);
            ph.word(0x1000);
        }
    }

    // File header.
    let entry = loads.first().map_or(0, |&i| sections[i].addr);
    let mut h = Buf {
        bytes: Vec::new(),
        t,
    };
    h.bytes.extend([0x7f, b'E', b'L', b'F']);
    h.u8(if t.is_64 { 2 } else { 1 });
    h.u8(if t.big_endian { 2 } else { 1 });
    h.u8(1);
    h.bytes.extend([0; 9]);
    h.u16(2); // ET_EXEC
    h.u16(t.e_machine);
    h.u32(1);
    h.word(entry);
    h.word(if loads.is_empty() { 0 } else { ehsize as u64 });
    h.word(shoff);
    h.u32(0);
    h.u16(ehsize as u16);
    h.u16(phentsize as u16);
    h.u16(loads.len() as u16);
    h.u16(shentsize as u16);
    h.u16((sections.len() + 4) as u16);
    h.u16(shstr_idx as u16);
    assert_eq!(h.bytes.len(), ehsize);
    b.bytes[..ehsize].copy_from_slice(&h.bytes);
    b.bytes[ehsize..ehsize + ph.bytes.len()].copy_from_slice(&ph.bytes);
    let _ = symtab_idx;
    b.bytes
}

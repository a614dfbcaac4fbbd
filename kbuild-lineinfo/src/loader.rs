//! Where the module loader puts a module's code (Linux 6.12, `kernel/module/main.c`), as far as
//! it is known at build time. Which code sections each table layout covers, and where, is
//! `layout/sections.rs`'s; these are the loader's own rules, which it builds on:
//!
//! * `module_init_layout_section()`: a section whose name starts with `.init` is init memory
//!   (freed after init), and so is one starting with `.exit` when `CONFIG_MODULE_UNLOAD` is off
//!   (ARM adds `.ARM.extab.init`/`.ARM.exidx.init` and the `exit` twins; PowerPC64 has no init
//!   sections at all).
//! * `layout_sections()`: core text memory (`MOD_TEXT`) is filled with every section whose
//!   flags hold `SHF_ALLOC | SHF_EXECINSTR` and that is not init, in section-header order, each
//!   at `ALIGN(size so far, sh_addralign ?: 1)` (`module_get_offset_and_type()`).
//! * Before that, `module_frob_arch_sections()` rewrites some headers: the PLT sections of
//!   AArch64, ARM, RISC-V and LoongArch become `SHF_ALLOC | SHF_EXECINSTR` with a size counted at
//!   load time (`arch/arm64/kernel/module-plts.c`, …); AArch64's `.text.ftrace_trampoline` gets a
//!   fixed size (`NR_FTRACE_PLTS` (1) × 12 bytes, aligned 4); RISC-V's `.got`/`.got.plt` and
//!   LoongArch's `.got`/`.plt.idx` become non-executable; s390 reserves its GOT and PLT at the
//!   start of `MOD_TEXT` (size known at load time) before any section is placed.

use object::elf::Machine;
use object::{Object, ObjectSection, SectionFlags};

use crate::input::Input;

/// Facts about the kernel that change where the loader puts sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoaderConfig {
    /// `CONFIG_MODULE_UNLOAD`: when off, `.exit*` sections are init memory.
    pub module_unload: bool,
}

impl Default for LoaderConfig {
    /// `CONFIG_MODULE_UNLOAD=y`, what the series assumes (and every distribution kernel has).
    fn default() -> Self {
        LoaderConfig {
            module_unload: true,
        }
    }
}

/// `module_init_layout_section()` of 6.12 for `e_machine`.
pub fn is_init_layout_section(name: &str, e_machine: Machine, config: LoaderConfig) -> bool {
    use object::elf::{EM_ARM, EM_PPC64};
    let (init, exit) = match e_machine {
        EM_PPC64 => (false, name.starts_with(".exit")),
        EM_ARM => (
            [".init", ".ARM.extab.init", ".ARM.exidx.init"]
                .iter()
                .any(|p| name.starts_with(p)),
            [".exit", ".ARM.extab.exit", ".ARM.exidx.exit"]
                .iter()
                .any(|p| name.starts_with(p)),
        ),
        _ => (name.starts_with(".init"), name.starts_with(".exit")),
    };
    init || (exit && !config.module_unload)
}

/// An allocated section as the loader reads its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSection {
    pub name: String,
    /// ELF section index.
    pub index: usize,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// `sh_size`.
    pub size: u64,
}

/// What blocks v1 placement: the section (or loader reservation) whose size only the loader
/// knows, placed in text memory before the sections that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// `.plt`, or a description such as `the GOT/PLT s390 reserves`.
    pub what: String,
}

/// The module's core text memory (`MOD_TEXT`) as far as it is known at build time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextMemory {
    /// (section index, offset in text memory) of every section placed before the first
    /// [`Blocker`], in placement order.
    pub placed: Vec<(usize, u64)>,
    /// The first section whose size the loader sets at load time, if any.
    pub blocker: Option<Blocker>,
}

impl TextMemory {
    /// The text-memory offset of section `index`, when known.
    pub fn offset_of(&self, index: usize) -> Option<u64> {
        self.placed
            .iter()
            .find(|(i, _)| *i == index)
            .map(|&(_, o)| o)
    }
}

/// A section header as `module_frob_arch_sections()` leaves it: the flags, alignment and size
/// the loader will use, `None` size when it is counted at load time.
fn frob(s: &LoadSection, e_machine: Machine) -> (u64, u64, Option<u64>) {
    use object::elf::*;
    let alloc_exec = SHF_ALLOC.0 | SHF_EXECINSTR.0;
    let alloc = SHF_ALLOC.0;
    let name = s.name.as_str();
    match (e_machine, name) {
        (EM_AARCH64, ".plt" | ".init.plt") => (alloc_exec, 64, None),
        // NR_FTRACE_PLTS (1) × sizeof(struct plt_entry) (3 u32), aligned as a u32.
        (EM_AARCH64, ".text.ftrace_trampoline" | ".init.text.ftrace_trampoline") => {
            (alloc_exec, 4, Some(12))
        }
        (EM_ARM | EM_RISCV | EM_LOONGARCH, ".plt" | ".init.plt") => (alloc_exec, 64, None),
        (EM_LOONGARCH, ".ftrace_trampoline") => (alloc_exec, 8, None),
        (EM_RISCV, ".got" | ".got.plt") | (EM_LOONGARCH, ".got" | ".plt.idx") => (alloc, 64, None),
        // Sized by the loader; the flags stay the file's.
        (EM_PPC64, ".stubs") | (EM_PPC, ".plt" | ".init.plt") => (s.flags, s.align, None),
        _ => (s.flags, s.align, Some(s.size)),
    }
}

/// Lays out core text memory as `layout_sections()` does, up to the first section whose size
/// only the loader knows. `sections` are the allocated sections in header order;
/// `loader_prefix` names a reservation the loader makes at the start of text memory before
/// placing any section (s390's GOT/PLT, see [`s390_reserves_got_plt`]).
pub fn text_memory(
    sections: &[LoadSection],
    e_machine: Machine,
    config: LoaderConfig,
    loader_prefix: Option<&str>,
) -> TextMemory {
    let mut memory = TextMemory::default();
    if let Some(what) = loader_prefix {
        memory.blocker = Some(Blocker {
            what: what.to_string(),
        });
        return memory;
    }
    let alloc_exec = object::elf::SHF_ALLOC.0 | object::elf::SHF_EXECINSTR.0;
    let mut size: u64 = 0;
    for s in sections {
        let (flags, align, sh_size) = frob(s, e_machine);
        if flags & alloc_exec != alloc_exec || is_init_layout_section(&s.name, e_machine, config) {
            continue;
        }
        let Some(sh_size) = sh_size else {
            memory.blocker = Some(Blocker {
                what: format!("`{}`", s.name),
            });
            break;
        };
        let align = align.max(1);
        let Some(offset) = size.checked_next_multiple_of(align) else {
            break;
        };
        memory.placed.push((s.index, offset));
        size = offset.saturating_add(sh_size);
    }
    memory
}

/// Every allocated section's header of `input`, in section-header order (what the loader
/// lays out).
pub fn load_sections(input: &Input<'_>) -> Vec<LoadSection> {
    input
        .file()
        .sections()
        .filter_map(|s| match s.flags() {
            SectionFlags::Elf { sh_flags, .. } if sh_flags.0 & object::elf::SHF_ALLOC.0 != 0 => {
                Some(LoadSection {
                    name: s.name().unwrap_or("").to_string(),
                    index: s.index().0,
                    flags: sh_flags.0,
                    align: s.align(),
                    size: s.size(),
                })
            }
            _ => None,
        })
        .collect()
}

/// The reservation the loader makes at the start of `input`'s text memory, of a size known
/// only at load time, if it makes one: s390's loader reserves the module's GOT and PLT there,
/// sized by the relocations that need them and by run-time options
/// (`arch/s390/kernel/module.c`).
pub fn reservation(input: &Input<'_>) -> Option<String> {
    (input.e_machine() == object::elf::EM_S390 && input.any_relocation(s390_reserves_got_plt))
        .then(|| "the GOT/PLT that the s390 loader reserves".to_string())
}

/// `input`'s core text memory as the loader lays it out (v1 offsets count from its start).
pub fn module_text_memory(input: &Input<'_>, config: LoaderConfig) -> TextMemory {
    text_memory(
        &load_sections(input),
        input.e_machine(),
        config,
        reservation(input).as_deref(),
    )
}

/// Whether the s390 loader reserves GOT or PLT entries at the start of text memory for a
/// relocation of type `r_type` (`check_rela()` in `arch/s390/kernel/module.c`).
pub fn s390_reserves_got_plt(r_type: object::elf::RelocationType) -> bool {
    use object::elf::*;
    matches!(
        r_type,
        R_390_GOT12
            | R_390_GOT16
            | R_390_GOT20
            | R_390_GOT32
            | R_390_GOT64
            | R_390_GOTENT
            | R_390_GOTPLT12
            | R_390_GOTPLT16
            | R_390_GOTPLT20
            | R_390_GOTPLT32
            | R_390_GOTPLT64
            | R_390_GOTPLTENT
            | R_390_PLT16DBL
            | R_390_PLT32DBL
            | R_390_PLT32
            | R_390_PLT64
            | R_390_PLTOFF16
            | R_390_PLTOFF32
            | R_390_PLTOFF64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf::*;

    const AX: u64 = SHF_ALLOC.0 | SHF_EXECINSTR.0;
    const A: u64 = SHF_ALLOC.0;

    fn s(name: &str, index: usize, flags: u64, align: u64, size: u64) -> LoadSection {
        LoadSection {
            name: name.into(),
            index,
            flags,
            align,
            size,
        }
    }

    #[test]
    fn text_memory_is_header_order_with_alignment() {
        // .sched.text (0x13 bytes, align 16), .data (skipped), .text (align 64),
        // .init.text (init: skipped), .exit.text (align 1), .text.unlikely (align 0 = 1).
        let sections = [
            s(".sched.text", 1, AX, 16, 0x13),
            s(".data", 2, A | SHF_WRITE.0, 8, 0x100),
            s(".text", 3, AX, 64, 0x41),
            s(".init.text", 4, AX, 16, 0x20),
            s(".exit.text", 5, AX, 1, 0x5),
            s(".text.unlikely", 6, AX, 0, 0x3),
        ];
        let m = text_memory(&sections, EM_X86_64, LoaderConfig::default(), None);
        assert_eq!(m.placed, [(1, 0), (3, 0x40), (5, 0x81), (6, 0x86)]);
        assert_eq!(m.blocker, None);
        let no_unload = LoaderConfig {
            module_unload: false,
        };
        let m = text_memory(&sections, EM_X86_64, no_unload, None);
        assert_eq!(m.placed, [(1, 0), (3, 0x40), (6, 0x81)]);
    }

    #[test]
    fn loader_sized_sections_block_what_follows() {
        // arm64: the .ko's one-byte, non-executable `.plt` becomes executable, sized at load.
        let sections = [
            s(".plt", 1, A, 1, 1),
            s(".init.plt", 2, A, 1, 1),
            s(".text.ftrace_trampoline", 3, A, 1, 1),
            s(".text", 4, AX, 8, 0x100),
        ];
        let m = text_memory(&sections, EM_AARCH64, LoaderConfig::default(), None);
        assert_eq!(m.placed, []);
        assert_eq!(m.blocker.unwrap().what, "`.plt`");
        // `.text` first: placed at 0; the trampoline's fixed size counts for what follows.
        let sections = [
            s(".text", 1, AX, 8, 0x101),
            s(".text.ftrace_trampoline", 2, A, 1, 1),
            s(".text.unlikely", 3, AX, 8, 0x10),
            s(".plt", 4, A, 1, 1),
            s(".text.hot", 5, AX, 8, 0x10),
        ];
        let m = text_memory(&sections, EM_AARCH64, LoaderConfig::default(), None);
        assert_eq!(m.placed, [(1, 0), (2, 0x104), (3, 0x110)]);
        assert_eq!(m.offset_of(5), None);
        // RISC-V: `.got` is data, whatever the file says; `.plt` is loader-sized.
        let sections = [
            s(".got", 1, AX, 1, 1),
            s(".text", 2, AX, 4, 8),
            s(".plt", 3, A, 1, 1),
        ];
        let m = text_memory(&sections, EM_RISCV, LoaderConfig::default(), None);
        assert_eq!(m.placed, [(2, 0)]);
        assert_eq!(m.blocker.unwrap().what, "`.plt`");
        // s390's reservation comes before everything.
        let m = text_memory(
            &sections,
            EM_S390,
            LoaderConfig::default(),
            Some("the GOT/PLT"),
        );
        assert_eq!(m.placed, []);
        assert!(s390_reserves_got_plt(R_390_PLT32DBL));
        assert!(!s390_reserves_got_plt(R_390_64));
    }
}

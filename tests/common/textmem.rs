//! Where the module loader puts each code section in a module's text memory, written from the
//! kernel's own code (6.12 `kernel/module/main.c`: `layout_sections()`, `__layout_sections()`,
//! `module_get_offset_and_type()`, `module_init_layout_section()`), not from the tool's
//! `loader::text_memory()`, so that a test of v1 offsets (docs/format.md §4.2) is not the tool
//! judging itself.
//!
//! The loader walks the section headers in order and gives `MOD_TEXT` every section with
//! `SHF_EXECINSTR | SHF_ALLOC` whose name does not make it init text (`.init*`, and `.exit*`
//! without `CONFIG_MODULE_UNLOAD`), each at the running size aligned up to its `sh_addralign`
//! (empty sections too). x86 has no `module_frob_arch_sections()` and no `ARCH_SHF_SMALL`; the
//! arm64/RISC-V `.plt` sections whose size is set at load time are not modelled.

use object::{Object, ObjectSection, SectionFlags};

const SHF_ALLOC: u64 = 0x2;
const SHF_EXECINSTR: u64 = 0x4;

/// One section of text memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub name: String,
    /// Its offset from the start of text memory.
    pub offset: u64,
    pub size: u64,
}

/// The sections of `ko`'s text memory in the order the loader places them.
pub fn text_memory(ko: &[u8], module_unload: bool) -> Vec<Placed> {
    let file = object::File::parse(ko).expect("an ELF module");
    let mut size = 0u64;
    let mut out = Vec::new();
    for s in file.sections() {
        let SectionFlags::Elf { sh_flags, .. } = s.flags() else {
            continue;
        };
        let name = s.name().unwrap_or("").to_string();
        let init = name.starts_with(".init") || (!module_unload && name.starts_with(".exit"));
        let sh_flags = sh_flags.0;
        if sh_flags & (SHF_ALLOC | SHF_EXECINSTR) != (SHF_ALLOC | SHF_EXECINSTR) || init {
            continue;
        }
        let offset = size.next_multiple_of(s.align().max(1));
        size = offset + s.size();
        out.push(Placed {
            name,
            offset,
            size: s.size(),
        });
    }
    out
}

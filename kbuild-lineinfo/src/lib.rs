//! Build-time address→`file:line` tables for the Linux kernel's `CONFIG_KALLSYMS_LINEINFO`.
//!
//! The crate is pure: it takes bytes (an ELF image with DWARF) and returns rows, tables and the
//! bytes the kernel reads. It never prints, exits, reads the environment or touches files; the
//! `kbuild-lineinfo` CLI owns all of that.
//!
//! The bytes are a contract with the kernel's C code: `docs/format.md` in the repository
//! (layouts v1 and v7, the content rules, where we depart from the series' C tool and why). The
//! code cites it as "FORMAT.md §N", with the same section and rule numbers.
//!
//! * [`input`]: one ELF file (synthetic section bases for `ET_REL`, text symbol starts).
//! * [`rows`], [`reloc`] and [`lazy_reloc`]: DWARF `.debug_line` → rows (vmlinux, and `ET_REL`
//!   modules with their debug relocations applied, `.debug_info`'s on demand).
//! * [`paths`]: DWARF file entries → names that read like the kernel tree.
//! * [`table`]: rows → [`table::LineTable`] (FORMAT.md §1 rules 3–6, file ids by first use).
//! * [`extract`]: whole inputs → tables (vmlinux `[_text, _etext)`, a module's sections).
//! * [`leb128`], [`encode`]: the block delta compression of FORMAT.md §3.
//! * [`layout`]: the v1 and v7 byte layouts; [`decode`]: the kernel's lookup, safe on any bytes.
//! * [`emit`]: GNU as assembly and relocatable ELF objects carrying the tables, and the new
//!   sections of a `.ko` as a patch applied in place.
//! * [`image`]: reading tables and kallsyms' text symbols back from an ELF image.
//! * [`error`]: the one error type.
//! * [`embedded`], [`kallsyms`], [`frames`]: reading tables back from built images, symbols by
//!   name, and stack frames in log text (for `annotate`).
//! * [`symbolize`]: the one door to those tables, as the kernel sees them (`lookup`, `annotate`).
#![forbid(unsafe_code)]

mod bytes;
pub mod decode;
pub mod embedded;
pub mod emit;
pub mod encode;
pub mod error;
pub mod extract;
pub mod frames;
pub mod image;
pub mod input;
pub mod kallsyms;
pub mod layout;
pub mod lazy_reloc;
pub mod leb128;
pub mod loader;
pub mod paths;
pub mod reloc;
pub mod rows;
pub mod symbolize;
pub mod table;
pub mod unpack;

pub use error::{Error, ErrorKind, Result};
pub use table::{Entry, LineTable};

/// Which posting of the kernel series the output is for (FORMAT.md §3–4).
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

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Layout {
    type Err = Error;

    /// The layout [`Layout::name`] spells `s`.
    fn from_str(s: &str) -> Result<Layout> {
        Layout::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Layout::ALL.iter().map(|l| l.name()).collect();
                let message = format!("unknown layout `{s}` (one of {})", names.join(", "));
                ErrorKind::Invalid(message).into()
            })
    }
}

/// Byte order of the target, taken from the input ELF; every table integer uses it.
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

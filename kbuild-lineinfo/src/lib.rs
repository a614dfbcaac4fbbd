//! Build-time address→`file:line` tables for the Linux kernel's `CONFIG_KALLSYMS_LINEINFO`.
//!
//! The crate is pure: it takes bytes (an ELF image with DWARF) and returns rows, tables and the
//! bytes the kernel reads. It never prints, exits, reads the environment or touches files; the
//! `kbuild-lineinfo` CLI owns all of that.
//!
//! The bytes are a contract with the kernel's C code: `docs/format.md` in the repository
//! (layouts v1 and v7, the content rules, where we depart from the series' C tool and why). The
//! code cites it as "docs/format.md §N", with the same section and rule numbers. `docs/design.md`
//! maps which module owns which rule.
//!
//! This file only declares the modules and re-exports the shared words. The public modules are
//! the ones the CLI uses:
//!
//! * building tables: [`extract`] (whole inputs → tables; [`input`] is one ELF file, `rows`,
//!   `reloc`, `lazy_reloc`, `paths` and `table` its private steps), [`encode`] (docs/format.md §3),
//!   [`layout`] (the v1 and v7 byte layouts, the one place that dispatches on [`Layout`]),
//!   [`loader`] (where the module loader puts code), [`emit`] (assembly, ELF objects, `.ko`
//!   patches);
//! * reading them back: [`decode`] (the kernel's lookup, safe on any bytes), [`embedded`],
//!   [`image`], [`kallsyms`], [`frames`], and [`symbolize`], the one door to them as the kernel
//!   sees them (for `lookup` and `annotate`);
//! * what a distribution installs: [`unpack`] (vmlinuz and compressed modules back to ELF),
//!   [`sysmap`] (a System.map's symbols) and [`memory`] (an image's bytes by address), which
//!   [`symbolize`] pairs for an image without symbols;
//! * shared: [`Layout`] and [`Endian`] (a leaf module), [`error`] (the one error type).
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
mod lazy_reloc;
mod leb128;
pub mod loader;
pub mod memory;
mod paths;
mod reloc;
mod rows;
pub mod symbolize;
pub mod sysmap;
mod table;
#[cfg(feature = "test-fixtures")]
#[doc(hidden)]
pub mod testing;
pub mod unpack;
mod vocab;

pub use error::{Error, ErrorKind, Result};
pub use table::{Entry, LineTable};
pub use vocab::{Endian, Layout, UnknownLayout};

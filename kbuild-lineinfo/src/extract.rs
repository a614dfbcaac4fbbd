//! Whole inputs → tables: the vmlinux table (`[_text, _etext)`, offsets from `_text`) and the
//! per-section tables of a module (docs/format.md §1).

use crate::emit::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::input::{CodeSection, Input};
use crate::loader::{self, LoadSection};
use crate::paths::Namer;
pub use crate::rows::Effort;
use crate::rows::{self, Rows};
use crate::table::{self, BuildStats, LineTable};
use crate::vocab::Endian;

/// Options that change the content of tables (every one of them belongs in a cache key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// The kernel source tree as the compiler saw it; names are made relative to it.
    pub srctree: Option<Vec<u8>>,
    /// Without `srctree`, a module's names are made relative to the tree its DWARF shows: the
    /// directory above the first `include/linux/` its line programs name (for tables built
    /// outside a kernel build: `annotate`, `lookup`). A vmlinux's tree is always guessed.
    pub guess_srctree: bool,
}

/// Figures about one extraction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Rows read from the line programs (with a line and a file).
    pub rows: u64,
    /// Entries in the table(s).
    pub entries: u64,
    /// File names in the table(s), summed over tables.
    pub files: u64,
    /// Entries added or kept at symbol starts (rule 6).
    pub symbol_entries: u64,
    /// Holes: where DWARF stops having a line (rule 7).
    pub hole_entries: u64,
    /// Rows skipped because their offset does not fit in u32.
    pub offset_overflow: u64,
    /// Entries of code sections the layout does not cover (counted in `entries`, not
    /// embedded); set by the layout step, 0 from [`module`] itself.
    pub uncovered_entries: u64,
    /// Code sections with entries, and their bytes (`sh_size`); set by the layout step.
    pub code_sections: u64,
    pub code_bytes: u64,
    /// Of those, the sections the layout covers (placed correctly), and their bytes.
    pub covered_sections: u64,
    pub covered_bytes: u64,
}

impl Stats {
    fn add(&mut self, table: &LineTable, built: BuildStats) {
        self.entries += table.entries.len() as u64;
        self.files += table.files.len() as u64;
        self.symbol_entries += built.symbol_entries;
        self.hole_entries += built.hole_entries;
        self.offset_overflow += built.offset_overflow;
    }
}

/// The vmlinux table and what the emitters need to know about the input.
#[derive(Debug)]
pub struct Vmlinux {
    pub table: LineTable,
    pub stats: Stats,
    pub endian: Endian,
    /// The image's ELF identity, which the table object copies.
    pub target: Target,
    /// The value of `_text`.
    pub text: u64,
    /// The end of the covered range (`_etext`, or the end of `_text`'s section).
    pub etext: u64,
    /// The source tree names were made relative to (given or found), if any.
    pub srctree: Option<Vec<u8>>,
}

/// Builds the vmlinux table from a linked image with DWARF.
pub fn vmlinux(data: &[u8], options: &Options, effort: Effort) -> Result<Vmlinux> {
    let input = Input::parse(data)?;
    let (text, etext) = text_range(&input)?;
    if !rows::has_line_info(&input)? {
        return Err(ErrorKind::Invalid("no DWARF line information (.debug_line)".into()).into());
    }
    let srctree = match &options.srctree {
        Some(dir) => Some(dir.clone()),
        None => rows::guess_srctree(&input)?,
    };
    let namer = Namer::new(srctree.as_deref());
    let (rows, symbols) = if effort.threads > 1 {
        // The symbols are read meanwhile (a few milliseconds off the critical path).
        std::thread::scope(|scope| {
            let symbols = scope.spawn(|| input.text_symbol_starts());
            let rows = rows::read_rows(&input, &namer, effort);
            let symbols = symbols
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (rows, symbols)
        })
    } else {
        let rows = rows::read_rows(&input, &namer, effort);
        (rows, input.text_symbol_starts())
    };
    let (rows, symbols) = (rows?, symbols?);
    let (table, built) = table::build(&rows.points, &rows.names, &symbols, text, etext)?;
    let mut stats = Stats {
        rows: rows.rows,
        ..Stats::default()
    };
    stats.add(&table, built);
    Ok(Vmlinux {
        table,
        stats,
        endian: input.endian(),
        target: Target::of_input(&input),
        text,
        etext,
        srctree,
    })
}

/// The core kernel text a vmlinux table covers: `[_text, _etext)`, the end of `_text`'s code
/// section when `_etext` is missing (docs/format.md §1). A global `_text` wins over a local one.
pub fn text_range(input: &Input<'_>) -> Result<(u64, u64)> {
    let [text, etext] = input.symbols(["_text", "_etext"]);
    text_range_of(input, text, etext)
}

/// [`text_range`] from the values of `_text` and `_etext` (by [`Input::symbol`]'s rule).
pub(crate) fn text_range_of(
    input: &Input<'_>,
    text: Option<u64>,
    etext: Option<u64>,
) -> Result<(u64, u64)> {
    let text = text.ok_or(ErrorKind::MissingSymbol("_text"))?;
    let etext = match etext {
        Some(etext) => etext,
        None => section_end_of(input, text)?,
    };
    Ok((text, etext))
}

fn section_end_of(input: &Input<'_>, address: u64) -> Result<u64> {
    input
        .code_sections()
        .into_iter()
        .find(|s| s.address <= address && address - s.address < s.size)
        .map(|s| s.end())
        .ok_or_else(|| {
            let message =
                format!("no `_etext` and `_text` ({address:#x}) is in no executable section");
            Error::from(ErrorKind::Invalid(message))
        })?
}

/// The table of one code section of a module; offsets are from the section start.
#[derive(Debug, Clone)]
pub struct SectionTable {
    pub section: CodeSection,
    pub table: LineTable,
}

/// Every code section's table of a relocatable object.
#[derive(Debug)]
pub struct Module {
    /// One per code section with at least one entry, in section header order.
    pub sections: Vec<SectionTable>,
    pub stats: Stats,
    pub endian: Endian,
    pub is_64: bool,
    pub e_machine: object::elf::Machine,
    /// Every allocated section's header, in header order (for the loader's layout).
    pub load_sections: Vec<LoadSection>,
    /// A reservation the loader makes at the start of text memory, of a size known only at
    /// load time (s390's GOT/PLT), if the module needs one.
    pub loader_prefix: Option<String>,
}

impl Module {
    /// The table of the section named `name`, if it has entries.
    pub fn section(&self, name: &str) -> Option<&SectionTable> {
        self.sections.iter().find(|s| s.section.name == name)
    }
}

/// Builds the per-section tables of a module (`ET_REL`); `None` when it has no line information
/// (such a module is left alone).
pub fn module(data: &[u8], options: &Options) -> Result<Option<Module>> {
    let input = Input::parse(data)?;
    if !input.is_relocatable() {
        return Err(ErrorKind::Invalid("not a relocatable object (ET_REL)".into()).into());
    }
    if !rows::has_line_info(&input)? {
        return Ok(None);
    }
    let srctree = match &options.srctree {
        None if options.guess_srctree => rows::guess_module_srctree(&input)?,
        srctree => srctree.clone(),
    };
    let rows: Rows = rows::read_rows(&input, &Namer::new(srctree.as_deref()), Effort::default())?;
    let symbols = input.text_symbol_starts()?;
    let mut stats = Stats {
        rows: rows.rows,
        ..Stats::default()
    };
    let mut sections = Vec::new();
    for section in input.code_sections() {
        let end = section.end()?;
        let (table, built) =
            table::build(&rows.points, &rows.names, &symbols, section.address, end)?;
        stats.add(&table, built);
        if !table.entries.is_empty() {
            sections.push(SectionTable { section, table });
        }
    }
    Ok(Some(Module {
        sections,
        stats,
        endian: input.endian(),
        is_64: input.is_64(),
        e_machine: input.e_machine(),
        load_sections: loader::load_sections(&input),
        loader_prefix: loader::reservation(&input),
    }))
}

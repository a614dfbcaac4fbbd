//! The one door to the tables as the kernel sees them: [`Symbolizer`] answers "what would the
//! kernel print for this address, or for this `name+0xOFF/0xSIZE`", for a vmlinux (its linked
//! tables, or a table object next to the image's symbols) and for a module (`.mod_lineinfo`,
//! `.init.mod_lineinfo`), as addr2line's `Context` is the one door to its lookups. A new source
//! of tables (an image inside a `vmlinuz`, a compressed module, DWARF turned into tables on the
//! fly) is a new constructor here, not a new lookup path.
//!
//! It builds on [`crate::embedded`] (the tables, in section terms), [`crate::kallsyms`] (text
//! symbols as kallsyms prints them) and [`crate::decode`] (the kernel's `lineinfo_search`). The
//! rules are docs/format.md §5: the symbol-start guard, `%pB` looking up return address − 1, and v1's
//! guard one byte low for `%pB`. Every miss says why ([`Miss`]). Pure: bytes in, answers out.

use object::{Object, ObjectKind};

use crate::decode::{Found, TableView};
use crate::embedded::{self, ModuleTables, Uncovered};
use crate::error::{ErrorKind, Result};
use crate::frames::Context;
use crate::input::{CodeSection, Input};
use crate::kallsyms::{Symbol, Symbols};
use crate::loader::LoaderConfig;
use crate::memory::Memory;
use crate::sysmap::SystemMap;
use crate::Layout;

/// Which `printk` format printed a frame, hence which address the kernel looked up
/// (`__sprint_symbol` in the series' `kernel/kallsyms.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `%pS`: the address itself.
    Symbol,
    /// `%pB`: a return address; the kernel looks up return address − 1.
    Backtrace,
}

impl Format {
    /// The format that printed a frame found in `context` of an image of this architecture
    /// (x86's `Call Trace:` frames are `%pBb`; arm64's and RISC-V's are `%pS`).
    pub fn of(context: Context, x86: bool) -> Format {
        match context {
            Context::ProcStack | Context::Ktap => Format::Backtrace,
            Context::CallTrace if x86 => Format::Backtrace,
            _ => Format::Symbol,
        }
    }
}

/// A text symbol and an offset into it, as `%pS` prints it: `name+0xOFF/0xSIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolOffset<'a> {
    pub name: &'a [u8],
    pub offset: u64,
    /// The kallsyms size: up to the next symbol start.
    pub size: u64,
}

/// Why the kernel prints no line (or why a frame does not resolve at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// vmlinux: the address lies outside the core text `[_text, _etext)` the tables cover.
    OutsideText { text: u64, etext: u64 },
    /// A bare table object: the offset from `_text` does not fit in 32 bits (an absolute
    /// address, most likely; only the linked image knows `_text`).
    NotAnOffset,
    /// A module has no code section of that name.
    NoSection,
    /// The offset lies at or past the end of its section.
    PastSection { size: u64 },
    /// The tables do not cover that section (which layout rule says why).
    NotCovered(Uncovered),
    /// No text symbol starts at or below the address: kallsyms resolves nothing.
    NoSymbol,
    /// The last entry at or below lies before the start of the symbol kallsyms resolves: it
    /// belongs to an earlier symbol, and the kernel's guard rejects it.
    EarlierSymbol { entry_offset: u32 },
    /// No entry at or below the offset (or the bytes there are malformed).
    NoEntry,
    /// The entry in effect is a hole (docs/format.md §1 rule 7): DWARF has no line there.
    NoLine { entry_offset: u32 },
    /// The tables hold no entry at all (a stub).
    EmptyTables,
    /// `name+0xOFF`: no text symbol of that name (or several, and the size picks none).
    UnknownSymbol,
    /// `name+0xOFF/0xSIZE`: the offset does not lie inside the symbol.
    OffsetOutsideSymbol,
    /// Several symbols of that name and size answer differently.
    Ambiguous,
}

impl Miss {
    /// The frame does not resolve to an address at all (where `annotate` leaves a frame
    /// alone, also under `--check`): as opposed to an address where the kernel prints nothing.
    pub fn is_unresolved(&self) -> bool {
        matches!(
            self,
            Miss::UnknownSymbol | Miss::OffsetOutsideSymbol | Miss::Ambiguous
        )
    }
}

/// The answer for one address: the symbol kallsyms resolves and the line the kernel prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    /// `None` when the image has no symbols (a bare table object) or none resolves.
    pub symbol: Option<SymbolOffset<'a>>,
    pub line: std::result::Result<Found<'a>, Miss>,
}

impl<'a> Answer<'a> {
    fn miss(symbol: Option<SymbolOffset<'a>>, miss: Miss) -> Answer<'a> {
        Answer {
            symbol,
            line: Err(miss),
        }
    }
}

#[derive(Debug)]
enum Tables<'a> {
    /// `text`..`etext`: the core text (`None` for a bare table object, whose queries are
    /// offsets from `_text`).
    Vmlinux {
        view: TableView<'a>,
        text: Option<(u64, u64)>,
    },
    Module {
        tables: ModuleTables<'a>,
        sections: Vec<CodeSection>,
    },
}

/// The tables of one image as the kernel sees them, with the image's text symbols.
#[derive(Debug)]
pub struct Symbolizer<'a> {
    symbols: Symbols<'a>,
    tables: Tables<'a>,
    x86: bool,
    is_64: bool,
    build_id: Option<&'a [u8]>,
}

/// A vmlinux (or a table object alone) read once for [`Symbolizer::of_vmlinux`]: its own
/// tables and its core text, from one walk of its symbol table (a debug vmlinux has 200,000
/// symbols; a second walk was a fifth of a warm `annotate`).
#[derive(Debug)]
pub struct VmlinuxImage<'a> {
    input: Input<'a>,
    /// Its own tables (`lineinfo_*` symbols), when they are there and consistent.
    own: Option<TableView<'a>>,
    /// `[_text, _etext)` ([`crate::extract::text_range`]); `None` for a table object alone
    /// (relocatable: queries are offsets from `_text`).
    text: Option<Result<(u64, u64)>>,
}

impl<'a> VmlinuxImage<'a> {
    pub fn parse(image: &'a [u8]) -> Result<VmlinuxImage<'a>> {
        let input = Input::parse(image)?;
        let file = input.file();
        let mut names = embedded::vmlinux_names();
        names.extend(["_text", "_etext"]);
        let found = crate::image::named_in(file, &names);
        let which = |name: &str| names.iter().position(|&n| n == name);
        let get = |name: &str| crate::image::data_of(file, &found, which(name)?);
        let own = embedded::vmlinux_view_at(get, input.endian());
        let text = (!input.is_relocatable()).then(|| {
            let value = |name| input.symbol_of(&found, which(name)?);
            crate::extract::text_range_of(&input, value("_text"), value("_etext"))
        });
        Ok(VmlinuxImage { input, own, text })
    }
}

/// What [`Symbolizer::vmlinux`] found instead of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTables {
    /// No `lineinfo_*` symbols (or inconsistent ones) in the tables' file.
    Missing,
}

impl<'a> Symbolizer<'a> {
    /// A vmlinux: `image` is the linked image (its symbols and `_text`), or a table object
    /// alone (queries are then offsets from `_text`, no symbols); `tables` is the object
    /// `kbuild-lineinfo vmlinux -o T.o` writes (parsed by the caller, who names it in errors),
    /// when the image carries no tables itself. `Ok(Err(NoTables::Missing))` when the tables'
    /// file has no `lineinfo_*` symbols.
    pub fn vmlinux(
        image: &'a [u8],
        tables: Option<&object::File<'a>>,
    ) -> Result<std::result::Result<Symbolizer<'a>, NoTables>> {
        Self::of_vmlinux(&VmlinuxImage::parse(image)?, tables, None)
    }

    /// [`vmlinux`](Self::vmlinux) of an image read once (asking again, its own tables
    /// missing, with tables built for it, reads nothing of it again), with its text symbols
    /// given (read back from [`Symbols::to_packed`]'s bytes of an earlier run, say) instead of
    /// read from its symbol table; `None`: read them. They must be the image's
    /// ([`symbols`](Self::symbols) of an earlier symbolizer of the same image).
    pub fn of_vmlinux(
        image: &VmlinuxImage<'a>,
        tables: Option<&object::File<'a>>,
        symbols: Option<Symbols<'a>>,
    ) -> Result<std::result::Result<Symbolizer<'a>, NoTables>> {
        let file = image.input.file();
        let view = match tables {
            Some(tables) => embedded::vmlinux_view(tables),
            None => image.own,
        };
        let Some(view) = view else {
            return Ok(Err(NoTables::Missing));
        };
        let text = image.text.clone().transpose()?;
        Ok(Ok(Symbolizer {
            symbols: match symbols {
                _ if text.is_none() => Symbols::default(),
                Some(symbols) => symbols,
                None => Symbols::from_file(file),
            },
            tables: Tables::Vmlinux { view, text },
            x86: is_x86(file),
            is_64: file.is_64(),
            build_id: None,
        }))
    }

    /// A vmlinux as installed: `memory`, an image without symbols (a bzImage's payload, an
    /// arm64 `Image`), with the symbols of its System.map `map`, which also says where the
    /// tables lie in it (the `lineinfo_*` symbols); `tables` as for [`vmlinux`](Self::vmlinux)
    /// when the image carries none. `_text` and `_etext` come from the map.
    ///
    /// The map must be the image's: `linux_banner` must read `Linux version ` in the image
    /// (when the map has no `linux_banner`, `_text` must lie in it). A map of another build is
    /// an error saying so, not answers from bytes that are not tables.
    pub fn installed(
        memory: &Memory<'a>,
        map: &SystemMap<'a>,
        tables: Option<&object::File<'a>>,
    ) -> Result<std::result::Result<Symbolizer<'a>, NoTables>> {
        let text = map
            .address("_text")
            .ok_or(ErrorKind::MissingSymbol("_text"))?;
        let etext = map.address("_etext").filter(|&e| e > text);
        map.check_image(memory)
            .map_err(|why| ErrorKind::Invalid(format!("is not the image's System.map: {why}")))?;
        let view = match tables {
            Some(file) => embedded::vmlinux_view(file),
            None => {
                let at = |name: &str| memory.at(map.address(name)?);
                embedded::vmlinux_view_at(at, memory.endian)
            }
        };
        let Some(view) = view else {
            return Ok(Err(NoTables::Missing));
        };
        Ok(Ok(Symbolizer {
            symbols: Symbols::from_map(map, etext),
            tables: Tables::Vmlinux {
                view,
                text: Some((text, etext.unwrap_or(u64::MAX))),
            },
            x86: memory.x86,
            is_64: memory.is_64,
            build_id: None,
        }))
    }

    /// A module (`ET_REL`) with its tables; `Ok(None)` when it carries none. `config` says
    /// where the loader puts v1 sections in text memory.
    pub fn module(input: &Input<'a>, config: LoaderConfig) -> Result<Option<Symbolizer<'a>>> {
        relocatable(input)?;
        let Some(tables) = ModuleTables::read(input, config)? else {
            return Ok(None);
        };
        Ok(Some(Self::of_module(input, tables, None)))
    }

    /// A module (`ET_REL`) without tables of its own, with the tables built for it in memory
    /// (`built`: what [`crate::layout::module_sections`] gives for layout v7, not embedded);
    /// `Ok(None)` when `built` holds none. Answers as [`module`](Self::module) would once
    /// they are embedded.
    pub fn module_built(
        input: &Input<'a>,
        built: &'a [crate::emit::ko::NewSection],
    ) -> Result<Option<Symbolizer<'a>>> {
        Self::module_built_with(input, built, None)
    }

    /// [`module_built`](Self::module_built) with the module's text symbols given, as
    /// [`of_vmlinux`](Self::of_vmlinux) takes a vmlinux's; `None`: read them.
    pub fn module_built_with(
        input: &Input<'a>,
        built: &'a [crate::emit::ko::NewSection],
        symbols: Option<Symbols<'a>>,
    ) -> Result<Option<Symbolizer<'a>>> {
        relocatable(input)?;
        let Some(tables) = ModuleTables::built(input, built)? else {
            return Ok(None);
        };
        Ok(Some(Self::of_module(input, tables, symbols)))
    }

    /// The module `input` (checked by [`relocatable`]) with `tables` and its text symbols
    /// (`None`: read from it).
    fn of_module(
        input: &Input<'a>,
        tables: ModuleTables<'a>,
        symbols: Option<Symbols<'a>>,
    ) -> Symbolizer<'a> {
        let file = input.file();
        Symbolizer {
            symbols: symbols.unwrap_or_else(|| Symbols::from_file(file)),
            tables: Tables::Module {
                tables,
                sections: input.code_sections(),
            },
            x86: is_x86(file),
            is_64: file.is_64(),
            build_id: file.build_id().ok().flatten(),
        }
    }

    /// The image's text symbols, as kallsyms prints them.
    pub fn symbols(&self) -> &Symbols<'a> {
        &self.symbols
    }

    pub fn layout(&self) -> Layout {
        match &self.tables {
            Tables::Vmlinux { view, .. } => view.layout,
            Tables::Module { tables, .. } => tables.layout(),
        }
    }

    /// Whether the tables hold no entry at all (the stub of a first link, or a module without
    /// rows): every lookup misses.
    pub fn is_empty(&self) -> bool {
        match &self.tables {
            Tables::Vmlinux { view, .. } => view.num_entries == 0,
            Tables::Module { tables, .. } => tables.is_empty(),
        }
    }

    /// True for a vmlinux table object read without its image: no symbols, no `_text`.
    pub fn is_bare(&self) -> bool {
        matches!(self.tables, Tables::Vmlinux { text: None, .. })
    }

    /// True for a module.
    pub fn is_module(&self) -> bool {
        matches!(self.tables, Tables::Module { .. })
    }

    /// x86 (where `Call Trace:` frames are `%pBb`).
    pub fn is_x86(&self) -> bool {
        self.x86
    }

    /// The module's build-id (`.note.gnu.build-id`).
    pub fn build_id(&self) -> Option<&'a [u8]> {
        self.build_id
    }

    /// Whether `hex` (as a log prints it, any case) spells the module's build-id.
    pub fn is_build_id(&self, hex: &[u8]) -> bool {
        let own = self.build_id.unwrap_or_default();
        let digit = |b: u8| (b as char).to_digit(16);
        hex.len() == 2 * own.len()
            && hex.chunks(2).zip(own).all(|(pair, &byte)| {
                let (Some(hi), Some(lo)) = (digit(pair[0]), digit(pair[1])) else {
                    return false;
                };
                hi * 16 + lo == u32::from(byte)
            })
    }

    /// `KSYM_SYMBOL_LEN` − 1 of 6.12, the NUL left out: the most a frame and its annotation
    /// take together; the kernel cuts what does not fit. The sum of
    /// `sizeof("%s+%#lx/%#lx [%s %20phN]")`, `KSYM_NAME_LEN` − 1, 2·(`BITS_PER_LONG`·3/10),
    /// `MODULE_NAME_LEN` − 1, 2·`BUILD_ID_SIZE_MAX` and 1.
    pub fn max_frame(&self) -> usize {
        let (digits, module_name) = if self.is_64 { (19, 56) } else { (9, 60) };
        25 + 511 + 2 * digits + (module_name - 1) + 40 + 1 - 1
    }

    /// What the kernel prints for a vmlinux address (`%pS`: the address itself). For a bare
    /// table object, `address` is an offset from `_text` and no guard applies. A module's
    /// addresses depend on where it was loaded: use [`at_section`](Self::at_section).
    pub fn at_address(&self, address: u64) -> Answer<'a> {
        let Tables::Vmlinux { view, text } = &self.tables else {
            return Answer::miss(None, Miss::NoSection);
        };
        let empty = |miss| {
            if view.num_entries == 0 {
                Miss::EmptyTables
            } else {
                miss
            }
        };
        let Some((text, etext)) = *text else {
            let Ok(offset) = u32::try_from(address) else {
                return Answer::miss(None, Miss::NotAnOffset);
            };
            return match view.lookup(offset) {
                Some(found) => Answer {
                    symbol: None,
                    line: Ok(found),
                },
                None => Answer::miss(None, empty(unguarded(None, view.hole_at(offset), 0))),
            };
        };
        let outside = Miss::OutsideText { text, etext };
        // The kernel: below _text or 4 GiB past it, no answer.
        let Some(offset) = address
            .checked_sub(text)
            .and_then(|o| u32::try_from(o).ok())
        else {
            return Answer::miss(self.symbol_at(0, address), outside);
        };
        let Some((name, start)) = self.symbols.containing(0, address) else {
            let miss = if address >= etext {
                outside
            } else {
                Miss::NoSymbol
            };
            return Answer::miss(None, miss);
        };
        let symbol = Some(at(name, start, address));
        // The symbol-start guard: the symbol kallsyms resolves starts at or below.
        let guard = u32::try_from(start.value - text.min(start.value)).unwrap_or(0);
        match view.lookup_guarded(offset, guard) {
            Some(found) => Answer {
                symbol,
                line: Ok(found),
            },
            None if address >= etext => Answer::miss(symbol, outside),
            None => {
                let hole = view.hole_at(offset);
                Answer::miss(symbol, empty(unguarded(view.lookup(offset), hole, guard)))
            }
        }
    }

    /// What the kernel prints for `offset` into the module's section `name` (`%pS`), with the
    /// symbol-start guard of the symbol kallsyms resolves there.
    pub fn at_section(&self, name: &str, offset: u64) -> Answer<'a> {
        let Tables::Module { tables, sections } = &self.tables else {
            return Answer::miss(None, Miss::NoSection);
        };
        let Some(section) = sections.iter().find(|s| s.name == name) else {
            return Answer::miss(None, Miss::NoSection);
        };
        if offset >= section.size {
            let miss = Miss::PastSection { size: section.size };
            return Answer::miss(None, miss);
        }
        let symbol = self.symbol_at(section.index, offset);
        if let Err(why) = tables.covers(section.index, offset) {
            return Answer::miss(symbol, Miss::NotCovered(why));
        }
        let Some((_, start)) = self.symbols.containing(section.index, offset) else {
            return Answer::miss(None, Miss::NoSymbol);
        };
        match tables.lookup(section.index, offset, start.value) {
            Some(found) => Answer {
                symbol,
                line: Ok(found),
            },
            None if tables.is_empty() => Answer::miss(symbol, Miss::EmptyTables),
            None => {
                let entry = tables.lookup(section.index, offset, 0);
                let hole = tables.hole_at(section.index, offset);
                let guard = u32::try_from(start.value).unwrap_or(u32::MAX);
                Answer::miss(symbol, unguarded(entry, hole, guard))
            }
        }
    }

    /// What the kernel prints for a frame `name+0xOFF/0xSIZE` printed with `format` (the
    /// address is found through the symbol, so KASLR and load addresses do not matter). `size`
    /// `None`: a name and offset alone (the only symbol of that name). When several symbols
    /// share the name and size, only an answer they all give is one ([`Miss::Ambiguous`]).
    pub fn at_symbol(
        &self,
        name: &[u8],
        offset: u64,
        size: Option<u64>,
        format: Format,
    ) -> Answer<'a> {
        let back = u64::from(format == Format::Backtrace);
        // %pB prints (ret − 1 − sym) + 1: from 1 to the size; %pS below the size.
        let plausible = size.is_none_or(|size| match format {
            Format::Backtrace => offset >= 1 && offset <= size,
            Format::Symbol => offset < size,
        });
        if !plausible || offset < back {
            return Answer::miss(None, Miss::OffsetOutsideSymbol);
        }
        // v1 computes its guard after undoing the −1 on the offset: one byte low.
        let guard_back = u64::from(self.layout() == Layout::V1) * back;
        let candidates = self.symbols.resolve(name, size);
        let mut answers = Vec::with_capacity(candidates.len());
        for symbol in &candidates {
            if offset - back >= symbol.extent().max(1) {
                return Answer::miss(None, Miss::OffsetOutsideSymbol);
            }
            answers.push(self.find(symbol, offset - back, guard_back));
        }
        let Some((first, rest)) = answers.split_first() else {
            return Answer::miss(None, Miss::UnknownSymbol);
        };
        let key = |a: &Option<Found<'a>>| a.map(|f| (f.file, f.line));
        if rest.iter().any(|a| key(a) != key(first)) {
            return Answer::miss(None, Miss::Ambiguous);
        }
        let symbol = self.symbols.name(name).map(|name| SymbolOffset {
            name,
            offset,
            size: candidates[0].size,
        });
        match *first {
            Some(found) => Answer {
                symbol,
                line: Ok(found),
            },
            None => Answer::miss(symbol, self.why_not(&candidates[0], offset - back)),
        }
    }

    /// The entry at `into` bytes past `symbol`'s start, guarded by its start − `guard_back`.
    fn find(&self, symbol: &Symbol, into: u64, guard_back: u64) -> Option<Found<'a>> {
        match &self.tables {
            Tables::Vmlinux { view, text } => {
                let text = text.map_or(0, |t| t.0);
                let address = symbol.value.checked_add(into)?;
                let offset = u32::try_from(address.checked_sub(text)?).ok()?;
                let guard = (symbol.value.saturating_sub(guard_back)).saturating_sub(text);
                let guard = u32::try_from(guard)
                    .ok()
                    .filter(|&g| g <= offset)
                    .unwrap_or(0);
                view.lookup_guarded(offset, guard)
            }
            Tables::Module { tables, .. } => {
                let offset = symbol.value.checked_add(into)?;
                let guard = symbol.value.saturating_sub(guard_back);
                tables.lookup(symbol.section, offset, guard)
            }
        }
    }

    /// Why [`find`](Self::find) found nothing `into` bytes past `symbol` (its start is the
    /// guard: the reason, not the answer, so v1's one byte low for `%pB` does not matter).
    fn why_not(&self, symbol: &Symbol, into: u64) -> Miss {
        let at = symbol.value.saturating_add(into);
        match &self.tables {
            Tables::Vmlinux { view, text } => {
                let (text, etext) = text.unwrap_or((0, u64::MAX));
                let offset = at.checked_sub(text).and_then(|o| u32::try_from(o).ok());
                match offset {
                    _ if view.num_entries == 0 => Miss::EmptyTables,
                    Some(offset) if at < etext => {
                        let guard = u32::try_from(symbol.value.saturating_sub(text));
                        let hole = view.hole_at(offset);
                        unguarded(view.lookup(offset), hole, guard.unwrap_or(0))
                    }
                    _ => Miss::OutsideText { text, etext },
                }
            }
            Tables::Module { tables, .. } => match tables.covers(symbol.section, at) {
                _ if tables.is_empty() => Miss::EmptyTables,
                Err(why) => Miss::NotCovered(why),
                Ok(()) => {
                    let guard = u32::try_from(symbol.value).unwrap_or(u32::MAX);
                    let hole = tables.hole_at(symbol.section, at);
                    unguarded(tables.lookup(symbol.section, at, 0), hole, guard)
                }
            },
        }
    }

    /// The symbol kallsyms resolves at `value` (an address; an offset in `section` of a
    /// module) with the offset into it.
    fn symbol_at(&self, section: usize, value: u64) -> Option<SymbolOffset<'a>> {
        let (name, start) = self.symbols.containing(section, value)?;
        Some(at(name, start, value))
    }
}

fn at<'a>(name: &'a [u8], start: Symbol, value: u64) -> SymbolOffset<'a> {
    SymbolOffset {
        name,
        offset: value - start.value,
        size: start.size,
    }
}

/// Why a guarded lookup missed, from the unguarded one (or the hole in effect there).
fn unguarded(entry: Option<Found<'_>>, hole: Option<u32>, guard: u32) -> Miss {
    match (entry, hole) {
        (Some(Found { entry_offset, .. }), _) | (None, Some(entry_offset))
            if entry_offset < guard =>
        {
            Miss::EarlierSymbol { entry_offset }
        }
        (_, Some(entry_offset)) => Miss::NoLine { entry_offset },
        _ => Miss::NoEntry,
    }
}

fn is_x86(file: &object::File<'_>) -> bool {
    matches!(
        file.architecture(),
        object::Architecture::X86_64 | object::Architecture::I386
    )
}

/// A module is a relocatable object.
fn relocatable(input: &Input<'_>) -> Result<()> {
    if input.file().kind() != ObjectKind::Relocatable {
        return Err(ErrorKind::Elf("not a relocatable object (a module)".into()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use object::write::{Object as WObject, Symbol as WSymbol, SymbolSection};
    use object::{Architecture, BinaryFormat, SectionKind, SymbolFlags, SymbolKind, SymbolScope};

    use super::*;
    use crate::encode::encode;
    use crate::table::{Entry, LineTable};
    use crate::Endian;

    /// Entries of `m.c`; line 0 stands for a hole (docs/format.md §1 rule 7).
    fn table(entries: &[(u32, u32)]) -> LineTable {
        let mut prev = 0;
        LineTable {
            entries: entries
                .iter()
                .map(|&(offset, line)| match line {
                    0 => Entry {
                        offset,
                        file: Entry::NO_LINE,
                        line: prev,
                    },
                    _ => {
                        prev = line;
                        Entry {
                            offset,
                            file: 0,
                            line,
                        }
                    }
                })
                .collect(),
            files: vec![b"m.c".to_vec()],
        }
    }

    /// A table object as `vmlinux -o T.o` writes it.
    fn table_object(entries: &[(u32, u32)], layout: Layout) -> Vec<u8> {
        let encoded = encode(&table(entries), layout);
        let items = crate::layout::vmlinux_items(&encoded, layout, Endian::Little);
        crate::emit::elf::write_object(&items, &crate::emit::Target::host_default()).unwrap()
    }

    /// A v1 module: `.text` with `f` at 0 and `g` at 0x10 (0x20 bytes), `.init.text` with
    /// `h`, and `.mod_lineinfo` over text memory with `entries`.
    fn module(entries: &[(u32, u32)]) -> Vec<u8> {
        let mut obj = WObject::new(BinaryFormat::Elf, Architecture::X86_64, Endian::Little);
        let text = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        obj.append_section_data(text, &[0x90; 0x20], 16);
        let init = obj.add_section(Vec::new(), b".init.text".to_vec(), SectionKind::Text);
        obj.append_section_data(init, &[0x90; 0x10], 16);
        for (name, section, value) in [("f", text, 0), ("g", text, 0x10), ("h", init, 0)] {
            obj.add_symbol(WSymbol {
                name: name.as_bytes().to_vec(),
                value,
                size: 0x10,
                kind: SymbolKind::Text,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Section(section),
                flags: SymbolFlags::None,
            });
        }
        let blob =
            crate::layout::v1::module_blob(&encode(&table(entries), Layout::V1), Endian::Little);
        let s = obj.add_section(
            Vec::new(),
            b".mod_lineinfo".to_vec(),
            SectionKind::ReadOnlyData,
        );
        obj.append_section_data(s, &blob, 4);
        obj.write().unwrap()
    }

    fn line(answer: &Answer<'_>) -> std::result::Result<u32, Miss> {
        answer.line.clone().map(|f| f.line)
    }

    #[test]
    fn a_table_object_alone_answers_offsets_from_text() {
        for layout in Layout::ALL {
            let data = table_object(&[(0x10, 7), (0x20, 9)], layout);
            let s = Symbolizer::vmlinux(&data, None).unwrap().unwrap();
            assert!(s.is_bare() && !s.is_empty() && !s.is_module());
            assert_eq!(s.layout(), layout);
            assert_eq!(line(&s.at_address(0x18)), Ok(7));
            assert_eq!(line(&s.at_address(0x1234)), Ok(9));
            assert_eq!(s.at_address(0x18).symbol, None, "no symbols");
            assert_eq!(line(&s.at_address(0xf)), Err(Miss::NoEntry));
            assert_eq!(
                line(&s.at_address(0xffff_ffff_8100_0000)),
                Err(Miss::NotAnOffset)
            );
            let f = s.at_symbol(b"f", 0, None, Format::Symbol);
            assert_eq!(line(&f), Err(Miss::UnknownSymbol));
        }
    }

    #[test]
    fn a_hole_has_no_line_and_says_why() {
        for layout in Layout::ALL {
            let data = table_object(&[(0x10, 7), (0x18, 0), (0x20, 9)], layout);
            let s = Symbolizer::vmlinux(&data, None).unwrap().unwrap();
            assert_eq!(line(&s.at_address(0x17)), Ok(7));
            for at in [0x18, 0x1f] {
                let miss = Err(Miss::NoLine { entry_offset: 0x18 });
                assert_eq!(line(&s.at_address(at)), miss, "{layout:?} {at:#x}");
            }
            assert_eq!(line(&s.at_address(0x20)), Ok(9));
        }
        // A module: the hole inside `f`; in `g` a hole before its start is the guard's.
        let data = module(&[(0, 5), (0x8, 0), (0x14, 6)]);
        let input = Input::parse(&data).unwrap();
        let s = Symbolizer::module(&input, LoaderConfig::default())
            .unwrap()
            .unwrap();
        let at = |offset| line(&s.at_section(".text", offset));
        assert_eq!(at(0x7), Ok(5));
        assert_eq!(at(0x9), Err(Miss::NoLine { entry_offset: 0x8 }));
        assert_eq!(at(0x12), Err(Miss::EarlierSymbol { entry_offset: 0x8 }));
        assert_eq!(at(0x14), Ok(6));
    }

    #[test]
    fn a_stub_is_empty_and_says_so() {
        let data = table_object(&[], Layout::V7);
        let s = Symbolizer::vmlinux(&data, None).unwrap().unwrap();
        assert!(s.is_empty());
        assert_eq!(line(&s.at_address(0x10)), Err(Miss::EmptyTables));
        let module = WObject::new(BinaryFormat::Elf, Architecture::X86_64, Endian::Little);
        let module = module.write().unwrap();
        let none = Symbolizer::vmlinux(&module, None).unwrap();
        assert_eq!(none.unwrap_err(), NoTables::Missing);
    }

    #[test]
    fn a_module_answers_sections_and_symbols_with_the_guard() {
        // f has lines at 0 and 4; g (at 0x10) has none of its own.
        let data = module(&[(0, 3), (4, 4)]);
        let input = Input::parse(&data).unwrap();
        let s = Symbolizer::module(&input, LoaderConfig::default())
            .unwrap()
            .unwrap();
        assert!(s.is_module() && !s.is_bare() && s.is_x86());
        assert_eq!(s.layout(), Layout::V1);
        let a = s.at_section(".text", 6);
        assert_eq!(line(&a), Ok(4));
        let f = a.symbol.unwrap();
        assert_eq!((f.name, f.offset, f.size), (&b"f"[..], 6, 0x10));
        // In g, the entry at 4 belongs to f: the kernel's guard rejects it.
        let g = s.at_section(".text", 0x14);
        assert_eq!(line(&g), Err(Miss::EarlierSymbol { entry_offset: 4 }));
        assert_eq!(g.symbol.unwrap().name, b"g");
        assert_eq!(
            line(&s.at_section(".init.text", 0)),
            Err(Miss::NotCovered(Uncovered::InitMemory))
        );
        assert_eq!(line(&s.at_section(".nope", 0)), Err(Miss::NoSection));
        let past = s.at_section(".text", 0x20);
        assert_eq!(line(&past), Err(Miss::PastSection { size: 0x20 }));
        // Offsets into a module are section offsets, not addresses.
        assert_eq!(line(&s.at_address(6)), Err(Miss::NoSection));
    }

    #[test]
    fn frames_look_up_as_their_format_says() {
        let data = module(&[(0, 3), (4, 4), (0x10, 5)]);
        let input = Input::parse(&data).unwrap();
        let s = Symbolizer::module(&input, LoaderConfig::default())
            .unwrap()
            .unwrap();
        // %pS looks up f+4 itself; %pB looks up f+4 − 1.
        assert_eq!(
            line(&s.at_symbol(b"f", 4, Some(0x10), Format::Symbol)),
            Ok(4)
        );
        assert_eq!(
            line(&s.at_symbol(b"f", 4, Some(0x10), Format::Backtrace)),
            Ok(3)
        );
        // %pB of a call at the end of f: offset == size is the return address past it.
        let end = s.at_symbol(b"f", 0x10, Some(0x10), Format::Backtrace);
        assert_eq!(line(&end), Ok(4));
        assert_eq!(end.symbol.unwrap().name, b"f");
        let outside = Err(Miss::OffsetOutsideSymbol);
        assert_eq!(
            line(&s.at_symbol(b"f", 0x10, Some(0x10), Format::Symbol)),
            outside
        );
        assert_eq!(
            line(&s.at_symbol(b"f", 0, Some(0x10), Format::Backtrace)),
            outside
        );
        assert_eq!(line(&s.at_symbol(b"g", 0, None, Format::Symbol)), Ok(5));
        let unknown = s.at_symbol(b"nope", 0, Some(0x10), Format::Symbol);
        assert_eq!(line(&unknown), Err(Miss::UnknownSymbol));
        assert!(Miss::UnknownSymbol.is_unresolved() && !Miss::NoEntry.is_unresolved());
        assert_eq!(Format::of(Context::CallTrace, true), Format::Backtrace);
        assert_eq!(Format::of(Context::CallTrace, false), Format::Symbol);
        assert_eq!(Format::of(Context::Register, true), Format::Symbol);
    }

    #[test]
    fn build_ids_compare_as_printed() {
        let data = module(&[(0, 3)]);
        let input = Input::parse(&data).unwrap();
        let mut s = Symbolizer::module(&input, LoaderConfig::default())
            .unwrap()
            .unwrap();
        s.build_id = Some(&[0x01, 0xab, 0xff]);
        assert!(s.is_build_id(b"01abff") && s.is_build_id(b"01ABFF"));
        assert!(
            !s.is_build_id(b"01abfe") && !s.is_build_id(b"01ab") && !s.is_build_id(b"01abffzz")
        );
        assert!(!s.is_build_id(b"0xabff"));
    }
}

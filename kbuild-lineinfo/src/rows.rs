//! DWARF `.debug_line` → rows (docs/format.md §1 rules 1–3), merged into one sorted point stream.
//!
//! Every compilation unit's line program is walked with gimli (DWARF 2–5, 32- and 64-bit
//! formats). Within a sequence the last row at an address wins (rule 3); each sequence's end, and
//! each row with line 0 or an unresolvable file (rule 1), becomes a [`Point`] with no answer, so
//! that after sorting, "the last point at or below A" is exactly rule 3's answer for A.

mod program;
mod root;
mod sorted;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};

use gimli::{AttributeValue, EndianSlice, Reader, RelocateReader, RunTimeEndian};

use crate::error::{Error, Result};
use crate::input::Input;
use crate::lazy_reloc::{LazyRelocs, OnRead};
use crate::paths::{CompDir, Namer};
use crate::vocab::Endian;
pub use sorted::Point;
use sorted::PointBuf;

type R<'a> = RelocateReader<EndianSlice<'a, RunTimeEndian>, OnRead<'a>>;

/// All rows of one input.
#[derive(Debug, Default)]
pub struct Rows {
    /// Sorted by address; at one address, ends first, then rows in line-program order, so the
    /// last point at an address is the answer there.
    pub points: Vec<Point>,
    /// Interned names; `Point::file` indexes this.
    pub names: Vec<Vec<u8>>,
    /// Rows read with a line and a file (before any merging).
    pub rows: u64,
}

/// The debug sections gimli needs, owned or borrowed.
struct Sections<'data> {
    info: std::borrow::Cow<'data, [u8]>,
    /// `.debug_info`'s relocations, applied as values are read (`ET_REL` only).
    info_relocs: Option<LazyRelocs<'data>>,
    abbrev: std::borrow::Cow<'data, [u8]>,
    line: std::borrow::Cow<'data, [u8]>,
    line_str: std::borrow::Cow<'data, [u8]>,
    str: std::borrow::Cow<'data, [u8]>,
    str_offsets: std::borrow::Cow<'data, [u8]>,
}

impl<'data> Sections<'data> {
    fn load(input: &Input<'data>) -> Result<Self> {
        let (info, info_relocs) = input.debug_section_on_read(".debug_info")?;
        Ok(Sections {
            info,
            info_relocs,
            abbrev: input.debug_section(".debug_abbrev")?,
            line: input.debug_section(".debug_line")?,
            line_str: input.debug_section(".debug_line_str")?,
            str: input.debug_section(".debug_str")?,
            str_offsets: input.debug_section(".debug_str_offsets")?,
        })
    }

    fn dwarf(&self, endian: RunTimeEndian) -> gimli::Dwarf<R<'_>> {
        let load = |id: gimli::SectionId| -> std::result::Result<R<'_>, std::convert::Infallible> {
            let relocs = match id {
                gimli::SectionId::DebugInfo => OnRead(self.info_relocs.as_ref()),
                _ => OnRead(None),
            };
            let data: &[u8] = match id {
                gimli::SectionId::DebugInfo => &self.info,
                gimli::SectionId::DebugAbbrev => &self.abbrev,
                gimli::SectionId::DebugLine => &self.line,
                gimli::SectionId::DebugLineStr => &self.line_str,
                gimli::SectionId::DebugStr => &self.str,
                gimli::SectionId::DebugStrOffsets => &self.str_offsets,
                _ => &[],
            };
            Ok(RelocateReader::new(EndianSlice::new(data, endian), relocs))
        };
        // No abbreviations cache: units are opened with their root's abbreviation alone
        // ([`root::abbreviations`]), and no two units of a kernel image share a table.
        let Ok(dwarf) = gimli::Dwarf::load(load);
        dwarf
    }

    /// The first error met while relocating `.debug_info` on read: it explains any odd result.
    fn relocation_error(&self) -> Option<Error> {
        let e = self.info_relocs.as_ref()?.take_error()?;
        Some(e.at(".debug_info"))
    }
}

fn gimli_endian(endian: Endian) -> RunTimeEndian {
    match endian {
        Endian::Little => RunTimeEndian::Little,
        Endian::Big => RunTimeEndian::Big,
    }
}

/// How to run an extraction; never changes the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effort {
    /// Threads to read compilation units on (the caller holds that many job slots).
    pub threads: usize,
    /// Run every line program with gimli, never with the fast runner (a check of the latter:
    /// the output must be the same).
    pub gimli_only: bool,
}

impl Default for Effort {
    fn default() -> Self {
        Effort {
            threads: 1,
            gimli_only: false,
        }
    }
}

/// True when the input has line information at all.
pub fn has_line_info(input: &Input<'_>) -> Result<bool> {
    Ok(input.has_section_data(".debug_line") && input.has_section_data(".debug_info"))
}

/// Reads every line program of `input` into one sorted point stream, on `effort.threads`
/// threads (the result depends neither on the number nor on `effort.gimli_only`).
pub fn read_rows(input: &Input<'_>, namer: &Namer, effort: Effort) -> Result<Rows> {
    let sections = Sections::load(input)?;
    let endian = gimli_endian(input.endian());
    let threads = effort.threads.max(1);
    // More chunks than threads, so that a thread that ends early takes the next one.
    let n = if threads > 1 {
        threads * CHUNKS_PER_THREAD
    } else {
        1
    };
    let chunks = split_units(&sections.dwarf(endian), n)?;
    let threads = threads.min(chunks.len());
    let mode = (endian, !effort.gimli_only);
    let parts: Vec<Result<Part>> = if threads <= 1 {
        chunks
            .iter()
            .map(|c| read_chunk(&sections, mode, namer, c))
            .collect()
    } else {
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else {
                    return done;
                };
                done.push((i, read_chunk(&sections, mode, namer, chunk)));
            }
        };
        let mut done = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
            let mut done = work();
            for h in handles {
                done.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            done
        });
        done.sort_unstable_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, part)| part).collect()
    };
    if let Some(e) = sections.relocation_error() {
        return Err(e);
    }
    merge(parts)
}

/// Chunks of units per thread (when there is more than one thread).
const CHUNKS_PER_THREAD: usize = 4;

/// Splits the units into at most `n` runs of about equal size, in section order.
fn split_units(dwarf: &gimli::Dwarf<R<'_>>, n: usize) -> Result<Vec<Vec<usize>>> {
    let mut units = dwarf.units();
    let mut all = Vec::new();
    let mut at = 0;
    loop {
        match units.next() {
            Ok(Some(h)) => {
                all.push((h.offset().0, h.length_including_self()));
                at = h.offset().0 + h.length_including_self();
            }
            Ok(None) => break,
            Err(e) => return Err(Error::from(e).at(format!(".debug_info+{at:#x}"))),
        }
    }
    let total: usize = all.iter().map(|u| u.1).sum();
    let per = total / n + 1;
    let mut chunks = vec![Vec::new()];
    let mut size = 0;
    for (offset, len) in all {
        if size >= per && chunks.len() < n {
            chunks.push(Vec::new());
            size = 0;
        }
        chunks.last_mut().expect("never empty").push(offset);
        size += len;
    }
    Ok(chunks)
}

/// The rows of one chunk of units: points in line-program order, names interned per chunk.
#[derive(Debug, Default)]
struct Part {
    points: PointBuf,
    names: Vec<Vec<u8>>,
    rows: u64,
}

fn read_chunk(
    sections: &Sections<'_>,
    (endian, fast): (RunTimeEndian, bool),
    namer: &Namer,
    units: &[usize],
) -> Result<Part> {
    let dwarf = sections.dwarf(endian);
    let mut reader = UnitReader {
        dwarf: &dwarf,
        namer,
        rows: Part::default(),
        unit_points: Vec::new(),
        fast,
        ids: HashMap::default(),
        comp_dirs: HashMap::default(),
        prepared: Vec::new(),
        by_offsets: HashMap::default(),
    };
    for &offset in units {
        let header = dwarf
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(offset))
            .map_err(|e| Error::from(e).at(format!(".debug_info+{offset:#x}")))?;
        reader
            .read_unit(header)
            .map_err(|e| e.at(format!("unit at .debug_info+{offset:#x}")))?;
    }
    Ok(reader.rows)
}

/// Concatenates per-chunk rows in chunk order, interning names into one table, and sorts the
/// points (ends first at one address, then rows in program order).
fn merge(parts: Vec<Result<Part>>) -> Result<Rows> {
    let mut parts: Vec<Part> = parts.into_iter().collect::<Result<_>>()?;
    if let [part] = &mut parts[..] {
        // One part (a module): its names are unique already, nothing to renumber.
        return Ok(Rows {
            names: std::mem::take(&mut part.names),
            rows: part.rows,
            points: sorted::sorted(std::slice::from_ref(&part.points)),
        });
    }
    let mut merged = Rows::default();
    let mut ids: HashMap<Vec<u8>, u32, Fx> = HashMap::default();
    for part in &mut parts {
        let map: Vec<u32> = std::mem::take(&mut part.names)
            .into_iter()
            .map(|name| {
                let next = merged.names.len() as u32;
                *ids.entry(name).or_insert_with_key(|k| {
                    merged.names.push(k.clone());
                    next
                })
            })
            .collect();
        merged.rows += part.rows;
        if map.iter().enumerate().any(|(i, &id)| i as u32 != id) {
            part.points.for_each_mut(|p| {
                if !p.is_end() {
                    p.file = map[p.file as usize];
                }
            });
        }
    }
    let points: Vec<PointBuf> = parts.into_iter().map(|p| p.points).collect();
    merged.points = sorted::sorted(&points);
    Ok(merged)
}

/// Guesses the kernel source tree as the directory holding `init/main.c` among the compilation
/// units (every vmlinux has it), as DWARF names it; `None` when there is no such unit.
pub fn guess_srctree(input: &Input<'_>) -> Result<Option<Vec<u8>>> {
    let sections = Sections::load(input)?;
    let endian = gimli_endian(input.endian());
    let dwarf = sections.dwarf(endian);
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = line_unit(&dwarf, header) else {
            continue;
        };
        let (Some(name), comp_dir) = (unit.name, unit.comp_dir) else {
            continue;
        };
        let comp_dir = comp_dir
            .and_then(|c| c.to_slice().ok().map(|s| s.into_owned()))
            .unwrap_or_default();
        let Ok(name) = name.to_slice() else { continue };
        let full = crate::paths::normalize(&crate::paths::join(&comp_dir, b"", &name));
        if let Some(root) = full.strip_suffix(b"init/main.c") {
            if root.is_empty() || root.ends_with(b"/") {
                return Ok(Some(crate::paths::normalize(root)));
            }
        }
    }
    Ok(None)
}

/// Guesses the kernel source tree of a module (which has no `init/main.c`) as the directory
/// above the first `include/linux/` among the files its line programs name (every kernel file
/// includes some); `None` when there is none. For tables built from a module's DWARF without
/// a tree given (`annotate`, `lookup`), so that its names read like the kernel tree too.
pub fn guess_module_srctree(input: &Input<'_>) -> Result<Option<Vec<u8>>> {
    const MARK: &[u8] = b"/include/linux/";
    let sections = Sections::load(input)?;
    let dwarf = sections.dwarf(gimli_endian(input.endian()));
    let string = |unit: &gimli::Unit<R<'_>>, value| -> Option<Vec<u8>> {
        Some(
            dwarf
                .attr_string(unit, value)
                .ok()?
                .to_slice()
                .ok()?
                .into_owned(),
        )
    };
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = line_unit(&dwarf, header) else {
            continue;
        };
        let Some(program) = &unit.line_program else {
            continue;
        };
        let comp_dir = unit
            .comp_dir
            .as_ref()
            .and_then(|c| c.to_slice().ok().map(|s| s.into_owned()))
            .unwrap_or_default();
        let header = program.header();
        for file in header.file_names() {
            let dir = match file.directory_index() {
                0 => Vec::new(),
                _ => file
                    .directory(header)
                    .and_then(|d| string(&unit, d))
                    .unwrap_or_default(),
            };
            let Some(name) = string(&unit, file.path_name()) else {
                continue;
            };
            let full = crate::paths::normalize(&crate::paths::join(&comp_dir, &dir, &name));
            if let Some(at) = full.windows(MARK.len()).position(|w| w == MARK) {
                if full.starts_with(b"/") {
                    return Ok(Some(full[..=at].to_vec()));
                }
            }
        }
    }
    Ok(None)
}

/// A unit with only what the table needs: its line program, name, compilation directory and
/// string offsets base (for `DW_FORM_strx` names).
///
/// Not [`gimli::Dwarf::unit`]: that also resolves `DW_AT_low_pc`, which in DWARF 5 from clang is
/// a `DW_FORM_addrx` index into `.debug_addr` (and in `-gsplit-dwarf` DWARF 4 a
/// `DW_FORM_GNU_addr_index`). The table never needs a unit's address, ranges or locations, so
/// the sections holding them (`.debug_addr`, `.debug_rnglists`, `.debug_loclists`) are neither
/// loaded nor relocated, and no attribute but these four is ever resolved: an attribute the
/// table does not need cannot stop the build.
fn line_unit<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
    header: gimli::UnitHeader<R<'d>>,
) -> gimli::Result<gimli::Unit<R<'d>>> {
    let abbreviations = root::abbreviations(dwarf, &header)?;
    let encoding = header.encoding();
    let mut unit = gimli::Unit {
        abbreviations,
        name: None,
        comp_dir: None,
        low_pc: 0,
        str_offsets_base: gimli::DebugStrOffsetsBase::default_for_encoding_and_file(
            encoding,
            dwarf.file_type,
        ),
        addr_base: gimli::DebugAddrBase(0),
        loclists_base: gimli::DebugLocListsBase::default_for_encoding_and_file(
            encoding,
            dwarf.file_type,
        ),
        rnglists_base: gimli::DebugRngListsBase::default_for_encoding_and_file(
            encoding,
            dwarf.file_type,
        ),
        line_program: None,
        dwo_id: None,
        header,
    };
    let (mut name, mut comp_dir, mut stmt_list) = (None, None, None);
    {
        let mut cursor = unit.header.entries(&unit.abbreviations);
        cursor.next_dfs()?;
        let root = cursor.current().ok_or(gimli::Error::MissingUnitDie)?;
        for attr in root.attrs() {
            match (attr.name(), attr.value()) {
                (gimli::DW_AT_name, value) => name = Some(value),
                (gimli::DW_AT_comp_dir, value) => comp_dir = Some(value),
                (gimli::DW_AT_stmt_list, AttributeValue::DebugLineRef(offset)) => {
                    stmt_list = Some(offset)
                }
                (gimli::DW_AT_str_offsets_base, AttributeValue::DebugStrOffsetsBase(base)) => {
                    unit.str_offsets_base = base
                }
                _ => {}
            }
        }
    }
    // As gimli does: a name that cannot be read is no name (the line program may still name
    // directory 0 itself).
    unit.name = name.and_then(|v| dwarf.attr_string(&unit, v).ok());
    unit.comp_dir = comp_dir.and_then(|v| dwarf.attr_string(&unit, v).ok());
    unit.line_program = match stmt_list {
        Some(offset) => Some(dwarf.debug_line.program(
            offset,
            unit.header.address_size(),
            unit.comp_dir.clone(),
            unit.name.clone(),
        )?),
        None => None,
    };
    Ok(unit)
}

struct UnitReader<'a, 'd> {
    dwarf: &'a gimli::Dwarf<R<'d>>,
    namer: &'a Namer,
    rows: Part,
    /// The current unit's points (moved to `rows` when the unit is done; reused).
    unit_points: Vec<Point>,
    /// Line programs run by [`program::run`] first (gimli takes what it leaves), else by gimli.
    fast: bool,
    ids: HashMap<Vec<u8>, u32, Fx>,
    /// Compilation directories seen, numbered (a unit's part of a [`NameKey`]).
    comp_dirs: HashMap<Vec<u8>, u32, Fx>,
    /// Each numbered compilation directory as the namer needs it.
    prepared: Vec<CompDir>,
    /// Names already resolved, by the section offsets of their strings: units of one image
    /// share their directory and file strings (`.debug_line_str`, merged by the linker), so most
    /// file entries are found here without building and normalising the path again.
    by_offsets: HashMap<NameKey, u32, Fx>,
}

/// A file entry's name by where its strings are: (compilation directory number, directory
/// string, file string), each string as [`string_key`] gives it.
type NameKey = (u32, u64, u64);

/// A string attribute that names a fixed place in a string section, as a key: its offset tagged
/// with the section; `None` for strings inline or indexed per unit.
fn string_key(value: &AttributeValue<R<'_>>) -> Option<u64> {
    const TAG: u64 = 1 << 63;
    let (tag, offset) = match *value {
        AttributeValue::DebugLineStrRef(o) => (0, o.0 as u64),
        AttributeValue::DebugStrRef(o) => (TAG, o.0 as u64),
        _ => return None,
    };
    // Offsets that would meet the tag or [`NO_DIR`] get no key.
    (offset < TAG - 1).then_some(tag | offset)
}

/// The directory part of a [`NameKey`] for directory 0 (the compilation directory).
const NO_DIR: u64 = u64::MAX;

/// FxHash (rustc's): keys here are small integers or short paths from one trusted image, so a
/// fast hash beats a DoS-resistant one.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

type Fx = BuildHasherDefault<FxHasher>;

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What one unit's rows need while they are added.
struct UnitRows<'u, 'd> {
    unit: &'u gimli::Unit<R<'d>>,
    /// The compilation directory's number.
    comp: u32,
    /// File index → interned name id.
    cache: Vec<u32>,
    /// Where the current sequence's points start in the unit's points.
    sequence_start: usize,
    /// A row of the current sequence went back in address (see `end_sequence`).
    out_of_order: bool,
}

/// The fast runner's view of a program header; `None` when its standard opcode lengths cannot
/// be read (gimli then runs the program).
fn encoding_of(header: &gimli::LineProgramHeader<R<'_>>) -> Option<program::Encoding> {
    let line = header.line_encoding();
    let lengths = header
        .standard_opcode_lengths()
        .to_slice()
        .ok()?
        .into_owned();
    Some(program::Encoding {
        version: header.version(),
        address_size: header.address_size(),
        endian: match gimli::Endianity::is_big_endian(header.standard_opcode_lengths().endian()) {
            true => Endian::Big,
            false => Endian::Little,
        },
        minimum_instruction_length: line.minimum_instruction_length,
        maximum_operations_per_instruction: line.maximum_operations_per_instruction,
        line_base: line.line_base,
        line_range: line.line_range,
        opcode_base: header.opcode_base(),
        standard_opcode_lengths: lengths,
    })
}

/// Per-unit cache of file index → interned name id.
const UNRESOLVED: u32 = u32::MAX;
const INVALID: u32 = u32::MAX - 1;

impl<'d> UnitReader<'_, 'd> {
    fn read_unit(&mut self, header: gimli::UnitHeader<R<'d>>) -> Result<()> {
        self.unit_points.clear();
        self.unit_points_of(header)?;
        self.rows.points.extend_from_slice(&self.unit_points);
        Ok(())
    }

    /// The points of one unit, into `self.unit_points`.
    fn unit_points_of(&mut self, header: gimli::UnitHeader<R<'d>>) -> Result<()> {
        let mut unit = line_unit(self.dwarf, header)?;
        // Taken, not cloned (the file and directory lists would be copied): names are resolved
        // through `program`'s header, the unit is only needed for its string bases.
        let Some(program) = unit.line_program.take() else {
            return Ok(());
        };
        let comp_dir: Vec<u8> = match (&unit.comp_dir, program.header().version()) {
            (Some(dir), _) => dir.to_slice()?.to_vec(),
            (None, v) if v >= 5 => self
                .dir_string(&unit, program.header().directory(0))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let next = self.comp_dirs.len() as u32;
        let comp_id = *self.comp_dirs.entry(comp_dir).or_insert_with_key(|dir| {
            self.prepared.push(self.namer.comp_dir(dir));
            next
        });
        let mut unit_rows = UnitRows {
            unit: &unit,
            comp: comp_id,
            cache: Vec::new(),
            sequence_start: 0,
            out_of_order: false,
        };
        if self.fast {
            let rows = self.rows.rows;
            if let Some(encoding) = encoding_of(program.header()) {
                let buf = program.header().raw_program_buf();
                let bytes = buf.to_slice()?;
                let header = program.header();
                let size = encoding.address_size;
                let address_at = |at: usize| {
                    let mut operand = buf.clone();
                    operand.skip(at).ok()?;
                    operand.read_address(size).ok()
                };
                let done = program::run(&bytes, &encoding, address_at, |row| {
                    self.push_row(&mut unit_rows, header, row)
                })?;
                if done.is_ok() {
                    return Ok(());
                }
            }
            // Left to gimli: start the unit again.
            self.unit_points.clear();
            self.rows.rows = rows;
            unit_rows.sequence_start = 0;
            unit_rows.out_of_order = false;
        }
        let mut rows = program.rows();
        while let Some((header, row)) = rows.next_row()? {
            let row = match row.end_sequence() {
                true => program::Row::End {
                    address: row.address(),
                },
                false => program::Row::Line {
                    address: row.address(),
                    file: row.file_index(),
                    line: row.line().map_or(0, |l| l.get()),
                },
            };
            self.push_row(&mut unit_rows, header, row)?;
        }
        Ok(())
    }

    /// Adds one row of the line matrix (docs/format.md §1 rules 1 and 3).
    #[inline(always)]
    fn push_row(
        &mut self,
        unit: &mut UnitRows<'_, 'd>,
        header: &gimli::LineProgramHeader<R<'d>>,
        row: program::Row,
    ) -> Result<()> {
        let (address, index, line) = match row {
            program::Row::End { address } => {
                if unit.out_of_order {
                    self.end_sequence(unit);
                }
                let end = Point {
                    address,
                    file: 0,
                    line: 0,
                };
                let in_sequence = self.unit_points.len() > unit.sequence_start;
                match self.unit_points.last_mut() {
                    // A row at the end's address covers nothing (gas often ends a sequence so):
                    // the answer there is none (rule 7), not that row's line.
                    Some(last) if in_sequence && last.address == address => *last = end,
                    _ => self.unit_points.push(end),
                }
                unit.sequence_start = self.unit_points.len();
                return Ok(());
            }
            program::Row::Line {
                address,
                file,
                line,
            } => (address, file, line),
        };
        let line = u32::try_from(line).unwrap_or(0);
        let file = match line {
            0 => INVALID,
            _ => match unit.cache.get(index as usize) {
                Some(&id) if id != UNRESOLVED => id,
                _ => self.first_use(unit, header, index)?,
            },
        };
        let point = match file {
            // Rule 1: no line from here on, as after an end (a hole in the table, rule 7).
            INVALID => Point {
                address,
                file: 0,
                line: 0,
            },
            _ => {
                self.rows.rows += 1;
                Point {
                    address,
                    file,
                    line,
                }
            }
        };
        let in_sequence = self.unit_points.len() > unit.sequence_start;
        match self.unit_points.last_mut() {
            // Rule 3: within a sequence, the last row at an address wins.
            Some(last) if in_sequence && last.address == address => *last = point,
            // No line after no line: nothing changes.
            Some(last)
                if in_sequence && point.is_end() && last.is_end() && last.address < address => {}
            Some(last) if in_sequence && last.address > address => {
                unit.out_of_order = true;
                self.unit_points.push(point);
            }
            _ => self.unit_points.push(point),
        }
        Ok(())
    }

    /// Puts the rows of a sequence that went back in address (clang's integrated assembler
    /// after a `.subsection`, program.rs) in address order before its end: at one address
    /// the last row in program order wins (docs/format.md §1 rule 3). Rows past the end (the
    /// subsection's code: the assembler ends the sequence with the subsection before it) keep
    /// their lines up to the next row (rule 4). Binutils' `addr2line` answers the same inside
    /// the sequence; `llvm-symbolizer` bisects the rows as they come, and misses some.
    #[cold]
    #[inline(never)]
    fn end_sequence(&mut self, unit: &mut UnitRows<'_, 'd>) {
        unit.out_of_order = false;
        let rows = &mut self.unit_points[unit.sequence_start..];
        // Stable: at one address, program order stays, and the last is kept.
        rows.sort_by_key(|p| p.address);
        let mut kept = 0;
        for i in 0..rows.len() {
            if rows
                .get(i + 1)
                .is_some_and(|next| next.address == rows[i].address)
            {
                continue;
            }
            rows[kept] = rows[i];
            kept += 1;
        }
        self.unit_points.truncate(unit.sequence_start + kept);
    }

    /// [`UnitReader::resolve`] for the first row of a unit that names file `index`, kept in
    /// the unit's cache (out of the per-row path).
    #[cold]
    #[inline(never)]
    fn first_use(
        &mut self,
        unit: &mut UnitRows<'_, 'd>,
        header: &gimli::LineProgramHeader<R<'d>>,
        index: u64,
    ) -> Result<u32> {
        let id = self
            .resolve(unit.unit, header, index, unit.comp)?
            .unwrap_or(INVALID);
        let slot = usize::try_from(index).unwrap_or(usize::MAX);
        if slot < 1 << 16 {
            if unit.cache.len() <= slot {
                unit.cache.resize(slot + 1, UNRESOLVED);
            }
            unit.cache[slot] = id;
        }
        Ok(id)
    }

    /// The interned id of file `index` of this unit's line program, `None` if it cannot be
    /// resolved.
    fn resolve(
        &mut self,
        unit: &gimli::Unit<R<'d>>,
        header: &gimli::LineProgramHeader<R<'d>>,
        index: u64,
        comp_id: u32,
    ) -> Result<Option<u32>> {
        let Some(file) = header.file(index) else {
            return Ok(None);
        };
        // Directory 0 is the compilation directory itself (DWARF 5 lists it, DWARF 4 implies it).
        let dir_value = match file.directory_index() {
            0 => None,
            _ => Some(file.directory(header)),
        };
        let key = match &dir_value {
            None => Some(NO_DIR),
            Some(Some(dir)) => string_key(dir),
            Some(None) => None,
        }
        .zip(string_key(&file.path_name()))
        .map(|(dir, name)| (comp_id, dir, name));
        if let Some(&id) = key.as_ref().and_then(|k| self.by_offsets.get(k)) {
            return Ok(Some(id));
        }
        let dir = match dir_value {
            None => Vec::new(),
            Some(dir) => match self.dir_string(unit, dir) {
                Some(dir) => dir,
                None => return Ok(None),
            },
        };
        let Ok(name) = self.dwarf.attr_string(unit, file.path_name()) else {
            return Ok(None);
        };
        let comp_dir = &self.prepared[comp_id as usize];
        let full = self.namer.name_in(comp_dir, &dir, &name.to_slice()?);
        if full.is_empty() || full.contains(&0) {
            return Ok(None);
        }
        let next = self.rows.names.len() as u32;
        let id = *self.ids.entry(full).or_insert_with_key(|k| {
            self.rows.names.push(k.clone());
            next
        });
        if let Some(key) = key {
            self.by_offsets.insert(key, id);
        }
        Ok(Some(id))
    }

    /// A directory entry's string; `None` when the entry or its string does not exist.
    fn dir_string(
        &self,
        unit: &gimli::Unit<R<'d>>,
        dir: Option<AttributeValue<R<'d>>>,
    ) -> Option<Vec<u8>> {
        let s = self.dwarf.attr_string(unit, dir?).ok()?;
        Some(s.to_slice().ok()?.to_vec())
    }
}

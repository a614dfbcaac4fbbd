//! `kbuild-lineinfo lookup`: answer addresses from the embedded tables only, as the kernel would.
//!
//! No DWARF is read: this is how tests and users check what a build will print.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use kbuild_lineinfo::decode::{Found, TableView};
use kbuild_lineinfo::input::Input;
use kbuild_lineinfo::layout::sections;
use kbuild_lineinfo::{image, layout, Endian};
use object::{Object, ObjectSection, ObjectSymbol};

use crate::cli::LookupArgs;

pub fn run(args: &LookupArgs) -> Result<ExitCode> {
    let queries = if args.queries.is_empty() {
        std::io::stdin()
            .lines()
            .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
            .map(|l| l.map(|l| l.trim().to_string()))
            .collect::<std::io::Result<Vec<_>>>()
            .context("standard input")?
    } else {
        args.queries.clone()
    };
    let answers = match (&args.vmlinux, &args.module) {
        (Some(path), _) => vmlinux(path, &queries),
        (None, Some(path)) => {
            let loader = args
                .objtree
                .as_deref()
                .map_or_else(Default::default, crate::modules::kbuild::loader_config);
            module(path, &queries, loader)
        }
        (None, None) => unreachable!("clap requires --vmlinux or --module"),
    }
    .with_context(|| {
        let p = args
            .vmlinux
            .as_ref()
            .or(args.module.as_ref())
            .expect("one is set");
        p.display().to_string()
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (query, found) in queries.iter().zip(answers) {
        match found {
            Some((file, line)) => {
                // The name's bytes as the table holds them (DWARF names need not be UTF-8).
                write!(out, "{query} ")?;
                out.write_all(&file)?;
                writeln!(out, ":{line}")?;
            }
            None => writeln!(out, "{query} ??")?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

type Answer = Option<(Vec<u8>, u32)>;

fn parse_hex(s: &str) -> Result<u64> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(digits, 16).with_context(|| format!("`{s}` is not a hex address"))
}

fn owned(found: Option<Found<'_>>) -> Answer {
    found.map(|f| (f.file.to_vec(), f.line))
}

/// The vmlinux table view of an image, whichever layout it carries.
fn vmlinux_view<'a>(data: &'a [u8], symbols: &'a image::SymbolBytes<'a>) -> Result<TableView<'a>> {
    let input = Input::parse(data)?;
    let endian = input.endian();
    let get = |name: &str| symbols.get(name);
    let view = if symbols.get("lineinfo_data_size").is_some() {
        layout::v7::vmlinux_view(get, endian)
    } else {
        layout::v1::vmlinux_view(get, endian)
    };
    view.context("no lineinfo tables (lineinfo_* symbols missing or inconsistent)")
}

fn vmlinux(path: &Path, queries: &[String]) -> Result<Vec<Answer>> {
    let data = crate::mmap::map(path)?;
    let symbols = image::SymbolBytes::parse(&data)?;
    let view = vmlinux_view(&data, &symbols)?;
    let input = Input::parse(&data)?;
    let linked = !input.is_relocatable();
    let (text, starts) = if linked {
        let text = input.symbol("_text").context("no `_text` symbol")?;
        (text, input.text_symbol_starts()?)
    } else {
        (0, Vec::new())
    };
    queries
        .iter()
        .map(|q| {
            let address = parse_hex(q)?;
            // The kernel: below _text or 4 GiB past it, no answer.
            let Some(offset) = address
                .checked_sub(text)
                .and_then(|o| u32::try_from(o).ok())
            else {
                return Ok(None);
            };
            if !linked {
                return Ok(owned(view.lookup(offset)));
            }
            // The symbol-start guard: the symbol kallsyms would resolve starts at or below.
            let i = starts.partition_point(|&s| s <= address);
            let Some(start) = i.checked_sub(1).map(|i| starts[i]) else {
                return Ok(None);
            };
            let start = u32::try_from(start - text.min(start)).unwrap_or(0);
            Ok(owned(view.lookup_guarded(offset, start)))
        })
        .collect()
}

/// The module tables of a `.ko`, whichever layout it carries.
enum ModuleTables<'a> {
    /// One table over `.text`.
    V1(TableView<'a>),
    /// The v7 blobs, each with its anchors filled in with the covered sections' addresses in
    /// `Input`'s (synthetic) address space, as the loader's relocation pass would.
    V7(Vec<Vec<u8>>),
}

/// Finds `.mod_lineinfo` (and `.init.mod_lineinfo`): v7 when there is an init blob or the blob
/// carries relocations (its anchors), else v1.
fn module_tables<'a>(file: &object::File<'a>, input: &Input<'_>) -> Result<ModuleTables<'a>> {
    let blobs: Vec<_> = V7_BLOBS
        .iter()
        .filter_map(|n| file.section_by_name(n))
        .collect();
    let Some(first) = blobs.first() else {
        bail!("no .mod_lineinfo or .init.mod_lineinfo section");
    };
    let v7 = blobs.len() > 1
        || first.name() == Ok(".init.mod_lineinfo")
        || first.relocations().next().is_some();
    if !v7 {
        let view = layout::v1::parse_module_blob(first.data()?, input.endian())
            .context(".mod_lineinfo: not a valid v1 blob")?;
        return Ok(ModuleTables::V1(view));
    }
    let sections = input.code_sections();
    let mut relocated = Vec::new();
    for blob in blobs {
        let name = blob.name().unwrap_or("?").to_string();
        let mut bytes = blob.data()?.to_vec();
        for (offset, reloc) in blob.relocations() {
            let object::RelocationTarget::Symbol(symbol) = reloc.target() else {
                bail!("{name}: relocation at {offset:#x} does not name a symbol");
            };
            let section = file.symbol_by_index(symbol)?.section_index();
            let Some(target) = sections
                .iter()
                .find(|s| Some(s.index) == section.map(|i| i.0))
            else {
                bail!("{name}: relocation at {offset:#x} does not name a code section");
            };
            // The descriptor's u64 anchor (32-bit targets relocate one half of it).
            let at = usize::try_from(offset)?;
            let at = at - (at.checked_sub(8).context("relocation in the blob root")? % 16);
            let value = match input.endian() {
                Endian::Little => target.address.to_le_bytes(),
                Endian::Big => target.address.to_be_bytes(),
            };
            bytes
                .get_mut(at..at + 8)
                .with_context(|| format!("{name}: relocation at {offset:#x} past the blob"))?
                .copy_from_slice(&value);
        }
        relocated.push(bytes);
    }
    Ok(ModuleTables::V7(relocated))
}

const V7_BLOBS: [&str; 2] = [".mod_lineinfo", ".init.mod_lineinfo"];

/// Answers `SECTION+0xOFF` queries (a bare offset means `.text`) with the symbol-start guard.
fn module(path: &Path, queries: &[String], loader: sections::LoaderConfig) -> Result<Vec<Answer>> {
    let data = crate::mmap::map(path)?;
    let input = Input::parse(&data)?;
    let file = object::File::parse(&*data)?;
    let tables = module_tables(&file, &input)?;
    let sections = input.code_sections();
    // v1 offsets count from the start of text memory, laid out as the loader does.
    let memory = kbuild_lineinfo::extract::module_text_memory(&input, loader);
    let starts = input.text_symbol_starts()?;
    queries
        .iter()
        .map(|q| {
            let (name, off) = match q.rsplit_once('+') {
                Some((name, off)) => (name, parse_hex(off)?),
                None => (".text", parse_hex(q)?),
            };
            let Some(section) = sections.iter().find(|s| s.name == name) else {
                return Ok(None);
            };
            let Ok(offset) = u32::try_from(off) else {
                return Ok(None);
            };
            let address = section.address + off;
            let i = starts.partition_point(|&s| s <= address);
            let start = match i.checked_sub(1).map(|i| starts[i]) {
                Some(s) if s >= section.address => (s - section.address) as u32,
                _ => return Ok(None),
            };
            let found = match &tables {
                ModuleTables::V1(view) => {
                    let Some(base) = memory.offset_of(section.index) else {
                        return Ok(None);
                    };
                    let (Ok(offset), Ok(start)) = (
                        u32::try_from(base + u64::from(offset)),
                        u32::try_from(base + u64::from(start)),
                    ) else {
                        return Ok(None);
                    };
                    view.lookup_guarded(offset, start)
                }
                ModuleTables::V7(blobs) => blobs
                    .iter()
                    .find_map(|b| layout::v7::lookup(b, input.endian(), address))
                    .filter(|f| f.entry_offset >= start),
            };
            Ok(owned(found))
        })
        .collect()
}

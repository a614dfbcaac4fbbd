//! `kbuild-lineinfo lookup`: answer addresses from the embedded tables only, as the kernel would.
//!
//! No DWARF is read: this is how tests and users check what a build will print.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kbuild_lineinfo::decode::Found;
use kbuild_lineinfo::embedded::{self, ModuleTables};
use kbuild_lineinfo::image;
use kbuild_lineinfo::input::Input;
use kbuild_lineinfo::loader::LoaderConfig;

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
        (Some(path), _) => vmlinux(path.as_std_path(), &queries),
        (None, Some(path)) => {
            let loader = args
                .objtree
                .as_deref()
                .map_or_else(Default::default, crate::kbuild::tree::loader_config);
            module(path.as_std_path(), &queries, loader)
        }
        (None, None) => unreachable!("clap requires --vmlinux or --module"),
    }
    .with_context(|| {
        let p = args
            .vmlinux
            .as_ref()
            .or(args.module.as_ref())
            .expect("one is set");
        p.to_string()
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

fn vmlinux(path: &Path, queries: &[String]) -> Result<Vec<Answer>> {
    let data = crate::mmap::map(path)?;
    let symbols = image::SymbolBytes::parse(&data)?;
    let input = Input::parse(&data)?;
    let view = embedded::vmlinux_view(&symbols, input.endian())
        .context("no lineinfo tables (lineinfo_* symbols missing or inconsistent)")?;
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

/// Answers `SECTION+0xOFF` queries (a bare offset means `.text`) with the symbol-start guard.
fn module(path: &Path, queries: &[String], loader: LoaderConfig) -> Result<Vec<Answer>> {
    let data = crate::mmap::map(path)?;
    let input = Input::parse(&data)?;
    let tables = ModuleTables::read(&input, loader)?
        .context("no .mod_lineinfo or .init.mod_lineinfo section")?;
    let sections = input.code_sections();
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
            // The kernel's offsets are u32.
            let Ok(offset) = u32::try_from(off) else {
                return Ok(None);
            };
            let offset = u64::from(offset);
            // The symbol-start guard: the symbol kallsyms would resolve, in the same section.
            let address = section.address + offset;
            let i = starts.partition_point(|&s| s <= address);
            let start = match i.checked_sub(1).map(|i| starts[i]) {
                Some(s) if s >= section.address => s - section.address,
                _ => return Ok(None),
            };
            let found = tables.lookup(section.index, offset, start);
            Ok(owned(found))
        })
        .collect()
}

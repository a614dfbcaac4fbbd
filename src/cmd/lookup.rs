//! `kbuild-lineinfo lookup`: answer addresses and `name+0xOFF` frames from the embedded tables
//! only, as the kernel would. No DWARF is read: this is how tests and users check what a build
//! will print.
//!
//! One line out per query: the query, the symbol kallsyms resolves (`name+0xOFF/0xSIZE`) and
//! `file:line`, `??` for what is unknown; why a line is unknown goes to stderr (a note: not
//! under `-s`). A query that cannot be read is reported with where it came from, answered `?? ??`
//! so that the output stays in step with the input, and makes the exit status 1 at the end.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use kbuild_lineinfo::embedded::Uncovered;
use kbuild_lineinfo::symbolize::{Answer, Format, Miss, Symbolizer};

use crate::cli::LookupArgs;
use crate::voice::Verbosity;

pub fn run(args: &LookupArgs) -> Result<ExitCode> {
    let silent = crate::voice::verbosity() == Verbosity::Silent;
    let built = super::built::Built::new(args.no_cache);
    let symbolizer = match (&args.module, &args.vmlinux) {
        (Some(path), _) => {
            let loader = crate::kbuild::tree::loader_config(args.objtree.as_deref());
            super::annotate::open_module(path.as_std_path(), loader, &built)?.0
        }
        (None, Some(path)) => {
            let inputs = super::kernel::Inputs {
                image: path.as_std_path(),
                table: args.table.as_deref().map(|t| t.as_std_path()),
                system_map: args.system_map.as_deref().map(|m| m.as_std_path()),
            };
            let (symbolizer, _) = super::kernel::open(&inputs, &built)?;
            if symbolizer.is_bare() && args.table.is_some() {
                bail!(
                    "{path}: a relocatable object: with --table, --vmlinux takes the linked \
                     vmlinux (its symbols)"
                );
            }
            symbolizer
        }
        (None, None) => unreachable!("clap requires --vmlinux or --module"),
    };
    let name = args.vmlinux.as_ref().or(args.module.as_ref());
    let name = name
        .expect("clap requires --vmlinux or --module")
        .to_string();
    let mut lookup = Lookup {
        image: name.clone(),
        symbolizer: &symbolizer,
        silent,
        bad: 0,
        hinted: false,
        out: std::io::BufWriter::new(std::io::stdout().lock()),
    };
    if symbolizer.is_empty() {
        let tables = args.table.as_ref().map_or(&name[..], |t| t.as_str());
        crate::voice::note(format_args!(
            "{tables}: the lineinfo tables are empty (all counts 0: the stub of a first link?); \
             every address answers ??"
        ));
    }
    if args.queries.is_empty() {
        let stdin = std::io::stdin();
        // Answer each line as it comes when a person types them.
        let interactive = stdin.is_terminal();
        for (i, line) in stdin.lock().lines().enumerate() {
            let line = line.context("<stdin>: cannot read")?;
            let query = line.trim();
            if !query.is_empty() {
                lookup.query(query, &format!("<stdin>:{}", i + 1))?;
                if interactive {
                    lookup.out.flush()?;
                }
            }
        }
    } else {
        for (i, query) in args.queries.iter().enumerate() {
            lookup.query(query.trim(), &format!("argument {}", i + 1))?;
        }
    }
    lookup.out.flush()?;
    Ok(if lookup.bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

struct Lookup<'s, 'a, W: Write> {
    image: String,
    symbolizer: &'s Symbolizer<'a>,
    silent: bool,
    /// Queries that could not be read or asked.
    bad: u64,
    /// The hint for a table object alone was given.
    hinted: bool,
    out: W,
}

/// A query as a person pastes it from an oops.
#[derive(Debug, PartialEq, Eq)]
enum Query<'q> {
    /// `0xffffffff81a2b475`, `ffffffff81a2b475`, `[<ffffffff81a2b475>]`.
    Address(u64),
    /// `name+0xOFF`, `name+0xOFF/0xSIZE`, `SECTION+0xOFF` (a trailing ` [module]` ignored).
    Named {
        name: &'q str,
        offset: u64,
        size: Option<u64>,
    },
}

impl<'a, W: Write> Lookup<'_, 'a, W> {
    /// Answers one query; `origin` says where it came from (`<stdin>:3`, `argument 2`).
    fn query(&mut self, query: &str, origin: &str) -> Result<()> {
        let answer = match parse(query) {
            Ok(parsed) => self.ask(query, &parsed),
            Err(why) => Err(format!("{origin}: `{query}`: {why}")),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                self.bad += 1;
                writeln!(self.out, "{query} ?? ??")?;
                self.out.flush()?;
                crate::voice::error(&anyhow::anyhow!(error));
                return Ok(());
            }
        };
        write!(self.out, "{query} ")?;
        match answer.symbol {
            Some(s) => {
                self.out.write_all(s.name)?;
                write!(self.out, "+{:#x}/{:#x} ", s.offset, s.size)?;
            }
            None => write!(self.out, "?? ")?,
        }
        match &answer.line {
            Ok(found) => {
                // The name's bytes as the table holds them (DWARF names need not be UTF-8).
                self.out.write_all(found.file)?;
                writeln!(self.out, ":{}", found.line)?;
            }
            Err(miss) => {
                writeln!(self.out, "??")?;
                if !self.silent && *miss != Miss::EmptyTables {
                    self.out.flush()?;
                    let why = self.why(query, miss);
                    crate::voice::note(format_args!("{}: {query}: {why}", self.image));
                }
            }
        }
        Ok(())
    }

    /// The answer to a query read well; `Err` (a message) when it cannot be asked of this
    /// image.
    fn ask(&mut self, query: &str, parsed: &Query<'_>) -> std::result::Result<Answer<'a>, String> {
        let s = self.symbolizer;
        let bare = |what: &str, hinted: &mut bool| {
            let mut message = format!(
                "{}: {query}: {what}, but {} is a table object alone",
                self.image, self.image
            );
            if !std::mem::replace(hinted, true) {
                message += &format!(
                    ", whose queries are offsets from _text; give the linked image too: \
                     --vmlinux VMLINUX --table {}",
                    self.image
                );
            }
            message
        };
        match *parsed {
            Query::Address(offset) if s.is_module() => Ok(s.at_section(".text", offset)),
            Query::Address(address) => match s.at_address(address) {
                Answer {
                    line: Err(Miss::NotAnOffset),
                    ..
                } => Err(bare("an absolute address", &mut self.hinted)),
                answer => Ok(answer),
            },
            Query::Named { .. } if s.is_bare() => Err(bare("a symbol", &mut self.hinted)),
            Query::Named { name, offset, size } => {
                if s.is_module() {
                    let answer = s.at_section(name, offset);
                    if answer.line != Err(Miss::NoSection) {
                        return match size {
                            Some(_) => Err(format!(
                                "{}: {query}: `{name}` is a section: SECTION+0xOFF takes no size",
                                self.image
                            )),
                            None => Ok(answer),
                        };
                    }
                }
                Ok(s.at_symbol(name.as_bytes(), offset, size, Format::Symbol))
            }
        }
    }

    /// Why `query` has no line, in a person's words.
    fn why(&self, query: &str, miss: &Miss) -> String {
        let image = &self.image;
        // The section or symbol named (`.text` for a bare offset into a module).
        let section = match parse(query) {
            Ok(Query::Named { name, .. }) => name,
            _ => ".text",
        };
        match miss {
            Miss::OutsideText { text, etext } => format!(
                "outside [_text, _etext) = [{text:#x}, {etext:#x}), the core kernel text the \
                 tables cover (init code? a module's address: lookup --module KO SYMBOL+0xOFF)"
            ),
            Miss::NotAnOffset => "does not fit in 32 bits".into(),
            Miss::NoSection => format!("{image} has no code section `{section}`"),
            Miss::PastSection { size } => format!(
                "past the end of `{section}` ({size:#x} bytes; a module's queries are offsets: \
                 SYMBOL+0xOFF or SECTION+0xOFF)"
            ),
            Miss::NotCovered(why) => match why {
                Uncovered::InitMemory => format!(
                    "`{section}` is init memory, which v1 tables do not cover (v7 tables do)"
                ),
                Uncovered::AfterBlocker(what) => format!(
                    "`{section}` comes after {what}, whose size only the module loader knows: \
                     v1 tables cannot place it"
                ),
                Uncovered::NotInTextMemory => {
                    format!("`{section}` is not in the module's text memory, which v1 tables cover")
                }
                Uncovered::NoDescriptor => format!("the tables have no table for `{section}`"),
                Uncovered::PastDescriptor { size } => {
                    format!("past the {size:#x} bytes the table for `{section}` covers")
                }
            },
            Miss::NoSymbol => "no text symbol starts at or below it, so the kernel prints no \
                               line"
                .into(),
            Miss::EarlierSymbol { entry_offset } => format!(
                "no line: the last entry at or below it (at {entry_offset:#x}) belongs to an \
                 earlier symbol, and the kernel's symbol-start guard rejects it"
            ),
            Miss::NoEntry => "no entry of the tables at or below it".into(),
            Miss::NoLine { entry_offset } => format!(
                "DWARF has no line there (line 0, or no line program) from {entry_offset:#x} on, \
                 and the table says so"
            ),
            Miss::EmptyTables => "the tables are empty".into(),
            Miss::UnknownSymbol if self.symbolizer.is_module() => {
                format!("no code section or text symbol `{section}`")
            }
            Miss::UnknownSymbol => format!("no text symbol `{section}` (of that size)"),
            Miss::OffsetOutsideSymbol => "the offset lies outside the symbol".into(),
            Miss::Ambiguous => "several symbols of that name and size answer differently".into(),
        }
    }
}

/// Reads a query; `Err` says what is wrong with it.
fn parse(query: &str) -> std::result::Result<Query<'_>, &'static str> {
    const WHAT: &str = "not an address (0xffffffff81a2b475), SYMBOL+0xOFF[/0xSIZE] or \
                        SECTION+0xOFF";
    // A frame pasted with its module: `name+0x1c/0x40 [kvm]`.
    let query = match query.split_once(" [") {
        Some((frame, module)) if module.ends_with(']') => frame,
        _ => query,
    };
    let Some((name, offset)) = query.rsplit_once('+') else {
        let address = query
            .strip_prefix("[<")
            .and_then(|a| a.strip_suffix(">]"))
            .unwrap_or(query);
        return parse_hex(address).map(Query::Address).ok_or(WHAT);
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(WHAT);
    }
    let (offset, size) = match offset.split_once('/') {
        Some((offset, size)) => (offset, Some(parse_hex(size).ok_or(WHAT)?)),
        None => (offset, None),
    };
    let offset = parse_hex(offset).ok_or(WHAT)?;
    Ok(Query::Named { name, offset, size })
}

fn parse_hex(s: &str) -> Option<u64> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_as_an_oops_prints_them() {
        let named = |name, offset, size| Ok(Query::Named { name, offset, size });
        assert_eq!(
            parse("0xffffffff81a2b475"),
            Ok(Query::Address(0xffff_ffff_81a2_b475))
        );
        assert_eq!(
            parse("ffffffff81a2b475"),
            Ok(Query::Address(0xffff_ffff_81a2_b475))
        );
        assert_eq!(
            parse("[<ffffffff81a2b475>]"),
            Ok(Query::Address(0xffff_ffff_81a2_b475))
        );
        assert_eq!(parse("vfs_write+0x25"), named("vfs_write", 0x25, None));
        assert_eq!(
            parse("vfs_write+0x25/0x3f0"),
            named("vfs_write", 0x25, Some(0x3f0))
        );
        assert_eq!(
            parse("kvm_vcpu_ioctl+0x1c/0x40 [kvm]"),
            named("kvm_vcpu_ioctl", 0x1c, Some(0x40))
        );
        assert_eq!(parse(".init.text+0x10"), named(".init.text", 0x10, None));
        for bad in [
            "",
            "zz",
            "0x",
            "0x1g",
            "+0x1",
            "f+",
            "f+0x1/",
            "a b+0x1",
            "0x1ffffffffffffffff",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

//! The classic interfaces of the series' tools, for trees that call them by name:
//! `scripts/gen_lineinfo [--module] FILE > out.S` and `scripts/gen-mod-lineinfo.sh KO`.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use camino::Utf8Path;
use clap::Parser;
use kbuild_lineinfo::{emit, extract, layout};

use crate::cli::{GenLineinfoArgs, GenModLineinfoArgs};
use crate::modules::lineinfo::{self, Done};

/// Kbuild runs the classic tools with `srctree` in the environment (`export srctree` in the top
/// Makefile: `.` in-tree, `..` or an absolute path for O= builds); it is the default source tree
/// there, so that O= builds print `fs/x.c` and not an absolute path.
fn with_kbuild_srctree(mut table: crate::cli::TableOptions) -> crate::cli::TableOptions {
    if table.srctree.is_none() {
        table.srctree = std::env::var("srctree")
            .ok()
            .filter(|s| !s.is_empty())
            .map(Into::into);
    }
    table
}

/// `gen_lineinfo` invoked under its own name.
pub fn gen_lineinfo_argv(args: &[OsString]) -> Result<ExitCode> {
    #[derive(Parser)]
    #[command(name = "gen_lineinfo")]
    struct Classic {
        #[command(flatten)]
        args: GenLineinfoArgs,
    }
    let argv = std::iter::once(OsString::from("gen_lineinfo")).chain(args.iter().cloned());
    let args = Classic::parse_from(argv).args;
    gen_lineinfo(&args, &super::connect(None))
}

/// `gen-mod-lineinfo.sh` invoked under its own name.
pub fn gen_mod_lineinfo_argv(args: &[OsString]) -> Result<ExitCode> {
    #[derive(Parser)]
    #[command(name = "gen-mod-lineinfo")]
    struct Classic {
        #[command(flatten)]
        args: GenModLineinfoArgs,
    }
    let argv = std::iter::once(OsString::from("gen-mod-lineinfo")).chain(args.iter().cloned());
    gen_mod_lineinfo(&Classic::parse_from(argv).args)
}

/// Assembly on stdout, one summary line on stderr, exit 1 on error (as the C tool).
pub fn gen_lineinfo(args: &GenLineinfoArgs, slots: &crate::jobs::Slots) -> Result<ExitCode> {
    let args = &GenLineinfoArgs {
        table: with_kbuild_srctree(args.table.clone()),
        ..args.clone()
    };
    if !args.module {
        let summary = super::vmlinux::generate(args.file.as_std_path(), &args.table, None, slots)?;
        eprintln!("{summary}");
        return Ok(ExitCode::SUCCESS);
    }
    let layout = args.table.layout;
    let data = crate::mmap::map(args.file.as_std_path())?;
    let module = extract::module(&data, &super::extract_options(&args.table))
        .with_context(|| args.file.to_string())?;
    let sections = match &module {
        Some(m) => {
            let loader = crate::kbuild::tree::loader_config(Utf8Path::new("."));
            let new = layout::module_sections(m, layout, loader)?;
            for w in new.warnings {
                eprintln!("lineinfo: warning: {}: {w}", args.file);
            }
            new.sections
        }
        None => Vec::new(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for s in &sections {
        emit::asm::write_section(&s.name, s.align, &s.data, &mut out)?;
    }
    out.flush()?;
    let entries = module.map_or(0, |m| m.stats.entries);
    eprintln!("lineinfo: {}: {entries} entries", args.file);
    Ok(ExitCode::SUCCESS)
}

/// Embeds into one module; a module without DWARF is left alone and is not an error.
pub fn gen_mod_lineinfo(args: &GenModLineinfoArgs) -> Result<ExitCode> {
    let args = &GenModLineinfoArgs {
        table: with_kbuild_srctree(args.table.clone()),
        ..args.clone()
    };
    let verbose = std::env::var("KBUILD_VERBOSE").is_ok_and(|v| v.contains('1'));
    let layout = args.table.layout;
    // Kbuild runs this step in the object tree: its config says where sections load.
    let loader = crate::kbuild::tree::loader_config(Utf8Path::new("."));
    let processed = lineinfo::process(
        args.module.as_std_path(),
        &super::extract_options(&args.table),
        layout,
        loader,
    )?;
    for w in &processed.warnings {
        eprintln!("lineinfo: warning: {}: {w}", args.module);
    }
    if verbose {
        if let Some(line) = processed.waited_line(&args.module) {
            eprintln!("lineinfo: {line}");
        }
        let what = match processed.done {
            Done::NoDebugInfo => "no DWARF line information, left alone".to_string(),
            Done::Unchanged(s) => format!("up to date ({} entries)", s.entries),
            Done::Updated(s) => format!("{} entries embedded", s.entries),
        };
        eprintln!("lineinfo: {}: {what}", args.module);
    }
    Ok(ExitCode::SUCCESS)
}

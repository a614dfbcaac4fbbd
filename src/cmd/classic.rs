//! The classic interfaces of the series' tools, for trees that call them by name:
//! `scripts/gen_lineinfo [--module] FILE > out.S` and `scripts/gen-mod-lineinfo.sh KO`.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use kbuild_lineinfo::{emit, extract, layout};

use crate::cache::Cache;
use crate::cli::{GenLineinfoArgs, GenModLineinfoArgs, Voice};
use crate::modules::lineinfo::Done;
use crate::voice;

/// `gen_lineinfo` invoked under its own name.
pub fn gen_lineinfo_argv(args: &[OsString]) -> Result<ExitCode> {
    #[derive(Parser)]
    #[command(name = "gen_lineinfo")]
    struct Classic {
        #[command(flatten)]
        voice: Voice,
        #[command(flatten)]
        args: GenLineinfoArgs,
    }
    let argv = std::iter::once(OsString::from("gen_lineinfo")).chain(args.iter().cloned());
    let classic = Classic::parse_from(argv);
    crate::voice::init(classic.voice.silent, classic.voice.verbose);
    gen_lineinfo(&classic.args, &super::connect(None))
}

/// `gen-mod-lineinfo.sh` invoked under its own name.
pub fn gen_mod_lineinfo_argv(args: &[OsString]) -> Result<ExitCode> {
    #[derive(Parser)]
    #[command(name = "gen-mod-lineinfo")]
    struct Classic {
        #[command(flatten)]
        voice: Voice,
        #[command(flatten)]
        args: GenModLineinfoArgs,
    }
    let argv = std::iter::once(OsString::from("gen-mod-lineinfo")).chain(args.iter().cloned());
    let classic = Classic::parse_from(argv);
    crate::voice::init(classic.voice.silent, classic.voice.verbose);
    gen_mod_lineinfo(&classic.args)
}

/// Assembly on stdout, one summary line on stderr (not under `-s`), exit 1 on error (as the
/// C tool). Kbuild runs the classic tools in the object tree with `srctree` in the environment
/// (`export srctree` in the top Makefile: `.` in-tree, `..` or an absolute path for O= builds);
/// it is the default source tree there, so that O= builds print `fs/x.c` and not an absolute
/// path.
pub fn gen_lineinfo(args: &GenLineinfoArgs, slots: &crate::jobs::Slots) -> Result<ExitCode> {
    let setup = super::setup(&args.table, true);
    let (table, loader) = (&setup.table, setup.loader);
    let path = args.file.as_std_path();
    if !args.module {
        let done = super::vmlinux::generate(path, table, None, slots)?;
        done.warn(path);
        setup.say_layout();
        voice::note(format_args!(
            "{}: {} entries, {} files",
            args.file, done.stats.entries, done.stats.files
        ));
        voice::explain(&done.summary);
        return Ok(ExitCode::SUCCESS);
    }
    let data = crate::mmap::map(path)?;
    let module = extract::module(&data, &super::extract_options(table))
        .with_context(|| args.file.to_string())?;
    let sections = match &module {
        Some(m) => {
            let new = layout::module_sections(m, table.layout, loader)?;
            for w in new.warnings {
                voice::warn(format_args!("{}: {w}", args.file));
            }
            new.sections
        }
        None => {
            voice::note(format_args!(
                "{}: no DWARF line information: no tables",
                args.file
            ));
            Vec::new()
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for s in &sections {
        emit::asm::write_section(&s.name, s.align, &s.data, &mut out)?;
    }
    out.flush()?;
    setup.say_layout();
    if let Some(m) = module {
        voice::note(format_args!("{}: {} entries", args.file, m.stats.entries));
    }
    Ok(ExitCode::SUCCESS)
}

/// Embeds into one module; a module without DWARF is left alone, with one line, and is not an
/// error. Kbuild runs this step in the object tree: its config says where sections load.
pub fn gen_mod_lineinfo(args: &GenModLineinfoArgs) -> Result<ExitCode> {
    let setup = super::setup(&args.table, true);
    let cache = Cache::disabled();
    let options = super::extract_options(&setup.table);
    let processed = setup
        .pipeline(&cache, &options)
        .process(args.module.as_std_path())?;
    if processed.done != Done::NoDebugInfo {
        setup.say_layout();
    }
    super::module::report(&args.module, &processed, false);
    Ok(ExitCode::SUCCESS)
}

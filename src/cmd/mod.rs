//! One function per subcommand; shared helpers for writing outputs.

pub mod annotate;
pub mod built;
pub mod classic;
pub mod kbuild;
pub mod kernel;
pub mod lookup;
pub mod module;
pub mod modules;
pub mod vmlinux;

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use kbuild_lineinfo::loader::LoaderConfig;

use crate::cache::Cache;
use crate::cli::{Cli, Command, TableArgs, TableOptions};
use crate::kbuild::tree::{self, From};
use crate::modules::lineinfo::Pipeline;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    crate::voice::init(cli.voice.silent, cli.voice.verbose);
    match cli.command {
        Command::Vmlinux(args) => vmlinux::run(&args, &connect(args.jobs)),
        Command::Module(args) => module::run(&args),
        Command::Modules(args) => modules::run(&args, connect(args.jobs)),
        Command::Lookup(args) => lookup::run(&args),
        Command::Annotate(args) => annotate::run(&args),
        Command::GenLineinfo(args) => classic::gen_lineinfo(&args, &connect(None)),
        Command::GenModLineinfo(args) => classic::gen_mod_lineinfo(&args),
        Command::Kbuild(args) => kbuild::run(&args),
        Command::Generate(args) => crate::generate::run(&args),
    }
}

/// Joins make's jobserver (or sets an own limit of `jobs`) before any file is opened; prints
/// the one warning an unusable jobserver deserves.
pub fn connect(jobs: Option<usize>) -> crate::jobs::Slots {
    let (slots, warning) = crate::jobs::connect(jobs);
    if let Some(w) = warning {
        crate::voice::warn(w);
    }
    slots
}

/// True when the error is a closed stdout pipe (`kbuild-lineinfo … | head`): not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// What a table command works with once its tree is read.
#[derive(Debug)]
pub struct Setup {
    pub table: TableOptions,
    /// Where the object tree's kernel loads module sections.
    pub loader: LoaderConfig,
    chosen: tree::Chosen,
}

/// The layout (chosen as [`tree::choose_layout`] does), the source tree names are relative to
/// (`--srctree`, else `$srctree` when `names_from_env`, as for the classic interfaces Kbuild
/// runs), and the loader ([`tree::loader_config`]).
pub fn setup(args: &TableArgs, names_from_env: bool) -> Setup {
    let env = tree::env_srctree();
    let objtree = args.objtree.as_deref().unwrap_or(Utf8Path::new("."));
    let chosen = tree::choose_layout(
        args.layout.fixed(),
        args.srctree.as_deref(),
        env.as_deref(),
        objtree,
    );
    let srctree = match (&args.srctree, names_from_env) {
        (Some(s), _) => Some(s.clone()),
        (None, true) => env,
        (None, false) => None,
    };
    Setup {
        table: TableOptions {
            layout: chosen.layout,
            srctree,
        },
        loader: tree::loader_config(args.objtree.as_deref()),
        chosen,
    }
}

impl Setup {
    /// The module pipeline for these options, with `cache` ([`Cache::disabled`] for the
    /// per-module commands).
    pub fn pipeline<'a>(
        &self,
        cache: &'a Cache,
        options: &'a kbuild_lineinfo::extract::Options,
    ) -> Pipeline<'a> {
        Pipeline {
            cache,
            options,
            layout: self.table.layout,
            loader: self.loader,
        }
    }

    /// Once the work is done: one line when no tree said the layout (none under `-s`), the
    /// header read under `-v`.
    pub fn say_layout(&self) {
        let name = self.chosen.layout.name();
        let hint = "--layout v7 for a kernel with the series' latest posting";
        match &self.chosen.from {
            From::Option => {}
            From::Header(src) => crate::voice::explain(format_args!(
                "layout {name}, from {}",
                src.join(tree::HEADER)
            )),
            From::NoHeader(src) => crate::voice::note(format_args!(
                "{}: not found: chose layout {name} ({hint})",
                src.join(tree::HEADER)
            )),
            From::NoTree => crate::voice::note(format_args!(
                "no kernel tree (--srctree, $srctree, --objtree): chose layout {name} ({hint})"
            )),
        }
    }
}

/// The library options from the command line.
pub fn extract_options(table: &TableOptions) -> kbuild_lineinfo::extract::Options {
    use std::os::unix::ffi::OsStrExt;
    kbuild_lineinfo::extract::Options {
        srctree: table
            .srctree
            .as_ref()
            .map(|p| p.as_os_str().as_bytes().to_vec()),
        guess_srctree: false,
    }
}

//! One function per subcommand; shared helpers for writing outputs.

pub mod annotate;
pub mod classic;
pub mod kbuild;
pub mod lookup;
pub mod module;
pub mod modules;
pub mod vmlinux;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, TableOptions};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Vmlinux(args) => vmlinux::run(&args, &connect(args.jobs)),
        Command::Module(args) => module::run(&args),
        Command::Modules(args) => modules::run(&args, connect(args.jobs)),
        Command::Lookup(args) => lookup::run(&args, args.silent),
        Command::Annotate(args) => annotate::run(&args, args.silent),
        Command::GenLineinfo(args) => classic::gen_lineinfo(&args, &connect(None)),
        Command::GenModLineinfo(args) => classic::gen_mod_lineinfo(&args),
        Command::Kbuild(args) => kbuild::run(&args),
        Command::JobsSelftest(args) => Ok(exit_code(crate::jobs::selftest::main(&args))),
        Command::CacheSelftest(args) => Ok(exit_code(crate::cache::selftest::main(&args))),
    }
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Joins make's jobserver (or sets an own limit of `jobs`) before any file is opened; prints
/// the one warning an unusable jobserver deserves.
pub fn connect(jobs: Option<usize>) -> crate::jobs::Slots {
    let (slots, warning) = crate::jobs::connect(jobs);
    if let Some(w) = warning {
        eprintln!("kbuild-lineinfo: warning: {w}");
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

/// The library options from the command line.
pub fn extract_options(table: &TableOptions) -> kbuild_lineinfo::extract::Options {
    use std::os::unix::ffi::OsStrExt;
    kbuild_lineinfo::extract::Options {
        srctree: table
            .srctree
            .as_ref()
            .map(|p| p.as_os_str().as_bytes().to_vec()),
    }
}

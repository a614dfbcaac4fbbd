//! One function per subcommand; shared helpers for writing outputs.

pub mod classic;
pub mod kbuild;
pub mod lookup;
pub mod module;
pub mod modules;
pub mod vmlinux;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, TableOptions};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Vmlinux(args) => vmlinux::run(&args, &connect(args.jobs)),
        Command::Module(args) => module::run(&args),
        Command::Modules(args) => modules::run(&args, connect(args.jobs)),
        Command::Lookup(args) => lookup::run(&args),
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

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, renamed over
/// `path` once complete, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".kbuild-lineinfo.")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    // Outputs are ordinary build products: rw-r--r-- subject to the umask, like the compiler's.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot replace", path.display()))?;
    Ok(())
}

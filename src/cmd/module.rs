//! `kbuild-lineinfo module KO...`: embed `.mod_lineinfo` in each module, in place.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;

use crate::cli::ModuleArgs;
use crate::modules::lineinfo::{self, Done};
use crate::voice;

pub fn run(args: &ModuleArgs) -> Result<ExitCode> {
    let setup = super::setup(&args.table, false);
    let options = super::extract_options(&setup.table);
    let mut failed = false;
    let mut tables = false;
    for path in &args.modules {
        match lineinfo::process(
            path.as_std_path(),
            &options,
            setup.table.layout,
            setup.loader,
        ) {
            Ok((done, warnings)) => {
                tables |= done != Done::NoDebugInfo;
                report(path, done, &warnings, true);
            }
            Err(e) => {
                voice::error(&e);
                failed = true;
            }
        }
    }
    if tables {
        setup.say_layout();
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What the user is told about one module: its warnings; a module without DWARF (left alone,
/// not an error) in one line; `  LINEINFO [M] KO` on stdout for an update when `kbuild_line`
/// (Kbuild prints its own for `gen-mod-lineinfo`); the entries under `-v`.
pub fn report(path: &Utf8Path, done: Done, warnings: &[String], kbuild_line: bool) {
    for w in warnings {
        voice::warn(format_args!("{path}: {w}"));
    }
    match done {
        Done::NoDebugInfo => voice::note(format_args!(
            "{path}: no DWARF line information: left alone"
        )),
        Done::Unchanged(s) => {
            voice::explain(format_args!("{path}: up to date ({} entries)", s.entries))
        }
        Done::Updated(s) => {
            if kbuild_line && voice::verbosity() != voice::Verbosity::Silent {
                println!("  LINEINFO [M] {path}");
            }
            voice::explain(format_args!("{path}: {} entries embedded", s.entries));
        }
    }
}

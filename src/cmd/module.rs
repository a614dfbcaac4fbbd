//! `kbuild-lineinfo module KO...`: embed `.mod_lineinfo` in each module, in place.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;

use crate::cache::Cache;
use crate::cli::ModuleArgs;
use crate::modules::lineinfo::{Done, Report};
use crate::voice;

pub fn run(args: &ModuleArgs) -> Result<ExitCode> {
    let setup = super::setup(&args.table, false);
    let cache = Cache::disabled();
    let options = super::extract_options(&setup.table);
    let pipeline = setup.pipeline(&cache, &options);
    let mut failed = false;
    let mut tables = false;
    for path in &args.modules {
        match pipeline.process(path.as_std_path()) {
            Ok(processed) => {
                tables |= processed.done != Done::NoDebugInfo;
                report(path, &processed, true);
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

/// What the user is told about one module: its warnings; under `-v` a wait on another run; a module without DWARF (left alone,
/// not an error) in one line; `  LINEINFO [M] KO` on stdout for an update when `kbuild_line`
/// (Kbuild prints its own for `gen-mod-lineinfo`); the entries under `-v`.
pub fn report(path: &Utf8Path, processed: &Report, kbuild_line: bool) {
    for w in &processed.warnings {
        voice::warn(format_args!("{path}: {w}"));
    }
    if let Some(line) = processed.waited_line(path) {
        voice::explain(line);
    }
    match processed.done {
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

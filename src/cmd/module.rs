//! `kbuild-lineinfo module KO...`: embed `.mod_lineinfo` in each module, in place.

use std::process::ExitCode;

use anyhow::Result;
use kbuild_lineinfo::loader::LoaderConfig;

use crate::cli::ModuleArgs;
use crate::modules::lineinfo::{self, Done};

pub fn run(args: &ModuleArgs) -> Result<ExitCode> {
    let options = super::extract_options(&args.table);
    let layout = args.table.layout;
    let mut failed = false;
    let verbose = !args.silent
        && (std::env::var("V").or_else(|_| std::env::var("KBUILD_VERBOSE")))
            .is_ok_and(|v| v.contains('1'));
    for path in &args.modules {
        match lineinfo::process(
            path.as_std_path(),
            &options,
            layout,
            LoaderConfig::default(),
        ) {
            Ok(processed) => {
                for w in &processed.warnings {
                    eprintln!("kbuild-lineinfo: warning: {path}: {w}");
                }
                if let Some(line) = processed.waited_line(path).filter(|_| verbose) {
                    eprintln!("lineinfo: {line}");
                }
                if matches!(processed.done, Done::Updated(_)) && !args.silent {
                    println!("  LINEINFO [M] {path}");
                }
            }
            Err(e) => {
                eprintln!("kbuild-lineinfo: {e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

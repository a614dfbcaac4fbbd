//! `kbuild-lineinfo module KO...`: embed `.mod_lineinfo` in each module, in place.

use std::process::ExitCode;

use anyhow::Result;
use kbuild_lineinfo::Layout;

use crate::cli::ModuleArgs;
use crate::modules::lineinfo::{self, Done};

pub fn run(args: &ModuleArgs) -> Result<ExitCode> {
    let options = super::extract_options(&args.table);
    let layout = Layout::from(args.table.layout);
    let mut failed = false;
    for path in &args.modules {
        match lineinfo::process(path, &options, layout) {
            Ok(Done::Updated(_)) if !args.silent => {
                println!("  LINEINFO [M] {}", path.display());
            }
            Ok(_) => {}
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

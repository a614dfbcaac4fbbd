//! `kbuild-lineinfo kbuild install|uninstall`: wire the tool into a kernel tree that carries
//! the lineinfo series, or undo that exactly.

use std::process::ExitCode;

use anyhow::{Context, Result};
use camino::Utf8Path;

use crate::cli::{KbuildAction, KbuildArgs, KbuildInstallArgs};
use crate::kbuild::{self, Uninstalled};

/// What was done goes to stdout (not under `-s`): it is the command's result.
macro_rules! done {
    ($($arg:tt)*) => {
        if crate::voice::verbosity() != crate::voice::Verbosity::Silent {
            println!($($arg)*);
        }
    };
}

pub fn run(args: &KbuildArgs) -> Result<ExitCode> {
    match &args.action {
        KbuildAction::Install(a) => install(a),
        KbuildAction::Uninstall(a) => uninstall(&a.srctree, a.force),
    }
}

fn install(args: &KbuildInstallArgs) -> Result<ExitCode> {
    let tool = match &args.tool {
        Some(t) => t.clone().into(),
        None => std::env::current_exe().context("cannot find this executable (use --tool)")?,
    };
    let tool = std::fs::canonicalize(&tool)
        .with_context(|| format!("{}: no such tool", tool.display()))?;
    let tool = tool
        .to_str()
        .with_context(|| format!("{}: not UTF-8", tool.display()))?;
    let done = kbuild::install(&args.srctree, tool, args.layout.fixed())?;
    let what = if done.unchanged {
        "already installed"
    } else {
        "installed"
    };
    done!(
        "kbuild-lineinfo: {what} in {} ({} layout, tool {tool}): {}",
        args.srctree,
        done.layout.name(),
        done.files.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn uninstall(srctree: &Utf8Path, force: bool) -> Result<ExitCode> {
    match kbuild::uninstall(srctree, force)? {
        Uninstalled::NotInstalled => {
            done!(
                "kbuild-lineinfo: not installed in {}: nothing to undo",
                srctree
            )
        }
        Uninstalled::Restored(files) => {
            done!(
                "kbuild-lineinfo: restored {} in {}",
                files.join(", "),
                srctree
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

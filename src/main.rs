//! `kbuild-lineinfo`: parse arguments, run one subcommand, report the error chain.

mod atomic;
mod cache;
mod cli;
mod cmd;
mod jobs;
mod kbuild;
mod mmap;
mod modules;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    jobs::ignore_file_size_signal();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let result = match invoked_as {
        // The classic interfaces, when the binary is installed under their names.
        "gen_lineinfo" => cmd::classic::gen_lineinfo_argv(&args[1..]),
        "gen-mod-lineinfo" | "gen-mod-lineinfo.sh" => {
            cmd::classic::gen_mod_lineinfo_argv(&args[1..])
        }
        _ => cmd::run(cli::Cli::parse()),
    };
    match result {
        Ok(code) => code,
        Err(e) if cmd::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kbuild-lineinfo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

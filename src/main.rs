//! `kbuild-lineinfo`: parse arguments, run one subcommand, report the error chain (the
//! commands are the `kbuild_lineinfo_cli` library of this package, `src/lib.rs`).

use kbuild_lineinfo_cli::{cli, cmd, jobs, voice};

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
        _ => match cli::Cli::try_parse() {
            Ok(cli) => cmd::run(cli),
            // A bad value (a path that is not UTF-8, a number that is not one): one line.
            Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
                let rendered = e.render().to_string();
                let line = rendered.lines().next().unwrap_or_default();
                eprintln!("kbuild-lineinfo: {}", line.trim_start_matches("error: "));
                return ExitCode::from(2);
            }
            Err(e) => e.exit(),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) if cmd::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            voice::error(&e);
            ExitCode::FAILURE
        }
    }
}

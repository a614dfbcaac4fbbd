//! `kbuild-lineinfo generate`: the man pages and shell completion scripts, made from the same
//! clap definition that parses the command line (so they cannot drift from it), as ripgrep's
//! `rg --generate`. `scripts/install.sh` puts them where `man` and the shells look.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::cli::Cli;

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// The man page kbuild-lineinfo(1) (roff); with --dir, one page per subcommand as well.
    Man,
    /// The bash completion script.
    CompleteBash,
    /// The zsh completion script (#compdef).
    CompleteZsh,
    /// The fish completion script.
    CompleteFish,
    /// The elvish completion script.
    CompleteElvish,
    /// The PowerShell completion script.
    CompletePowershell,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    pub what: What,
    /// With `man`: write kbuild-lineinfo.1 and a page per subcommand (kbuild-lineinfo-modules.1,
    /// …) into DIR instead of printing the first.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<Utf8PathBuf>,
}

/// The command the pages describe: the parser's, without clap's implicit `help` subcommand
/// (`-h`/`--help` are there).
fn command() -> clap::Command {
    Cli::command().disable_help_subcommand(true)
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let shell = match args.what {
        What::Man => return man(args.dir.as_ref()),
        What::CompleteBash => Shell::Bash,
        What::CompleteZsh => Shell::Zsh,
        What::CompleteFish => Shell::Fish,
        What::CompleteElvish => Shell::Elvish,
        What::CompletePowershell => Shell::PowerShell,
    };
    if let Some(dir) = &args.dir {
        anyhow::bail!("{dir}: --dir goes with `man` only (completions go to standard output)");
    }
    let mut out = Vec::new();
    let name = command().get_name().to_string();
    if shell == Shell::Bash {
        // clap_complete's bash script spells a hyphenated name two ways and then completes no
        // option after a subcommand (clap-rs/clap#6421): generate it for `kbuild_lineinfo` and
        // register the function for the real name.
        let alias = name.replace('-', "_");
        clap_complete::generate(shell, &mut visible(), &alias, &mut out);
        let text = String::from_utf8(out)?;
        let lines: Vec<String> = text
            .lines()
            .map(|l| match l.trim_start().starts_with("complete -F ") {
                true => l.replace(&format!(" {alias}"), &format!(" {name}")),
                false => l.to_string(),
            })
            .collect();
        out = (lines.join("\n") + "\n").into_bytes();
    } else {
        clap_complete::generate(shell, &mut visible(), &name, &mut out);
    }
    std::io::stdout().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// [`command`] without its hidden subcommands, which clap_complete would offer.
fn visible() -> clap::Command {
    let full = command();
    let subcommands: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    // The top level has no argument of its own besides --help and --version.
    debug_assert_eq!(full.get_name(), "kbuild-lineinfo");
    clap::Command::new("kbuild-lineinfo")
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true)
        .subcommands(subcommands)
}

fn man(dir: Option<&Utf8PathBuf>) -> Result<ExitCode> {
    let mut cmd = command();
    // Gives each subcommand its page name (`kbuild-lineinfo-modules`) and synopsis name.
    cmd.build();
    match dir {
        None => std::io::stdout().write_all(&page(&cmd)?)?,
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("{dir}: cannot create"))?;
            write_pages(&cmd, dir)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cmd`'s page and those of its visible subcommands (as `clap_mangen::generate_to`).
fn write_pages(cmd: &clap::Command, dir: &Utf8PathBuf) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page(cmd)?).with_context(|| format!("{path}: cannot write"))
}

/// One man page in section 1, in ASCII. clap_mangen writes an empty `.TH` field as nothing at all, which
/// shifts the fields after it (the date would read `kbuild-lineinfo 0.1.0`): the title line is
/// written here instead, every field quoted. No date, so the pages are reproducible.
fn page(cmd: &clap::Command) -> Result<Vec<u8>> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut roff)?;
    let text = String::from_utf8(roff)?;
    let title = format!(
        ".TH \"{}\" 1 \"\" \"kbuild-lineinfo {}\" \"Linux kernel build tools\"",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION")
    );
    let lines: Vec<&str> = text
        .lines()
        .map(|l| if l.starts_with(".TH ") { &title } else { l })
        .collect();
    Ok(ascii(&(lines.join("\n") + "\n")).into_bytes())
}

/// Roff that needs no input encoding: each non-ASCII character (the `→` of the description)
/// as groff's `\[uXXXX]`, so `groff -man` reads the page as `man` does.
fn ascii(roff: &str) -> String {
    roff.chars()
        .map(|c| match c {
            c if c.is_ascii() => c.to_string(),
            c => format!("\\[u{:04X}]", c as u32),
        })
        .collect()
}

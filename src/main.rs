//! Placeholder entry point of the `jobs` branch: only the hidden self-test subcommands.
//! The lead merges these variants into the real clap CLI.

// Parts of the API are only used by the batch mode the lead wires in; drop this allow then.
#[allow(dead_code, unused_imports)]
mod cache;
#[allow(dead_code, unused_imports)]
mod jobs;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "kbuild-lineinfo")]
enum Cli {
    /// Dummy jobs through the job machinery (for tests under make).
    #[command(name = "__jobs-selftest", hide = true)]
    JobsSelftest(jobs::selftest::Args),
    /// Raw access to the build-id cache (for tests).
    #[command(name = "__cache-selftest", hide = true)]
    CacheSelftest(cache::selftest::Args),
}

fn main() {
    let code = match Cli::parse() {
        Cli::JobsSelftest(args) => jobs::selftest::main(&args),
        Cli::CacheSelftest(args) => cache::selftest::main(&args),
    };
    std::process::exit(code);
}

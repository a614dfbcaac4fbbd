//! `kbuild-lineinfo __cache-selftest`: a hidden subcommand giving tests raw access to the
//! cache from separate processes (concurrency, eviction across runs) and to [`super::build_id`].
//!
//! Entries are keyed by a test `NAME` as if it were the content of an object without build-id.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::{build_id, Cache, Identity, Key, DEFAULT_CAP};

/// Arguments of `__cache-selftest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cache directory (default: the usual lookup).
    #[arg(long)]
    pub dir: Option<camino::Utf8PathBuf>,
    /// Size cap in bytes.
    #[arg(long, default_value_t = DEFAULT_CAP)]
    pub cap: u64,
    #[command(subcommand)]
    pub op: Op,
}

/// One cache operation.
#[derive(Debug, clap::Subcommand)]
pub enum Op {
    /// Store stdin under NAME.
    Put { name: String },
    /// Print the payload of NAME to stdout; exit 0 on a hit, 1 on a miss.
    Get { name: String },
    /// Print the entry file path of NAME.
    Path { name: String },
    /// Print the build-id of FILE in hex, or `none`.
    BuildId { file: PathBuf },
}

/// Runs one operation; returns the exit code.
pub fn main(args: &Args) -> i32 {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kbuild-lineinfo: {e}");
            2
        }
    }
}

fn run(args: &Args) -> io::Result<i32> {
    if let Op::BuildId { file } = &args.op {
        let id = build_id(&std::fs::read(file)?);
        let hex = id.map_or("none".to_string(), |id| {
            id.iter().map(|b| format!("{b:02x}")).collect()
        });
        println!("{hex}");
        return Ok(0);
    }
    let cache = Cache::open(args.dir.clone(), args.cap);
    match &args.op {
        Op::Put { name } => {
            let mut payload = Vec::new();
            io::stdin().read_to_end(&mut payload)?;
            cache.put(&key(name), &payload);
        }
        Op::Get { name } => match cache.get(&key(name)) {
            Some(payload) => io::stdout().write_all(&payload)?,
            None => return Ok(1),
        },
        Op::Path { name } => {
            let dir = cache.dir().map(|d| d.to_string()).unwrap_or_default();
            println!("{dir}/{}.entry", key(name).to_hex());
        }
        Op::BuildId { .. } => {}
    }
    Ok(0)
}

fn key(name: &str) -> Key {
    Key::new(&Identity::of(name.as_bytes()), "selftest", &[])
}

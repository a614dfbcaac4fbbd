//! `kbuild-lineinfo __jobs-selftest`: a hidden subcommand that runs dummy jobs through
//! [`super::run`], so tests can watch the job machinery under a real `make -jN`.
//!
//! Each job sleeps (polling [`super::interrupted`]) and writes its start and end times
//! (nanoseconds since the Unix epoch, comparable across processes) to `DIR/<pid>-<job>`:
//! the start line when it begins, the end line when it ends. Owns nothing else.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{connect, run, Progress};

/// Arguments of `__jobs-selftest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many dummy jobs to run.
    #[arg(long)]
    pub jobs: usize,
    /// Own job limit when there is no jobserver (as the real `-j`).
    #[arg(short = 'j')]
    pub limit: Option<usize>,
    /// How long each job sleeps.
    #[arg(long, default_value_t = 100)]
    pub sleep_ms: u64,
    /// Directory that receives one trace file per job.
    #[arg(long)]
    pub trace: PathBuf,
    /// Memory budget in bytes (default: half of MemAvailable).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Cost estimate in bytes of every job.
    #[arg(long, default_value_t = 1)]
    pub cost: u64,
}

/// Runs the self-test; returns the process exit code (130/143 after a signal).
pub fn main(args: &Args) -> i32 {
    let (slots, warning) = connect(args.limit);
    if let Some(w) = warning {
        crate::voice::warn(w);
    }
    let slots = match args.budget {
        Some(budget) => slots.with_budget(budget),
        None => slots,
    };
    let progress = Progress::new(crate::voice::verbosity(), args.jobs as u64);
    progress.verbose(format_args!("jobs: {slots}"));
    let outcome = run(
        &slots,
        (0..args.jobs).collect(),
        |_| args.cost,
        |job| {
            let traced = trace_job(&args.trace, job, Duration::from_millis(args.sleep_ms));
            progress.processed(Path::new(&format!("selftest/job{job}.ko")));
            traced.map(|()| job)
        },
    );
    progress.finish(format_args!("{} jobs", args.jobs));
    match outcome {
        Ok(results) => report(&results),
        Err(interrupted) => {
            eprintln!("kbuild-lineinfo: {interrupted}");
            interrupted.exit_code()
        }
    }
}

/// Prints the job numbers in result order (the test checks input order); 1 on a trace error.
fn report(results: &[std::io::Result<usize>]) -> i32 {
    let mut order = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(job) => order.push(job.to_string()),
            Err(e) => {
                eprintln!("kbuild-lineinfo: trace: {e}");
                return 1;
            }
        }
    }
    println!("results: {}", order.join(" "));
    0
}

/// One dummy job: trace the start, sleep unless interrupted, trace the end.
fn trace_job(dir: &Path, job: usize, sleep: Duration) -> std::io::Result<()> {
    let path = dir.join(format!("{}-{job}", std::process::id()));
    let mut file = File::create(&path)?;
    writeln!(file, "{}", now_ns())?;
    let start = Instant::now();
    while start.elapsed() < sleep && !super::interrupted() {
        std::thread::sleep(Duration::from_millis(5).min(sleep));
    }
    writeln!(file, "{}", now_ns())
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

//! The job machinery under real GNU make and hand-made fifo jobservers.
//!
//! Every test runs dummy jobs through `kbuild_lineinfo_cli::jobs::run` in a child process (this
//! test binary again, its ignored test `jobs::child_jobs`, as make would run the tool), whose
//! jobs write their start and end times (ns since the epoch) to a trace directory. The oracle is
//! independent of the code under test: the maximum overlap of those intervals across all
//! processes, make's own exit status and messages, and the bytes left in a fifo jobserver the
//! test created.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kbuild_lineinfo_cli::jobs::{self, Progress};
use kbuild_lineinfo_cli::voice;

/// The child's arguments: `JOBS SLEEP_MS TRACE_DIR [-jN]`, space-separated.
const CHILD_ARGS: &str = "KBUILD_LINEINFO_TEST_JOBS_CHILD";

/// The command line of one child process (this test binary, running only `child_jobs`).
fn child_command_line(jobs: usize, sleep_ms: u64, trace: &Path, limit: Option<usize>) -> String {
    let exe = std::env::current_exe().unwrap();
    let limit = limit.map_or(String::new(), |j| format!(" -j{j}"));
    // The test's name in the one test binary: its module path without the crate's name.
    let module = module_path!().split_once("::").unwrap().1;
    format!(
        "{CHILD_ARGS}='{jobs} {sleep_ms} {}{limit}' {} --ignored --exact {module}::child_jobs \
         --nocapture --test-threads=1 -q",
        trace.display(),
        exe.display()
    )
}

/// Not a test: the body of a child process started by the tests below. Runs dummy jobs through
/// the job machinery as a command of the tool does (joining make's jobserver, or its own `-jN`),
/// each sleeping (polling `interrupted()`) and writing its start and end to `TRACE_DIR/<pid>-<job>`;
/// prints `results: ` and the job numbers in result order, and exits as the tool does (130/143
/// after a signal, 1 on a trace error).
#[test]
#[ignore = "run as a child process by the tests of this file"]
fn child_jobs() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let words: Vec<&str> = args.split(' ').collect();
    let (count, sleep_ms): (usize, u64) = (words[0].parse().unwrap(), words[1].parse().unwrap());
    let trace = PathBuf::from(words[2]);
    let limit = words
        .get(3)
        .map(|j| j.strip_prefix("-j").unwrap().parse().unwrap());
    voice::init(false, false);
    let (slots, warning) = jobs::connect(limit);
    if let Some(w) = warning {
        voice::warn(w);
    }
    let progress = Progress::new(voice::verbosity(), count as u64);
    progress.verbose(format_args!("jobs: {slots}"));
    let outcome = jobs::run(
        &slots,
        (0..count).collect(),
        |_| 1,
        |job| {
            let traced = trace_job(&trace, job, Duration::from_millis(sleep_ms));
            progress.processed(Path::new(&format!("selftest/job{job}.ko")));
            traced.map(|()| job)
        },
    );
    progress.finish(format_args!("{count} jobs"));
    let code = match outcome {
        Ok(results) => {
            let order: Result<Vec<String>, _> = results
                .into_iter()
                .map(|r| r.map(|job| job.to_string()))
                .collect();
            match order {
                Ok(order) => {
                    println!("results: {}", order.join(" "));
                    0
                }
                Err(e) => {
                    eprintln!("kbuild-lineinfo: trace: {e}");
                    1
                }
            }
        }
        Err(interrupted) => {
            eprintln!("kbuild-lineinfo: {interrupted}");
            interrupted.exit_code()
        }
    };
    std::io::stdout().flush().unwrap();
    std::process::exit(code);
}

/// One dummy job: trace the start, sleep unless interrupted, trace the end.
fn trace_job(dir: &Path, job: usize, sleep: Duration) -> std::io::Result<()> {
    let path = dir.join(format!("{}-{job}", std::process::id()));
    let mut file = File::create(&path)?;
    writeln!(file, "{}", now_ns())?;
    let start = Instant::now();
    while start.elapsed() < sleep && !jobs::interrupted() {
        thread::sleep(Duration::from_millis(5).min(sleep));
    }
    writeln!(file, "{}", now_ns())
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A fresh temp directory with a `trace/` subdirectory.
struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("trace")).unwrap();
        Dir { tmp }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn trace(&self) -> PathBuf {
        self.path().join("trace")
    }

    /// The child's command line (as a recipe) running `jobs` jobs of `sleep_ms`.
    fn selftest(&self, jobs: usize, sleep_ms: u64) -> String {
        child_command_line(jobs, sleep_ms, &self.trace(), None)
    }

    /// The (start, end) of every traced job; panics on a job that never recorded its end.
    fn intervals(&self) -> Vec<(u128, u128)> {
        let mut out = Vec::new();
        for f in fs::read_dir(self.trace()).unwrap() {
            let text = fs::read_to_string(f.unwrap().path()).unwrap();
            let times: Vec<u128> = text.lines().map(|l| l.parse().unwrap()).collect();
            assert_eq!(times.len(), 2, "a job without an end: {text:?}");
            out.push((times[0], times[1]));
        }
        out
    }

    fn traced_jobs(&self) -> usize {
        fs::read_dir(self.trace()).map_or(0, |d| d.count())
    }
}

/// Most intervals open at one instant (an end at t comes before a start at t).
fn max_overlap(intervals: &[(u128, u128)]) -> usize {
    let mut events: Vec<(u128, i32)> = Vec::new();
    for &(start, end) in intervals {
        events.push((start, 1));
        events.push((end, -1));
    }
    events.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn max_overlap_oracle_counts_concurrent_intervals() {
    assert_eq!(max_overlap(&[]), 0);
    assert_eq!(
        max_overlap(&[(0, 10), (10, 20)]),
        1,
        "touching intervals do not overlap"
    );
    assert_eq!(max_overlap(&[(0, 10), (5, 20), (6, 7), (30, 40)]), 3);
}

/// A command with no make or jobserver variables inherited from whoever runs the tests.
fn clean(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "CARGO_MAKEFLAGS",
        "MAKEOVERRIDES",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `make -jN` on a Makefile whose rules are `(target, recipe)`; all targets in parallel.
fn make(dir: &Dir, jobs: usize, rules: &[(&str, String)]) -> Output {
    let mut text = String::from(".PHONY: all\nall:");
    for (target, _) in rules {
        text += &format!(" {target}");
    }
    text += "\n";
    for (target, recipe) in rules {
        text += &format!(".PHONY: {target}\n{target}:\n\t{recipe}\n");
    }
    fs::write(dir.path().join("Makefile"), text).unwrap();
    let out = clean("make")
        .arg(format!("-j{jobs}"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make -j{jobs} failed:\n{}",
        stderr(&out)
    );
    out
}

/// A quiet success whose jobs ran two or three at a time (three allowed, two at worst on a
/// loaded machine).
#[track_caller]
fn assert_ran_under_j3(out: &Output, dir: &Dir, what: &str) {
    assert!(out.status.success(), "{}", stderr(out));
    assert_quiet(out);
    let overlap = max_overlap(&dir.intervals());
    assert!((2..=3).contains(&overlap), "{what}: {overlap} jobs at once");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn warnings(out: &Output) -> usize {
    stderr(out).matches("kbuild-lineinfo: warning").count()
}

/// Asserts make and our binary said nothing about the jobserver or tokens.
fn assert_quiet(out: &Output) {
    let err = stderr(out);
    for word in ["warning", "jobserver", "token", "INTERNAL"] {
        assert!(
            !err.to_lowercase().contains(&word.to_lowercase()),
            "{word:?} in stderr:\n{err}"
        );
    }
}

#[test]
fn plus_recipes_never_exceed_make_j() {
    for jobs in [1, 2, 4] {
        let dir = Dir::new();
        let rules: Vec<_> = ["a", "b", "c"]
            .map(|t| (t, format!("+{}", dir.selftest(4, 150))))
            .into();
        let out = make(&dir, jobs, &rules);
        assert_quiet(&out);
        let intervals = dir.intervals();
        assert_eq!(intervals.len(), 12);
        let overlap = max_overlap(&intervals);
        eprintln!("make -j{jobs}, 3 recipes x 4 jobs: max overlap {overlap}");
        assert!(
            overlap <= jobs,
            "make -j{jobs} but {overlap} jobs ran at once"
        );
        if jobs > 1 {
            assert!(overlap >= 2, "make -j{jobs} but jobs never overlapped");
        }
    }
}

#[test]
fn one_process_uses_every_slot_of_make_j4() {
    let dir = Dir::new();
    let out = make(&dir, 4, &[("one", format!("+{}", dir.selftest(8, 200)))]);
    assert_quiet(&out);
    let overlap = max_overlap(&dir.intervals());
    eprintln!("make -j4, 1 recipe x 8 jobs: max overlap {overlap}");
    assert!(
        (3..=4).contains(&overlap),
        "expected 4 (3 at worst on a loaded machine), got {overlap}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("results: 0 1 2 3 4 5 6 7\n"),
        "results out of input order:\n{stdout}"
    );
    assert_eq!(stdout.matches("  LINEINFO [M] selftest/job").count(), 8);
}

#[test]
fn recipe_without_plus_warns_once_and_runs_serially() {
    let dir = Dir::new();
    let out = make(&dir, 4, &[("noplus", dir.selftest(3, 50))]);
    assert_eq!(warnings(&out), 1, "stderr:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("prefix the recipe"),
        "the warning must name the fix"
    );
    assert_eq!(max_overlap(&dir.intervals()), 1);
    assert_eq!(dir.intervals().len(), 3);
}

#[test]
fn make_without_j_runs_one_job_at_a_time() {
    let dir = Dir::new();
    let out = make(&dir, 1, &[("serial", format!("+{}", dir.selftest(3, 50)))]);
    assert_quiet(&out);
    assert_eq!(max_overlap(&dir.intervals()), 1);
}

/// A fifo jobserver as GNU make 4.4 creates it, holding `tokens` tokens.
struct Fifo {
    path: PathBuf,
    /// Kept open read-write so the fifo never sees EOF and writes never block.
    _keep: File,
}

impl Fifo {
    fn new(dir: &Dir, tokens: usize) -> Fifo {
        let path = dir.path().join("jobserver.fifo");
        let status = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success());
        let mut keep = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        keep.write_all(&vec![b'+'; tokens]).unwrap();
        Fifo { path, _keep: keep }
    }

    fn makeflags(&self, jobs: usize) -> String {
        format!("-j{jobs} --jobserver-auth=fifo:{}", self.path.display())
    }

    /// Reads every byte now in the fifo (the free tokens), then writes them back.
    fn tokens(&self) -> usize {
        crate::common::tools::jobserver_tokens(&self.path)
            .unwrap_or_else(|e| panic!("reading the fifo: {e}"))
    }
}

/// The child process running `jobs` jobs of `sleep_ms` (own limit `-jN` when `limit`).
fn selftest_cmd(dir: &Dir, jobs: usize, sleep_ms: u64, limit: Option<usize>) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = clean(exe.to_str().unwrap());
    let module = module_path!().split_once("::").unwrap().1;
    cmd.args(["--ignored", "--exact", &format!("{module}::child_jobs")])
        .args(["--nocapture", "--test-threads=1", "-q"]);
    let limit = limit.map_or(String::new(), |j| format!(" -j{j}"));
    let trace = dir.trace();
    cmd.env(
        CHILD_ARGS,
        format!("{jobs} {sleep_ms} {}{limit}", trace.display()),
    );
    cmd
}

#[test]
fn fifo_jobserver_limits_jobs_and_gets_every_token_back() {
    let dir = Dir::new();
    let fifo = Fifo::new(&dir, 2);
    assert_eq!(fifo.tokens(), 2, "the oracle must see the preloaded tokens");
    let out = selftest_cmd(&dir, 9, 100, None)
        .env("MAKEFLAGS", fifo.makeflags(3))
        .output()
        .unwrap();
    assert_ran_under_j3(&out, &dir, "-j3 fifo");
    assert_eq!(fifo.tokens(), 2, "every token must be back in the fifo");
}

#[test]
fn missing_fifo_warns_and_runs_serially() {
    let dir = Dir::new();
    let makeflags = format!(
        "-j4 --jobserver-auth=fifo:{}/absent.fifo",
        dir.path().display()
    );
    let out = selftest_cmd(&dir, 3, 50, None)
        .env("MAKEFLAGS", makeflags)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(warnings(&out), 1, "stderr:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("absent.fifo"),
        "the warning must name the fifo"
    );
    assert_eq!(max_overlap(&dir.intervals()), 1);
}

/// Starts a long batch on a `-j4` fifo, sends `signal` once 4 jobs run, checks the aftermath.
fn interrupt_mid_batch(signal: &str, code: i32) {
    let dir = Dir::new();
    let fifo = Fifo::new(&dir, 3);
    let child = selftest_cmd(&dir, 20, 5000, None)
        .env("MAKEFLAGS", fifo.makeflags(4))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while dir.traced_jobs() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "jobs never started"
        );
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(fifo.tokens(), 0, "4 jobs running must hold all 3 tokens");
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr:\n{}", stderr(&out));
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "running jobs must see interrupted()"
    );
    assert_eq!(
        dir.intervals().len(),
        4,
        "no job may start after the signal"
    );
    assert_eq!(fifo.tokens(), 3, "every token must be back in the fifo");
}

#[test]
fn sigint_mid_batch_exits_130_with_all_tokens_back() {
    interrupt_mid_batch("-INT", 130);
}

#[test]
fn sigterm_mid_batch_exits_143_with_all_tokens_back() {
    interrupt_mid_batch("-TERM", 143);
}

#[test]
fn own_limit_from_j_without_make() {
    let dir = Dir::new();
    let out = selftest_cmd(&dir, 6, 150, Some(3)).output().unwrap();
    assert_ran_under_j3(&out, &dir, "-j3 without make");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("results: 0 1 2 3 4 5\n"), "{stdout}");
}

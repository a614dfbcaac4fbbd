//! Runs every fuzz target on stable, where cargo-fuzz cannot: each target's corpus
//! (`fuzz/corpus/TARGET/`), then a bounded, deterministic stream of inputs generated from it.
//! Prints what ran (targets, inputs, seconds); an input that panics or takes longer than
//! libFuzzer's `-timeout` is saved under `fuzz/artifacts/TARGET/` and fails the run.
//!
//!   cargo run --release --manifest-path fuzz/Cargo.toml -p kbuild-lineinfo-fuzz-checks --bin replay -- \
//!       [--inputs N] [--seed S] [TARGET...]

use kbuild_lineinfo_fuzz_checks::generate::{self, Rng};
use kbuild_lineinfo_fuzz_checks::{Target, TARGETS};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use std::{env, fs};

/// Generated inputs per target unless `--inputs` says otherwise.
const DEFAULT_INPUTS: usize = 20_000;
/// The seed unless `--seed` says otherwise; each target mixes its name in.
const DEFAULT_SEED: u64 = 0x6b62_7569_6c64_6c69;
/// Slower than this is a failure, as libFuzzer's `-timeout=10` is in scripts/test.sh.
const TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    inputs: usize,
    seed: u64,
    targets: Vec<Target>,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("replay: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/checks has a parent");
    every_target_has_a_check(fuzz)?;
    let args = parse_args(env::args().skip(1))?;
    let start = Instant::now();
    let (mut inputs, mut passed) = (0, true);
    for target in &args.targets {
        let (ran, ok) = replay(target, fuzz, &args)?;
        inputs += ran;
        passed &= ok;
    }
    println!(
        "replay: {} targets, {inputs} inputs, {:.1} s{}",
        args.targets.len(),
        start.elapsed().as_secs_f64(),
        if passed { "" } else { ": FAILED" }
    );
    Ok(passed)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        inputs: DEFAULT_INPUTS,
        seed: DEFAULT_SEED,
        targets: Vec::new(),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            let v = args.next().ok_or(format!("{name} needs a number"))?;
            let n = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            n.map_err(|_| format!("{name} {v}: not a number"))
        };
        match arg.as_str() {
            "--inputs" => parsed.inputs = value("--inputs")? as usize,
            "--seed" => parsed.seed = value("--seed")?,
            name => match TARGETS.iter().find(|t| t.name == name) {
                Some(target) => parsed.targets.push(*target),
                None => return Err(format!("{name}: no such target (targets: {})", names())),
            },
        }
    }
    if parsed.targets.is_empty() {
        parsed.targets = TARGETS.to_vec();
    }
    Ok(parsed)
}

fn names() -> String {
    TARGETS
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every file of `fuzz_targets/` is a `[[bin]]` of `fuzz/Cargo.toml` (cargo-fuzz builds no
/// other) and has its body in [`TARGETS`], and the other way round: a target added to cargo-fuzz
/// alone would otherwise never run where there is no nightly.
fn every_target_has_a_check(fuzz: &Path) -> Result<(), String> {
    let dir = fuzz.join("fuzz_targets");
    let files: Vec<String> = read_dir_sorted(&dir)?
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_str()?.strip_suffix(".rs")?.to_owned()))
        .collect();
    let manifest = fuzz.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut bins: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path = \"fuzz_targets/"))
        .filter_map(|l| Some(l.strip_suffix(".rs\"")?.to_owned()))
        .collect();
    bins.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
    known.sort();
    if files != known || bins != known {
        return Err(format!(
            "{}: files {files:?}, [[bin]] targets of {} {bins:?}, checks in fuzz/checks {known:?}: \
             each target needs all three (its body in fuzz/checks/src/ and in TARGETS)",
            dir.display(),
            manifest.display()
        ));
    }
    Ok(())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    paths.retain(|p| p.is_file());
    paths.sort();
    Ok(paths)
}

/// The corpus of `target` (none when its folder does not exist), then `args.inputs` generated
/// inputs. Stops at the target's first failure. Returns the inputs run and whether all passed.
fn replay(target: &Target, fuzz: &Path, args: &Args) -> Result<(usize, bool), String> {
    let dir = fuzz.join("corpus").join(target.name);
    let files = if dir.exists() {
        read_dir_sorted(&dir)?
    } else {
        Vec::new()
    };
    let corpus = files
        .iter()
        .map(|p| fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect::<Result<Vec<_>, _>>()?;
    let seed = args.seed ^ name_hash(target.name);
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut ran = 0;
    let total = corpus.len() + args.inputs;
    for i in 0..total {
        let (bytes, what, saved) = if i < corpus.len() {
            (corpus[i].clone(), files[i].display().to_string(), None)
        } else {
            let n = i - corpus.len();
            let g = generate::input(&mut rng, &corpus);
            let from = match g.base {
                Some(b) => format!("a mutation of {}", files[b].display()),
                None => "random bytes".to_owned(),
            };
            let what = format!("generated input {n} (seed {seed:#x}), {from},");
            (g.bytes, what, Some(format!("replay-{seed:x}-{n}")))
        };
        let one = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.check)(&bytes)));
        let took = one.elapsed();
        slowest = slowest.max(took);
        ran += 1;
        let failure = match result {
            Err(_) => "panicked".to_owned(),
            Ok(()) if took > TIMEOUT => format!("took {:.1} s", took.as_secs_f64()),
            Ok(()) => continue,
        };
        let file = match saved {
            Some(name) => save(fuzz, target.name, &name, &bytes)?,
            None => files[i].clone(),
        };
        eprintln!(
            "replay: {0}: {what} {failure}; `cargo +nightly fuzz run {0} {1}` runs it again",
            target.name,
            file.display(),
        );
        return Ok((ran, false));
    }
    println!(
        "replay: {}: {} corpus files + {} generated inputs in {:.2} s (slowest {:.1} ms)",
        target.name,
        corpus.len(),
        args.inputs,
        start.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1000.0
    );
    Ok((ran, true))
}

/// FNV-1a of a target's name, so that each target has its own stream.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Saves a failing generated input as `fuzz/artifacts/TARGET/NAME`, where cargo-fuzz keeps its own.
fn save(fuzz: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    let dir = fuzz.join("artifacts").join(target);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

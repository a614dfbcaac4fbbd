//! `kbuild-lineinfo modules`: the batch mode. Every module of `modules.order` (and optionally
//! vmlinux) as jobs within make's jobserver, each module from the build-id cache when possible.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use kbuild_lineinfo::Layout;

use crate::cache::Cache;
use crate::cli::{BatchLayout, ModulesArgs, TableOptions};
use crate::jobs::{self, Progress, Slots, Verbosity};
use crate::modules::batch::{Batch, What};
use crate::modules::{kbuild, order};

/// Peak memory of a module job, as a fraction of its file size: the maps of the sections read
/// plus the rows (measured: amdgpu.ko, 596 MB, peaks at 260–310 MB; small modules far below).
const MODULE_COST_DIVISOR: u64 = 2;
/// Peak memory of the vmlinux job (measured 210–230 MB on Debian's kernels).
const VMLINUX_COST: u64 = 240 << 20;

enum Job {
    Vmlinux(PathBuf, PathBuf),
    /// The path to open, and the name as listed (what `LINEINFO [M]` prints).
    Module(PathBuf, PathBuf),
}

#[derive(Default)]
struct Tally {
    processed: AtomicU64,
    cached: AtomicU64,
    unchanged: AtomicU64,
    no_dwarf: AtomicU64,
    failed: AtomicU64,
    entries: AtomicU64,
    /// Entries in code sections the layout does not cover (not embedded).
    uncovered: AtomicU64,
    /// Code sections with lines, their bytes; of those, the ones covered and their bytes.
    code_sections: AtomicU64,
    code_bytes: AtomicU64,
    covered_sections: AtomicU64,
    covered_bytes: AtomicU64,
    /// Modules with a warning.
    warned: AtomicU64,
}

impl Tally {
    fn add(&self, s: &kbuild_lineinfo::extract::Stats) {
        let add = |a: &AtomicU64, v| {
            a.fetch_add(v, Ordering::Relaxed);
        };
        add(&self.entries, s.entries);
        add(&self.uncovered, s.uncovered_entries);
        add(&self.code_sections, s.code_sections);
        add(&self.code_bytes, s.code_bytes);
        add(&self.covered_sections, s.covered_sections);
        add(&self.covered_bytes, s.covered_bytes);
    }
}

pub fn run(args: &ModulesArgs, slots: Slots) -> Result<ExitCode> {
    // Two huge modules (amdgpu, nouveau) side by side would double the peak: the budget keeps
    // the biggest jobs apart while the many small ones still run in parallel.
    let budget = (args.memory_budget << 20).min(slots.budget());
    let slots = &slots.with_budget(budget);
    let start = Instant::now();
    let verbosity = verbosity(args);
    let tree = kbuild::inspect(&args.objtree);
    let say = |msg: String| {
        if verbosity == Verbosity::Verbose {
            eprintln!("lineinfo: {msg}");
        }
    };
    say(format!("{}: {}", args.objtree.display(), describe(&tree)));
    say(format!("jobs: {slots}"));
    if tree.configured && !tree.modules_enabled && !args.force && args.vmlinux.is_none() {
        say(
            "CONFIG_KALLSYMS_LINEINFO_MODULES is not set: nothing to do (--force overrides)".into(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let layout = match (args.layout, tree.layout) {
        (BatchLayout::Fixed(l), _) => l,
        (BatchLayout::Auto, Some(l)) => l,
        (BatchLayout::Auto, None) => Layout::V1,
    };
    let srctree = args.srctree.clone().or(tree.srctree.clone());
    say(format!(
        "layout {}, source tree {}",
        layout.name(),
        srctree
            .as_deref()
            .map_or("(from DWARF)".into(), |p| p.display().to_string())
    ));
    let table = TableOptions {
        layout,
        srctree: srctree.clone(),
    };
    let options = super::extract_options(&table);

    let mut work = Vec::new();
    if let (Some(vmlinux), Some(out)) = (&args.vmlinux, &args.output) {
        work.push(Job::Vmlinux(vmlinux.clone(), out.clone()));
    }
    let modules_wanted = !tree.configured || tree.modules_enabled || args.force;
    if modules_wanted {
        let order_path = args
            .order
            .clone()
            .unwrap_or_else(|| args.objtree.join("modules.order"));
        let text = std::fs::read_to_string(&order_path)
            .with_context(|| format!("{}: cannot read", order_path.display()))?;
        let listed = order::parse(&text);
        say(format!(
            "{}: {} modules",
            order_path.display(),
            listed.len()
        ));
        work.extend(
            listed
                .into_iter()
                .map(|m| Job::Module(order::resolve(&args.objtree, &m), m)),
        );
    }

    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        Cache::open(args.cache_dir.clone(), args.cache_size << 20)
    };
    say(format!(
        "cache: {}",
        cache
            .dir()
            .map_or("disabled".into(), |d| d.display().to_string())
    ));
    let batch = Batch {
        cache: &cache,
        options: &options,
        layout,
        loader: tree.loader,
    };
    let progress = Progress::new(verbosity, work.len() as u64);
    let tally = Tally::default();
    let cost = |job: &Job| match job {
        Job::Vmlinux(..) => VMLINUX_COST,
        Job::Module(path, _) => {
            std::fs::metadata(path).map_or(0, |m| m.len() / MODULE_COST_DIVISOR)
        }
    };
    let outcome = jobs::run(slots, work, cost, |job| match job {
        Job::Vmlinux(path, out) => {
            let r = super::vmlinux::generate(&path, &table, Some(&out), slots);
            report_vmlinux(&path, r, &progress, &tally)
        }
        Job::Module(path, name) => {
            if jobs::interrupted() {
                return;
            }
            let r = batch.process(&path);
            report_module(&name, r, &progress, &tally)
        }
    });
    progress.finish();
    if let Err(interrupted) = outcome {
        eprintln!(
            "kbuild-lineinfo: interrupted; modules already done are complete, the rest untouched"
        );
        return Ok(ExitCode::from(interrupted.exit_code() as u8));
    }
    let t = |a: &AtomicU64| a.load(Ordering::Relaxed);
    say(format!(
        "{} processed ({} from cache), {} up to date, {} without DWARF, {} failed; {} entries, \
         {} of them in uncovered code sections (not embedded); code sections with lines: {} \
         ({} bytes), covered: {} ({} bytes); {} modules with a warning; {:.2} s",
        t(&tally.processed),
        t(&tally.cached),
        t(&tally.unchanged),
        t(&tally.no_dwarf),
        t(&tally.failed),
        t(&tally.entries),
        t(&tally.uncovered),
        t(&tally.code_sections),
        t(&tally.code_bytes),
        t(&tally.covered_sections),
        t(&tally.covered_bytes),
        t(&tally.warned),
        start.elapsed().as_secs_f64()
    ));
    Ok(if t(&tally.failed) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn verbosity(args: &ModulesArgs) -> Verbosity {
    let env_v = std::env::var("V").or_else(|_| std::env::var("KBUILD_VERBOSE"));
    if args.silent || make_is_silent() {
        Verbosity::Silent
    } else if args.verbose || env_v.is_ok_and(|v| v.contains('1')) {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// `make -s`: the first word of MAKEFLAGS holds the single-letter flags, `s` among them.
fn make_is_silent() -> bool {
    std::env::var("MAKEFLAGS").is_ok_and(|f| {
        f.split_whitespace()
            .next()
            .is_some_and(|w| !w.starts_with('-') && w.contains('s'))
    })
}

fn describe(tree: &kbuild::Tree) -> String {
    if !tree.configured {
        return "not a configured Kbuild tree (no include/config/auto.conf): processing as listed"
            .into();
    }
    format!(
        "configured Kbuild tree, CONFIG_KALLSYMS_LINEINFO_MODULES {}",
        if tree.modules_enabled {
            "=y"
        } else {
            "not set"
        }
    )
}

fn report_module(
    path: &Path,
    r: Result<crate::modules::batch::Report>,
    progress: &Progress,
    tally: &Tally,
) {
    match r {
        Ok(report) => {
            let done = report.done;
            if !report.warnings.is_empty() {
                tally.warned.fetch_add(1, Ordering::Relaxed);
            }
            for w in &report.warnings {
                eprintln!("kbuild-lineinfo: warning: {}: {w}", path.display());
            }
            if done.cached {
                tally.cached.fetch_add(1, Ordering::Relaxed);
            }
            let source = if done.cached {
                "from cache"
            } else {
                "from DWARF"
            };
            match done.what {
                What::Updated(s) => {
                    tally.processed.fetch_add(1, Ordering::Relaxed);
                    tally.add(&s);
                    progress.processed(path);
                    progress.verbose(format_args!(
                        "{}: {} entries, {source}",
                        path.display(),
                        s.entries
                    ));
                }
                What::Unchanged(s) => {
                    tally.unchanged.fetch_add(1, Ordering::Relaxed);
                    tally.add(&s);
                    progress.verbose(format_args!("{}: up to date ({source})", path.display()));
                }
                What::NoDebugInfo => {
                    tally.no_dwarf.fetch_add(1, Ordering::Relaxed);
                    progress.verbose(format_args!(
                        "{}: no DWARF line information, left alone",
                        path.display()
                    ));
                }
            }
        }
        Err(e) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("kbuild-lineinfo: {e:#}");
        }
    }
}

fn report_vmlinux(path: &Path, r: Result<String>, progress: &Progress, tally: &Tally) {
    match r {
        Ok(summary) => {
            tally.processed.fetch_add(1, Ordering::Relaxed);
            progress.processed(path);
            progress.verbose(summary);
        }
        Err(e) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("kbuild-lineinfo: {e:#}");
        }
    }
}

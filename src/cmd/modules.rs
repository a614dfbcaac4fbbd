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
use crate::kbuild;
use crate::modules::batch::{Batch, Report, What};
use crate::modules::order;

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

impl Job {
    /// The memory a job may take, for the budget.
    fn cost(&self) -> u64 {
        match self {
            Job::Vmlinux(..) => VMLINUX_COST,
            Job::Module(path, _) => {
                std::fs::metadata(path).map_or(0, |m| m.len() / MODULE_COST_DIVISOR)
            }
        }
    }
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

/// The batch in six steps: what the tree says, the layout, the work list, the cache, the jobs,
/// the summary.
pub fn run(args: &ModulesArgs, slots: Slots) -> Result<ExitCode> {
    let start = Instant::now();
    // Two huge modules (amdgpu, nouveau) side by side would double the peak: the budget keeps
    // the biggest jobs apart while the many small ones still run in parallel.
    let budget = (args.memory_budget << 20).min(slots.budget());
    let slots = &slots.with_budget(budget);
    let log = Log(verbosity(args));
    let tree = kbuild::tree::inspect(&args.objtree);
    log.say(format_args!("{}: {}", args.objtree, describe(&tree)));
    log.say(format_args!("jobs: {slots}"));
    let modules_wanted = !tree.configured || tree.modules_enabled || args.force;
    if !modules_wanted && args.vmlinux.is_none() {
        log.say(format_args!(
            "CONFIG_KALLSYMS_LINEINFO_MODULES is not set: nothing to do (--force overrides)"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let table = table_options(args, &tree, &log);
    let work = work_list(args, modules_wanted, &log)?;
    let cache = open_cache(args, &log);
    let batch = Batch {
        cache: &cache,
        options: &super::extract_options(&table),
        layout: table.layout,
        loader: tree.loader,
    };
    let progress = Progress::new(log.0, work.len() as u64);
    let tally = Tally::default();
    let outcome = jobs::run(slots, work, Job::cost, |job| match job {
        Job::Vmlinux(path, out) => {
            let r = super::vmlinux::generate(&path, &table, Some(&out), slots);
            tally.vmlinux(&path, r, &progress)
        }
        Job::Module(path, name) => {
            if !jobs::interrupted() {
                tally.module(&name, batch.process(&path), &progress)
            }
        }
    });
    progress.finish();
    if let Err(interrupted) = outcome {
        eprintln!(
            "kbuild-lineinfo: interrupted; modules already done are complete, the rest untouched"
        );
        return Ok(ExitCode::from(interrupted.exit_code() as u8));
    }
    log.say(format_args!(
        "{}; {:.2} s",
        tally.summary(),
        start.elapsed().as_secs_f64()
    ));
    Ok(tally.exit_code())
}

/// Progress lines for `V=1`/`--verbose`.
struct Log(Verbosity);

impl Log {
    fn say(&self, msg: std::fmt::Arguments<'_>) {
        if self.0 == Verbosity::Verbose {
            eprintln!("lineinfo: {msg}");
        }
    }
}

/// The layout (the option, else the tree's header, else v1) and the source tree names are
/// printed relative to (the option, else the tree's).
fn table_options(args: &ModulesArgs, tree: &kbuild::tree::Tree, log: &Log) -> TableOptions {
    let layout = match (args.layout, tree.layout) {
        (BatchLayout::Fixed(l), _) => l,
        (BatchLayout::Auto, Some(l)) => l,
        (BatchLayout::Auto, None) => Layout::V1,
    };
    let srctree = args.srctree.clone().or(tree.srctree.clone());
    log.say(format_args!(
        "layout {}, source tree {}",
        layout.name(),
        srctree
            .as_deref()
            .map_or("(from DWARF)".into(), |p| p.to_string())
    ));
    TableOptions { layout, srctree }
}

/// vmlinux first (when asked for), then every module of `modules.order` in its order.
fn work_list(args: &ModulesArgs, modules_wanted: bool, log: &Log) -> Result<Vec<Job>> {
    let mut work = Vec::new();
    if let (Some(vmlinux), Some(out)) = (&args.vmlinux, &args.output) {
        work.push(Job::Vmlinux(vmlinux.into(), out.into()));
    }
    if !modules_wanted {
        return Ok(work);
    }
    let order_path = args
        .order
        .clone()
        .unwrap_or_else(|| args.objtree.join("modules.order"));
    let text = std::fs::read_to_string(&order_path)
        .with_context(|| format!("{order_path}: cannot read"))?;
    let listed = order::parse(&text);
    log.say(format_args!("{}: {} modules", order_path, listed.len()));
    work.extend(
        listed
            .into_iter()
            .map(|m| Job::Module(order::resolve(args.objtree.as_std_path(), &m), m)),
    );
    Ok(work)
}

fn open_cache(args: &ModulesArgs, log: &Log) -> Cache {
    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        Cache::open(args.cache_dir.clone(), args.cache_size << 20)
    };
    log.say(format_args!(
        "cache: {}",
        cache.dir().map_or("disabled".into(), |d| d.to_string())
    ));
    cache
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

fn describe(tree: &kbuild::tree::Tree) -> String {
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

impl Tally {
    /// Counts one module's outcome and prints what the verbosity asks for.
    fn module(&self, path: &Path, r: Result<Report>, progress: &Progress) {
        let report = match r {
            Ok(report) => report,
            Err(e) => return self.failed(e),
        };
        if !report.warnings.is_empty() {
            self.warned.fetch_add(1, Ordering::Relaxed);
        }
        for w in &report.warnings {
            eprintln!("kbuild-lineinfo: warning: {}: {w}", path.display());
        }
        if let Some(waited) = report.waited {
            progress.verbose(crate::modules::lineinfo::waited_line(
                path.display(),
                waited,
            ));
        }
        let done = report.done;
        if done.cached {
            self.cached.fetch_add(1, Ordering::Relaxed);
        }
        let source = if done.cached {
            "from cache"
        } else {
            "from DWARF"
        };
        let name = path.display();
        let (count, stats) = match done.what {
            What::Updated(s) => {
                progress.processed(path);
                progress.verbose(format_args!("{name}: {} entries, {source}", s.entries));
                (&self.processed, s)
            }
            What::Unchanged(s) => {
                progress.verbose(format_args!("{name}: up to date ({source})"));
                (&self.unchanged, s)
            }
            What::NoDebugInfo => {
                progress.verbose(format_args!(
                    "{name}: no DWARF line information, left alone"
                ));
                self.no_dwarf.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        count.fetch_add(1, Ordering::Relaxed);
        self.add(&stats);
    }

    fn vmlinux(&self, path: &Path, r: Result<String>, progress: &Progress) {
        match r {
            Ok(summary) => {
                self.processed.fetch_add(1, Ordering::Relaxed);
                progress.processed(path);
                progress.verbose(summary);
            }
            Err(e) => self.failed(e),
        }
    }

    fn failed(&self, e: anyhow::Error) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        eprintln!("kbuild-lineinfo: {e:#}");
    }

    /// The `V=1` summary line.
    fn summary(&self) -> String {
        let t = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} processed ({} from cache), {} up to date, {} without DWARF, {} failed; {} entries, \
             {} of them in uncovered code sections (not embedded); code sections with lines: {} \
             ({} bytes), covered: {} ({} bytes); {} modules with a warning",
            t(&self.processed),
            t(&self.cached),
            t(&self.unchanged),
            t(&self.no_dwarf),
            t(&self.failed),
            t(&self.entries),
            t(&self.uncovered),
            t(&self.code_sections),
            t(&self.code_bytes),
            t(&self.covered_sections),
            t(&self.covered_bytes),
            t(&self.warned),
        )
    }

    fn exit_code(&self) -> ExitCode {
        if self.failed.load(Ordering::Relaxed) > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

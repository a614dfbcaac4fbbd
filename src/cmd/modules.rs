//! `kbuild-lineinfo modules`: the batch mode. Every module of `modules.order` (and optionally
//! vmlinux) as jobs within make's jobserver, each module from the build-id cache when possible.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cache::Cache;
use crate::cli::{ModulesArgs, TableOptions};
use crate::jobs::{self, Progress, Slots};
use crate::kbuild;
use crate::modules::lineinfo::{Done, Pipeline, Report};
use crate::modules::order;
use crate::voice;

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
    let tree = kbuild::tree::inspect(&args.objtree);
    voice::explain(format_args!("{}: {}", args.objtree, describe(&tree)));
    voice::explain(format_args!("jobs: {slots}"));
    let modules_wanted = !tree.configured || tree.modules_enabled || args.force;
    if !modules_wanted {
        voice::note(format_args!(
            "{}: CONFIG_KALLSYMS_LINEINFO_MODULES is not set: modules skipped (--force to \
             process them anyway)",
            args.objtree.join("include/config/auto.conf")
        ));
        if args.vmlinux.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let table = table_options(args);
    let work = work_list(args, modules_wanted)?;
    let cache = open_cache(args);
    let pipeline = Pipeline {
        cache: &cache,
        options: &super::extract_options(&table),
        layout: table.layout,
        loader: tree.loader,
    };
    let progress = Progress::new(voice::verbosity(), work.len() as u64);
    let tally = Tally::default();
    let outcome = jobs::run(slots, work, Job::cost, |job| match job {
        Job::Vmlinux(path, out) => {
            let r = super::vmlinux::generate(&path, &table, Some(&out), slots);
            tally.vmlinux(&path, r, &progress)
        }
        Job::Module(path, name) => {
            if !jobs::interrupted() {
                tally.module(&name, pipeline.process(&path), &progress)
            }
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    progress.finish(format_args!("{}; {seconds:.1} s", tally.short_summary()));
    if let Err(interrupted) = outcome {
        voice::error(&anyhow::anyhow!(
            "interrupted; modules already done are complete, the rest untouched"
        ));
        return Ok(ExitCode::from(interrupted.exit_code() as u8));
    }
    voice::explain(format_args!("{}; {seconds:.2} s", tally.summary()));
    Ok(tally.exit_code())
}

/// The layout (the option, else the tree's as [`kbuild::tree::choose_layout`] finds it, else
/// v1) and the source tree names are printed relative to (the option, else the tree's).
fn table_options(args: &ModulesArgs) -> TableOptions {
    let tree = kbuild::tree::inspect(&args.objtree);
    let env = kbuild::tree::env_srctree();
    let layout = kbuild::tree::choose_layout(
        args.layout.fixed(),
        args.srctree.as_deref(),
        env.as_deref(),
        &args.objtree,
    )
    .layout;
    let srctree = args.srctree.clone().or(tree.srctree);
    voice::explain(format_args!(
        "layout {}, source tree {}",
        layout.name(),
        srctree
            .as_deref()
            .map_or("(from DWARF)".into(), |p| p.to_string())
    ));
    TableOptions { layout, srctree }
}

/// vmlinux first (when asked for), then every module of `modules.order` in its order.
fn work_list(args: &ModulesArgs, modules_wanted: bool) -> Result<Vec<Job>> {
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
    voice::explain(format_args!("{}: {} modules", order_path, listed.len()));
    work.extend(
        listed
            .into_iter()
            .map(|m| Job::Module(order::resolve(args.objtree.as_std_path(), &m), m)),
    );
    Ok(work)
}

fn open_cache(args: &ModulesArgs) -> Cache {
    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        Cache::open(args.cache_dir.clone(), args.cache_size << 20)
    };
    voice::explain(format_args!(
        "cache: {}",
        cache.dir().map_or("disabled".into(), |d| d.to_string())
    ));
    cache
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
            voice::warn(format_args!("{}: {w}", path.display()));
        }
        if let Some(line) = report.waited_line(path.display()) {
            progress.verbose(line);
        }
        if report.cached {
            self.cached.fetch_add(1, Ordering::Relaxed);
        }
        let source = if report.cached {
            "from cache"
        } else {
            "from DWARF"
        };
        let name = path.display();
        let (count, stats) = match report.done {
            Done::Updated(s) => {
                progress.processed(path);
                progress.verbose(format_args!("{name}: {} entries, {source}", s.entries));
                (&self.processed, s)
            }
            Done::Unchanged(s) => {
                progress.verbose(format_args!("{name}: up to date ({source})"));
                (&self.unchanged, s)
            }
            Done::NoDebugInfo => {
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

    fn vmlinux(&self, path: &Path, r: Result<super::vmlinux::Generated>, progress: &Progress) {
        match r {
            Ok(done) => {
                done.warn(path);
                self.processed.fetch_add(1, Ordering::Relaxed);
                progress.processed(path);
                progress.verbose(&done.summary);
            }
            Err(e) => self.failed(e),
        }
    }

    fn failed(&self, e: anyhow::Error) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        voice::error(&e);
    }

    /// The line the bar leaves on the terminal.
    fn short_summary(&self) -> String {
        let t = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = format!(
            "{} updated ({} from cache), {} up to date",
            t(&self.processed),
            t(&self.cached),
            t(&self.unchanged)
        );
        for (n, what) in [
            (t(&self.no_dwarf), "without DWARF"),
            (t(&self.failed), "failed"),
        ] {
            if n > 0 {
                s += &format!(", {n} {what}");
            }
        }
        s
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

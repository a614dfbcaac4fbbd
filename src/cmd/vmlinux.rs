//! `kbuild-lineinfo vmlinux`: the vmlinux tables as an ELF object or as assembly.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kbuild_lineinfo::emit::{self, Target};
use kbuild_lineinfo::encode::EncodedTable;
use kbuild_lineinfo::extract;
use kbuild_lineinfo::layout::{self, Item, VmlinuxTables};
use kbuild_lineinfo::Layout;

use crate::cli::{TableOptions, VmlinuxArgs};
use crate::voice;

pub fn run(args: &VmlinuxArgs, slots: &crate::jobs::Slots) -> Result<ExitCode> {
    let setup = super::setup(&args.table, false);
    let layout = setup.table.layout;
    let output = args.output.as_deref().map(|o| o.as_std_path());
    if args.stub {
        let target = match &args.like {
            Some(path) => target_of(path.as_std_path())?,
            None => Target::host_default(),
        };
        let items = layout::vmlinux_items(&EncodedTable::default(), layout, target.endian);
        write_output(output, &items, &target)?;
        setup.say_layout();
        return Ok(ExitCode::SUCCESS);
    }
    let path = args
        .vmlinux
        .as_deref()
        .expect("clap requires VMLINUX without --stub")
        .as_std_path();
    let done = generate_with(path, &setup.table, output, slots, args.gimli_only)?;
    done.warn(path);
    setup.say_layout();
    voice::explain(&done.summary);
    Ok(ExitCode::SUCCESS)
}

/// What building the tables of one vmlinux gave, besides the output.
#[derive(Debug)]
pub struct Generated {
    pub stats: extract::Stats,
    /// The statistics line, for `-v`: `FILE: N rows, N entries, …`.
    pub summary: String,
    pub warnings: Vec<String>,
}

impl Generated {
    /// Prints the warnings about `path`.
    pub fn warn(&self, path: &Path) {
        for w in &self.warnings {
            voice::warn(format_args!("{}: {w}", path.display()));
        }
    }
}

/// Most threads one vmlinux is read on (beyond this, chunks of units get too small to pay).
const MAX_THREADS: usize = 64;

/// Reads `path`, builds its tables and writes them to `output`.
pub fn generate(
    path: &Path,
    table: &TableOptions,
    output: Option<&Path>,
    slots: &crate::jobs::Slots,
) -> Result<Generated> {
    generate_with(path, table, output, slots, false)
}

/// [`generate`], with line programs run by gimli alone when `gimli_only` (same bytes).
fn generate_with(
    path: &Path,
    table: &TableOptions,
    output: Option<&Path>,
    slots: &crate::jobs::Slots,
    gimli_only: bool,
) -> Result<Generated> {
    let layout = table.layout;
    let data = crate::mmap::map(path)?;
    // One thread per job slot free now (the implicit one and every token the jobserver grants
    // at once; link-vmlinux.sh runs when make has nothing else to do), held until the tables
    // are built.
    let tokens = slots.try_tokens(MAX_THREADS - 1);
    let effort = extract::Effort {
        threads: 1 + tokens.len(),
        gimli_only,
    };
    let tables = build(path, &data, &super::extract_options(table), layout, effort)?;
    drop(tokens);
    write_output(output, &tables.items, &tables.target)?;
    let bytes = tables.bytes();
    let s = &tables.stats;
    let summary = format!(
        "{}: {} rows, {} entries, {} files, {} bytes ({:.2} bytes/entry), {} symbol-start entries, {} holes",
        path.display(),
        s.rows,
        s.entries,
        s.files,
        bytes,
        bytes as f64 / s.entries.max(1) as f64,
        s.symbol_entries,
        s.hole_entries,
    );
    Ok(Generated {
        stats: tables.stats,
        summary,
        warnings: tables.warnings,
    })
}

/// The tables of the image `data` (read from `path`): the library's two steps, as for a module
/// (extract, then [`layout::vmlinux_tables`]).
fn build(
    path: &Path,
    data: &[u8],
    options: &extract::Options,
    layout: Layout,
    effort: extract::Effort,
) -> Result<VmlinuxTables> {
    let v = extract::vmlinux(data, options, effort).with_context(|| path.display().to_string())?;
    Ok(layout::vmlinux_tables(&v, layout))
}

/// The table object `vmlinux --layout v7 -o T.o` would write for the image `data` (read from
/// `path`), built in memory from its DWARF: what `annotate` and `lookup` read for a vmlinux that
/// carries no tables (a distribution's debug vmlinux). On the CPUs there are: nobody else is
/// building.
pub fn table_from_dwarf(path: &Path, data: &[u8]) -> Result<Vec<u8>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let effort = extract::Effort {
        threads: threads.min(MAX_THREADS),
        gimli_only: false,
    };
    let options = extract::Options::default();
    let tables = build(path, data, &options, Layout::V7, effort)?;
    emit::elf::write_object(&tables.items, &tables.target)
        .with_context(|| path.display().to_string())
}

fn target_of(path: &Path) -> Result<Target> {
    let data = crate::mmap::map(path)?;
    Target::from_elf(&data).with_context(|| path.display().to_string())
}

/// `*.o` → ELF object; anything else (`*.S`, `-`, none) → assembly.
fn write_output(output: Option<&Path>, items: &[Item], target: &Target) -> Result<()> {
    match output {
        Some(path) if path.extension().is_some_and(|e| e == "o") => {
            let bytes = emit::elf::write_object(items, target)
                .with_context(|| format!("{}: cannot build the object", path.display()))?;
            crate::atomic::write(path, &bytes)
        }
        Some(path) if path != Path::new("-") => {
            let mut text = Vec::new();
            emit::asm::write_items(items, &mut text)?;
            crate::atomic::write(path, &text)
        }
        _ => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            emit::asm::write_items(items, &mut out)?;
            out.flush().context("stdout")?;
            Ok(())
        }
    }
}

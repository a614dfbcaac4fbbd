//! The work for one module: extract its tables, have the library lay them out, embed them in
//! place.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kbuild_lineinfo::extract::{self, Stats};
use kbuild_lineinfo::layout::{self, ModuleSections};
use kbuild_lineinfo::loader::LoaderConfig;
use kbuild_lineinfo::Layout;

use super::embed::{self, Outcome};

/// What happened to one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The module has no DWARF line information: left alone.
    NoDebugInfo,
    /// The module already carried exactly these sections: not rewritten.
    Unchanged(Stats),
    /// The module was rewritten with new sections.
    Updated(Stats),
}

/// [`Done`], and what the user should be told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub done: Done,
    pub warnings: Vec<String>,
    /// How long another run kept the module locked before this one could read it.
    pub waited: Option<Duration>,
}

impl Processed {
    /// The `-v` line for a wait on another run, if there was one.
    pub fn waited_line(&self, path: impl std::fmt::Display) -> Option<String> {
        self.waited.map(|d| waited_line(path, d))
    }
}

/// `PATH: waited 0.12 s for another run updating it`.
pub fn waited_line(path: impl std::fmt::Display, waited: Duration) -> String {
    format!(
        "{path}: waited {:.2} s for another run updating it",
        waited.as_secs_f64()
    )
}

/// Extracts, encodes and embeds the tables of the module at `path`, in place, with the module
/// locked from the first byte read to the last written (see [`embed::open_locked`]).
pub fn process(
    path: &Path,
    options: &extract::Options,
    layout: Layout,
    config: LoaderConfig,
) -> Result<Processed> {
    let module = embed::open_locked(path)?;
    let waited = module.lock.waited();
    let mut warnings: Vec<String> = module.lock.warning().into_iter().collect();
    let parsed =
        extract::module(&module.map, options).with_context(|| path.display().to_string())?;
    let Some(parsed) = parsed else {
        return Ok(Processed {
            done: Done::NoDebugInfo,
            warnings,
            waited,
        });
    };
    let ModuleSections {
        sections,
        stats,
        warnings: more,
    } = layout::module_sections(&parsed, layout, config)
        .with_context(|| path.display().to_string())?;
    drop(parsed);
    warnings.extend(more);
    let done = match module.embed(path, &sections, &layout::MODULE_SECTIONS)? {
        Outcome::Unchanged => Done::Unchanged(stats),
        Outcome::Updated => Done::Updated(stats),
    };
    Ok(Processed {
        done,
        warnings,
        waited,
    })
}

//! The work for one module, for every command that embeds (`module`, `gen-mod-lineinfo`, each
//! job of `modules`): open and lock it, map it once; take its sections from the cache when its
//! build-id was seen, else extract its tables and have the library lay them out
//! ([`layout::module_sections`]); embed them in place from the same map (a module that already
//! carries the same sections is not rewritten).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kbuild_lineinfo::extract::{self, Stats};
use kbuild_lineinfo::layout::{self, ModuleSections};
use kbuild_lineinfo::loader::LoaderConfig;
use kbuild_lineinfo::Layout;

use super::cached::{self, Record};
use super::embed::{self, Outcome};
use crate::cache::{Cache, Identity, Key};

/// Everything a module job needs besides the module.
#[derive(Debug)]
pub struct Pipeline<'a> {
    /// The build-id cache; [`Cache::disabled`] for the per-module commands.
    pub cache: &'a Cache,
    pub options: &'a extract::Options,
    pub layout: Layout,
    /// What the tree's config says about where the loader puts sections.
    pub loader: LoaderConfig,
}

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
pub struct Report {
    pub done: Done,
    /// Taken from the cache (no DWARF read).
    pub cached: bool,
    pub warnings: Vec<String>,
    /// How long another run kept the module locked before this one could read it.
    pub waited: Option<Duration>,
}

impl Report {
    /// The `-v` line for a wait on another run, if there was one:
    /// `PATH: waited 0.12 s for another run updating it`.
    pub fn waited_line(&self, path: impl std::fmt::Display) -> Option<String> {
        self.waited.map(|d| {
            format!(
                "{path}: waited {:.2} s for another run updating it",
                d.as_secs_f64()
            )
        })
    }
}

impl Pipeline<'_> {
    /// The cache key of a module: its identity, the layout, and every option that changes
    /// the output (see [`Key::new`]).
    fn key(&self, identity: &Identity) -> Key {
        let srctree = self.options.srctree.as_deref().unwrap_or(b"");
        let unload: &[u8] = if self.loader.module_unload {
            b"y"
        } else {
            b"n"
        };
        let mut options = vec![("srctree", srctree), ("module_unload", unload)];
        if self.options.guess_srctree {
            options.push(("guess_srctree", b"y"));
        }
        Key::new(identity, self.layout.name(), &options)
    }

    /// The module at `path`, locked from before it is read until it is written (see
    /// [`embed::open_locked`]): a second run waits here, then finds it up to date.
    pub fn process(&self, path: &Path) -> Result<Report> {
        // One open and one map per module: read, then embedded from the same map.
        let module = embed::open_locked(path)?;
        let waited = module.lock.waited();
        let mut warnings: Vec<String> = module.lock.warning().into_iter().collect();
        // No key (a hash of the identity) nor cache record without a cache.
        let identity = self.cache.dir().map(|_| Identity::of(&module.map));
        let (record, cached) = self
            .record(&module.map, identity.as_ref())
            .with_context(|| path.display().to_string())?;
        let done = match record {
            Record::NoDebugInfo => Done::NoDebugInfo,
            Record::Sections {
                sections,
                stats,
                warnings: more,
            } => {
                warnings.extend(more);
                match module.embed(path, &sections, &layout::MODULE_SECTIONS)? {
                    Outcome::Unchanged => Done::Unchanged(stats),
                    Outcome::Updated => Done::Updated(stats),
                }
            }
        };
        Ok(Report {
            done,
            cached,
            warnings,
            waited,
        })
    }

    /// What goes into the module `data` (or that it has no DWARF), from the cache under
    /// `identity` when an entry is there, else computed and stored; and whether it came from
    /// the cache. Without an identity, computed and not stored.
    pub fn record(&self, data: &[u8], identity: Option<&Identity>) -> Result<(Record, bool)> {
        let key = identity.map(|id| self.key(id));
        let hit = key.as_ref().and_then(|key| self.cache.get(key));
        if let Some(record) = hit.and_then(|p| cached::decode(&p)) {
            return Ok((record, true));
        }
        let record = self.compute(data)?;
        if let Some(key) = &key {
            self.cache.put(key, &cached::encode(&record));
        }
        Ok((record, false))
    }

    fn compute(&self, data: &[u8]) -> Result<Record> {
        let Some(module) = extract::module(data, self.options)? else {
            return Ok(Record::NoDebugInfo);
        };
        let ModuleSections {
            sections,
            stats,
            warnings,
        } = layout::module_sections(&module, self.layout, self.loader)?;
        Ok(Record::Sections {
            sections,
            stats,
            warnings,
        })
    }
}

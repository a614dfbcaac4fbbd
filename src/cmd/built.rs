//! Tables for an image that carries none, built in memory from its DWARF by the build's own
//! code (the `vmlinux` step for a vmlinux, the `modules` batch for a module, layout v7), and
//! kept in the build-id cache so that the next log on the same kernel reads them back instead of
//! reading DWARF again: what `annotate` and `lookup` use on a distribution's debug package.
//!
//! Only a file with a GNU build-id is cached (hashing a 400 MB debug vmlinux to name it would
//! cost what reading it back saves); `-v` says when one is not. A module's entry is the very
//! entry the `modules` batch keeps for that build-id ([`Pipeline::record`]); a vmlinux's is the
//! table object `vmlinux --layout v7 -o T.o` writes, under [`image_key`]; next to each, the
//! image's text symbols, packed ([`Built::symbols`]). The cache is
//! opened on first use: a log whose images all carry tables leaves no trace.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Result;
use kbuild_lineinfo::emit::ko::NewSection;
use kbuild_lineinfo::extract;
use kbuild_lineinfo::kallsyms::Symbols;
use kbuild_lineinfo::loader::LoaderConfig;
#[cfg(doc)]
use kbuild_lineinfo::symbolize::Symbolizer;
use kbuild_lineinfo::Layout;

use crate::cache::{self, Cache, Identity, Key};
use crate::modules::cached::Record;
use crate::modules::lineinfo::Pipeline;
use crate::voice;

/// The build-id cache, opened when a table is first built or looked for.
#[derive(Debug)]
pub struct Built {
    no_cache: bool,
    cache: OnceLock<Cache>,
}

/// Where an image's tables came from, for `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Embedded in the image by its build.
    Embedded,
    /// Read from the table object given with `--table`.
    Table,
    /// Built from its DWARF now.
    Dwarf,
    /// Built from its DWARF by an earlier run, read from the cache.
    Cache,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Embedded => "its embedded tables",
            Source::Table => "the tables of --table",
            Source::Dwarf => "tables built from its DWARF",
            Source::Cache => "tables built from its DWARF, from the cache",
        }
    }
}

/// The key of an entry about the image with build-id `id`: layout v7, no srctree (names as
/// DWARF gives them), and what the entry holds (`entry`), so that no two kinds of entry meet
/// (nor the `modules` batch's entry of a module).
fn image_key(id: &[u8], entry: Entry) -> Key {
    let identity = Identity::BuildId(id.to_vec());
    let what: &[u8] = match entry {
        Entry::VmlinuxTables => b"vmlinux table object",
        Entry::Symbols(Image::Vmlinux) => b"vmlinux text symbols, packed",
        Entry::Symbols(Image::Module) => b"module text symbols, packed",
    };
    Key::new(&identity, Layout::V7.name(), &[("entry", what)])
}

/// What an image's cache entry holds.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// The table object `vmlinux --layout v7 -o T.o` writes.
    VmlinuxTables,
    /// The image's text symbols as kallsyms prints them ([`Symbols::to_packed`]): a warm run
    /// reads no symbol table.
    Symbols(Image),
}

/// Which kind of image.
#[derive(Debug, Clone, Copy)]
pub enum Image {
    Vmlinux,
    Module,
}

impl Built {
    /// `no_cache`: build every time, read and write nothing (`--no-cache`).
    pub fn new(no_cache: bool) -> Built {
        Built {
            no_cache,
            cache: OnceLock::new(),
        }
    }

    fn cache(&self) -> &Cache {
        self.cache.get_or_init(|| {
            let cache = match self.no_cache {
                true => Cache::disabled(),
                false => Cache::open(None, cache::DEFAULT_SIZE_MIB << 20),
            };
            voice::explain(format_args!(
                "cache of tables built from DWARF: {}",
                cache.dir().map_or("disabled".into(), |d| d.to_string())
            ));
            cache
        })
    }

    /// The table object of the vmlinux `data` (read from `path`), which carries none: from the
    /// cache, else built from its DWARF (and stored). An image without DWARF either is an
    /// error that says what to pass.
    pub fn vmlinux(&self, path: &Path, data: &[u8]) -> Result<(object::File<'static>, Source)> {
        let start = Instant::now();
        let key = self
            .key_of(path, data)
            .map(|id| image_key(&id, Entry::VmlinuxTables));
        let hit = key.as_ref().and_then(|k| self.cache().get_mapped(k));
        let (bytes, source): (&'static [u8], _) = match hit {
            Some(entry) => (Box::leak(Box::new(entry)).payload(), Source::Cache),
            None => {
                let bytes = super::vmlinux::table_from_dwarf(path, data).map_err(|e| {
                    anyhow::anyhow!(
                        "no lineinfo tables (lineinfo_* symbols), and none could be built from \
                         its DWARF ({}): pass --table TABLE.o, made from the image with DWARF \
                         by `kbuild-lineinfo vmlinux -o TABLE.o VMLINUX`",
                        e.root_cause()
                    )
                })?;
                if let Some(key) = &key {
                    self.cache().put(key, &bytes);
                }
                (Box::leak(bytes.into_boxed_slice()), Source::Dwarf)
            }
        };
        voice::explain(format_args!(
            "{}: no lineinfo tables: {} ({} bytes, {:.2} s)",
            path.display(),
            source.describe(),
            bytes.len(),
            start.elapsed().as_secs_f64()
        ));
        let file = object::File::parse(bytes).map_err(kbuild_lineinfo::Error::from)?;
        Ok((file, source))
    }

    /// The text symbols of the `image` `data` (read from `path`, whose tables were built from
    /// DWARF) that an earlier run stored with [`store_symbols`](Self::store_symbols); `None`
    /// when there are none (or the entry is not a symbol list: said, and replaced by the
    /// caller's store).
    pub fn symbols(&self, image: Image, path: &Path, data: &[u8]) -> Option<Symbols<'static>> {
        let key = image_key(&self.id_of(data)?, Entry::Symbols(image));
        let entry: &'static cache::Mapped = Box::leak(Box::new(self.cache().get_mapped(&key)?));
        match Symbols::from_packed(entry.payload()) {
            Ok(symbols) => Some(symbols),
            Err(why) => {
                voice::warn(format_args!(
                    "{}: the cached text symbols are not a symbol list ({why}); reading them \
                     again",
                    path.display()
                ));
                None
            }
        }
    }

    /// Stores `symbols`, the text symbols of the `image` `data`, for
    /// [`symbols`](Self::symbols).
    pub fn store_symbols(&self, image: Image, data: &[u8], symbols: &Symbols<'_>) {
        let Some(id) = self.id_of(data) else {
            return;
        };
        if let Some(bytes) = symbols.to_packed() {
            self.cache()
                .put(&image_key(&id, Entry::Symbols(image)), &bytes);
        }
    }

    /// The sections the `modules` batch would embed (layout v7) in the module `data` (read
    /// from `path`), which carries no tables: the cached ones, else built from its DWARF (and
    /// stored), for [`Symbolizer::module_built`]. `None` when it has no DWARF line
    /// information.
    pub fn module(
        &self,
        path: &Path,
        data: &[u8],
        loader: LoaderConfig,
    ) -> Result<Option<(&'static [NewSection], Source)>> {
        let start = Instant::now();
        // Names relative to the tree, as a kernel build would have made them: guessed while
        // building, so that a cached entry costs no walk of the DWARF.
        let options = extract::Options {
            srctree: None,
            guess_srctree: true,
        };
        let pipeline = Pipeline {
            cache: self.cache(),
            options: &options,
            layout: Layout::V7,
            loader,
        };
        let identity = self.key_of(path, data).map(Identity::BuildId);
        let (record, cached) = pipeline.record(data, identity.as_ref())?;
        let Record::Sections { sections, .. } = record else {
            return Ok(None);
        };
        let source = if cached { Source::Cache } else { Source::Dwarf };
        voice::explain(format_args!(
            "{}: no .mod_lineinfo: {}, names relative to the tree above the include/linux/ it \
             names ({:.3} s)",
            path.display(),
            source.describe(),
            start.elapsed().as_secs_f64()
        ));
        Ok(Some((Box::leak(sections.into_boxed_slice()), source)))
    }

    /// The build-id that names `data`'s entry; `None` when it has none or the cache is off.
    /// Quiet: [`key_of`](Self::key_of), which comes first for every image, says why.
    fn id_of(&self, data: &[u8]) -> Option<Vec<u8>> {
        self.cache().dir()?;
        cache::build_id(data)
    }

    /// [`id_of`](Self::id_of), saying under `-v` when the image has no build-id.
    fn key_of(&self, path: &Path, data: &[u8]) -> Option<Vec<u8>> {
        let id = self.id_of(data);
        if id.is_none() && self.cache().dir().is_some() {
            voice::explain(format_args!(
                "{}: no build-id: the tables built from its DWARF are not cached",
                path.display()
            ));
        }
        id
    }
}

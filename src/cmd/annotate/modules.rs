//! The modules a log names, found by the `[name]` of a frame (`-` and `_` alike) under one or
//! more directories (`--modules DIR`, or the two `-r` finds), each read on first use.
//!
//! A module is a `.ko`, `.ko.xz`, `.ko.zst` or `.ko.gz` ([`kbuild_lineinfo::unpack::module`]).
//! Of the files of one name, the first with embedded tables answers (directories in the order
//! given, a plain `.ko` before a compressed one); when none has tables, the first with DWARF
//! gets them built ([`Built::module`]): an installed kernel built with the series answers from
//! `/lib/modules`, a distribution kernel from its debug package.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use kbuild_lineinfo::input::Input;
use kbuild_lineinfo::loader::LoaderConfig;
use kbuild_lineinfo::symbolize::Symbolizer;
use kbuild_lineinfo::unpack::{self, Limits};

use crate::cmd::built::{Built, Image, Source};
use crate::mmap::InputError;

/// One module, ready for lookups.
pub struct Loaded {
    pub symbolizer: Symbolizer<'static>,
    /// The file it was read from.
    pub path: PathBuf,
    pub source: Source,
    /// Whether `-v` said which file answers its frames.
    pub announced: bool,
}

/// The module directories.
pub struct ModuleDirs {
    roots: Vec<PathBuf>,
    /// Module name (`-` as `_`) → its files, in the order they are tried; one walk of the
    /// trees.
    index: Option<HashMap<String, Vec<PathBuf>>>,
    /// Where the loader puts v1 sections, for every module: the one rule of
    /// `kbuild::tree::loader_config` (the current directory's config, else unload on, as in
    /// every distribution kernel), read once.
    loader: LoaderConfig,
    /// Every module asked for; `None` when it could not be used (warned once).
    pub loaded: HashMap<String, Option<Loaded>>,
}

impl ModuleDirs {
    pub fn new(roots: Vec<PathBuf>) -> ModuleDirs {
        ModuleDirs {
            roots,
            index: None,
            loader: crate::kbuild::tree::loader_config(None),
            loaded: HashMap::new(),
        }
    }

    /// The module `key`: the first of its files with tables, else the first with DWARF.
    pub fn load(&mut self, key: &str, built: &Built) -> Result<Loaded> {
        let index = match &mut self.index {
            Some(index) => index,
            None => {
                let mut index = HashMap::new();
                for root in &self.roots {
                    walk(root, &mut index)
                        .with_context(|| format!("{}: cannot list", root.display()))?;
                }
                self.index.insert(index)
            }
        };
        let Some(paths) = index.get(key) else {
            let roots: Vec<_> = self.roots.iter().map(|r| r.display().to_string()).collect();
            bail!("no {key}.ko under {}", roots.join(" or "));
        };
        // v1 offsets count from text memory as the loader lays it out.
        let loader = self.loader;
        let mut bare = Vec::new();
        let mut failed = None;
        for path in paths {
            match open(path, loader) {
                Ok(Opened::Tables(symbolizer)) => {
                    return Ok(loaded(path, symbolizer, Source::Embedded))
                }
                Ok(Opened::Bare(data, input)) => bare.push((path, data, input)),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        for (path, data, input) in &bare {
            if let Some((symbolizer, source)) = with_built(path, data, input, loader, built)? {
                return Ok(loaded(path, symbolizer, source));
            }
        }
        match (bare.first(), failed) {
            (None, Some(e)) => Err(e),
            (Some((path, ..)), _) => Err(InputError::new(path, NEITHER).into()),
            (None, None) => bail!("no {key}.ko"),
        }
    }
}

/// The module file `path` (plain or compressed) for `lookup --module`: its embedded tables,
/// else tables built from its DWARF. `config` says where the loader puts v1 sections.
pub fn open_module(
    path: &Path,
    config: LoaderConfig,
    built: &Built,
) -> Result<(Symbolizer<'static>, Source)> {
    let (data, input) = match open(path, config)? {
        Opened::Tables(symbolizer) => return Ok((symbolizer, Source::Embedded)),
        Opened::Bare(data, input) => (data, input),
    };
    match with_built(path, data, &input, config, built)? {
        Some(answer) => Ok(answer),
        None => Err(InputError::new(path, NEITHER).into()),
    }
}

/// The module `input` (`data`, read from `path`), which carries no tables, with tables built
/// from its DWARF (cached, as its text symbols are); `None` when it has no DWARF line
/// information.
fn with_built(
    path: &Path,
    data: &'static [u8],
    input: &Input<'static>,
    config: LoaderConfig,
    built: &Built,
) -> Result<Option<(Symbolizer<'static>, Source)>> {
    let made = built.module(path, data, config);
    let Some((sections, source)) = made.with_context(|| path.display().to_string())? else {
        return Ok(None);
    };
    let symbols = built.symbols(Image::Module, path, data);
    let cached = symbols.is_some();
    let symbolizer = Symbolizer::module_built_with(input, sections, symbols)?;
    if let (Some(s), false) = (&symbolizer, cached) {
        built.store_symbols(Image::Module, data, s.symbols());
    }
    Ok(symbolizer.map(|s| (s, source)))
}

/// Why a module cannot answer.
const NEITHER: &str = "no .mod_lineinfo, and no DWARF line information to build one from (the \
                       debug package has the modules with DWARF)";

fn loaded(path: &Path, symbolizer: Symbolizer<'static>, source: Source) -> Loaded {
    Loaded {
        symbolizer,
        path: path.to_path_buf(),
        source,
        announced: false,
    }
}

/// A module file read for the rest of the run.
enum Opened {
    Tables(Symbolizer<'static>),
    /// Without tables: the module (decompressed).
    Bare(&'static [u8], Input<'static>),
}

/// Errors are [`InputError`]s naming `path`.
fn open(path: &Path, config: LoaderConfig) -> Result<Opened> {
    let fault = |e: kbuild_lineinfo::Error| InputError::new(path, e);
    let (file, meta) = crate::mmap::open_file(path)?;
    if meta.len() == 0 {
        return Err(InputError::new(path, "is empty").into());
    }
    let map = crate::mmap::map_file(&file)
        .map_err(|e| InputError::new(path, format!("cannot map: {e}")))?;
    let data: &'static [u8] = Box::leak(Box::new(map));
    let (elf, _) = unpack::module(data, Limits::default()).map_err(fault)?;
    let elf: &'static [u8] = match elf {
        std::borrow::Cow::Borrowed(b) => b,
        std::borrow::Cow::Owned(v) => Box::leak(v.into_boxed_slice()),
    };
    let input = Input::parse(elf).map_err(fault)?;
    Ok(match Symbolizer::module(&input, config).map_err(fault)? {
        Some(symbolizer) => Opened::Tables(symbolizer),
        None => Opened::Bare(elf, input),
    })
}

/// Every module file under `dir` (sorted, so the order of two of one name is always the
/// same, a plain `.ko` first). Symbolic links to directories are not followed (`build` and
/// `source` in `/lib/modules/REL` point into a kernel tree).
fn walk(dir: &Path, index: &mut HashMap<String, Vec<PathBuf>>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, index)?;
        } else if let Some(stem) = module_stem(&path) {
            let files = index.entry(stem.replace('-', "_")).or_default();
            files.push(path);
            // Stable: the order of directories and names stays among plain and compressed.
            files.sort_by_key(|p| p.extension().is_none_or(|e| e != "ko"));
        }
    }
    Ok(())
}

/// `NAME` of `NAME.ko`, `NAME.ko.xz`, `NAME.ko.zst`, `NAME.ko.gz`.
fn module_stem(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
}

//! `--vmlinux IMAGE` for `annotate` and `lookup`: the one opener, so both take the same files
//! and say the same things about them.
//!
//! IMAGE is a vmlinux (an ELF file: a build's, a debug package's, a table object), or a kernel
//! as installed (`/boot/vmlinuz-REL`: an x86 bzImage, an arm64 `Image` or `Image.gz`), unpacked
//! in memory by [`kbuild_lineinfo::unpack`]. An image with symbols answers from them; one
//! without (a bzImage's payload is stripped, an `Image` is raw memory) takes them from its
//! System.map (`--system-map`, else `System.map-REL` beside `vmlinuz-REL`, else `System.map`
//! beside it), which also says where its tables lie. Tables: the image's own, else `--table`,
//! else built from its DWARF. Every fault names the file at fault. Inputs live for the run
//! (the symbolizer borrows them).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use kbuild_lineinfo::memory::Memory;
use kbuild_lineinfo::symbolize::{NoTables, Symbolizer, VmlinuxImage};
use kbuild_lineinfo::sysmap::SystemMap;
use kbuild_lineinfo::unpack::{self, ImageKind, KernelImage};

use super::built::{Built, Image, Source};
use crate::mmap::InputError;

/// What `--vmlinux`, `--table` and `--system-map` name.
#[derive(Debug)]
pub struct Inputs<'p> {
    pub image: &'p Path,
    pub table: Option<&'p Path>,
    pub system_map: Option<&'p Path>,
}

/// The symbolizer of `inputs.image`, for the rest of the run, and where its tables came from;
/// tables built from DWARF go through `built` (the build-id cache).
pub fn open(inputs: &Inputs<'_>, built: &Built) -> Result<(Symbolizer<'static>, Source)> {
    let path = inputs.image;
    let data = map_any(path)?;
    let start = std::time::Instant::now();
    let image = unpack::kernel_image(data, unpack::Limits::default())
        .map_err(|e| InputError::new(path, e))?;
    if matches!(image.bytes, std::borrow::Cow::Owned(_)) {
        crate::voice::explain(format_args!(
            "{}: {}, {} MB unpacked in {:.2} s",
            path.display(),
            image.how,
            image.bytes.len() >> 20,
            start.elapsed().as_secs_f64()
        ));
    }
    let KernelImage { bytes, kind, how } = image;
    let bytes: &'static [u8] = match bytes {
        std::borrow::Cow::Borrowed(b) => b,
        std::borrow::Cow::Owned(v) => Box::leak(v.into_boxed_slice()),
    };
    let table = match inputs.table {
        Some(t) => Some(super::annotate::parse_table(t)?),
        None => None,
    };
    if kind == ImageKind::Elf && has_symbols(bytes) {
        return with_symbols(path, bytes, table, inputs.table, built);
    }
    let map_path = find_system_map(path, inputs.system_map, &how)?;
    let text = map_any(&map_path)?;
    let map = SystemMap::parse(text).map_err(|e| InputError::new(&map_path, e))?;
    let text_at = map.address("_text").unwrap_or(0);
    let memory = Memory::new(bytes, kind, text_at).map_err(|e| InputError::new(path, e))?;
    if let Err(why) = map.check_image(&memory) {
        let what = format!("is not the System.map of {}: {why}", path.display());
        return Err(InputError::new(&map_path, what).into());
    }
    let symbolizer = Symbolizer::installed(&memory, &map, table.as_ref())
        .map_err(|e| InputError::new(&map_path, e))?;
    let source = match inputs.table {
        Some(_) => Source::Table,
        None => Source::Embedded,
    };
    let symbolizer = symbolizer.map_err(|NoTables::Missing| match inputs.table {
        Some(t) => InputError::new(t, "no lineinfo tables (lineinfo_* symbols)").into(),
        None => anyhow!(
            "{}: no lineinfo tables (no lineinfo_* symbols in {}) and no DWARF ({how}): pass the \
             debug vmlinux (Debian: /usr/lib/debug/boot/vmlinux-REL of linux-image-REL-dbg), or \
             --table TABLE.o",
            path.display(),
            map_path.display()
        ),
    })?;
    Ok((symbolizer, source))
}

/// A vmlinux with its own symbols: its tables, `table`'s, or tables built from its DWARF.
fn with_symbols(
    path: &Path,
    bytes: &'static [u8],
    table: Option<object::File<'static>>,
    table_path: Option<&Path>,
    built: &Built,
) -> Result<(Symbolizer<'static>, Source)> {
    let named = |e: kbuild_lineinfo::Error| anyhow!(e).context(path.display().to_string());
    let image = VmlinuxImage::parse(bytes).map_err(named)?;
    match Symbolizer::of_vmlinux(&image, table.as_ref(), None).map_err(named)? {
        Ok(s) if table_path.is_some() => Ok((s, Source::Table)),
        Ok(s) => Ok((s, Source::Embedded)),
        // A fault of --table names it, not the vmlinux.
        Err(NoTables::Missing) => match table_path {
            Some(t) => Err(InputError::new(t, "no lineinfo tables (lineinfo_* symbols)").into()),
            None => {
                let (tables, source) = built
                    .vmlinux(path, bytes)
                    .map_err(|e| e.context(path.display().to_string()))?;
                let symbols = built.symbols(Image::Vmlinux, path, bytes);
                let cached = symbols.is_some();
                match Symbolizer::of_vmlinux(&image, Some(&tables), symbols).map_err(named)? {
                    Ok(s) => {
                        if !cached {
                            built.store_symbols(Image::Vmlinux, bytes, s.symbols());
                        }
                        Ok((s, source))
                    }
                    Err(NoTables::Missing) => Err(anyhow!(
                        "{}: the tables built from its DWARF have no lineinfo_* symbols",
                        path.display()
                    )),
                }
            }
        },
    }
}

/// Whether the ELF file `bytes` has a static symbol table (a bzImage's payload has none).
fn has_symbols(bytes: &[u8]) -> bool {
    use object::Object;
    object::File::parse(bytes).is_ok_and(|f| f.symbols().next().is_some())
}

/// `explicit`, else `System.map-REL` beside `vmlinuz-REL`, else `System.map` beside `image`.
fn find_system_map(image: &Path, explicit: Option<&Path>, how: &str) -> Result<PathBuf> {
    if let Some(map) = explicit {
        return Ok(map.to_path_buf());
    }
    let dir = image.parent().unwrap_or(Path::new("."));
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let release = ["vmlinuz-", "vmlinux-", "Image-"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix));
    let mut tried = Vec::new();
    for candidate in release
        .map(|r| format!("System.map-{r}"))
        .into_iter()
        .chain(["System.map".to_string()])
    {
        let path = dir.join(candidate);
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path.display().to_string());
    }
    Err(InputError::new(
        image,
        format!(
            "has no symbols ({how}): pass its System.map with --system-map (none at {})",
            tried.join(" or ")
        ),
    )
    .into())
}

/// Maps `path` (any file, not only ELF) for the rest of the run.
fn map_any(path: &Path) -> Result<&'static [u8]> {
    let (file, meta) = crate::mmap::open_file(path)?;
    if meta.len() == 0 {
        return Err(InputError::new(path, "is empty").into());
    }
    let map = crate::mmap::map_file(&file)
        .map_err(|e| InputError::new(path, format!("cannot map: {e}")))?;
    Ok(Box::leak(Box::new(map)))
}

//! The build-id cache: results of earlier runs, keyed by object identity and options.
//!
//! One flat directory of entry files named `<key hex>.entry` ([`entry`] format). Writes go to a
//! temp file in the same directory and are renamed into place, so readers and concurrent writers
//! (other processes of a parallel build) only ever see complete entries. A corrupt entry is a
//! miss with one warning and is removed. Hits refresh the entry's mtime; [`evict`] keeps the
//! directory under a size cap by removing least recently used entries. The cache never fails a
//! build: I/O problems become one warning on stderr and the cache steps aside.

mod entry;
mod evict;
mod key;

use std::fs::{self, File};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use camino::{Utf8Path, Utf8PathBuf};

pub use key::{build_id, Identity, Key};

/// Suffix of entry files; anything else in the directory is left alone (except our temp files).
const ENTRY_SUFFIX: &str = ".entry";
/// Prefix of temp files being written.
const TEMP_PREFIX: &str = ".tmp-";

/// The size cap of the cache in MiB when none is given (`modules --cache-size`), for every
/// command that writes to it.
pub const DEFAULT_SIZE_MIB: u64 = 1024;

/// A cache directory, or a disabled cache (`--no-cache`, or no usable directory).
/// Shared by reference between jobs; all methods take `&self`.
#[derive(Debug)]
pub struct Cache {
    store: Option<Store>,
}

#[derive(Debug)]
struct Store {
    dir: Utf8PathBuf,
    cap: u64,
    /// Cleared after the first failed write: one warning, then no more writes.
    writable: AtomicBool,
    /// Estimated bytes in the directory; `None` until the first scan.
    size: Mutex<Option<u64>>,
}

impl Cache {
    /// Opens (creating it if needed) the cache in `dir`, else in [`default_dir`].
    ///
    /// Never fails: a directory that cannot be created or written gives one warning on stderr
    /// and a disabled cache.
    pub fn open(dir: Option<Utf8PathBuf>, cap_bytes: u64) -> Cache {
        let Some(dir) = dir.or_else(default_dir) else {
            warn(
                "no cache directory (set KBUILD_LINEINFO_CACHE or HOME, UTF-8); continuing without cache",
            );
            return Cache::disabled();
        };
        match probe(&dir) {
            Ok(()) => Cache {
                store: Some(Store::new(dir, cap_bytes)),
            },
            Err(e) => {
                warn(format_args!(
                    "cache directory {dir} is not writable ({e}); continuing without cache"
                ));
                Cache::disabled()
            }
        }
    }

    /// A cache that always misses and stores nothing (`--no-cache`).
    pub fn disabled() -> Cache {
        Cache { store: None }
    }

    /// The directory in use, `None` when disabled.
    pub fn dir(&self) -> Option<&Utf8Path> {
        self.store.as_ref().map(|s| s.dir.as_path())
    }

    /// The cached payload for `key`. A missing entry is `None`; so is a corrupt one, after a
    /// warning and its removal. A hit refreshes the entry's mtime (its LRU age).
    pub fn get(&self, key: &Key) -> Option<Vec<u8>> {
        self.get_mapped(key).map(|entry| entry.payload().to_vec())
    }

    /// [`get`](Self::get), the entry mapped rather than copied (checked all the same): for
    /// payloads of megabytes that are read once and kept for the run.
    pub fn get_mapped(&self, key: &Key) -> Option<Mapped> {
        let store = self.store.as_ref()?;
        let path = store.path(key);
        let file = File::open(&path).ok()?;
        // An empty file cannot be mapped: it reads as the 0 bytes it holds.
        let map = match file.metadata().ok()?.len() {
            0 => None,
            _ => Some(crate::mmap::map_file(&file).ok()?),
        };
        match entry::decode(key, map.as_deref().unwrap_or_default()) {
            Ok(_) => {
                touch(&path);
                Some(Mapped(map))
            }
            Err(why) => {
                warn(format_args!(
                    "corrupt cache entry {path} ({why}); removing it"
                ));
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `payload` under `key`, replacing any entry atomically, then evicts old entries if
    /// the directory exceeds its cap. Failures give one warning and disable further writes.
    pub fn put(&self, key: &Key, payload: &[u8]) {
        let Some(store) = self.store.as_ref() else {
            return;
        };
        if !store.writable.load(Ordering::Relaxed) {
            return;
        }
        // Header and payload written one after the other: the payload is not copied (a
        // vmlinux's entries are megabytes).
        let header = entry::header(key, payload);
        let len = (header.len() + payload.len()) as u64;
        if len > store.cap {
            return; // could never stay under the cap
        }
        match store.write(key, &[&header, payload]) {
            Ok(()) => store.account(len, &store.path(key)),
            Err(e) => {
                if store.writable.swap(false, Ordering::Relaxed) {
                    warn(format_args!(
                        "cannot write cache entry in {} ({e}); no further writes",
                        store.dir
                    ));
                }
            }
        }
    }
}

/// A checked cache entry, mapped.
#[derive(Debug)]
pub struct Mapped(Option<memmap2::Mmap>);

impl Mapped {
    /// What was stored.
    pub fn payload(&self) -> &[u8] {
        self.0
            .as_deref()
            .map_or(&[][..], |entry| &entry[entry::HEADER_LEN..])
    }
}

impl Store {
    fn new(dir: Utf8PathBuf, cap: u64) -> Store {
        Store {
            dir,
            cap,
            writable: AtomicBool::new(true),
            size: Mutex::new(None),
        }
    }

    fn path(&self, key: &Key) -> Utf8PathBuf {
        self.dir.join(format!("{}{ENTRY_SUFFIX}", key.to_hex()))
    }

    /// Temp file in the cache directory, then rename: the entry appears whole or not at all.
    fn write(&self, key: &Key, parts: &[&[u8]]) -> io::Result<()> {
        crate::atomic::write_in(
            self.dir.as_std_path(),
            TEMP_PREFIX,
            self.path(key).as_std_path(),
            parts,
        )
    }

    /// Adds a new entry's size to the estimate; past the cap, rescans and evicts (never `keep`).
    fn account(&self, added: u64, keep: &Utf8Path) {
        let mut size = self.size.lock().unwrap_or_else(|e| e.into_inner());
        let estimate = size.map(|s| s + added);
        if estimate.is_some_and(|s| s <= self.cap) {
            *size = estimate;
            return;
        }
        *size = Some(evict::evict(
            self.dir.as_std_path(),
            self.cap,
            keep.as_std_path(),
        ));
    }
}

/// The default cache directory: `$KBUILD_LINEINFO_CACHE`, else `$XDG_CACHE_HOME/kbuild-lineinfo`,
/// else `~/.cache/kbuild-lineinfo`. Relative `XDG_CACHE_HOME` is ignored (XDG spec).
pub fn default_dir() -> Option<Utf8PathBuf> {
    // Set but not UTF-8: `Some(None)`, which ends the lookup (no cache, one warning) rather than
    // silently choosing the next place.
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(|v| Utf8PathBuf::from_path_buf(v.into()).ok())
    };
    if let Some(dir) = var("KBUILD_LINEINFO_CACHE") {
        return dir;
    }
    match var("XDG_CACHE_HOME") {
        Some(Some(xdg)) if xdg.is_absolute() => return Some(xdg.join("kbuild-lineinfo")),
        Some(None) => return None,
        _ => {}
    }
    var("HOME")?.map(|home| home.join(".cache").join("kbuild-lineinfo"))
}

/// Creates `dir` and checks that a file can be created in it.
fn probe(dir: &Utf8Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(crate::atomic::without_path)?;
    Ok(())
}

/// Marks an entry as just used; failure only makes it look older.
fn touch(path: &Utf8Path) {
    if let Ok(file) = File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// The cache's only output: one line on stderr.
fn warn(msg: impl std::fmt::Display) {
    crate::voice::warn(msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A size cap no test reaches.
    const DEFAULT_CAP: u64 = DEFAULT_SIZE_MIB << 20;

    /// Temporary directories are UTF-8 here.
    fn utf8(p: &std::path::Path) -> &Utf8Path {
        Utf8Path::from_path(p).expect("a UTF-8 temporary directory")
    }

    fn key(n: u8) -> Key {
        Key::new(&Identity::BuildId(vec![n]), "v7", &[])
    }

    #[test]
    fn miss_then_hit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(utf8(dir.path()).join("c")), DEFAULT_CAP);
        assert_eq!(cache.get(&key(1)), None);
        cache.put(&key(1), b"abc");
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"abc"[..]));
        assert_eq!(cache.get(&key(2)), None);
    }

    #[test]
    fn corrupt_entry_is_a_miss_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(utf8(dir.path()).to_path_buf()), DEFAULT_CAP);
        cache.put(&key(1), b"abc");
        let path = cache.store.as_ref().unwrap().path(&key(1));
        let mut bytes = fs::read(&path).unwrap();
        bytes[entry::HEADER_LEN] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        assert_eq!(cache.get(&key(1)), None);
        assert!(!path.exists(), "corrupt entry must be removed");
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::disabled();
        cache.put(&key(1), b"abc");
        assert_eq!(cache.get(&key(1)), None);
        assert_eq!(cache.dir(), None);
    }

    #[test]
    fn oversized_payload_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(utf8(dir.path()).to_path_buf()), 100);
        cache.put(&key(1), &[0; 17]);
        assert_eq!(
            cache.get(&key(1)),
            None,
            "84 + 17 bytes exceed a 100-byte cap"
        );
        cache.put(&key(1), &[0; 16]);
        assert_eq!(cache.get(&key(1)).map(|p| p.len()), Some(16));
    }
}

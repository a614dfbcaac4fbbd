//! Least-recently-used eviction that keeps the cache directory under its size cap.
//!
//! Age is the entry's mtime (set when written, refreshed on every hit). Other processes may add
//! or remove entries at the same time: a file that vanished between listing and removal is
//! simply gone, and no error here ever reaches the build. Also removes temp files left behind
//! by crashed writers. Called only by [`super::Cache::put`].
//!
//! Only regular files directly in the directory are candidates, never a subdirectory or what is
//! in it: the real-data corpus of `scripts/corpus.sh` lives in `corpus/` of the default cache
//! directory and is neither counted nor removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{ENTRY_SUFFIX, TEMP_PREFIX};

/// A temp file older than this belongs to a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);

struct Found {
    path: PathBuf,
    len: u64,
    used: SystemTime,
}

/// Brings the entries in `dir` to at most `cap` bytes, oldest first, never removing `keep`;
/// when over the cap it goes down to 90 % of it, so the next puts need no rescan. Returns the
/// bytes left.
pub(super) fn evict(dir: &Path, cap: u64, keep: &Path) -> u64 {
    let mut entries = scan(dir);
    let mut total: u64 = entries.iter().map(|e| e.len).sum();
    if total <= cap {
        return total;
    }
    let target = cap - cap / 10;
    entries.sort_by_key(|e| e.used);
    for e in entries.iter().filter(|e| e.path != keep) {
        if total <= target {
            break;
        }
        match fs::remove_file(&e.path) {
            Ok(()) => total -= e.len,
            Err(err) if err.kind() == io::ErrorKind::NotFound => total -= e.len,
            Err(_) => {}
        }
    }
    total
}

/// The entry files of `dir` with size and last use; stale temp files are removed on the way.
fn scan(dir: &Path) -> Vec<Found> {
    let Ok(listing) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut found = Vec::new();
    for dirent in listing.flatten() {
        let name = dirent.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = dirent.metadata() else {
            continue;
        }; // raced with a removal
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if name.starts_with(TEMP_PREFIX) {
            if now.duration_since(used).is_ok_and(|age| age > STALE_TEMP) {
                let _ = fs::remove_file(dirent.path());
            }
        } else if name.ends_with(ENTRY_SUFFIX) && meta.is_file() {
            found.push(Found {
                path: dirent.path(),
                len: meta.len(),
                used,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let path = dir.join(format!("{name}{ENTRY_SUFFIX}"));
        fs::write(&path, vec![0; len]).unwrap();
        let used = SystemTime::now() - Duration::from_secs(age_s);
        fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(used)
            .unwrap();
        path
    }

    #[test]
    fn removes_oldest_first_down_to_ninety_percent() {
        let dir = tempfile::tempdir().unwrap();
        let old = entry(dir.path(), "old", 400, 300);
        let mid = entry(dir.path(), "mid", 400, 200);
        let new = entry(dir.path(), "new", 400, 100);
        let other = dir.path().join("README");
        fs::write(&other, vec![0; 5000]).unwrap();
        // 1200 > 1000: remove until <= 900, i.e. only "old".
        assert_eq!(evict(dir.path(), 1000, &new), 800);
        assert!(!old.exists() && mid.exists() && new.exists());
        assert!(
            other.exists(),
            "files that are not entries are never touched"
        );
    }

    #[test]
    fn never_removes_the_kept_entry() {
        let dir = tempfile::tempdir().unwrap();
        let keep = entry(dir.path(), "keep", 900, 1000);
        let young = entry(dir.path(), "young", 300, 1);
        assert_eq!(evict(dir.path(), 1000, &keep), 900);
        assert!(keep.exists() && !young.exists());
    }

    #[test]
    fn subdirectories_are_never_counted_nor_removed() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus/cloud");
        fs::create_dir_all(&corpus).unwrap();
        let vmlinux = entry(&corpus, "vmlinux", 5000, 9000);
        let complete = corpus.join(".complete");
        fs::write(&complete, b"").unwrap();
        // Directories whose names look like entries or temp files are left alone too.
        for name in [format!("d{ENTRY_SUFFIX}"), format!("{TEMP_PREFIX}d")] {
            let d = dir.path().join(name);
            fs::create_dir(&d).unwrap();
            entry(&d, "inside", 10, 9000);
            fs::File::open(&d)
                .unwrap()
                .set_modified(SystemTime::UNIX_EPOCH)
                .unwrap();
        }
        let only = entry(dir.path(), "only", 100, 9000);
        assert_eq!(evict(dir.path(), 0, Path::new("")), 0);
        assert!(!only.exists());
        assert!(vmlinux.exists() && complete.exists());
        assert!(dir
            .path()
            .join(format!("d{ENTRY_SUFFIX}/inside{ENTRY_SUFFIX}"))
            .exists());
        assert!(dir
            .path()
            .join(format!("{TEMP_PREFIX}d/inside{ENTRY_SUFFIX}"))
            .exists());
    }

    #[test]
    fn stale_temp_files_are_removed_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let stale = entry(dir.path(), &format!("{TEMP_PREFIX}a"), 10, 7200);
        let fresh = entry(dir.path(), &format!("{TEMP_PREFIX}b"), 10, 1);
        assert_eq!(evict(dir.path(), 1000, Path::new("")), 0);
        assert!(!stale.exists() && fresh.exists());
    }
}

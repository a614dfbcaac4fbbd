//! Putting new sections into a `.ko` on disk, so that a crash or `kill -9` at any moment leaves
//! either the old module or the new one, and an up-to-date module is not touched at all.
//!
//! The bytes come from [`kbuild_lineinfo::emit::ko::embed_sections`]; this file owns the file
//! handling and applies the library's [`Patch`] in place: write the tail into bytes the current
//! ELF header does not refer to, then commit by rewriting the ELF header (one write inside the
//! first page, which a signal cannot split), then truncate. Killed before the commit, the module
//! is the old one as every ELF reader sees it (at most with unreferenced bytes, which the next run
//! cuts); killed after, it is the new one. Mode, owner, links and inode stay as they are, and no
//! byte of the module's kept sections is rewritten.
//!
//! Two runs at once on one tree (a build and an IDE, two terminals) take turns on each module:
//! [`open_locked`] holds an advisory `flock(2)` on the module itself from before the first byte
//! is read until the last byte is written, so no run reads a module another run is rewriting.
//! The second run waits, then reads the module the first one left and finds it up to date. The
//! lock is on the `.ko` (no lock file is left in the tree), exclusive when the module may be
//! written and shared when it is read-only; it goes with the descriptor, so a killed run never
//! leaves it behind. Where the file system has no locks (some NFS mounts), the run goes on
//! without one after one warning: today's behaviour, not a failure.
use anyhow::{anyhow, bail, Context, Result};
use kbuild_lineinfo::emit::ko::{embed_sections, Embedded, NewSection, Patch};
use rustix::fs::{flock, FlockOperation};
use rustix::io::Errno;
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What [`embed_file`] did to the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The module already held exactly these sections; the file was not opened for writing.
    Unchanged,
    /// The module was changed.
    Updated,
}

/// Adds `new` to the module at `path`, dropping sections named in `remove` or `new`; see
/// [`kbuild_lineinfo::emit::ko::embed_sections`]. Every error names the file.
pub fn embed_file(path: &Path, new: &[NewSection], remove: &[&str]) -> Result<Outcome> {
    open_locked(path)?.embed(path, new, remove)
}

/// A module opened for an update: mapped read-only, with the lock that keeps other runs out
/// until [`Opened::embed`] has written it (or this value is dropped).
#[derive(Debug)]
pub struct Opened {
    /// The descriptor the lock is held on: dropping it lets go.
    locked: File,
    /// What `stat` said once the lock was held.
    pub meta: Metadata,
    pub map: memmap2::Mmap,
    pub lock: Lock,
}

/// How the module's lock was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// At once.
    Taken,
    /// After another process (another run of the tool) let go of it, this long after asking.
    Waited(Duration),
    /// Not at all: the file system refused (`why`, e.g. NFS without lock support); the run goes
    /// on as it would without locks. [`Lock::warning`] words it, once per run.
    Unavailable(String),
}

/// Set once the first [`Lock::Unavailable`] has been reported.
static UNAVAILABLE_REPORTED: AtomicBool = AtomicBool::new(false);

impl Lock {
    /// The warning to show for this module: for the first unavailable lock of the run only.
    pub fn warning(&self) -> Option<String> {
        let Lock::Unavailable(why) = self else {
            return None;
        };
        (!UNAVAILABLE_REPORTED.swap(true, Ordering::Relaxed)).then(|| {
            format!(
                "cannot lock the module ({why}); a second run of kbuild-lineinfo on the same \
                 modules at the same time could fail (warned once)"
            )
        })
    }

    /// How long another run kept this one waiting, if it did.
    pub fn waited(&self) -> Option<Duration> {
        match self {
            Lock::Waited(d) => Some(*d),
            _ => None,
        }
    }
}

/// Opens and locks the module at `path`, then maps it: nothing is read before the lock is held.
///
/// While waiting, a run keeps its job slot (a jobserver token under make): the wait lasts at
/// most as long as the other run takes for this one module, and handing the token back and
/// asking for it again would cost more than it saves.
pub fn open_locked(path: &Path) -> Result<Opened> {
    let name = path.display();
    let mut attempts = 0;
    loop {
        let (file, first) = crate::mmap::open_file(path)?;
        let (file, lock) = lock(path, file, &first);
        // A rebuild may have put a new file at `path` while this run waited on the old one:
        // lock the new one instead (a few times at most; then the write's check reports it).
        attempts += 1;
        let now = std::fs::metadata(path).with_context(|| format!("{name}: cannot stat"))?;
        if (now.dev(), now.ino()) != (first.dev(), first.ino()) && attempts < 4 {
            continue;
        }
        // The other run may have changed the length: what counts is the file once locked.
        let meta = file
            .metadata()
            .with_context(|| format!("{name}: cannot stat"))?;
        let map = crate::mmap::map_elf(path, &file, &meta)?;
        return Ok(Opened {
            locked: file,
            meta,
            map,
            lock,
        });
    }
}

/// Locks `file` (`path`, `meta` as opened): exclusive when it may be written, shared when it
/// is read-only (it will not be written, but is not read while another run writes it). Never
/// fails: without a lock the run goes on as before, and says so.
fn lock(path: &Path, file: File, meta: &Metadata) -> (File, Lock) {
    let exclusive = !meta.permissions().readonly();
    match take(&file, exclusive) {
        Ok(lock) => (file, lock),
        // NFS emulates flock with byte-range locks, and an exclusive one needs a descriptor
        // open for writing.
        Err(Errno::BADF) if exclusive => {
            let rw = OpenOptions::new().read(true).write(true).open(path);
            match rw.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::BADF)) {
                Ok(rw) => match take(&rw, true) {
                    Ok(lock) => (rw, lock),
                    Err(e) => (file, unavailable(e)),
                },
                Err(e) => (file, unavailable(e)),
            }
        }
        Err(e) => (file, unavailable(e)),
    }
}

/// `flock` without blocking, and when another process holds the lock, blocking.
fn take(file: &File, exclusive: bool) -> Result<Lock, Errno> {
    let (now, wait) = if exclusive {
        (
            FlockOperation::NonBlockingLockExclusive,
            FlockOperation::LockExclusive,
        )
    } else {
        (
            FlockOperation::NonBlockingLockShared,
            FlockOperation::LockShared,
        )
    };
    match flock(file, now) {
        Ok(()) => Ok(Lock::Taken),
        Err(Errno::WOULDBLOCK) => {
            let start = Instant::now();
            loop {
                match flock(file, wait) {
                    Ok(()) => return Ok(Lock::Waited(start.elapsed())),
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Err(e) => Err(e),
    }
}

fn unavailable(e: Errno) -> Lock {
    Lock::Unavailable(std::io::Error::from(e).to_string())
}

impl Opened {
    /// [`embed_file`] on this module; the lock is held until the module is written.
    pub fn embed(self, path: &Path, new: &[NewSection], remove: &[&str]) -> Result<Outcome> {
        let Opened {
            locked, meta, map, ..
        } = self;
        let outcome = embed_mapped(path, &meta, map, new, remove);
        drop(locked);
        outcome
    }
}

/// [`embed_file`] on a module mapped as `map`, `meta` what `stat` said of it.
fn embed_mapped(
    path: &Path,
    meta: &Metadata,
    map: memmap2::Mmap,
    new: &[NewSection],
    remove: &[&str],
) -> Result<Outcome> {
    let name = path.display();
    let embedded = embed_sections(&map, new, remove).map_err(|e| anyhow!("{name}: {e}"))?;
    let patch = match embedded {
        Embedded::UpToDate { len } if len == meta.len() => return Ok(Outcome::Unchanged),
        Embedded::UpToDate { len } => {
            drop(map);
            cut_leftovers(path, meta, len)?;
            return Ok(Outcome::Updated);
        }
        Embedded::Update(patch) => patch,
    };
    drop(map);
    apply_in_place(path, meta, &patch)?;
    Ok(Outcome::Updated)
}

/// Opens the module for writing after checking it may be written and is still the same file.
fn open_for_write(path: &Path, meta: &Metadata) -> Result<File> {
    let name = path.display();
    if meta.permissions().readonly() {
        bail!(
            "{name}: file is read-only (mode {:o}), not modified",
            meta.mode() & 0o7777
        );
    }
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("{name}: cannot open for writing"))?;
    let now = file
        .metadata()
        .with_context(|| format!("{name}: cannot stat"))?;
    if (now.dev(), now.ino(), now.len()) != (meta.dev(), meta.ino(), meta.len()) {
        bail!("{name}: file changed while it was being read, not modified");
    }
    Ok(file)
}

/// Truncates bytes an interrupted update left after the module's referenced end.
fn cut_leftovers(path: &Path, meta: &Metadata, len: u64) -> Result<()> {
    let file = open_for_write(path, meta)?;
    let name = path.display();
    file.set_len(len)
        .with_context(|| format!("{name}: cannot truncate to {len} bytes"))
}

/// Tail, then the header (the commit), then the length. On a failed tail write the file is
/// cut back to its old length, so a full disk leaves the old module.
fn apply_in_place(path: &Path, meta: &Metadata, patch: &Patch) -> Result<()> {
    let name = path.display();
    let file = open_for_write(path, meta)?;
    if let Err(e) = file.write_all_at(&patch.tail, patch.tail_offset) {
        let restored = match file.metadata() {
            Ok(m) if m.len() > meta.len() => file.set_len(meta.len()).is_ok(),
            Ok(_) => true,
            Err(_) => false,
        };
        let state = if restored {
            "module left unchanged"
        } else {
            "module unchanged as ELF"
        };
        return Err(e).with_context(|| {
            let n = patch.tail.len();
            format!(
                "{name}: cannot write {n} bytes at offset {:#x} ({state})",
                patch.tail_offset
            )
        });
    }
    file.write_all_at(&patch.header, 0).with_context(|| {
        format!("{name}: cannot write the ELF header (module unchanged as ELF)")
    })?;
    if patch.len() != file.metadata().map(|m| m.len()).unwrap_or(0) {
        let len = patch.len();
        file.set_len(len)
            .with_context(|| format!("{name}: updated, but cannot truncate to {len} bytes"))?;
    }
    Ok(())
}

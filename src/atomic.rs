//! Whole-file writes that a reader never sees half done: a temporary file in the destination's
//! directory, renamed over the destination once complete.
//!
//! Used for every output the tool replaces as a whole (vmlinux tables, installed Kbuild files,
//! cache entries). Modules are updated in place instead ([`crate::modules::embed`]), keeping
//! their mode. A new file gets mode 0666 less the umask, as `cc -o` gives its output; messages
//! name the destination or its directory, never the temporary file.

use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically; every error names the file.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = builder(".kbuild-lineinfo.")
        .tempfile_in(dir)
        .map_err(without_path)
        .with_context(|| format!("{}: cannot create a file", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot replace", path.display()))?;
    Ok(())
}

/// [`write`] for a caller that owns the directory and its leftovers: the temporary file is
/// named `prefix…` inside `dir`, and errors are plain I/O errors for the caller to word. The
/// file holds `parts` one after the other.
pub fn write_in(dir: &Path, prefix: &str, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut tmp = builder(prefix).tempfile_in(dir).map_err(without_path)?;
    for part in parts {
        tmp.write_all(part)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `e` without the temporary file's name that `tempfile` adds to its errors (`… at path
/// "DIR/.kbuild-lineinfo.XXXX"`): messages name the destination or its directory.
pub fn without_path(e: io::Error) -> io::Error {
    let text = e.to_string();
    match text.rfind(" at path ") {
        Some(i) => io::Error::new(e.kind(), &text[..i]),
        None => e,
    }
}

/// Temporary files created as the compiler creates its outputs: 0666, less the umask (the
/// kernel applies it to the mode given to `open`).
fn builder(prefix: &str) -> tempfile::Builder<'_, '_> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).permissions(Permissions::from_mode(0o666));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.o");
        std::fs::write(&path, b"old contents, longer than the new").unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        write_in(dir.path(), ".tmp-", &path, &[b"new", b"er"]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"newer");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.o"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.o");
        let e = write(&path, b"x").unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            format!(
                "{}/no/such/dir: cannot create a file: No such file or directory (os error 2)",
                dir.path().display()
            ),
            "the directory, not the temporary file"
        );
        assert!(!path.exists());
    }
}

//! `modules.order`: the modules a build made, in the order the kernel lists them.
//!
//! Entries name `.o` or `.ko` files (`drivers/foo/bar.o` in Kbuild trees, `kernel/…/bar.ko` in
//! installed ones); both become the `.ko` path. Blank lines are skipped, CRLF endings and
//! surrounding blanks are tolerated, and a module listed twice is processed once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The `.ko` paths listed in `text`, relative as listed, first occurrence order.
pub fn parse(text: &str) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_suffix(".o") {
            Some(stem) => PathBuf::from(format!("{stem}.ko")),
            None => PathBuf::from(l),
        })
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// `entry` resolved against the directory the order's paths are relative to.
pub fn resolve(base: &Path, entry: &Path) -> PathBuf {
    if entry.is_absolute() {
        entry.to_path_buf()
    } else {
        base.join(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_become_modules_and_noise_is_skipped() {
        let text = "drivers/a/x.o\r\n\n  fs/y.ko  \ndrivers/a/x.o\n\r\nkernel/z.ko\n";
        let got = parse(text);
        let want: Vec<PathBuf> = ["drivers/a/x.ko", "fs/y.ko", "kernel/z.ko"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
        assert!(parse("").is_empty());
        assert!(parse("\n\r\n   \n").is_empty());
    }

    #[test]
    fn resolve_keeps_absolute_paths() {
        assert_eq!(
            resolve(Path::new("/o"), Path::new("a/b.ko")),
            PathBuf::from("/o/a/b.ko")
        );
        assert_eq!(
            resolve(Path::new("/o"), Path::new("/m/b.ko")),
            PathBuf::from("/m/b.ko")
        );
    }
}

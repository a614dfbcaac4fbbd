//! The record of an installation in a kernel tree: `.kbuild-lineinfo/manifest` plus a copy of
//! every rewritten file as it was before (`.kbuild-lineinfo/orig/PATH`).
//!
//! The manifest is plain text, one fact per line:
//!
//! ```text
//! kbuild-lineinfo kbuild manifest 1
//! tool /usr/local/bin/kbuild-lineinfo
//! layout v1
//! file 100755 <blake3 of the installed text> scripts/link-vmlinux.sh
//! ```
//!
//! Uninstalling puts the copies back byte for byte with their modes, then removes the directory.

use camino::{Utf8Path, Utf8PathBuf};
use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{bail, Context, Result};

/// Directory, relative to the source tree, that holds the manifest and the copies.
pub const DIR: &str = ".kbuild-lineinfo";
const HEADER: &str = "kbuild-lineinfo kbuild manifest 1";

/// One rewritten file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Relative to the source tree.
    pub path: String,
    /// The original's permission bits.
    pub mode: u32,
    /// blake3 (hex) of the text this tool wrote.
    pub installed: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub tool: String,
    pub layout: String,
    pub files: Vec<FileRecord>,
}

/// blake3 of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

pub fn manifest_path(srctree: &Utf8Path) -> Utf8PathBuf {
    srctree.join(DIR).join("manifest")
}

pub fn backup_path(srctree: &Utf8Path, rel: &str) -> Utf8PathBuf {
    srctree.join(DIR).join("orig").join(rel)
}

/// The manifest of `srctree`, or `None` when nothing is installed.
pub fn read(srctree: &Utf8Path) -> Result<Option<Manifest>> {
    let path = manifest_path(srctree);
    match fs::read_to_string(&path) {
        Ok(text) => parse(&text).with_context(|| path.to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path)),
    }
}

fn parse(text: &str) -> Result<Manifest> {
    let mut lines = text.lines().enumerate();
    if lines.next().map(|(_, l)| l) != Some(HEADER) {
        bail!("not a manifest of this tool (first line is not `{HEADER}`)");
    }
    let mut m = Manifest {
        tool: String::new(),
        layout: String::new(),
        files: Vec::new(),
    };
    for (n, line) in lines {
        let bad = || format!("line {}: cannot read `{line}`", n + 1);
        match line.split_once(' ') {
            Some(("tool", v)) => m.tool = v.to_string(),
            Some(("layout", v)) => m.layout = v.to_string(),
            Some(("file", rest)) => m.files.push(parse_file(rest).with_context(bad)?),
            _ => bail!(bad()),
        }
    }
    Ok(m)
}

fn parse_file(rest: &str) -> Result<FileRecord> {
    let mut parts = rest.splitn(3, ' ');
    let (Some(mode), Some(installed), Some(path)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("expected `file MODE HASH PATH`");
    };
    let mode = u32::from_str_radix(mode, 8).context("mode is not octal")?;
    if path.split('/').any(|c| c == ".." || c.is_empty()) {
        bail!("path `{path}` leaves the tree");
    }
    Ok(FileRecord {
        path: path.to_string(),
        mode,
        installed: installed.to_string(),
    })
}

/// The manifest as text.
pub fn render(m: &Manifest) -> String {
    let mut out = format!("{HEADER}\ntool {}\nlayout {}\n", m.tool, m.layout);
    for f in &m.files {
        out.push_str(&format!("file {:o} {} {}\n", f.mode, f.installed, f.path));
    }
    out
}

/// Writes `bytes` to `path` atomically with permission bits `mode`.
pub fn write_file(path: &Utf8Path, bytes: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir))?;
    }
    crate::atomic::write(path.as_std_path(), bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("{}: cannot set mode {mode:o}", path))
}

/// The permission bits of `path`.
pub fn mode_of(path: &Utf8Path) -> Result<u32> {
    let meta = fs::metadata(path).with_context(|| format!("{}: cannot stat", path))?;
    Ok(meta.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            tool: "/usr/bin/kbuild-lineinfo".into(),
            layout: "v7".into(),
            files: vec![
                FileRecord {
                    path: "scripts/link-vmlinux.sh".into(),
                    mode: 0o755,
                    installed: "ab12".into(),
                },
                FileRecord {
                    path: "scripts/a b".into(),
                    mode: 0o644,
                    installed: "cd34".into(),
                },
            ],
        }
    }

    #[test]
    fn render_parse_round_trip() {
        let text = render(&sample());
        assert_eq!(
            text,
            "kbuild-lineinfo kbuild manifest 1\ntool /usr/bin/kbuild-lineinfo\nlayout v7\n\
             file 755 ab12 scripts/link-vmlinux.sh\nfile 644 cd34 scripts/a b\n"
        );
        assert_eq!(parse(&text).unwrap(), sample());
    }

    #[test]
    fn foreign_or_damaged_manifests_are_errors() {
        assert!(parse("something else\n").is_err());
        let e = parse(&format!("{HEADER}\nfile 9z9 ab x\n")).unwrap_err();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        let e = parse(&format!("{HEADER}\nfile 644 ab ../../etc/passwd\n")).unwrap_err();
        assert!(format!("{e:#}").contains("leaves the tree"), "{e:#}");
        assert!(parse(&format!("{HEADER}\nbogus\n")).is_err());
    }
}

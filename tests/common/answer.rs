//! What an address resolves to (`Answer`), and how an oracle's answer, whose
//! file name is a full path as the DWARF producer spelled it, is compared with
//! the tool's answer, whose name must be relative to the source tree (docs/format.md
//! section 2).

use std::fmt;

/// A resolved address: a file name and a line (never 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Answer {
    pub file: String,
    pub line: u32,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Lexical normalisation of a path: drops empty and `.` components and folds
/// `dir/..`; a leading `..` that cannot be folded stays. Never touches the
/// file system.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Joins `dir` and `name` the way DWARF does: an absolute `name` wins.
pub fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.to_string()
    } else {
        format!("{}/{}", dir.trim_end_matches('/'), name)
    }
}

/// Why a name is unfit for a trace, or `None` when it reads like a kernel
/// tree path: relative, no empty, `.` or `..` components.
pub fn check_name_shape(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty name")
    } else if name.starts_with('/') {
        Some("absolute name")
    } else if name.split('/').any(|c| c.is_empty()) {
        Some("empty path component")
    } else if name.split('/').any(|c| c == "." || c == "..") {
        Some("`.` or `..` component")
    } else {
        None
    }
}

/// The name the tool must print for an oracle path: the normalised oracle
/// path with the tree root (`--srctree`, or the comp_dir the fixtures were
/// compiled in) stripped.
#[derive(Clone, Debug)]
pub struct Expect {
    roots: Vec<String>,
}

impl Expect {
    /// `roots` are tried in order; each is normalised.
    pub fn new<S: AsRef<str>>(roots: &[S]) -> Self {
        Expect {
            roots: roots.iter().map(|r| normalize(r.as_ref())).collect(),
        }
    }

    /// The expected relative name for the oracle's `path`.
    pub fn name(&self, path: &str) -> String {
        let norm = normalize(path);
        for root in &self.roots {
            if let Some(rest) = norm.strip_prefix(root.as_str()) {
                if let Some(rest) = rest.strip_prefix('/') {
                    return rest.to_string();
                }
            }
        }
        norm
    }

    /// Compares the tool's answer with the oracle's; names must be equal
    /// after mapping the oracle's path, lines exactly equal.
    pub fn verdict(&self, oracle: Option<&Answer>, ours: Option<&Answer>) -> Verdict {
        match (oracle, ours) {
            (None, None) => Verdict::NoOracle,
            (None, Some(_)) => Verdict::Extra,
            (Some(_), None) => Verdict::Missing,
            (Some(o), Some(u)) => {
                if o.line == u.line && self.name(&o.file) == u.file {
                    Verdict::Agree
                } else {
                    Verdict::Differ
                }
            }
        }
    }
}

/// Outcome of comparing one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Neither has an answer (docs/format.md section 1 rules 1, 4 and 7).
    NoOracle,
    /// DWARF has no line there (line 0, or no sequence), the tool prints one.
    Extra,
    Agree,
    /// The oracle answers, the tool prints `??`.
    Missing,
    Differ,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dot_and_dotdot() {
        assert_eq!(normalize("/a/b/../c/./d.c"), "/a/c/d.c");
        assert_eq!(
            normalize("arch/x86/kvm/../../../virt/kvm/kvm_main.c"),
            "virt/kvm/kvm_main.c"
        );
        assert_eq!(normalize("../src/a.c"), "../src/a.c");
        assert_eq!(normalize("/../a.c"), "/a.c");
        assert_eq!(normalize("a//b/"), "a/b");
    }

    #[test]
    fn expected_name_strips_the_first_matching_root() {
        let e = Expect::new(&["/t/src", "/usr/src/linux"]);
        assert_eq!(e.name("/t/build/../src/drivers/a.c"), "drivers/a.c");
        assert_eq!(e.name("/usr/src/linux/./include/h.h"), "include/h.h");
        assert_eq!(e.name("/t/srcx/a.c"), "/t/srcx/a.c");
    }

    #[test]
    fn name_shape_rejects_absolute_and_dot_components() {
        assert_eq!(check_name_shape("fs/read_write.c"), None);
        assert!(check_name_shape("/fs/a.c").is_some());
        assert!(check_name_shape("../fs/a.c").is_some());
        assert!(check_name_shape("fs/./a.c").is_some());
        assert!(check_name_shape("").is_some());
    }
}

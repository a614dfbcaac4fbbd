//! The places where a kernel tree carrying the `CONFIG_KALLSYMS_LINEINFO` series calls its own
//! tools, and the text rewrites that call kbuild-lineinfo there instead.
//!
//! Pure text in, text out: no files are read here. The hooks are the lines the series adds
//! (v1 and v7 alike):
//!
//! * `scripts/link-vmlinux.sh`: `if ! scripts/gen_lineinfo "${1}" > .tmp_lineinfo.S; then`
//!   becomes `if ! TOOL gen_lineinfo --layout v1 "${1}" > .tmp_lineinfo.S; then` (the classic
//!   interface: assembly on stdout, assembled by the script as before);
//! * `scripts/Makefile.modfinal`: `cmd_lineinfo_ko = $(CONFIG_SHELL)
//!   $(srctree)/scripts/gen-mod-lineinfo.sh $@` becomes `cmd_lineinfo_ko = TOOL gen-mod-lineinfo
//!   --layout v1 $@`, and the tool becomes a prerequisite of every module, so that installing a
//!   new version redoes the step;
//! * `scripts/Makefile`: the `hostprogs-always-… += gen_lineinfo` lines are commented out, so
//!   the build no longer needs libdw.
//!
//! Line endings and every other byte are kept as they are.

use kbuild_lineinfo::Layout;

/// Marks every line this tool adds or comments out.
pub const MARK: &str = "kbuild-lineinfo";

/// One file the installer rewrites.
#[derive(Debug, Clone, Copy)]
pub struct Hook {
    /// Path relative to the source tree.
    pub path: &'static str,
    /// What the series' line there does, for messages.
    pub what: &'static str,
    /// Whether a tree with the series must have it (scripts/Makefile's lines are optional).
    pub required: bool,
    rewrite: fn(&str, &Invocation) -> Option<String>,
}

impl Hook {
    /// The rewritten text, or `None` when `text` holds no hook line.
    pub fn rewrite(&self, text: &str, invocation: &Invocation) -> Option<String> {
        (self.rewrite)(text, invocation)
    }
}

/// The files, in the order they are rewritten.
pub const HOOKS: [Hook; 3] = [
    Hook {
        path: "scripts/link-vmlinux.sh",
        what: "the call of scripts/gen_lineinfo",
        required: true,
        rewrite: rewrite_link_vmlinux,
    },
    Hook {
        path: "scripts/Makefile.modfinal",
        what: "the call of scripts/gen-mod-lineinfo.sh",
        required: true,
        rewrite: rewrite_modfinal,
    },
    Hook {
        path: "scripts/Makefile",
        what: "the gen_lineinfo host program",
        required: false,
        rewrite: rewrite_scripts_makefile,
    },
];

/// Files the series adds; a tree without them does not carry it.
pub const SERIES_FILES: [&str; 3] = [
    "scripts/gen_lineinfo.c",
    "scripts/gen-mod-lineinfo.sh",
    "include/linux/mod_lineinfo.h",
];

/// How the rewritten lines call the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Absolute path of the tool, made only of characters that need no quoting in sh or make.
    pub tool: String,
    pub layout: Layout,
}

impl Invocation {
    /// `TOOL SUB --layout vN --srctree DIR`, where `srctree` is the code that yields the
    /// absolute source tree where the hook runs. The tool runs in the object tree, where Kbuild
    /// exports `srctree` as `.`, `..` or an absolute path; the absolute, physical form is what
    /// the compiler saw (Kbuild's own `abs_srctree` is a `realpath`), so names come out
    /// relative to it as the kernel prints them.
    fn command(&self, sub: &str, srctree: &str) -> String {
        let layout = self.layout.name();
        format!("{} {sub} --layout {layout} --srctree {srctree}", self.tool)
    }
}

/// The absolute source tree in scripts/link-vmlinux.sh.
const SH_SRCTREE: &str = r#""$(cd "${srctree:-.}" && pwd -P)""#;
/// The absolute source tree in scripts/Makefile.modfinal.
const MAKE_SRCTREE: &str = "$(realpath $(srctree))";

/// Whether `path` can stand unquoted in a shell command and a make recipe.
pub fn is_plain_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-,=@".contains(&b))
}

fn rewrite_link_vmlinux(text: &str, inv: &Invocation) -> Option<String> {
    rewrite_calls(
        text,
        "scripts/gen_lineinfo",
        &inv.command("gen_lineinfo", SH_SRCTREE),
        |_| false,
    )
}

fn rewrite_modfinal(text: &str, inv: &Invocation) -> Option<String> {
    let shell =
        |before: &str| before.ends_with("$(CONFIG_SHELL) ") || before.ends_with("${CONFIG_SHELL} ");
    let mut out = String::with_capacity(text.len() + 200);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        match rewrite_line(
            line,
            "scripts/gen-mod-lineinfo.sh",
            &inv.command("gen-mod-lineinfo", MAKE_SRCTREE),
            shell,
        ) {
            Some(new) if !new.trim_end().ends_with('\\') => {
                out.push_str(&new);
                out.push_str(&prerequisite_lines(&inv.tool, line_ending(line)));
                found = true;
            }
            Some(new) => {
                out.push_str(&new);
                found = true;
            }
            None => out.push_str(line),
        }
    }
    found.then_some(out)
}

/// Makes the tool a prerequisite of every module (`$(modules)` lists `.o` names from 6.12 on,
/// `.ko` names before: patsubst covers both), only when the step is enabled.
fn prerequisite_lines(tool: &str, eol: &str) -> String {
    format!(
        "# {MARK}: a new version of the tool redoes the step{eol}\
         ifdef CONFIG_KALLSYMS_LINEINFO_MODULES{eol}\
         $(patsubst %.o,%.ko,$(modules)): {tool}{eol}\
         endif{eol}"
    )
}

fn rewrite_scripts_makefile(text: &str, _inv: &Invocation) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 100);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let code = line.trim_start();
        let is_hostprog = code.starts_with("hostprogs")
            && code.contains("LINEINFO")
            && code.split_whitespace().last() == Some("gen_lineinfo");
        if is_hostprog {
            out.push_str(&format!("# {MARK}: {line}"));
            found = true;
        } else {
            out.push_str(line);
        }
    }
    found.then_some(out)
}

/// Rewrites every non-comment line that calls `program`; `None` when there is none.
fn rewrite_calls(
    text: &str,
    program: &str,
    replacement: &str,
    drop_before: fn(&str) -> bool,
) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 100);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        match rewrite_line(line, program, replacement, drop_before) {
            Some(new) => {
                out.push_str(&new);
                found = true;
            }
            None => out.push_str(line),
        }
    }
    found.then_some(out)
}

/// The line with the word that names `program` (any prefix such as `$(srctree)/` or
/// `${objtree}/` included) replaced; `drop_before` says whether the text before that word ends
/// with an interpreter to drop too (`$(CONFIG_SHELL) `).
fn rewrite_line(
    line: &str,
    program: &str,
    replacement: &str,
    drop_before: impl Fn(&str) -> bool,
) -> Option<String> {
    if line.trim_start().starts_with('#') {
        return None;
    }
    let at = find_word_end(line, program)?;
    let end = at + program.len();
    let start = line[..at]
        .rfind(|c: char| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let mut before = &line[..start];
    if drop_before(before) {
        let trimmed = before.trim_end();
        before = &before[..trimmed
            .rfind(|c: char| c.is_whitespace())
            .map_or(0, |i| i + 1)];
    }
    Some(format!("{before}{replacement}{}", &line[end..]))
}

/// Where `program` occurs such that the next character ends the word (so `gen_lineinfo.c`
/// and `gen_lineinfo_foo` do not match `gen_lineinfo`).
fn find_word_end(line: &str, program: &str) -> Option<usize> {
    line.match_indices(program).map(|(i, _)| i).find(|&i| {
        let next = line[i + program.len()..].chars().next();
        next.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
    })
}

fn line_ending(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(layout: Layout) -> Invocation {
        Invocation {
            tool: "/opt/bin/kbuild-lineinfo".into(),
            layout,
        }
    }

    #[test]
    fn link_vmlinux_call_is_replaced_and_the_rest_kept() {
        let text = "# scripts/gen_lineinfo is called below\n\
                    \tinfo LINEINFO .tmp_lineinfo.S\n\
                    \tif ! scripts/gen_lineinfo \"${1}\" > .tmp_lineinfo.S; then\n\
                    \t\techo >&2 \"Failed\"\n";
        let out = HOOKS[0].rewrite(text, &inv(Layout::V1)).unwrap();
        assert_eq!(
            out,
            "# scripts/gen_lineinfo is called below\n\
             \tinfo LINEINFO .tmp_lineinfo.S\n\
             \tif ! /opt/bin/kbuild-lineinfo gen_lineinfo --layout v1 --srctree \"$(cd \"${srctree:-.}\" && pwd -P)\" \"${1}\" > .tmp_lineinfo.S; then\n\
             \t\techo >&2 \"Failed\"\n"
        );
    }

    #[test]
    fn objtree_prefix_is_part_of_the_word() {
        let out = rewrite_line(
            "if ! ${objtree}/scripts/gen_lineinfo --module \"${KO}\"; then\n",
            "scripts/gen_lineinfo",
            "T x",
            |_| false,
        );
        assert_eq!(out.as_deref(), Some("if ! T x --module \"${KO}\"; then\n"));
    }

    #[test]
    fn source_file_names_are_not_calls() {
        assert_eq!(
            find_word_end("F:\tscripts/gen_lineinfo.c\n", "scripts/gen_lineinfo"),
            None
        );
        assert!(HOOKS[0]
            .rewrite("hostprogs += scripts/gen_lineinfo.c\n", &inv(Layout::V1))
            .is_none());
    }

    #[test]
    fn modfinal_drops_the_shell_and_adds_the_prerequisite() {
        let text = "quiet_cmd_lineinfo_ko = LINEINFO [M] $@\r\n      \
                    cmd_lineinfo_ko = $(CONFIG_SHELL) $(srctree)/scripts/gen-mod-lineinfo.sh $@\r\n\r\n";
        let out = HOOKS[1].rewrite(text, &inv(Layout::V7)).unwrap();
        assert_eq!(
            out,
            "quiet_cmd_lineinfo_ko = LINEINFO [M] $@\r\n      \
             cmd_lineinfo_ko = /opt/bin/kbuild-lineinfo gen-mod-lineinfo --layout v7 --srctree $(realpath $(srctree)) $@\r\n\
             # kbuild-lineinfo: a new version of the tool redoes the step\r\n\
             ifdef CONFIG_KALLSYMS_LINEINFO_MODULES\r\n\
             $(patsubst %.o,%.ko,$(modules)): /opt/bin/kbuild-lineinfo\r\n\
             endif\r\n\r\n"
        );
    }

    #[test]
    fn hostprog_lines_are_commented_out() {
        let text = "hostprogs-always-$(CONFIG_KALLSYMS)\t\t\t+= kallsyms\n\
                    hostprogs-always-$(CONFIG_KALLSYMS_LINEINFO)\t\t+= gen_lineinfo\n\
                    HOSTLDLIBS_gen_lineinfo = -ldw\n";
        let out = HOOKS[2].rewrite(text, &inv(Layout::V1)).unwrap();
        assert_eq!(
            out,
            "hostprogs-always-$(CONFIG_KALLSYMS)\t\t\t+= kallsyms\n\
             # kbuild-lineinfo: hostprogs-always-$(CONFIG_KALLSYMS_LINEINFO)\t\t+= gen_lineinfo\n\
             HOSTLDLIBS_gen_lineinfo = -ldw\n"
        );
    }

    #[test]
    fn no_hook_no_rewrite() {
        for hook in HOOKS {
            assert!(
                hook.rewrite("all:\n\t@:\n", &inv(Layout::V1)).is_none(),
                "{}",
                hook.path
            );
        }
    }

    #[test]
    fn plain_paths() {
        assert!(is_plain_path("/usr/local/bin/kbuild-lineinfo"));
        assert!(is_plain_path("/home/u/v1.2+x/kbuild_lineinfo"));
        for bad in [
            "", "/a b", "/a$b", "/a'b", "/a\"b", "/a;b", "/a#b", "/a%b", "/a\nb",
        ] {
            assert!(!is_plain_path(bad), "{bad:?}");
        }
    }
}

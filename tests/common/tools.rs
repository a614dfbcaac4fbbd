//! Running external tools: the C compiler, binutils and LLVM utilities.
//! A failing tool panics with its full command line and its stderr, since
//! every caller is a test that cannot continue without the tool's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `cmd` and returns its output; panics (naming the command and quoting
/// stderr) when it cannot be started or exits non-zero.
pub fn run(cmd: &mut Command) -> Output {
    let out = try_run(cmd);
    if !out.status.success() {
        panic!(
            "command failed ({}): {}\n--- stderr ---\n{}\n--- stdout (first 2000 bytes) ---\n{}",
            out.status,
            describe(cmd),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(2000)]),
        );
    }
    out
}

/// Runs `cmd` and returns its output whatever its exit status; panics only
/// when it cannot be started.
pub fn try_run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)))
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = String::new();
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("(cd {} && ", dir.display()));
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    if cmd.get_current_dir().is_some() {
        s.push(')');
    }
    s
}

/// The C compiler `cc` would use for the host (honours `$CC`), falling back
/// to plain `cc`.
pub fn compiler() -> PathBuf {
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    cc::Build::new()
        .target(&triple)
        .host(&triple)
        .opt_level(2)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .try_get_compiler()
        .map(|c| c.path().to_path_buf())
        .unwrap_or_else(|_| PathBuf::from("cc"))
}

/// True when the C compiler `cc` accepts `flag` (probed by compiling an empty unit).
pub fn compiler_accepts(cc: &Path, flag: &str, scratch: &Path) -> bool {
    let src = scratch.join("probe.c");
    std::fs::write(&src, "int probe;\n").expect("write probe.c");
    Command::new(cc)
        .args(["-c", flag])
        .arg(&src)
        .arg("-o")
        .arg(scratch.join("probe.o"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

//! SIGINT/SIGTERM: the first one asks the batch to stop, a second one ends the process at once.
//!
//! Owns the process-wide "interrupted" state. [`install`] is called by [`super::connect`];
//! [`super::run`] stops starting jobs once [`interrupted`] is true, and per-job code may poll it
//! to abandon long work early. Handlers only store into atomics (async-signal-safe).

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Set by the handlers: whether a signal came, and which one (the last).
#[derive(Debug, Default)]
struct Caught {
    seen: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

static CAUGHT: OnceLock<Caught> = OnceLock::new();

/// The batch stopped because of a signal; the process should exit with [`Interrupted::exit_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted {
    /// The signal number (`SIGINT` = 2, `SIGTERM` = 15).
    pub signal: i32,
}

impl Interrupted {
    /// The shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> i32 {
        128 + self.signal
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.signal {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        };
        write!(f, "interrupted by {name}")
    }
}

impl std::error::Error for Interrupted {}

/// Installs the handlers once per process; later calls do nothing.
///
/// First signal: the flag is set and the batch winds down, releasing every token. Second signal:
/// immediate exit with 128 + signal, for a user who does not want to wait for running jobs.
pub(super) fn install() -> io::Result<()> {
    let mut result = Ok(());
    CAUGHT.get_or_init(|| {
        let caught = Caught::default();
        result = register(&caught);
        caught
    });
    result
}

fn register(caught: &Caught) -> io::Result<()> {
    for sig in [SIGINT, SIGTERM] {
        // Registration order is call order: the shutdown check must see the flag of a
        // *previous* signal, so it comes before the action that sets it.
        flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&caught.seen))?;
        flag::register_usize(sig, Arc::clone(&caught.signal), sig as usize)?;
        flag::register(sig, Arc::clone(&caught.seen))?;
    }
    Ok(())
}

/// Makes a file-size limit (`ulimit -f`, SIGXFSZ) fail the write with EFBIG instead of killing
/// the process, so the error names the file and the module being written is restored.
pub fn ignore_file_size_signal() {
    // A handler that only stores a flag replaces the default action (terminate).
    let _ = flag::register(
        signal_hook::consts::SIGXFSZ,
        Arc::new(AtomicBool::new(false)),
    );
}

/// Whether SIGINT or SIGTERM has arrived; long per-job work may poll this and give up early.
pub fn interrupted() -> bool {
    CAUGHT.get().is_some_and(|c| c.seen.load(Ordering::SeqCst))
}

/// The signal that interrupted the process, if any.
pub(super) fn caught() -> Option<Interrupted> {
    let c = CAUGHT.get()?;
    if !c.seen.load(Ordering::SeqCst) {
        return None;
    }
    let signal = i32::try_from(c.signal.load(Ordering::SeqCst)).unwrap_or(SIGINT);
    Some(Interrupted { signal })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Interrupted { signal: SIGINT }.exit_code(), 130);
        assert_eq!(Interrupted { signal: SIGTERM }.exit_code(), 143);
        assert_eq!(
            Interrupted { signal: SIGTERM }.to_string(),
            "interrupted by SIGTERM"
        );
    }
}

//! Where job slots come from: GNU make's jobserver, or an own limit when there is none.
//!
//! [`connect`] reads `MAKEFLAGS` once (both `--jobserver-auth=fifo:PATH` and the `R,W` pipe
//! style) and yields [`Slots`]: a token source for jobs beyond the process's implicit slot, a cap
//! on concurrent jobs and a memory budget. It owns the crate's only `unsafe` for the jobserver
//! ([`jobserver_from_env`]). It may call [`super::signal`] and [`super::memory`]; it never prints.

use std::fmt;
use std::num::NonZeroUsize;

use jobserver::{Client, FromEnvErrorKind};

use super::{memory, signal};

/// The job slots this process may use: the implicit slot, plus one acquired token per extra job.
#[derive(Debug)]
pub struct Slots {
    /// Token source for jobs beyond the implicit slot; `None` runs one job at a time.
    client: Option<Client>,
    /// Most jobs that may run at once (implicit slot included), whatever the tokens would allow.
    cap: usize,
    /// Budget in bytes for the summed cost estimates of running jobs.
    budget: u64,
    /// Human-readable origin of the limit, for `V=1`.
    origin: String,
}

/// A problem worth one line on stderr; the caller prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(String);

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Joins make's jobserver, or sets an own limit, and installs the SIGINT/SIGTERM handlers.
///
/// Call this first thing in `main`, before any file is opened: the jobserver file descriptors
/// named in `MAKEFLAGS` must still be the ones make passed down. `jobs` is `-j N`:
/// - jobserver in `MAKEFLAGS` and usable: tokens come from it; `-j N` (if given) caps further.
/// - no jobserver: `N` jobs, default one under make (`make` without `-j`, `MAKELEVEL` set) and
///   the available CPUs otherwise.
/// - jobserver advertised but unusable (recipe without `+`, missing fifo): one [`Warning`]
///   naming the fix, then one job at a time.
pub fn connect(jobs: Option<usize>) -> (Slots, Option<Warning>) {
    let from_env = jobserver_from_env();
    let var = from_env.var.as_ref().map(|(name, value)| {
        let value = value.to_string_lossy();
        format!("{name}={}", value.trim())
    });
    let (slots, mut warning) = match from_env.client {
        Ok(client) => (Slots::jobserver(client, jobs, var), None),
        Err(e) => match e.kind() {
            FromEnvErrorKind::NoEnvVar | FromEnvErrorKind::NoJobserver => Slots::own(jobs),
            _ => (Slots::serial("unusable jobserver"), Some(unusable(&e, var))),
        },
    };
    if let Err(e) = signal::install() {
        let note = format!("cannot install SIGINT/SIGTERM handlers: {e}");
        warning.get_or_insert(Warning(note));
    }
    (slots, warning)
}

/// The only `unsafe` of the job machinery.
fn jobserver_from_env() -> jobserver::FromEnv {
    // SAFETY: `from_env_ext` takes ownership of the file descriptors named in MAKEFLAGS.
    // `connect` is documented (and used) as the first thing `main` does, before this process
    // opens any file, so those descriptor numbers are either the ones make passed down or
    // closed; `check_pipe = true` makes the crate verify they are pipes (or open the fifo by
    // path) instead of trusting them, so no descriptor owned elsewhere in the process is taken.
    unsafe { Client::from_env_ext(true) }
}

/// The one warning for a jobserver that `MAKEFLAGS` advertises but this process cannot use.
fn unusable(e: &jobserver::FromEnvError, var: Option<String>) -> Warning {
    let var = var.unwrap_or_else(|| "MAKEFLAGS".to_string());
    Warning(format!(
        "jobserver unavailable ({e}; from {var}); running one job at a time. \
         To share make's job slots, prefix the recipe that runs kbuild-lineinfo with `+` \
         (or call it through $(MAKE)) so make passes the jobserver down"
    ))
}

impl Slots {
    /// Slots from make's jobserver, capped by `-j N` when given.
    fn jobserver(client: Client, jobs: Option<usize>, var: Option<String>) -> Slots {
        let origin = format!("jobserver from {}", var.as_deref().unwrap_or("MAKEFLAGS"));
        Slots::new(Some(client), jobs.unwrap_or(usize::MAX), origin)
    }

    /// Slots from an own limit, because no jobserver is advertised.
    fn own(jobs: Option<usize>) -> (Slots, Option<Warning>) {
        let under_make = std::env::var_os("MAKELEVEL").is_some();
        let (limit, why) = match jobs {
            Some(n) => (n.max(1), "-j"),
            None if under_make => (1, "make without a jobserver (no -j)"),
            None => (available_cpus(), "available CPUs"),
        };
        if limit == 1 {
            return (Slots::serial(why), None);
        }
        match Client::new(limit - 1) {
            Ok(client) => (
                Slots::new(Some(client), limit, format!("{limit} jobs ({why})")),
                None,
            ),
            Err(e) => {
                let note = format!(
                    "cannot create a jobserver for {limit} jobs ({e}); running one job at a time"
                );
                (Slots::serial("no own jobserver"), Some(Warning(note)))
            }
        }
    }

    /// One job at a time: only the implicit slot.
    pub fn serial(why: &str) -> Slots {
        Slots::new(None, 1, format!("one job at a time ({why})"))
    }

    pub(super) fn new(client: Option<Client>, cap: usize, origin: String) -> Slots {
        Slots {
            client,
            cap: cap.max(1),
            budget: memory::default_budget(),
            origin,
        }
    }

    /// Replaces the memory budget (bytes) for the summed cost estimates of running jobs.
    pub fn with_budget(mut self, budget: u64) -> Slots {
        self.budget = budget;
        self
    }

    /// Token source for jobs beyond the implicit slot, `None` when only one job may run.
    pub(super) fn client(&self) -> Option<&Client> {
        self.client.as_ref().filter(|_| self.cap > 1)
    }

    /// Tokens for up to `max` extra threads, as many as are free right now (never waits), and
    /// never more than [`Slots::cap`] allows beside the implicit slot.
    pub fn try_tokens(&self, max: usize) -> Vec<jobserver::Acquired> {
        let mut tokens = Vec::new();
        let Some(client) = self.client() else {
            return tokens;
        };
        let want = max.min(self.cap - 1);
        while tokens.len() < want {
            match client.try_acquire() {
                Ok(Some(token)) => tokens.push(token),
                Ok(None) => break,
                // A pipe that cannot be read without blocking (the one `-j N` makes, or make's
                // when /dev/fd cannot reopen it): take the tokens it holds now. Another process
                // (or the batch's own token thread) may take one first; the read then waits for
                // a job to end, as make's own children do.
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                    let free = client.available().unwrap_or(0);
                    while tokens.len() < want.min(free) {
                        match client.acquire() {
                            Ok(token) => tokens.push(token),
                            Err(_) => break,
                        }
                    }
                    break;
                }
                Err(_) => break,
            }
        }
        tokens
    }

    /// Most jobs that may run at once, implicit slot included (at least 1).
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Budget in bytes for the summed cost estimates of running jobs.
    pub fn budget(&self) -> u64 {
        self.budget
    }
}

impl fmt::Display for Slots {
    /// Where the limit comes from and the memory budget, for `V=1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = self.budget >> 20;
        write!(f, "{}, memory budget {mib} MiB", self.origin)
    }
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_slots_have_no_token_source() {
        let slots = Slots::serial("test");
        assert!(slots.client().is_none());
        assert_eq!(slots.cap(), 1);
        assert!(slots.to_string().starts_with("one job at a time (test)"));
    }

    #[test]
    fn own_limit_hands_out_limit_minus_one_tokens() {
        let client = Client::new(2).unwrap();
        let slots = Slots::new(Some(client), 3, "3 jobs".into()).with_budget(5 << 20);
        let c = slots.client().unwrap();
        assert_eq!(c.available().unwrap(), 2);
        let _a = c.acquire().unwrap();
        let _b = c.acquire().unwrap();
        assert_eq!(c.available().unwrap(), 0, "a third token must not exist");
        assert_eq!(slots.to_string(), "3 jobs, memory budget 5 MiB");
    }

    #[test]
    fn try_tokens_takes_the_free_tokens_of_an_own_pipe_within_cap_and_max() {
        // An own jobserver is a plain pipe (no non-blocking reads): the free tokens are taken.
        let slots = Slots::new(Some(Client::new(3).unwrap()), 4, "4 jobs".into());
        let tokens = slots.try_tokens(64);
        assert_eq!(tokens.len(), 3);
        assert!(slots.try_tokens(64).is_empty(), "none left, and no wait");
        drop(tokens);
        assert_eq!(slots.client().unwrap().available().unwrap(), 3, "all back");
        assert_eq!(slots.try_tokens(2).len(), 2, "max");
        let capped = Slots::new(Some(Client::new(7).unwrap()), 3, "3 jobs".into());
        assert_eq!(
            capped.try_tokens(64).len(),
            2,
            "cap minus the implicit slot"
        );
        assert!(Slots::serial("test").try_tokens(64).is_empty());
    }

    #[test]
    fn a_cap_of_one_ignores_the_token_source() {
        let slots = Slots::new(Some(Client::new(4).unwrap()), 1, "j1".into());
        assert!(slots.client().is_none());
    }
}

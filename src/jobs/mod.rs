//! Job machinery of the CLI: how many objects may be processed at once, and in which order.
//!
//! One process handles a whole kernel build, so it must be exactly as parallel as the `make -jN`
//! that runs it. [`connect`] is called first thing in `main`: it joins GNU make's jobserver (or sets
//! an own limit from `-j`) and installs the SIGINT/SIGTERM handlers. [`run`] then maps a closure over
//! the items with worker threads, holding one jobserver token per extra concurrent job and keeping
//! the estimated memory of the running jobs under a budget. [`Progress`] prints Kbuild-style lines.
//!
//! This module may print nothing by itself except through [`Progress`]; warnings are returned to
//! the caller, which decides how to show them ([`crate::voice`]).

mod jobserver;
mod memory;
mod pool;
mod progress;
mod signal;

pub use jobserver::{connect, Slots};
pub use pool::run;
pub use progress::Progress;
pub use signal::{ignore_file_size_signal, interrupted};

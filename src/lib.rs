//! The `kbuild-lineinfo` command line as a library: what `src/main.rs` runs, and what the
//! integration tests drive directly (embedding, jobs, the cache) instead of compiling files of
//! `src/` into themselves. Not an API: the pure library is the `kbuild-lineinfo` crate; this one
//! owns the I/O, the processes and the messages.

pub mod atomic;
pub mod cache;
pub mod cli;
pub mod cmd;
pub mod generate;
pub mod jobs;
pub mod kbuild;
pub mod mmap;
pub mod modules;
pub mod voice;

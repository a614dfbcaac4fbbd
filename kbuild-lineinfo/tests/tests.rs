//! The one integration test binary of the library: each file of `tests/` is a module here.

mod clang_dwarf5;
mod emit;
mod unpack;

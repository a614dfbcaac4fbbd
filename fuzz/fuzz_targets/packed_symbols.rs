//! libFuzzer entry of [`kbuild_lineinfo_fuzz_checks::packed_symbols`]: what it checks is written
//! there, and `replay` runs the same body on stable (scripts/test.sh).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kbuild_lineinfo_fuzz_checks::packed_symbols::check(data)
});

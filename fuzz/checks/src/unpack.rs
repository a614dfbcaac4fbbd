//! Arbitrary bytes as what a distribution installs: a kernel image (bzImage, `Image`, gzipped
//! or not) and a compressed module. `unpack` must never panic, never produce more than its cap
//! (a bomb is refused, not held), and whatever it calls a module or an ELF image starts with the
//! ELF magic.

use kbuild_lineinfo::unpack::{self, ImageKind, Limits};

/// Small enough that a fuzzer's bomb costs nothing, large enough for real decompression.
const LIMITS: Limits = Limits { output: 4 << 20 };

pub fn check(data: &[u8]) {
    if let Ok(image) = unpack::kernel_image(data, LIMITS) {
        assert!(image.bytes.len() as u64 <= LIMITS.output.max(data.len() as u64));
        if image.kind == ImageKind::Elf {
            assert!(image.bytes.starts_with(b"\x7fELF"), "{}", image.how);
        }
    }
    if let Ok((module, _)) = unpack::module(data, LIMITS) {
        assert!(module.starts_with(b"\x7fELF"));
        assert!(module.len() as u64 <= LIMITS.output.max(data.len() as u64));
    }
}

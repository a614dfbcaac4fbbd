//! Fixtures shared by this crate's tests and the CLI's (feature `test-fixtures`, a
//! dev-dependency of both; not part of the API): bytes laid out as the kernel's build lays them
//! out, with nothing read or written.

/// A bzImage as arch/x86/boot/tools/build.c lays it out: `setup_sects` (3) + 1 sectors of setup
/// with the header (protocol 2.15), then the protected-mode part, whose `payload_offset`
/// (0x100) names `payload`, then code after it as the decompressor's own. The payload thus
/// starts at byte 0x900 of the image.
pub fn bzimage(payload: &[u8]) -> Vec<u8> {
    let setup_sects = 3u8;
    let kernel = (usize::from(setup_sects) + 1) * 512;
    let offset = 0x100;
    let mut img = vec![0u8; kernel + offset];
    img[0x1f1] = setup_sects;
    img[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
    img[0x248..0x24c].copy_from_slice(&(offset as u32).to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    img.extend_from_slice(payload);
    img.extend_from_slice(&[0xcc; 512]);
    img
}

//! What a distribution installs, back to the ELF inside it: kernel images (`/boot/vmlinuz-REL`:
//! an x86 bzImage, an arm64 or RISC-V `Image`, or either gzipped) and compressed modules
//! (`.ko.xz`, `.ko.zst`, `.ko.gz`), decompressed in memory.
//!
//! Formats are told by their magic bytes, never by a file name. Decompression never produces
//! more than [`Limits::output`] bytes (a 40-byte zstd frame can claim terabytes): past it the
//! input is refused, not truncated. The x86 payload is found as the boot protocol says
//! (`payload_offset` in the setup header, Documentation/arch/x86/boot.rst) and, for images that
//! do not say, by scanning for a compression magic as the kernel's `scripts/extract-vmlinux`
//! does.

use std::borrow::Cow;
use std::io::Read;

use crate::error::{ErrorKind, Result};

/// How much decompression may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of output at most (default 1 GiB: a vmlinux with full DWARF is about 400 MB).
    pub output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { output: 1 << 30 }
    }
}

/// The compressors the kernel's build uses for images and modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
    /// lz4's legacy frame (`lz4 -l`), as the kernel writes it.
    Lz4Legacy,
    /// Recognised so that the error can name it; not decompressed.
    Bzip2,
    /// Recognised so that the error can name it; not decompressed.
    Lzma,
    /// Recognised so that the error can name it; not decompressed.
    Lzo,
}

impl Compression {
    /// The name a person knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Lz4Legacy => "lz4",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Lzo => "lzo",
        }
    }

    /// The format whose magic `bytes` start with.
    pub fn detect(bytes: &[u8]) -> Option<Compression> {
        MAGICS
            .iter()
            .find(|(magic, _)| bytes.starts_with(magic))
            .map(|&(_, c)| c)
    }
}

/// Magic bytes, as `scripts/extract-vmlinux` lists them.
const MAGICS: [(&[u8], Compression); 7] = [
    (b"\x1f\x8b\x08", Compression::Gzip),
    (b"\xfd7zXZ\x00", Compression::Xz),
    (b"\x28\xb5\x2f\xfd", Compression::Zstd),
    (b"\x02\x21\x4c\x18", Compression::Lz4Legacy),
    (b"BZh", Compression::Bzip2),
    (b"\x5d\x00\x00\x00", Compression::Lzma),
    (b"\x89\x4c\x5a", Compression::Lzo),
];

/// Decompresses one stream of `format`, refusing output past `limits`. Bytes after the
/// stream (the 4-byte size the kernel's `size_append` adds) are ignored.
pub fn decompress(bytes: &[u8], format: Compression, limits: Limits) -> Result<Vec<u8>> {
    let name = format.name();
    let fail = |what: String| ErrorKind::Invalid(format!("{name} data: {what}"));
    let out = match format {
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(bytes), limits),
        Compression::Xz => read_capped(lzma_rust2::XzReader::new(bytes, false), limits),
        Compression::Zstd => {
            // One frame, as the kernel writes it: what follows (the size) is not a frame.
            let decoder = zstd::stream::read::Decoder::with_buffer(bytes)
                .map_err(|e| fail(e.to_string()))?
                .single_frame();
            read_capped(decoder, limits)
        }
        Compression::Lz4Legacy => return lz4_legacy(bytes, limits).map_err(|e| fail(e).into()),
        Compression::Bzip2 | Compression::Lzma | Compression::Lzo => {
            return Err(
                fail("this compression is not supported (gzip, xz, zstd, lz4 are)".into()).into(),
            )
        }
    };
    out.map_err(|e| fail(e).into())
}

/// Everything `reader` yields, unless that is more than `limits` allows.
fn read_capped(reader: impl Read, limits: Limits) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(limits.output.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limits.output {
        return Err(too_big(limits));
    }
    Ok(out)
}

fn too_big(limits: Limits) -> String {
    format!(
        "decompresses to more than {} MiB (refused)",
        limits.output >> 20
    )
}

/// lz4's legacy frame: the magic, then blocks of (u32 LE compressed size, data), each at most
/// 8 MiB decompressed, until the input ends; a repeated magic starts a concatenated frame, and
/// the kernel's trailing 4-byte size is not a block.
fn lz4_legacy(bytes: &[u8], limits: Limits) -> std::result::Result<Vec<u8>, String> {
    const MAGIC: &[u8] = b"\x02\x21\x4c\x18";
    const BLOCK: usize = 8 << 20;
    let mut rest = bytes.strip_prefix(MAGIC).ok_or("no lz4 legacy magic")?;
    let mut out = Vec::new();
    let mut block = vec![0; BLOCK];
    while rest.len() > 4 {
        if let Some(next) = rest.strip_prefix(MAGIC) {
            rest = next;
            continue;
        }
        let size = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let data = rest
            .get(4..4 + size)
            .ok_or_else(|| format!("block of {size} bytes, {} left", rest.len() - 4))?;
        let n = lz4_flex::block::decompress_into(data, &mut block).map_err(|e| e.to_string())?;
        if (out.len() + n) as u64 > limits.output {
            return Err(too_big(limits));
        }
        out.extend_from_slice(&block[..n]);
        rest = &rest[4 + size..];
    }
    if out.is_empty() {
        return Err("no block".into());
    }
    Ok(out)
}

/// What [`kernel_image`] found.
#[derive(Debug)]
pub struct KernelImage<'a> {
    /// The ELF vmlinux (x86 bzImage payload), or the raw image (arm64/RISC-V `Image`: the
    /// kernel's memory from `_text` on, no symbols).
    pub bytes: Cow<'a, [u8]>,
    pub kind: ImageKind,
    /// How it was unpacked, for a person: "bzImage, zstd payload".
    pub how: String,
}

/// What the bytes of a [`KernelImage`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// An ELF file: a vmlinux, possibly without symbols.
    Elf,
    /// arm64's `Image`: byte 0 is `_text`.
    Arm64,
    /// RISC-V's `Image`: byte 0 is `_start` (`_text`).
    Riscv,
}

/// A kernel image as installed, unpacked: an ELF file as it is; an x86 bzImage's payload; an
/// arm64/RISC-V `Image`, gzipped or not.
pub fn kernel_image(bytes: &[u8], limits: Limits) -> Result<KernelImage<'_>> {
    if let Some(kind) = plain_kind(bytes) {
        return Ok(KernelImage {
            bytes: Cow::Borrowed(bytes),
            kind,
            how: describe(kind).into(),
        });
    }
    if let Some(found) = bzimage(bytes, limits)? {
        return Ok(found);
    }
    if let Some(format) = Compression::detect(bytes) {
        let out = decompress(bytes, format, limits)?;
        return match plain_kind(&out) {
            Some(kind) => Ok(KernelImage {
                how: format!("{}, {}-compressed", describe(kind), format.name()),
                bytes: Cow::Owned(out),
                kind,
            }),
            None => Err(invalid(format!(
                "{}-compressed, but not a kernel image inside",
                format.name()
            ))),
        };
    }
    Err(invalid(
        "not a kernel image (neither ELF, an x86 bzImage, nor an arm64 or RISC-V Image)".into(),
    ))
}

fn invalid(message: String) -> crate::Error {
    ErrorKind::Invalid(message).into()
}

fn describe(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Elf => "ELF",
        ImageKind::Arm64 => "arm64 Image",
        ImageKind::Riscv => "RISC-V Image",
    }
}

/// ELF, or an arm64/RISC-V `Image` by its header magic (Documentation/arch/arm64/booting.rst,
/// Documentation/arch/riscv/boot-image-header.rst).
fn plain_kind(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(b"\x7fELF") {
        Some(ImageKind::Elf)
    } else if bytes.get(0x38..0x3c) == Some(b"ARM\x64") {
        Some(ImageKind::Arm64)
    } else if bytes.get(0x30..0x38) == Some(b"RISCV\0\0\0")
        || bytes.get(0x38..0x3c) == Some(b"RSC\x05")
    {
        Some(ImageKind::Riscv)
    } else {
        None
    }
}

/// How many compression magics an old bzImage's scan tries before it gives up.
const MAX_SCAN_TRIES: usize = 16;

/// An x86 bzImage's payload, `Ok(None)` when `bytes` is no bzImage.
fn bzimage(bytes: &[u8], limits: Limits) -> Result<Option<KernelImage<'_>>> {
    if bytes.get(0x202..0x206) != Some(b"HdrS") {
        return Ok(None);
    }
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let version = u16_at(0x206).unwrap_or(0);
    let setup_sects = match bytes.get(0x1f1) {
        Some(0) | None => 4,
        Some(&n) => usize::from(n),
    };
    let kernel = (setup_sects + 1) * 512;
    // Boot protocol 2.08 and later say where the payload is.
    if version >= 0x208 {
        let (offset, length) = (u32_at(0x248).unwrap_or(0), u32_at(0x24c).unwrap_or(0));
        let start = kernel + offset as usize;
        let payload = bytes
            .get(start..start.saturating_add(length as usize))
            .ok_or_else(|| {
                invalid(format!(
                    "bzImage payload at {start:#x} ({length} bytes) lies past the end of the file ({} bytes)",
                    bytes.len()
                ))
            })?;
        let format = Compression::detect(payload).ok_or_else(|| {
            invalid(format!(
                "bzImage payload at {start:#x} has no known compression magic"
            ))
        })?;
        let out = decompress(payload, format, limits)?;
        return elf_payload(out, format.name()).map(Some);
    }
    // Older images: the first magic that decompresses to ELF, as extract-vmlinux scans; a
    // few tries at most, so that a file of magics cannot make the scan quadratic.
    let candidates =
        (0..bytes.len()).filter_map(|at| Some((at, Compression::detect(&bytes[at..])?)));
    for (at, format) in candidates.take(MAX_SCAN_TRIES) {
        if let Ok(out) = decompress(&bytes[at..], format, limits) {
            if out.starts_with(b"\x7fELF") {
                return elf_payload(out, format.name()).map(Some);
            }
        }
    }
    Err(invalid(
        "bzImage without a payload that decompresses to ELF".into(),
    ))
}

fn elf_payload(out: Vec<u8>, format: &str) -> Result<KernelImage<'static>> {
    if !out.starts_with(b"\x7fELF") {
        return Err(invalid(format!(
            "the bzImage's {format} payload is not an ELF vmlinux"
        )));
    }
    Ok(KernelImage {
        bytes: Cow::Owned(out),
        kind: ImageKind::Elf,
        how: format!("bzImage, {format} payload"),
    })
}

/// A module as installed: ELF as it is, or decompressed (`.ko.xz`, `.ko.zst`, `.ko.gz`); the
/// result must be an ELF file.
pub fn module(bytes: &[u8], limits: Limits) -> Result<(Cow<'_, [u8]>, Option<Compression>)> {
    if bytes.starts_with(b"\x7fELF") {
        return Ok((Cow::Borrowed(bytes), None));
    }
    let format = Compression::detect(bytes).ok_or_else(|| {
        invalid("is not a module (neither ELF nor gzip-, xz- or zstd-compressed)".into())
    })?;
    let out = decompress(bytes, format, limits)?;
    if !out.starts_with(b"\x7fELF") {
        return Err(invalid(format!(
            "{}-compressed, but not an ELF module inside",
            format.name()
        )));
    }
    Ok((Cow::Owned(out), Some(format)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits { output: 1 << 20 };

    #[test]
    fn magics_are_told_apart() {
        assert_eq!(
            Compression::detect(b"\x1f\x8b\x08\x00"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::detect(b"\xfd7zXZ\x00\x00"),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::detect(b"\x28\xb5\x2f\xfd\x04"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::detect(b"\x7fELF"), None);
        assert_eq!(Compression::detect(b""), None);
    }

    #[test]
    fn gzip_round_trip_and_cap() {
        use std::io::Write;
        let data: Vec<u8> = (0..600_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        let mut gz = enc.finish().unwrap();
        gz.extend_from_slice(&[1, 2, 3, 4]); // the kernel's size_append
        let out = decompress(&gz, Compression::Gzip, Limits { output: 1 << 30 }).unwrap();
        assert_eq!(out, data);
        let err = decompress(&gz, Compression::Gzip, SMALL)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "gzip data: decompresses to more than 1 MiB (refused)");
    }

    #[test]
    fn lz4_legacy_blocks_and_trailer() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let block = lz4_flex::block::compress(&data);
        let mut framed = b"\x02\x21\x4c\x18".to_vec();
        framed.extend_from_slice(&(block.len() as u32).to_le_bytes());
        framed.extend_from_slice(&block);
        framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(
            decompress(&framed, Compression::Lz4Legacy, SMALL).unwrap(),
            data
        );
        // A block that claims more than is there.
        let cut = &framed[..framed.len() - 40];
        let err = decompress(cut, Compression::Lz4Legacy, SMALL)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("lz4 data: block of"), "{err}");
    }

    #[test]
    fn garbage_is_one_error_each() {
        for format in [
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
            Compression::Lz4Legacy,
        ] {
            let bytes = [
                MAGICS.iter().find(|m| m.1 == format).unwrap().0,
                &[0xff; 64][..],
            ]
            .concat();
            let err = decompress(&bytes, format, SMALL).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{} data: ", format.name())),
                "{err}"
            );
        }
        assert!(kernel_image(b"hello", SMALL).is_err());
        let err = module(b"\x00\x01", SMALL).unwrap_err().to_string();
        assert_eq!(
            err,
            "is not a module (neither ELF nor gzip-, xz- or zstd-compressed)"
        );
    }

    #[test]
    fn bzimage_payload_past_the_end_is_named() {
        let mut img = vec![0u8; 0x1000];
        img[0x1f1] = 1;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        img[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&0x10000u32.to_le_bytes());
        let err = kernel_image(&img, SMALL).unwrap_err().to_string();
        assert_eq!(
            err,
            "bzImage payload at 0x500 (65536 bytes) lies past the end of the file (4096 bytes)"
        );
    }
}

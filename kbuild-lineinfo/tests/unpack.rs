//! `unpack` against the compressors themselves, run with the flags the kernel's build uses
//! (scripts/Makefile.lib, scripts/xz_wrap.sh, scripts/Makefile.modinst): what `gzip`, `xz`,
//! `zstd` and `lz4` write, a bzImage and an `Image.gz` around it, and hostile inputs (cut
//! streams, a zstd bomb, a compressed file that is no module). Needs the four commands
//! (`scripts/deps.sh` installs them).

use kbuild_lineinfo::testing::bzimage;
use kbuild_lineinfo::unpack::{self, Compression, ImageKind, Limits};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `input` through `cmd args`, as the kernel's `cat $< | $(KGZIP) -n -9 > $@` does.
fn compress(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (scripts/deps.sh installs it): {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The kernel's compressors for the image payload, with `size_append`'s 4 bytes after.
fn kernel_payloads(elf: &[u8]) -> Vec<(Compression, Vec<u8>)> {
    let cells: [(Compression, &str, &[&str]); 4] = [
        (Compression::Gzip, "gzip", &["-n", "-f", "-9"]),
        (
            Compression::Xz,
            "xz",
            &[
                "--check=crc32",
                "--threads=1",
                "--x86",
                "--lzma2=dict=32MiB",
            ],
        ),
        (Compression::Zstd, "zstd", &["-22", "--ultra", "-q"]),
        (Compression::Lz4Legacy, "lz4", &["-l", "-9", "-q", "-", "-"]),
    ];
    cells
        .iter()
        .map(|(c, cmd, args)| {
            let mut out = compress(cmd, args, elf);
            out.extend_from_slice(&(elf.len() as u32).to_le_bytes());
            (*c, out)
        })
        .collect()
}

/// An ELF file to pack: this test binary's own `cc` output would do; `ld` is on every machine
/// that runs these tests.
fn some_elf() -> Vec<u8> {
    let ld = Command::new("sh")
        .args(["-c", "command -v ld"])
        .output()
        .unwrap();
    let path = String::from_utf8(ld.stdout).unwrap();
    let bytes =
        std::fs::read(Path::new(path.trim())).expect("ld (scripts/deps.sh installs binutils)");
    assert!(bytes.starts_with(b"\x7fELF"));
    bytes
}

#[test]
fn bzimage_payloads_of_every_kernel_compressor_unpack_to_the_elf() {
    let elf = some_elf();
    for (format, payload) in kernel_payloads(&elf) {
        let img = bzimage(&payload);
        let found = unpack::kernel_image(&img, Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", format.name()));
        assert_eq!(found.kind, ImageKind::Elf);
        assert_eq!(found.how, format!("bzImage, {} payload", format.name()));
        assert!(
            found.bytes == elf,
            "{}: the payload is the ELF byte for byte",
            format.name()
        );
    }
}

#[test]
fn compressed_arm64_image_and_modules_unpack() {
    let mut image = vec![0u8; 0x10000];
    image[0x38..0x3c].copy_from_slice(b"ARM\x64");
    image[0x1000..0x1010].copy_from_slice(b"kernel text here");
    let gz = compress("gzip", &["-n", "-9"], &image);
    let found = unpack::kernel_image(&gz, Limits::default()).unwrap();
    assert_eq!(
        (found.kind, found.how.as_str()),
        (ImageKind::Arm64, "arm64 Image, gzip-compressed")
    );
    assert!(found.bytes == image);

    // Modules as scripts/Makefile.modinst compresses them.
    let elf = some_elf();
    for (format, cmd, args) in [
        (
            Compression::Xz,
            "xz",
            &["--check=crc32", "--lzma2=dict=1MiB"][..],
        ),
        (Compression::Zstd, "zstd", &["-T0", "-q"][..]),
        (Compression::Gzip, "gzip", &["-n", "-f"][..]),
    ] {
        let packed = compress(cmd, args, &elf);
        let (bytes, how) = unpack::module(&packed, Limits::default()).unwrap();
        assert_eq!(how, Some(format));
        assert!(bytes == elf, "{}", format.name());
    }
    let (bytes, how) = unpack::module(&elf, Limits::default()).unwrap();
    assert!(how.is_none() && bytes == elf);
}

#[test]
fn hostile_images_and_archives_are_one_error_each() {
    let elf = some_elf();
    // Cut streams, in a bzImage and as modules.
    for (format, payload) in kernel_payloads(&elf) {
        let cut = &payload[..payload.len() / 2];
        let err = unpack::kernel_image(&bzimage(cut), Limits::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{} data: ", format.name())),
            "{err}"
        );
        if format != Compression::Lz4Legacy {
            let err = unpack::module(cut, Limits::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("{} data: ", format.name())),
                "{err}"
            );
        }
    }
    // A zstd bomb: 256 MiB of zeros in a few KiB, against a 16 MiB cap: refused, and no more
    // than the cap is ever held.
    let zeros = vec![0u8; 256 << 20];
    let bomb = compress("zstd", &["-19", "-q"], &zeros);
    drop(zeros);
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let small = Limits { output: 16 << 20 };
    let err = unpack::module(&bomb, small).unwrap_err().to_string();
    assert_eq!(err, "zstd data: decompresses to more than 16 MiB (refused)");
    let err = unpack::kernel_image(&bzimage(&bomb), small)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "zstd data: decompresses to more than 16 MiB (refused)");
    // gzip and xz bombs: the same cap, the same one line.
    let zeros = vec![0u8; 32 << 20];
    for (cmd, args, name) in [
        ("gzip", &["-1"][..], "gzip"),
        ("xz", &["-0", "--check=crc32"], "xz"),
    ] {
        let bomb = compress(cmd, args, &zeros);
        let err = unpack::kernel_image(&bzimage(&bomb), small)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("{name} data: decompresses to more than 16 MiB (refused)")
        );
    }
    drop(zeros);
    // Compressed, but no module (or no kernel) inside.
    let text = compress("xz", &["--check=crc32"], b"not a module\n");
    let err = unpack::module(&text, Limits::default())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "xz-compressed, but not an ELF module inside");
    let err = unpack::kernel_image(&text, Limits::default())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "xz-compressed, but not a kernel image inside");
    // A payload that decompresses to something else than ELF.
    let not_elf = compress("gzip", &["-n"], b"plain text, no vmlinux");
    let err = unpack::kernel_image(&bzimage(&not_elf), Limits::default())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "the bzImage's gzip payload is not an ELF vmlinux");
}

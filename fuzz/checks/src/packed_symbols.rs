//! Arbitrary bytes as a packed symbol list (what the build-id cache keeps of an image's text
//! symbols, `kallsyms/packed.rs`): reading never panics, and neither does any lookup in what was
//! read, nor packing it again; a lookup ends however its name table or chains are damaged.

use kbuild_lineinfo::kallsyms::Symbols;

pub fn check(data: &[u8]) {
    let Ok(symbols) = Symbols::from_packed(data) else {
        return;
    };
    for name in [
        &b""[..],
        b"a",
        b"f",
        b"__x",
        &data[data.len().min(40)..data.len().min(48)],
    ] {
        let _ = symbols.name(name);
        let _ = symbols.resolve(name, None);
        let _ = symbols.resolve(name, Some(0x10));
    }
    for value in [0, 1, 0x10, 0x1000, u64::MAX] {
        let _ = symbols.containing(0, value);
        let _ = symbols.containing(1, value);
    }
    if let Some(again) = symbols.to_packed() {
        assert!(
            Symbols::from_packed(&again).is_ok(),
            "packed again, not readable"
        );
    }
}

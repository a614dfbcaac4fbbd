//! Arbitrary bytes as a System.map, and as the raw image (`Image`, byte 0 at `_text`) it
//! describes: parsing never panics; every symbol of a parsed map is found again by name; the
//! installed-kernel symbolizer built from the two never panics, and answers each text symbol
//! with that symbol (or nothing), whatever the map claims about where tables lie.

use kbuild_lineinfo::kallsyms::Symbols;
use kbuild_lineinfo::memory::Memory;
use kbuild_lineinfo::symbolize::{Format, Symbolizer};
use kbuild_lineinfo::sysmap::SystemMap;
use kbuild_lineinfo::unpack::ImageKind;

pub fn check(data: &[u8]) {
    let Ok(map) = SystemMap::parse(data) else {
        return;
    };
    for s in map.symbols() {
        let name = String::from_utf8_lossy(s.name);
        if name.as_bytes() == s.name {
            assert!(map.address(&name).is_some(), "{name} not found again");
        }
    }
    let symbols = Symbols::from_map(&map, map.address("_etext"));
    for s in map.symbols().iter().filter(|s| s.is_text()) {
        assert!(
            symbols.name(s.name).is_some(),
            "text symbol {s:?} not found by name"
        );
    }
    let text = map.address("_text").unwrap_or(0);
    let memory = Memory::new(data, ImageKind::Arm64, text).unwrap();
    let _ = map.check_image(&memory);
    let Ok(Ok(symbolizer)) = Symbolizer::installed(&memory, &map, None) else {
        return;
    };
    for s in map.symbols().iter().filter(|s| s.is_text()).take(64) {
        let answer = symbolizer.at_address(s.address);
        if let Some(found) = answer.symbol {
            assert!(found.offset <= found.size.max(1), "{found:?}");
        }
        let _ = symbolizer.at_symbol(s.name, 0, None, Format::Symbol);
        let _ = symbolizer.at_symbol(s.name, 1, Some(1), Format::Backtrace);
    }
}

//! `System.map`: the symbols of a vmlinux as `nm -n` prints them (`ADDRESS TYPE NAME`, one a
//! line; the kernel's `scripts/mksysmap`), for an installed image whose own symbols were
//! stripped (an x86 bzImage's payload, an arm64 `Image`). Pure: text in, symbols out; reading
//! the file is the caller's.
//!
//! Debian installs a placeholder in place of the real map (one line, `ffffffffffffffff B The
//! real System.map is in the linux-image-<version>-dbg package`): it parses to
//! [`ErrorKind::Invalid`] saying so, not to a map of one odd symbol. Lines of symbols without
//! an address (`nm -n`'s `U`, `w`) are left out, as `scripts/mksysmap` leaves them out.

use std::collections::HashMap;

use crate::error::{ErrorKind, Result};
use crate::memory::Memory;

/// One line of a System.map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSymbol<'a> {
    pub address: u64,
    /// `nm`'s type letter: `T`/`t` text, `W` weak, `D`/`d` data, `A` absolute, …
    pub kind: u8,
    pub name: &'a [u8],
}

impl MapSymbol<'_> {
    /// Code as kallsyms sees it: `t`, `T` or a weak `W`/`w` (nm's letter for a weak symbol
    /// that is not an object), its name not a mapping symbol
    /// ([`crate::image::is_mapping_symbol`]).
    pub fn is_text(&self) -> bool {
        matches!(self.kind, b't' | b'T' | b'W' | b'w')
            && !crate::image::is_mapping_symbol(self.name)
    }

    /// Weak (`W`, `w`): kallsyms lists it after the others at the same address.
    pub fn is_weak(&self) -> bool {
        matches!(self.kind, b'W' | b'w')
    }
}

/// A parsed System.map.
#[derive(Debug, Default)]
pub struct SystemMap<'a> {
    /// In file order.
    symbols: Vec<MapSymbol<'a>>,
    /// Name → address of its first line.
    by_name: HashMap<&'a [u8], u64>,
}

/// What Debian's placeholder says, after its address and type.
const PLACEHOLDER: &[u8] = b"The real System.map is in the ";

impl<'a> SystemMap<'a> {
    /// Reads `text`; every line must be `ADDRESS TYPE NAME` (hexadecimal address of at most
    /// 16 digits, one type letter, a name without blanks; an optional `\t[module]` is ignored).
    /// An empty map, Debian's placeholder, or a line of anything else is an error naming the
    /// line.
    pub fn parse(text: &'a [u8]) -> Result<SystemMap<'a>> {
        if let Some(at) = find(text, PLACEHOLDER) {
            let line = text[at..].split(|&b| b == b'\n').next().unwrap_or_default();
            return Err(invalid(format!(
                "a placeholder, not a System.map (\"{}\"): pass the real one, or the debug vmlinux",
                String::from_utf8_lossy(line).trim_end()
            )));
        }
        let mut map = SystemMap::default();
        for (number, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) || is_undefined(line) {
                continue;
            }
            let symbol = parse_line(line).ok_or_else(|| {
                let shown: Vec<u8> = line.iter().copied().take(80).collect();
                invalid(format!(
                    "line {}: not `ADDRESS TYPE NAME`: `{}`",
                    number + 1,
                    String::from_utf8_lossy(&shown)
                ))
            })?;
            map.by_name.entry(symbol.name).or_insert(symbol.address);
            map.symbols.push(symbol);
        }
        if map.symbols.is_empty() {
            return Err(invalid("has no symbols".into()));
        }
        Ok(map)
    }

    /// The address of the first symbol called `name`.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.by_name.get(name.as_bytes()).copied()
    }

    /// Whether this is the System.map of the image in `memory`: its `linux_banner` reads
    /// `Linux version ` there (a map of another build puts it elsewhere), or, in a map without
    /// `linux_banner`, its `_text` lies in the image. `Err` says what does not match.
    pub fn check_image(&self, memory: &Memory<'_>) -> std::result::Result<(), String> {
        const BANNER: &[u8] = b"Linux version ";
        let Some(banner) = self.address("linux_banner") else {
            let text = self.address("_text").ok_or("it has no `_text`")?;
            return match memory.at(text) {
                Some(_) => Ok(()),
                None => Err(format!("its _text ({text:#x}) lies outside the image")),
            };
        };
        match memory.at(banner) {
            Some(bytes) if bytes.starts_with(BANNER) => Ok(()),
            Some(bytes) => Err(format!(
                "its linux_banner ({banner:#x}) reads {:?} in the image, not \"Linux version\"",
                String::from_utf8_lossy(&bytes[..bytes.len().min(BANNER.len())])
            )),
            None => Err(format!(
                "its linux_banner ({banner:#x}) lies outside the image"
            )),
        }
    }

    /// Every symbol, in file order.
    pub fn symbols(&self) -> &[MapSymbol<'a>] {
        &self.symbols
    }
}

fn invalid(message: String) -> crate::Error {
    ErrorKind::Invalid(message).into()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `nm`'s line for a symbol without an address (`U`, weak undefined `w`/`v`): `nm -n` prints
/// them, `scripts/mksysmap` leaves them out; they name no place.
fn is_undefined(line: &[u8]) -> bool {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    matches!(fields.next(), Some(b"U" | b"w" | b"v"))
        && fields.next().is_some()
        && fields.next().is_none()
}

/// `ADDRESS TYPE NAME[\t[module]]`.
fn parse_line(line: &[u8]) -> Option<MapSymbol<'_>> {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let (address, kind, name) = (fields.next()?, fields.next()?, fields.next()?);
    let module = fields.next();
    if fields.next().is_some()
        || module.is_some_and(|m| !(m.starts_with(b"[") && m.ends_with(b"]")))
    {
        return None;
    }
    if address.is_empty() || address.len() > 16 || !address.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let address = u64::from_str_radix(std::str::from_utf8(address).ok()?, 16).ok()?;
    let &[kind] = kind else { return None };
    if !kind.is_ascii_alphabetic() && kind != b'?' {
        return None;
    }
    Some(MapSymbol {
        address,
        kind,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_nm_prints_them() {
        let text = b"ffffffff81000000 T _text\n\
                     ffffffff81000000 T startup_64\r\n\
                     \n\
                     ffffffff81001000 t $x\n\
                     \x20                U printk\n\
                     ffffffff81001010 W arch_weak\n\
                     ffffffff82000000 D linux_banner\n\
                     ffffffff81000000 T _text\n";
        let map = SystemMap::parse(text).unwrap();
        assert_eq!(map.symbols().len(), 6);
        assert_eq!(map.address("_text"), Some(0xffff_ffff_8100_0000));
        assert_eq!(map.address("linux_banner"), Some(0xffff_ffff_8200_0000));
        assert_eq!(map.address("nope"), None);
        let text_names: Vec<&[u8]> = map
            .symbols()
            .iter()
            .filter(|s| s.is_text())
            .map(|s| s.name)
            .collect();
        assert_eq!(
            text_names,
            [&b"_text"[..], b"startup_64", b"arch_weak", b"_text"]
        );
        assert!(map.symbols()[3].is_weak() && !map.symbols()[0].is_weak());
    }

    #[test]
    fn the_placeholder_and_garbage_are_one_error_each() {
        let debian =
            b"ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n";
        let err = SystemMap::parse(debian).unwrap_err().to_string();
        assert_eq!(
            err,
            "a placeholder, not a System.map (\"The real System.map is in the \
             linux-image-<version>-dbg package\"): pass the real one, or the debug vmlinux"
        );
        assert_eq!(
            SystemMap::parse(b"\n \n").unwrap_err().to_string(),
            "has no symbols"
        );
        for (bad, line) in [
            (&b"ffffffff81000000 T\n"[..], 1),
            (b"a T x\nzz T y\n", 2),
            (b"11111111111111111 T x\n", 1),
            (b"1 TT x\n", 1),
            (b"1 T x y\n", 1),
            (b"\x7fELF\x02\x01\x01", 1),
        ] {
            let err = SystemMap::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("line {line}: ")), "{err}");
        }
        let with_module = SystemMap::parse(b"1 t f\t[kvm]\n").unwrap();
        assert_eq!(with_module.symbols()[0].name, b"f");
    }
}

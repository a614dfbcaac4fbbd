//! The default memory budget for running jobs: half of `MemAvailable`, at least 1 GiB.
//!
//! Owns reading `/proc/meminfo`; used by [`super::jobserver`] when it builds the slots.

/// Smallest budget ever chosen by default, so a tight machine still runs something in parallel.
const MIN_BUDGET: u64 = 1 << 30;

/// Half of `MemAvailable` from `/proc/meminfo`, at least 1 GiB (also when it cannot be read).
pub fn default_budget() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_available(&text));
    available.map_or(0, |bytes| bytes / 2).max(MIN_BUDGET)
}

/// Bytes of the `MemAvailable:` line of a `/proc/meminfo` text (which counts in kB).
fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line["MemAvailable:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kib.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mem_available_in_kib() {
        let text = "MemTotal:       32000000 kB\nMemFree:  1 kB\nMemAvailable:   24200220 kB\n";
        assert_eq!(parse_mem_available(text), Some(24_200_220 * 1024));
    }

    #[test]
    fn rejects_missing_or_odd_lines() {
        assert_eq!(parse_mem_available("MemFree: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: x kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: 5 MB\n"), None);
    }

    #[test]
    fn default_budget_is_at_least_one_gib() {
        assert!(default_budget() >= MIN_BUDGET);
    }
}

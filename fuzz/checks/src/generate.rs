//! A deterministic stream of inputs for `replay`: from a fixed seed, each input is a corpus
//! entry (or, without a corpus, random bytes) changed by a few of libFuzzer's own kinds of
//! mutation: bit flips, interesting values written over bytes and words (0, -1, the
//! signed limits, small numbers, sizes of the input), truncation, insertion, a chunk copied
//! within the input, a splice with another entry. The same seed and corpus give the same inputs.

/// splitmix64: small, fast, and the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// The longest input made from nothing (targets without a corpus).
const MAX_RANDOM_LEN: usize = 1024;

/// One generated input: which corpus entry it came from (`None`: random bytes) and its bytes.
#[derive(Debug)]
pub struct Generated {
    pub base: Option<usize>,
    pub bytes: Vec<u8>,
}

/// The next input made from `corpus` with `rng`: one to eight mutations of one entry.
pub fn input(rng: &mut Rng, corpus: &[Vec<u8>]) -> Generated {
    if corpus.is_empty() {
        let len = rng.below(MAX_RANDOM_LEN + 1);
        let bytes = (0..len).map(|_| rng.next_u64() as u8).collect();
        return Generated { base: None, bytes };
    }
    let base = rng.below(corpus.len());
    let mut bytes = corpus[base].clone();
    for _ in 0..1 + rng.below(8) {
        mutate(rng, &mut bytes, corpus);
    }
    Generated {
        base: Some(base),
        bytes,
    }
}

/// One mutation of `bytes`, in place.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = bytes.len();
    match rng.below(7) {
        0 if len > 0 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            bytes[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)];
        }
        2 => {
            let word = interesting_word(rng, len);
            let width = [2, 4, 8][rng.below(3)];
            let at = rng.below(len.saturating_sub(width) + 1);
            let end = (at + width).min(len);
            let value = if rng.below(2) == 0 {
                word.to_le_bytes()
            } else {
                word.to_be_bytes()
            };
            bytes[at..end].copy_from_slice(&value[..end - at]);
        }
        3 => bytes.truncate(rng.below(len + 1)),
        4 => {
            let at = rng.below(len + 1);
            let count = 1 + rng.below(16);
            let insert: Vec<u8> = (0..count).map(|_| rng.next_u64() as u8).collect();
            bytes.splice(at..at, insert);
        }
        5 if len > 1 => {
            let from = rng.below(len);
            let count = 1 + rng.below((len - from).min(256));
            let to = rng.below(len - count + 1);
            bytes.copy_within(from..from + count, to);
        }
        _ => {
            let other = &corpus[rng.below(corpus.len())];
            let keep = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            bytes.truncate(keep);
            bytes.extend_from_slice(&other[from..]);
        }
    }
}

/// A value that tends to find bugs in a length, an offset or a count field.
fn interesting_word(rng: &mut Rng, len: usize) -> u64 {
    let len = len as u64;
    match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => u64::from(u32::MAX),
        4 => i64::MAX as u64,
        5 => i32::MAX as u64,
        6 => len,
        7 => len.wrapping_add(1),
        8 => u64::MAX - 7,
        _ => rng.next_u64() >> rng.below(64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_inputs() {
        let corpus = vec![b"hello, world".to_vec(), vec![0; 40]];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|_| input(&mut rng, &corpus).bytes)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mutations_change_inputs() {
        let corpus = vec![vec![0x55; 64]];
        let mut rng = Rng::new(1);
        let changed = (0..100)
            .filter(|_| input(&mut rng, &corpus).bytes != corpus[0])
            .count();
        assert!(
            changed > 90,
            "{changed} of 100 inputs differ from their base"
        );
    }
}

//! The point stream's order: per-chunk buffers of points in line-program order, merged into one
//! vector sorted by (address, ends first) exactly as a stable sort of their concatenation would
//! be, without sorting it whole.
//!
//! Line programs are mostly sorted already: every sequence ascends, and sequences of different
//! units rarely overlap in a linked image. So the concatenation is cut into ascending runs (at
//! most one sequence each), the runs are ordered by their first key (then by position), and runs that overlap are
//! grouped into clusters. Clusters are separated by strictly increasing keys, so each is placed
//! as a whole: a lone run is copied, a cluster of several runs is gathered in input order and
//! stable-sorted alone (addresses of discarded functions, all at 0, meet there).

/// From `address` on, the code is at `names[file]:line`; `line == 0` means "no answer" (the end
/// of a sequence, or a row without a line or a file: docs/format.md §1 rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub address: u64,
    pub file: u32,
    pub line: u32,
}

impl Point {
    pub fn is_end(&self) -> bool {
        self.line == 0
    }
}

/// Points per block of a [`PointBuf`]: 1 MiB, so that a buffer grows without copying.
const BLOCK: usize = 1 << 16;

/// Points in line-program order, in blocks that never move once written.
#[derive(Debug, Default)]
pub(super) struct PointBuf {
    blocks: Vec<Vec<Point>>,
    len: usize,
}

impl PointBuf {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends `points` (in order).
    pub(super) fn extend_from_slice(&mut self, mut points: &[Point]) {
        while !points.is_empty() {
            let room = match self.blocks.last() {
                Some(block) if block.len() < BLOCK => BLOCK - block.len(),
                _ => {
                    self.blocks.push(Vec::with_capacity(BLOCK));
                    BLOCK
                }
            };
            let (now, rest) = points.split_at(room.min(points.len()));
            let block = self.blocks.last_mut().expect("a block with room");
            block.extend_from_slice(now);
            self.len += now.len();
            points = rest;
        }
    }

    /// Applies `f` to every point.
    pub(super) fn for_each_mut(&mut self, mut f: impl FnMut(&mut Point)) {
        self.blocks.iter_mut().flatten().for_each(&mut f);
    }

    fn slices(&self) -> impl Iterator<Item = &[Point]> {
        self.blocks.iter().map(Vec::as_slice)
    }
}

/// The sort key: by address, and at one address ends (no answer) before rows.
#[inline]
fn key(p: &Point) -> (u64, bool) {
    (p.address, !p.is_end())
}

/// An ascending stretch of the input.
#[derive(Debug, Clone, Copy)]
struct Run<'a> {
    points: &'a [Point],
    /// Position in the input order (runs are numbered in order).
    index: usize,
}

impl Run<'_> {
    fn first(&self) -> (u64, bool) {
        key(&self.points[0])
    }
    fn last(&self) -> (u64, bool) {
        key(&self.points[self.points.len() - 1])
    }
}

/// Every point of `parts`, concatenated in order, then stably sorted by [`key`].
pub(super) fn sorted(parts: &[PointBuf]) -> Vec<Point> {
    let total: usize = parts.iter().map(PointBuf::len).sum();
    let mut runs = Vec::new();
    for slice in parts.iter().flat_map(PointBuf::slices) {
        let mut start = 0;
        for i in 1..slice.len() {
            // A run ends where the keys go down, and after each sequence's end: the next
            // sequence may ascend from it but belongs elsewhere (discarded code at address 0
            // followed by real code would make one run span the whole address space).
            if key(&slice[i]) < key(&slice[i - 1]) || slice[i - 1].is_end() {
                runs.push(Run {
                    points: &slice[start..i],
                    index: runs.len(),
                });
                start = i;
            }
        }
        if start < slice.len() {
            runs.push(Run {
                points: &slice[start..],
                index: runs.len(),
            });
        }
    }
    // Stable, so runs with one first key keep their input order; mostly in order already.
    runs.sort_by_key(Run::first);

    let mut out = Vec::with_capacity(total);
    let mut cluster: Vec<Run<'_>> = Vec::new();
    let mut cluster_last = (0, false);
    for run in runs {
        if !cluster.is_empty() && run.first() > cluster_last {
            place(&mut cluster, &mut out);
        }
        if cluster.is_empty() || run.last() > cluster_last {
            cluster_last = run.last();
        }
        cluster.push(run);
    }
    place(&mut cluster, &mut out);
    debug_assert_eq!(out.len(), total);
    out
}

/// Appends the points of a cluster of runs, sorted; empties the cluster.
fn place(cluster: &mut Vec<Run<'_>>, out: &mut Vec<Point>) {
    if let [run] = cluster.as_slice() {
        out.extend_from_slice(run.points);
    } else if !cluster.is_empty() {
        cluster.sort_unstable_by_key(|r| r.index);
        let start = out.len();
        for run in cluster.iter() {
            out.extend_from_slice(run.points);
        }
        out[start..].sort_by_key(key);
    }
    cluster.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pt(address: u64, line: u32) -> Point {
        Point {
            address,
            file: 0,
            line,
        }
    }

    /// The oracle: the standard library's stable sort of the concatenation.
    fn std_sorted(parts: &[Vec<Point>]) -> Vec<Point> {
        let mut all: Vec<Point> = parts.iter().flatten().copied().collect();
        all.sort_by_key(key);
        all
    }

    fn bufs(parts: &[Vec<Point>]) -> Vec<PointBuf> {
        parts
            .iter()
            .map(|p| {
                let mut buf = PointBuf::default();
                p.iter().for_each(|&x| buf.extend_from_slice(&[x]));
                buf
            })
            .collect()
    }

    #[test]
    fn equal_keys_across_runs_keep_input_order() {
        // The later run ends where the earlier one starts: a stable sort keeps the earlier
        // run's point at 100 first.
        let parts = vec![vec![pt(100, 1), pt(110, 2)], vec![pt(90, 3), pt(100, 4)]];
        assert_eq!(sorted(&bufs(&parts)), std_sorted(&parts));
        assert_eq!(
            sorted(&bufs(&parts))
                .iter()
                .map(|p| p.line)
                .collect::<Vec<_>>(),
            vec![3, 1, 4, 2]
        );
    }

    #[test]
    fn ends_sort_before_rows_at_one_address() {
        let parts = vec![
            vec![pt(0x10, 1), pt(0x20, 0)],
            vec![pt(0x20, 5), pt(0x30, 0)],
        ];
        assert_eq!(sorted(&bufs(&parts)), std_sorted(&parts));
        let parts = vec![vec![pt(0x20, 5), pt(0x20, 0)]];
        assert_eq!(sorted(&bufs(&parts))[0].line, 0);
    }

    #[test]
    fn blocks_longer_than_one_block_merge_like_one_run() {
        let parts: Vec<Vec<Point>> = vec![(0..(BLOCK as u64 * 2 + 7))
            .map(|a| pt(a * 2, 1 + (a % 5) as u32))
            .collect()];
        assert_eq!(sorted(&bufs(&parts)), std_sorted(&parts));
    }

    proptest! {
        #[test]
        fn same_as_a_stable_sort(
            parts in prop::collection::vec(
                prop::collection::vec((0u64..64, 0u32..4, 0u32..3), 0..40), 0..6)
        ) {
            let parts: Vec<Vec<Point>> = parts
                .into_iter()
                .map(|p| p.into_iter().map(|(address, file, line)| Point { address, file, line }).collect())
                .collect();
            prop_assert_eq!(sorted(&bufs(&parts)), std_sorted(&parts));
        }

        #[test]
        fn same_as_a_stable_sort_on_ascending_sequences(
            seqs in prop::collection::vec((0u64..1000, prop::collection::vec(0u64..8, 1..20)), 0..30),
            cut in 1usize..5,
        ) {
            // Sequences like a line program's: ascending rows, an end after them.
            let mut all = Vec::new();
            for (start, steps) in seqs {
                let mut a = start;
                for (i, s) in steps.iter().enumerate() {
                    all.push(pt(a, 1 + i as u32));
                    a += s;
                }
                all.push(pt(a, 0));
            }
            let parts: Vec<Vec<Point>> = all.chunks(all.len().div_ceil(cut).max(1)).map(<[Point]>::to_vec).collect();
            prop_assert_eq!(sorted(&bufs(&parts)), std_sorted(&parts));
        }
    }
}

//! Where each record of a request came from, so that `send`'s journal can
//! record records, not request bytes (SPEC §10.5).
//!
//! A record (log record, span or data point) is named by its file (an
//! index into the run's selected files) and its ordinal: its position among
//! that signal's records of that file, in line order (a metric row's points
//! in the order the row gives them). The extension only ever appends to a
//! file, so a record keeps its name across runs over the same window
//! whatever else changed: the request size, the concurrency, a file deleted
//! or appended to, the way the input was cut into chunks.
//!
//! [`Origins`] lists a request's records in document order as runs of
//! consecutive ordinals; [`Delivered`] is what a journal says was
//! acknowledged, per file, as merged ranges.

use std::collections::HashMap;
use std::sync::Arc;

/// One record: its file and its ordinal among the signal's records there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    pub file: u32,
    pub ordinal: u64,
}

/// The records of a request, in document order, as runs
/// `(file, first ordinal, end ordinal)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    runs: Vec<(u32, u64, u64)>,
    len: u64,
}

impl Origins {
    /// Appends a record; one after the previous one extends its run.
    pub fn push(&mut self, id: RecordId) {
        self.len += 1;
        if let Some((file, _, end)) = self.runs.last_mut() {
            if *file == id.file && *end == id.ordinal {
                *end += 1;
                return;
            }
        }
        self.runs.push((id.file, id.ordinal, id.ordinal + 1));
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn runs(&self) -> &[(u32, u64, u64)] {
        &self.runs
    }

    /// The first `n` records and the rest (document order), as a request
    /// halved by records is cut.
    pub fn split_at(&self, n: u64) -> (Origins, Origins) {
        let (mut a, mut b) = (Origins::default(), Origins::default());
        let mut left = n;
        for &(file, from, to) in &self.runs {
            let take = left.min(to - from);
            if take > 0 {
                a.runs.push((file, from, from + take));
                a.len += take;
                left -= take;
            }
            if from + take < to {
                b.runs.push((file, from + take, to));
                b.len += to - from - take;
            }
        }
        (a, b)
    }
}

/// Sorted, disjoint, non-adjacent ranges `[from, to)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet(Vec<(u64, u64)>);

impl RangeSet {
    pub fn insert(&mut self, from: u64, to: u64) {
        if from >= to {
            return;
        }
        // Appending in order is the common case (a journal read front to back).
        match self.0.last_mut() {
            Some(last) if from >= last.0 && from <= last.1 => {
                last.1 = last.1.max(to);
                return;
            }
            Some(last) if from > last.1 => {
                self.0.push((from, to));
                return;
            }
            None => {
                self.0.push((from, to));
                return;
            }
            Some(_) => {}
        }
        // Anywhere else: merge every range it touches.
        let lo = self.0.partition_point(|r| r.1 < from);
        let hi = self.0.partition_point(|r| r.0 <= to);
        let (mut f, mut t) = (from, to);
        if lo < hi {
            f = f.min(self.0[lo].0);
            t = t.max(self.0[hi - 1].1);
        }
        self.0.splice(lo..hi, [(f, t)]);
    }

    pub fn contains(&self, x: u64) -> bool {
        let i = self.0.partition_point(|r| r.1 <= x);
        self.0.get(i).is_some_and(|r| r.0 <= x)
    }

    /// How many ordinals it holds.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|r| r.1 - r.0).sum()
    }

    #[cfg(test)]
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.0
    }
}

/// The records of one signal a journal says were acknowledged, by file.
#[derive(Clone, Debug, Default)]
pub struct Delivered {
    files: HashMap<u32, RangeSet>,
}

impl Delivered {
    pub fn insert(&mut self, file: u32, from: u64, to: u64) {
        self.files.entry(file).or_default().insert(from, to);
    }

    pub fn contains(&self, id: RecordId) -> bool {
        self.files.get(&id.file).is_some_and(|r| r.contains(id.ordinal))
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Records it holds.
    pub fn count(&self) -> u64 {
        self.files.values().map(RangeSet::count).sum()
    }
}

/// Numbers each record of one signal as a writer meets them (file order),
/// and says which a journal already holds.
#[derive(Clone, Debug, Default)]
pub struct Numbering {
    file: Option<u32>,
    next: u64,
}

impl Numbering {
    /// The id of the next record, in `file`.
    pub fn next(&mut self, file: u32) -> RecordId {
        if self.file != Some(file) {
            self.file = Some(file);
            self.next = 0;
        }
        let id = RecordId {
            file,
            ordinal: self.next,
        };
        self.next += 1;
        id
    }

    /// The id the first of `n` records in `file` gets; the next call goes on after them.
    pub fn reserve(&mut self, file: u32, n: u64) -> RecordId {
        let first = self.next(file);
        self.next = first.ordinal + n;
        first
    }
}

/// A writer's numbering for a send: each record's id, and whether the
/// journal already holds it (those are counted, not sent).
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    numbering: Numbering,
    delivered: Arc<Delivered>,
    /// Records skipped because the journal holds them.
    pub journalled: u64,
}

impl Tracker {
    pub fn new(delivered: Arc<Delivered>) -> Self {
        Self {
            delivered,
            ..Self::default()
        }
    }

    /// The next record's id in `file`, or `None` when it was delivered before.
    pub fn next(&mut self, file: u32) -> Option<RecordId> {
        let id = self.numbering.next(file);
        self.fresh(id).then_some(id)
    }

    /// The id of the first of `n` records of `file`.
    pub fn reserve(&mut self, file: u32, n: u64) -> RecordId {
        self.numbering.reserve(file, n)
    }

    /// Whether `id` is still to be sent (else it is counted as journalled).
    pub fn fresh(&mut self, id: RecordId) -> bool {
        let done = self.delivered.contains(id);
        self.journalled += u64::from(done);
        !done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(file: u32, ordinal: u64) -> RecordId {
        RecordId { file, ordinal }
    }

    #[test]
    fn origins_join_consecutive_records_and_split_by_count() {
        let mut o = Origins::default();
        for i in [0, 1, 2, 7, 8] {
            o.push(id(0, i));
        }
        o.push(id(1, 0));
        assert_eq!(o.runs(), &[(0, 0, 3), (0, 7, 9), (1, 0, 1)]);
        assert_eq!(o.len(), 6);
        let (a, b) = o.split_at(4);
        assert_eq!(a.runs(), &[(0, 0, 3), (0, 7, 8)]);
        assert_eq!(b.runs(), &[(0, 8, 9), (1, 0, 1)]);
        assert_eq!((a.len(), b.len()), (4, 2));
    }

    #[test]
    fn range_sets_merge_out_of_order_inserts() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(0, 5);
        assert_eq!(r.ranges(), &[(0, 5), (10, 20), (30, 40)]);
        r.insert(5, 10);
        assert_eq!(r.ranges(), &[(0, 20), (30, 40)]);
        r.insert(15, 35);
        assert_eq!(r.ranges(), &[(0, 40)]);
        assert!(r.contains(0) && r.contains(39) && !r.contains(40));
        assert_eq!(r.count(), 40);
    }

    #[test]
    fn numbering_restarts_at_each_file() {
        let mut n = Numbering::default();
        assert_eq!(n.next(0), id(0, 0));
        assert_eq!(n.reserve(0, 3), id(0, 1));
        assert_eq!(n.next(0), id(0, 4));
        assert_eq!(n.next(2), id(2, 0));
    }
}

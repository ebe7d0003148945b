//! Event counts of a chunk, a file, or a whole export.

/// What was exported, dropped and skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Valid events in range (exported).
    pub events: u64,
    pub logs: u64,
    pub spans: u64,
    pub metric_events: u64,
    pub metric_points: u64,
    /// Metric measurements dropped for having no finite value.
    pub dropped_values: u64,
    /// Valid events of selected files whose timestamp is outside the range.
    pub out_of_range: u64,
    /// The earliest and latest timestamp exported (ns), if any event was.
    pub first: Option<i64>,
    pub last: Option<i64>,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.events += o.events;
        self.logs += o.logs;
        self.spans += o.spans;
        self.metric_events += o.metric_events;
        self.metric_points += o.metric_points;
        self.dropped_values += o.dropped_values;
        self.out_of_range += o.out_of_range;
        self.first = min_some(self.first, o.first);
        self.last = o.last.max(self.last);
    }

    /// Counts one exported event at `time` (ns).
    pub fn saw(&mut self, time: i64) {
        self.events += 1;
        self.first = min_some(self.first, Some(time));
        self.last = self.last.max(Some(time));
    }
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What the manifest says of one source file: few bytes, so that 300,000
/// files cost a few MB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub events: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Skipped as a whole: no chunk of it could be read (it could not be
    /// opened, its header has an unsupported schema_version, it is no longer
    /// a regular file). Not a source file read: neither counted as read nor
    /// listed in the manifest, only among the skipped files (§6.7, §7.1).
    pub skipped: bool,
}

impl FileCounts {
    pub fn add(&mut self, c: &Counts) {
        self.events += c.events;
        self.first = min_some(self.first, c.first);
        self.last = c.last.max(self.last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_counts_keeps_the_earliest_and_latest_times() {
        let mut a = Counts::default();
        a.saw(5);
        let mut b = Counts::default();
        b.saw(3);
        b.saw(9);
        a.add(&b);
        assert_eq!((a.events, a.first, a.last), (3, Some(3), Some(9)));
        let mut f = FileCounts::default();
        f.add(&a);
        f.add(&Counts::default());
        assert_eq!((f.events, f.first, f.last), (3, Some(3), Some(9)));
    }
}

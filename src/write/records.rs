//! Log and span records -> an envelope, one resource block per run of the
//! same block key. The records arrive encoded; this only splices them.
//! For a send it also numbers each record ([`Tracker`]), leaves out those
//! the journal holds, and tells the envelope which records each request has.

use std::io;
use std::sync::Arc;

use super::envelope::{EnvelopeWriter, Layout, WriterSummary};
use super::Writer;
use crate::model::{BlockKey, Pools, Segment, Tracker};

pub struct RecordWriter {
    out: EnvelopeWriter,
    key: Option<BlockKey>,
    pools: Arc<Pools>,
    tracker: Option<Tracker>,
}

impl RecordWriter {
    pub fn new(out: EnvelopeWriter, pools: Arc<Pools>) -> Self {
        Self {
            out,
            key: None,
            pools,
            tracker: None,
        }
    }

    /// Numbers the records and leaves out those `tracker`'s journal holds.
    pub fn tracked(self, tracker: Tracker) -> Self {
        Self {
            out: self.out.tracking_origins(),
            tracker: Some(tracker),
            ..self
        }
    }

    fn segment(&mut self, seg: &Segment) -> io::Result<()> {
        if self.key.as_ref() != Some(&seg.key) {
            self.out.begin_block(seg.head.clone())?;
            self.key = Some(seg.key.clone());
        }
        if let Some(t) = &mut self.tracker {
            for r in seg.records() {
                if let Some(id) = t.next(seg.file) {
                    self.out.record(r)?;
                    self.out.note(id);
                }
            }
            return Ok(());
        }
        if self.out.layout() == Layout::Single {
            // The whole segment at once: it is already comma-joined.
            return self.out.joined_records(&seg.data, seg.ends.len());
        }
        for r in seg.records() {
            self.out.record(r)?;
        }
        Ok(())
    }
}

impl Writer for RecordWriter {
    type Batch = Vec<Segment>;

    fn write(&mut self, segs: Vec<Segment>) -> io::Result<()> {
        for seg in segs {
            self.segment(&seg)?;
            self.pools.records(self.out.signal()).recycle(seg);
        }
        Ok(())
    }

    fn finish(self) -> io::Result<WriterSummary> {
        let journalled = self.tracker.map_or(0, |t| t.journalled);
        Ok(WriterSummary {
            journalled,
            ..self.out.finish()?
        })
    }
}

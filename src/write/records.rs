//! Log and span records -> an envelope, one resource block per run of the
//! same block key. The records arrive encoded; this only splices them.

use std::io;
use std::sync::Arc;

use super::envelope::{EnvelopeWriter, Layout, WriterSummary};
use super::Writer;
use crate::model::{BlockKey, Pools, Segment};

pub struct RecordWriter {
    out: EnvelopeWriter,
    key: Option<BlockKey>,
    pools: Arc<Pools>,
}

impl RecordWriter {
    pub fn new(out: EnvelopeWriter, pools: Arc<Pools>) -> Self {
        Self { out, key: None, pools }
    }

    fn segment(&mut self, seg: &Segment) -> io::Result<()> {
        if self.key.as_ref() != Some(&seg.key) {
            self.out.begin_block(seg.head.clone())?;
            self.key = Some(seg.key.clone());
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
            self.pools.recycle_segment(seg);
        }
        Ok(())
    }

    fn finish(self) -> io::Result<WriterSummary> {
        self.out.finish()
    }
}

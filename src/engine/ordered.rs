//! The ordered consumer: every chunk of every file, in file order.
//!
//! Chunks are submitted in file order while the window has room, come back
//! in any order, wait in a reorder buffer, and leave it in order: their
//! problems and counts are recorded and their output delivered (to the
//! envelope writers, for OTLP; nowhere, for the strict pre-check of a JSON
//! export). A chunk counts against the window from its submission until it
//! leaves, so the reorder buffer is bounded too. A chunk whose output
//! outgrows its share hands it on in parts once it is the next to leave
//! ([`super::Turn`]); those are delivered at once. Each delivery names the
//! selected file the output came from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Books, Engine, EngineError, Handoff, Received, Run, Turn, ChunkSink};
use crate::heap::Trim;
use crate::report::Problems;

/// Runs every chunk through a sink `make` builds, delivering each chunk's
/// output in file order with the index of its file; returns the books.
pub fn run<S, F, D>(run: &Run<'_>, make: F, problems: &mut Problems, mut deliver: D) -> Result<Books, EngineError>
where
    S: ChunkSink,
    F: Fn(Handoff<S::Out>) -> S + Sync,
    D: FnMut(usize, S::Out) -> Result<(), EngineError>,
{
    let mut books = Books::new(run.files.len());
    let make = &make;
    let turn = Arc::new(Turn::default());
    let result = run.pool.in_place_scope_fifo(|scope| -> Result<(), EngineError> {
        let mut engine = Engine::new(run, turn.clone());
        let mut chunks = (0..run.files.len()).flat_map(|f| run.chunks(f));
        let (mut submitted, mut next) = (0u64, 0u64);
        let mut waiting = BTreeMap::new();
        // The file of each chunk from `next` on, in submission order.
        let mut files = VecDeque::new();
        let mut exhausted = false;
        let mut trim = Trim::default();
        let result = (|| loop {
            while !exhausted && engine.inflight() + waiting.len() < run.budget.window {
                match chunks.next() {
                    Some(chunk) => {
                        files.push_back(chunk.file);
                        engine.submit(scope, submitted, chunk, make);
                        submitted += 1;
                    }
                    None => exhausted = true,
                }
            }
            if next == submitted {
                return Ok(());
            }
            match engine.receive()? {
                // Only the next chunk hands parts on: deliver at once.
                Received::Part(tag, part) if tag == next => {
                    let file = files.front().copied().ok_or(EngineError::Internal("a part of no chunk"))?;
                    deliver(file, part)?;
                    turn.ack();
                }
                Received::Part(..) => return Err(EngineError::Internal("a chunk handed output on out of turn")),
                Received::Done(tag, done) => {
                    waiting.insert(tag, done);
                    while let Some(done) = waiting.remove(&next) {
                        next += 1;
                        books.record(run, done.chunk, &done.report, problems)?;
                        trim.advance(done.report.bytes);
                        files.pop_front();
                        deliver(done.chunk.file, done.out)?;
                        turn.advance(next);
                    }
                }
            }
        })();
        if result.is_err() {
            // Workers stop between lines, and stop waiting for their turn;
            // the scope waits for them.
            run.cancel.store(true, Ordering::Relaxed);
            turn.stop();
        }
        result
    });
    result.map(|()| books)
}
//! The ordered writers: encoded output in, requests out. Every writer
//! takes its signal's batches in file order on a thread of its own
//! ([`spawn`]), behind one trait ([`Writer`]): log records and spans
//! ([`records`]), metric points grouped into series ([`series`]). The
//! envelope writer lays the requests out ([`envelope`]), and its entry
//! sink hashes and writes them on other threads, or hands them to a send
//! ([`sink`]).

pub mod envelope;
pub mod series;
pub mod records;
pub mod sink;

use std::io;

use crossbeam_channel::{bounded, Sender};

pub use envelope::WriterSummary;

/// An ordered consumer of one signal's encoded batches.
pub trait Writer: Send {
    type Batch: Send;
    fn write(&mut self, batch: Self::Batch) -> io::Result<()>;
    fn finish(self) -> io::Result<WriterSummary>;
}

/// Batches queued for a writer thread.
const QUEUE: usize = 2;

/// A running writer thread: joined, it gives the summary or the writer's first error.
pub type Running<'s> = std::thread::ScopedJoinHandle<'s, io::Result<WriterSummary>>;

/// Runs `w` on a thread named `name` in `scope`, fed through a bounded
/// queue; the thread ends when the sender is dropped, with the summary or
/// the writer's first error.
pub fn spawn<'s, 'e, W: Writer + 's>(
    scope: &'s std::thread::Scope<'s, 'e>,
    name: &str,
    w: W,
) -> io::Result<(Sender<W::Batch>, Running<'s>)> {
    let (tx, rx) = bounded::<W::Batch>(QUEUE);
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, move || {
            let mut w = w;
            for batch in rx {
                w.write(batch)?;
            }
            w.finish()
        })?;
    Ok((tx, handle))
}

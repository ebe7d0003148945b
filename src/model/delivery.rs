//! What a send did, as the summary reports it: per signal, the requests
//! and records acknowledged, rejected, retried, failed or left unsent, and
//! each failure in words. Filled by the delivery layers, read by the
//! report; here so that the report needs no destination.

use serde_json::{json, Value};

use super::signal::Signal;

/// What happened to one signal's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalStats {
    /// Requests acknowledged (2xx), halves of a split request included.
    pub requests: u64,
    /// Records in acknowledged requests, less those the endpoint rejected.
    pub records: u64,
    /// Records an endpoint acknowledged but rejected (partial success).
    pub rejected: u64,
    /// Attempts that were retried.
    pub retried: u64,
    /// Records the journal says were delivered before: not sent again.
    pub journalled: u64,
    /// Requests that failed, and their records.
    pub failed_requests: u64,
    pub failed_records: u64,
    /// Requests not sent because the send stopped (interrupted, or no
    /// progress for --max-elapsed, or the journal could not be written).
    pub unsent_requests: u64,
    pub unsent_records: u64,
    /// Request bodies before compression, and as sent.
    pub bytes: u64,
    pub wire_bytes: u64,
}

/// A request that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub signal: &'static str,
    /// The URL it was sent to (without password).
    pub url: String,
    /// The HTTP status (gRPC: the status code), or none for a connection
    /// error or timeout.
    pub status: Option<u16>,
    /// Whether `status` is a gRPC code.
    pub grpc: bool,
    pub records: u64,
    pub message: String,
}

/// Acknowledged requests the journal could not record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unrecorded {
    pub error: String,
    pub requests: u64,
    pub records: u64,
}

/// The result of a send.
#[derive(Clone, Debug, Default)]
pub struct DeliverySummary {
    pub dry_run: bool,
    pub protocol: String,
    /// Some signal goes over gRPC with compression: tonic compresses its
    /// messages as it sends them, so a dry run has no compressed size.
    pub grpc_compresses: bool,
    pub endpoints: Vec<String>,
    pub signals: [SignalStats; 3],
    pub failures: Vec<Failure>,
    /// Messages of partial successes, and rejections per signal.
    pub warnings: Vec<String>,
    /// Why the send stopped before the end of the range.
    pub stopped: Option<String>,
    /// Acknowledged requests the journal could not record (sent again by a resume).
    pub unrecorded: Option<Unrecorded>,
    /// Damaged journal lines: their records were sent again.
    pub journal_damaged: u64,
}

impl Failure {
    /// `logs: a request of 120 records to URL failed (400): message`.
    pub fn describe(&self) -> String {
        let status = match self.status {
            None => "no response".to_string(),
            Some(s) if self.grpc => format!("gRPC status {s}"),
            Some(s) => s.to_string(),
        };
        let records = if self.records == 1 { "1 record".to_string() } else { format!("{} records", self.records) };
        format!(
            "{}: a request of {records} to {} failed ({status}): {}",
            self.signal, self.url, self.message
        )
    }
}

impl DeliverySummary {
    /// Whether anything was left undelivered.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || self.stopped.is_some() || self.unrecorded.is_some()
    }

    pub fn json(&self) -> Value {
        let signals: serde_json::Map<String, Value> = Signal::ALL
            .map(Signal::name)
            .iter()
            .zip(&self.signals)
            .map(|(name, s)| {
                (
                    name.to_string(),
                    json!({
                        "requests": s.requests,
                        "records": s.records,
                        "rejected": s.rejected,
                        "retried": s.retried,
                        "skipped_records": s.journalled,
                        "failed_requests": s.failed_requests,
                        "failed_records": s.failed_records,
                        "unsent_requests": s.unsent_requests,
                        "unsent_records": s.unsent_records,
                        "bytes": s.bytes,
                        "wire_bytes": s.wire_bytes,
                    }),
                )
            })
            .collect();
        json!({
            "dry_run": self.dry_run,
            "protocol": self.protocol,
            "endpoints": self.endpoints,
            "signals": signals,
            "failures": self.failures.iter().map(|f| json!({
                "signal": f.signal,
                "url": f.url,
                "status": f.status,
                "grpc_status": f.grpc,
                "records": f.records,
                "message": f.message,
            })).collect::<Vec<_>>(),
            "warnings": self.warnings,
            "stopped": self.stopped,
            "journal_unrecorded": self.unrecorded.as_ref().map(|u| json!({
                "error": u.error,
                "requests": u.requests,
                "records": u.records,
            })),
            "journal_damaged_lines": self.journal_damaged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_request_of_one_record_says_record() {
        let mut f = Failure {
            signal: "traces",
            url: "http://h:4318/v1/traces".into(),
            status: Some(400),
            grpc: false,
            records: 1,
            message: "bad".into(),
        };
        assert_eq!(
            f.describe(),
            "traces: a request of 1 record to http://h:4318/v1/traces failed (400): bad"
        );
        f.records = 2;
        assert!(f.describe().contains("a request of 2 records"), "{}", f.describe());
    }
}

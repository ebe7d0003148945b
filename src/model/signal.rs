//! The one identity of an OTLP signal: what routing decides (§4), which
//! envelope, file, URL path, journal line and summary entry a record goes
//! to. Every stage that names or indexes a signal asks this type, so that
//! "logs", index 0 and `resourceLogs` cannot drift apart.

/// Where an event is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Log,
    Span,
    Metric,
}

impl Signal {
    /// Every signal, in the order of per-signal arrays (logs, traces, metrics).
    pub const ALL: [Signal; 3] = [Signal::Log, Signal::Span, Signal::Metric];

    /// Its place in per-signal arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// `logs`, `traces` or `metrics`: the OTLP/HTTP path (`/v1/<name>`), the
    /// file name, the journal's and the summary's key.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Log => "logs",
            Signal::Span => "traces",
            Signal::Metric => "metrics",
        }
    }

    /// The signal of a [`Signal::name`].
    pub fn named(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The request's top-level OTLP/JSON field.
    pub fn resources_field(self) -> &'static str {
        match self {
            Signal::Log => "resourceLogs",
            Signal::Span => "resourceSpans",
            Signal::Metric => "resourceMetrics",
        }
    }

    /// A resource's list of scopes.
    pub fn scopes_field(self) -> &'static str {
        match self {
            Signal::Log => "scopeLogs",
            Signal::Span => "scopeSpans",
            Signal::Metric => "scopeMetrics",
        }
    }

    /// A scope's list of records.
    pub fn records_field(self) -> &'static str {
        match self {
            Signal::Log => "logRecords",
            Signal::Span => "spans",
            Signal::Metric => "metrics",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_is_found_by_its_name_at_its_index() {
        for (i, s) in Signal::ALL.into_iter().enumerate() {
            assert_eq!(s.index(), i);
            assert_eq!(Signal::named(s.name()), Some(s));
        }
        assert_eq!(Signal::named("log"), None);
    }
}

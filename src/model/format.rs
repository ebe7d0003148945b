//! The output formats of `export` (`--format`): what each is called, how
//! the summary names it, and the end of a suggested output name. Here,
//! not in the configuration, because the summary names the format too.

/// `--format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One JSON array of events (§5).
    #[default]
    Json,
    /// The same events as JSON Lines: one per line, in the same order.
    Jsonl,
    /// OTLP/JSON envelopes and a manifest (§6).
    Otlp,
}

impl Format {
    /// As `--format` and the manifest name it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Otlp => "otlp",
        }
    }

    /// As the summary names it.
    pub fn description(self) -> &'static str {
        match self {
            Format::Json => "a JSON array",
            Format::Jsonl => "JSON Lines",
            Format::Otlp => "OTLP/JSON",
        }
    }

    /// The end of a suggested output name (§3.4).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => ".json",
            Format::Jsonl => ".jsonl",
            Format::Otlp => ".otlp.zip",
        }
    }

    /// Whether it holds the events themselves (a JSON array or JSON Lines),
    /// as opposed to OTLP.
    pub fn is_events(self) -> bool {
        self != Format::Otlp
    }
}

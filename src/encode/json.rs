//! The JSON-array element (SPEC §5.2): a self-contained snake_case event,
//! whatever key style the input used, with its full context inside. The
//! pipeline writes the head and the context separately, to share a file's
//! context bytes. What the line already holds of the head, byte for byte,
//! is copied from the line (all of it for most rows of a real store: the
//! extension writes them in this form; all but the keys for a camelCase
//! row). tests/end_to_end.rs checks whole elements the binary wrote.

use super::write::{has_ascii_upper, with_num_text, word_at, write_str, write_str_lower, write_u64};
use super::{write_scalar_as_str, Event, Sep};
use crate::model::Num;
use crate::row::{Context, RawLine, Scalar, CONTEXT_KEYS};

/// Appends an element up to its context: everything but `"context":{...}}`.
///
/// Most rows a real store holds are written the way this writes them
/// (JavaScript's `JSON.stringify`, keys in this order, `deployment_url`
/// last): their bytes up to `schema_version` are the line's own. When the
/// line came with the event, `FromLine` copies each piece the line holds
/// already, and writes from the first one it does not.
pub fn write_element_head(out: &mut Vec<u8>, ev: &Event<'_>) {
    match ev.raw {
        Some(raw) => {
            head_from_line(out, ev, raw);
        }
        None => head(out, ev),
    }
    out.extend_from_slice(b",\"schema_version\":");
    write_u64(out, ev.schema_version);
}

/// [`head`] through [`FromLine`]; whether every piece was the line's.
fn head_from_line(out: &mut Vec<u8>, ev: &Event<'_>, raw: RawLine<'_>) -> bool {
    let mut w = FromLine {
        raw,
        copied: 0,
        at: 0,
        copying: true,
        whole: true,
        out,
    };
    head(&mut w, ev);
    let whole = w.whole;
    w.stop_copying();
    whole
}

/// What [`head`] writes to: a buffer, or a [`FromLine`] copy.
trait Head {
    fn byte(&mut self, b: u8);
    fn bytes(&mut self, b: &[u8]);
    /// A string value or key, quoted and escaped.
    fn str(&mut self, s: &str);
    /// An id, lowercased as well.
    fn id(&mut self, s: &str);
    fn num(&mut self, n: Num);
    /// A property value, always a string.
    fn scalar_as_str(&mut self, v: Scalar<'_>);

    /// `,` before every entry but the first.
    #[inline]
    fn sep(&mut self, first: &mut bool) {
        if !std::mem::take(first) {
            self.byte(b',');
        }
    }
}

impl Head for Vec<u8> {
    #[inline]
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    #[inline]
    fn str(&mut self, s: &str) {
        write_str(self, s);
    }
    #[inline]
    fn id(&mut self, s: &str) {
        write_str_lower(self, s);
    }
    #[inline]
    fn num(&mut self, n: Num) {
        with_num_text(n, |t| self.extend_from_slice(t));
    }
    #[inline]
    fn scalar_as_str(&mut self, v: Scalar<'_>) {
        write_scalar_as_str(self, v);
    }
}

/// Writes the head into `out` by copying the line while the line holds
/// each next piece where the last one ended, and by writing each piece it
/// does not hold. A string is held at once when it is the whole token
/// there as it stands ([`RawLine::holds_at`]): no `\\` in it, so no `"`
/// either, and the parser refuses raw control characters, so it needs no
/// escape and is written as it stands. One with escapes is written, then
/// compared with the line.
///
/// After a piece the line does not hold (a camelCase key, a boolean
/// property, which the element writes as a string), copying starts again
/// at the next string of the row that stands as it is in the line: the
/// parser left it where its token is, so its place in the line is known,
/// and from there every next piece is compared with the line again.
struct FromLine<'a, 'b> {
    raw: RawLine<'a>,
    /// `out` ends with the line's bytes up to here...
    copied: usize,
    /// ...and the line's bytes up to here are what `out` must get next.
    at: usize,
    /// The last piece was the line's: the next is looked for at `at`.
    copying: bool,
    /// Every piece so far was the line's.
    whole: bool,
    out: &'b mut Vec<u8>,
}

impl FromLine<'_, '_> {
    /// Brings `out` up to date with the line's pieces held so far.
    #[inline]
    fn catch_up(&mut self) {
        self.out.extend_from_slice(&self.raw.bytes[self.copied..self.at]);
        self.copied = self.at;
    }

    /// From here on every piece is written, until [`Self::resume_at`].
    #[inline]
    fn stop_copying(&mut self) {
        if self.copying {
            self.catch_up();
            self.copying = false;
            self.whole = false;
        }
    }

    /// While writing: copies again from the token of `s`, a string of the
    /// row, when it stands in the line as it is (`out` holds every piece
    /// so far, so the line's bytes from that token on are what it needs
    /// next, as far as the pieces say so); whether it did, `s` included.
    #[inline(never)]
    fn resume_at(&mut self, s: &str) -> bool {
        let offset = (s.as_ptr() as usize).wrapping_sub(self.raw.parsed_at);
        let held = offset <= self.raw.bytes.len() && self.raw.holds_at(s, offset);
        if held {
            self.copied = offset - 1;
            self.at = offset + s.len() + 1;
            self.copying = true;
        }
        held
    }

    /// [`Head::bytes`] when the line does not hold `b` next: written.
    #[inline(never)]
    fn write_bytes(&mut self, b: &[u8]) {
        self.stop_copying();
        self.out.extend_from_slice(b);
    }

    /// [`Head::str`] when the line does not hold `s` as it stands next.
    #[inline(never)]
    fn write_str_piece(&mut self, s: &str) {
        if !self.copying && self.resume_at(s) {
            return;
        }
        if self.copying && self.raw.escapes.is_some() {
            // Escaped the way this writer escapes it (as JavaScript does)?
            self.catch_up();
            let mark = self.out.len();
            write_str(self.out, s);
            let end = self.at + (self.out.len() - mark);
            if self.raw.bytes.get(self.at..end) == Some(&self.out[mark..]) {
                self.at = end;
                self.copied = end;
            } else {
                self.copying = false;
                self.whole = false;
            }
            return;
        }
        self.stop_copying();
        write_str(self.out, s);
    }

    /// Whether the line holds the double `v` as JavaScript writes it;
    /// moves past it if so.
    #[inline(never)]
    fn holds_float(&mut self, v: f64) -> bool {
        match self.holds_decimal(v) {
            Some(held) => held,
            None => with_num_text(Num::Float(v), |t| self.holds(t)),
        }
    }

    /// [`Head::num`] when the line does not hold `n` next: written.
    #[inline(never)]
    fn write_num(&mut self, n: Num) {
        self.stop_copying();
        with_num_text(n, |t| self.out.extend_from_slice(t));
    }

    /// [`Head::scalar_as_str`] of a number or boolean: written as a string.
    #[inline(never)]
    fn write_scalar(&mut self, v: Scalar<'_>) {
        self.stop_copying();
        write_scalar_as_str(self.out, v);
    }

    /// Whether the line holds `b` at `at`; moves past it if so.
    #[inline]
    fn holds(&mut self, b: &[u8]) -> bool {
        let end = self.at + b.len();
        let held = self.raw.bytes.get(self.at..end).is_some_and(|r| same(r, b));
        if held {
            self.at = end;
        }
        held
    }

    /// Whether the line holds, at `at`, an integer as `itoa` writes it
    /// (`-` only when negative, no leading zero); moves past it if so.
    /// Read off the line rather than written and compared.
    #[inline]
    fn holds_int(&mut self, negative: bool, v: u64) -> bool {
        let b = self.raw.bytes;
        let mut i = self.at;
        if negative {
            if b.get(i) != Some(&b'-') {
                return false;
            }
            i += 1;
        }
        let start = i;
        let mut acc = Some(0u64);
        while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            acc = acc.and_then(|a| a.checked_mul(10)?.checked_add(u64::from(d - b'0')));
            i += 1;
        }
        let digits = i - start;
        let held = acc == Some(v) && digits > 0 && (digits == 1 || b[start] != b'0');
        if held {
            self.at = i;
        }
        held
    }

    /// Whether the line holds, at `at`, the double `v` as JavaScript
    /// writes it, read off the line without formatting `v` when the token
    /// there is a plain decimal (`-`, digits without a leading zero, `.`,
    /// digits not ending in `0`, no exponent) of at most 15 significant
    /// digits, at least 10^-6: such a decimal is the shortest that names
    /// its double (every decimal of 15 digits or fewer names a different
    /// one), and JavaScript writes those digits in this form. Its double
    /// is exact arithmetic: the digits below 2^53 over a power of ten
    /// below 10^23, one correctly rounded division. `None` when the token
    /// is not of that form: ask the formatter. Moves past it if held.
    #[inline]
    fn holds_decimal(&mut self, v: f64) -> Option<bool> {
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
            1e19, 1e20, 1e21, 1e22,
        ];
        let b = self.raw.bytes;
        let mut i = self.at;
        let negative = b.get(i) == Some(&b'-');
        i += usize::from(negative);
        let (mut mantissa, mut significant) = (0u64, 0usize);
        // Reads a run of digits into the mantissa: how many, or `None`
        // past 15 significant ones.
        fn run(b: &[u8], i: &mut usize, mantissa: &mut u64, significant: &mut usize) -> Option<usize> {
            let start = *i;
            while let Some(&d) = b.get(*i).filter(|d| d.is_ascii_digit()) {
                *mantissa = *mantissa * 10 + u64::from(d - b'0');
                *significant += usize::from(*mantissa != 0);
                if *significant > 15 {
                    return None;
                }
                *i += 1;
            }
            Some(*i - start)
        }
        let int_start = i;
        let int_digits = run(b, &mut i, &mut mantissa, &mut significant)?;
        if int_digits == 0 || (int_digits > 1 && b[int_start] == b'0') || b.get(i) != Some(&b'.') {
            return None;
        }
        let whole_part = significant > 0;
        i += 1;
        let frac_digits = run(b, &mut i, &mut mantissa, &mut significant)?;
        if frac_digits == 0 || b[i - 1] == b'0' || matches!(b.get(i), Some(b'e' | b'E')) {
            return None;
        }
        // Below 10^-6 JavaScript writes an exponent: 0.000001 but 1e-7
        // (a fraction's zeros before its first digit).
        if !whole_part && frac_digits - significant > 5 {
            return None;
        }
        let magnitude = mantissa as f64 / POW10[frac_digits];
        let value = if negative { -magnitude } else { magnitude };
        let held = value.to_bits() == v.to_bits();
        if held {
            self.at = i;
        }
        Some(held)
    }
}

impl Head for FromLine<'_, '_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if self.copying && self.raw.bytes.get(self.at) == Some(&b) {
            self.at += 1;
        } else {
            self.write_bytes(&[b]);
        }
    }
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        if !(self.copying && self.holds(b)) {
            self.write_bytes(b);
        }
    }
    #[inline(always)]
    fn str(&mut self, s: &str) {
        if self.copying && self.raw.holds_at(s, self.at + 1) {
            self.at += s.len() + 2;
        } else {
            self.write_str_piece(s);
        }
    }
    #[inline(always)]
    fn id(&mut self, s: &str) {
        if has_ascii_upper(s.as_bytes()) {
            self.stop_copying();
            write_str_lower(self.out, s);
        } else {
            self.str(s);
        }
    }
    #[inline(always)]
    fn num(&mut self, n: Num) {
        let held = self.copying
            && match n {
                Num::Int(v) => self.holds_int(v < 0, v.unsigned_abs()),
                Num::UInt(v) => self.holds_int(false, v),
                Num::Float(v) => self.holds_float(v),
            };
        if !held {
            self.write_num(n);
        }
    }
    #[inline(always)]
    fn scalar_as_str(&mut self, v: Scalar<'_>) {
        match v {
            Scalar::Str(s) => self.str(s),
            // A number or boolean the line holds without quotes.
            _ => self.write_scalar(v),
        }
    }
}

/// `a == b` for the short pieces of a head, inline: eight bytes at a time,
/// the last eight overlapping (a call to `memcmp` per piece cost more
/// than the compare).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 < n {
        if word_at(a, i) != word_at(b, i) {
            return false;
        }
        i += 8;
    }
    word_at(a, n - 8) == word_at(b, n - 8)
}

/// The element from `{` up to `schema_version`.
#[inline]
fn head<H: Head>(out: &mut H, ev: &Event<'_>) {
    let r = &ev.row;
    out.byte(b'{');
    if let Some(id) = r.event_id {
        out.bytes(b"\"event_id\":");
        out.id(id);
        out.byte(b',');
    }
    out.bytes(b"\"event_name\":");
    out.str(r.event_name);
    out.bytes(b",\"timestamp\":");
    out.str(r.timestamp);
    if let Some(n) = r.event_sequence {
        out.bytes(b",\"event_sequence\":");
        out.num(n);
    }
    if let Some(props) = r.properties {
        out.bytes(b",\"properties\":{");
        let mut first = true;
        for (k, v) in props.props() {
            out.sep(&mut first);
            out.str(k);
            out.byte(b':');
            out.scalar_as_str(v);
        }
        out.byte(b'}');
    }
    if let Some(m) = r.measurements {
        out.bytes(b",\"measurements\":{");
        let mut first = true;
        for (k, v) in m.measures() {
            out.sep(&mut first);
            out.str(k);
            out.byte(b':');
            match v {
                Some(n) => out.num(n),
                None => out.bytes(b"null"),
            }
        }
        out.byte(b'}');
    }
    if let Some(t) = r.trace_id {
        out.bytes(b",\"trace_id\":");
        out.id(t);
    }
    if let Some(p) = r.parent_event_id {
        out.bytes(b",\"parent_event_id\":");
        out.id(p);
    }
    if let Some(e) = &r.error {
        out.bytes(b",\"error\":{");
        let mut first = true;
        if let Some(m) = e.message {
            out.sep(&mut first);
            out.bytes(b"\"message\":");
            out.str(m);
        }
        if let Some(t) = e.kind {
            out.sep(&mut first);
            out.bytes(b"\"type\":");
            out.str(t);
        }
        if let Some(c) = e.code {
            out.sep(&mut first);
            out.bytes(b"\"code\":");
            match c {
                Scalar::Num(n) => out.num(n),
                other => out.scalar_as_str(other),
            }
        }
        out.byte(b'}');
    }
}

/// Appends `,"context":{...}}`, closing the element. A file's rows share
/// their header's context, so callers may cache these bytes.
pub fn write_context(out: &mut Vec<u8>, ctx: &Context<'_>) {
    out.extend_from_slice(b",\"context\":{");
    let mut sep = Sep::default();
    for (key, value) in CONTEXT_KEYS.iter().zip(ctx.fields()) {
        if let Some(v) = value {
            sep.next(out);
            write_str(out, key);
            out.push(b':');
            write_str(out, v);
        }
    }
    if let Some(d) = ctx.deployment_url {
        sep.next(out);
        out.extend_from_slice(b"\"deployment_url\":");
        write_str(out, d);
    }
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::header_ctx;
    use crate::row::{fix_lone_surrogates, parse_tape, Line};
    use proptest::prelude::*;

    /// The head of `text` written, and from the line (parsed in a copy, as
    /// the worker does for a sink that wants the line), and whether every
    /// piece was the line's. `None` when `text` is not an event row.
    fn both(text: &str) -> Option<(String, String, bool)> {
        let line = text.as_bytes();
        let escapes = RawLine::escape_span(line);
        let mut copy = line.to_vec();
        if escapes.is_some() {
            fix_lone_surrogates(&mut copy);
        }
        copy.resize(line.len() + simd_json::INPUT_PADDING, 0);
        let parsed_at = copy.as_ptr() as usize;
        let mut buffers = simd_json::Buffers::new(line.len());
        let mut tape = simd_json::Tape::null();
        simd_json::fill_tape_padded(&mut copy, line.len(), &mut buffers, &mut tape).ok()?;
        let Ok(Line::Event(row)) = parse_tape(&tape.0) else {
            return None;
        };
        let ev = Event {
            row: &row,
            ctx: header_ctx(),
            ids: None,
            schema_version: 1,
            raw: None,
        };
        let mut written = Vec::new();
        head(&mut written, &ev);
        let mut copied = b"[".to_vec();
        let raw = RawLine {
            bytes: line,
            parsed_at,
            escapes,
        };
        let whole = head_from_line(&mut copied, &ev, raw);
        let text = |v: Vec<u8>| String::from_utf8(v).expect("heads are UTF-8");
        Some((text(written), text(copied[1..].to_vec()), whole))
    }

    #[track_caller]
    fn check(line: &str, whole: bool) {
        let (written, copied, all) = both(line).expect("an event row");
        assert_eq!(copied, written, "{line}");
        assert_eq!(all, whole, "copied whole? {line}");
    }

    const REAL: &str = r#"{"event_id":"dc3d23f9e02881df","event_name":"http.requests","timestamp":"2026-11-17T08:50:00.207Z","event_sequence":0,"properties":{"route":"/api/v2/x","method":"GET"},"measurements":{"durationMs":168.58353892553612,"count":3,"none":null},"trace_id":"f1ae83b29142be85a4757a4a9e83490b","deployment_url":"https://coder.example.com"}"#;

    #[test]
    fn a_row_as_the_extension_writes_it_is_copied_whole() {
        check(REAL, true);
        check(r#"{"event_id":"0a","event_name":"e","timestamp":"2026-11-17T08:50:00Z","trace_id":"ab","parent_event_id":"cd","error":{"message":"m","type":"t","code":-42},"deployment_url":"u"}"#, true);
        // What follows the head does not matter: it is not copied (nor a
        // number's ".0" when the head ends with the number).
        check(r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","event_sequence":5.0}"#, true);
        check(r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","other":[1, 2],"context":{}}"#, true);
        check(r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","properties":{},"measurements":{}}"#, true);
    }

    #[test]
    fn strings_escaped_as_javascript_escapes_them_are_copied() {
        check(
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","properties":{"w":"team \"a\" \\ \t\n\r\b\f \u0001 \u001f é"}}"#,
            true,
        );
        // Unescaped, "ab\"" is three bytes: the line's fourth is the escaped `"`.
        check(r#"{"event_name":"ab\"","timestamp":"2026-11-17T08:50:00Z"}"#, true);
        check(r#"{"event_name":"\\","timestamp":"2026-11-17T08:50:00Z"}"#, true);
    }

    #[test]
    fn a_row_written_otherwise_is_written_from_the_first_piece_that_differs() {
        for line in [
            // Escapes JavaScript does not write; a lone surrogate (§7.4).
            r#"{"event_name":"a\/b","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"event_name":"\u0041","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"event_name":"\u00e9\u001F","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"event_name":"x\ud800y","timestamp":"2026-11-17T08:50:00Z"}"#,
            // Key style, order, spaces, duplicates, nulls, unknown keys.
            r#"{"eventName":"e","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"timestamp":"2026-11-17T08:50:00Z","event_name":"e"}"#,
            r#"{ "event_name": "e", "timestamp": "2026-11-17T08:50:00Z" }"#,
            r#"{"event_name":"a","event_name":"b","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","event_sequence":1,"properties":{},"event_sequence":2}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","event_sequence":-1,"properties":{},"event_sequence":1}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","properties":{"k":"1","k":"2"},"properties":{"k":"3"}}"#,
            r#"{"event_id":null,"event_name":"e","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"event_name":"e","x":1,"timestamp":"2026-11-17T08:50:00Z"}"#,
            // Numbers not in their shortest form, or not strings where strings go.
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","event_sequence":-0}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","event_sequence":5.0,"properties":{}}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","event_sequence":1e2}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","measurements":{"a":1.50}}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","measurements":{"a":0.1E1}}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","measurements":{"a":123456789012345678901}}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","properties":{"n":7,"b":true}}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","error":{"type":"t","message":"m"}}"#,
            // Ids are written in lowercase.
            r#"{"event_id":"DC3D23F9E02881DF","event_name":"e","timestamp":"2026-11-17T08:50:00Z"}"#,
            r#"{"event_name":"e","timestamp":"2026-11-17T08:50:00Z","trace_id":"abcdefabcdefabcdefabcdefabcdefaB"}"#,
        ] {
            check(line, false);
        }
    }

    /// One field of a generated row: its key as written, and its value's text.
    fn field() -> impl Strategy<Value = String> {
        let string = prop::sample::select(vec![
            r#""a""#, r#""""#, r#""A\"b""#, r#""ab\"""#, r#""\/""#, r#""\u00e9""#, r#""\ud83d\ude00""#, r#""\ud800""#,
            r#""é\\""#, r#""\t""#, r#""x\u001fy""#, r#""0AbC""#, "null", "1", "true",
        ]);
        let number = prop::sample::select(vec![
            "0", "-0", "7", "-7", "1.5", "1.50", "1e2", "0.1", "1e-7", "1e21", "18446744073709551616", "-9007199254740993",
            "0.30000000000000004", "null", r#""3""#, "890.8", "-0.000123", "0.000001", "0.0000001", "12.250",
            "123456789.123456", "1234567890.1234567",
        ]);
        let object = prop::collection::vec(
            (prop::sample::select(vec![r#""k""#, r#""j""#, r#""K\n""#]), prop_oneof![string.clone(), number.clone()]),
            0..4,
        )
        .prop_map(|kv| format!("{{{}}}", kv.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",")));
        let key = prop::sample::select(vec![
            "event_id", "eventId", "event_name", "eventName", "timestamp", "event_sequence", "properties",
            "measurements", "trace_id", "parent_event_id", "error", "deployment_url", "other",
        ]);
        (key, string, number, object).prop_map(|(k, s, n, o)| {
            let v = match k {
                "event_sequence" => n.to_string(),
                "properties" | "measurements" | "error" => o,
                "timestamp" => r#""2026-11-17T08:50:00.207Z""#.to_string(),
                _ => s.to_string(),
            };
            format!(r#""{k}":{v}"#)
        })
    }

    /// `holds_decimal(v)` on a line that is `text`.
    fn decimal_held(text: &str, v: f64) -> Option<bool> {
        let mut out = Vec::new();
        let mut w = FromLine {
            raw: RawLine {
                bytes: text.as_bytes(),
                parsed_at: 0,
                escapes: None,
            },
            copied: 0,
            at: 0,
            copying: true,
            whole: true,
            out: &mut out,
        };
        w.holds_decimal(v)
    }

    #[test]
    fn a_short_decimal_is_read_off_the_line_and_any_other_is_left_to_the_formatter() {
        for (text, v) in [("890.8", 890.8), ("-0.5", -0.5), ("0.000001", 1e-6), ("123456789.123456", 123456789.123456)] {
            assert_eq!(decimal_held(text, v), Some(true), "{text}");
        }
        assert_eq!(decimal_held("890.8", 890.9), Some(false), "another double");
        for (text, v) in [
            ("0.0000001", 1e-7),                       // JavaScript writes 1e-7
            ("1.50", 1.5),                             // not the shortest
            ("01.5", 1.5),                             // a leading zero
            ("1.5e3", 1500.5),                         // an exponent
            ("5", 5.0),                                // no fraction
            ("0.30000000000000004", 0.1 + 0.2),        // 17 digits
            ("1234567890.1234567", 1234567890.1234567), // 17 digits
        ] {
            assert_eq!(decimal_held(text, v), None, "{text}");
        }
    }

    proptest! {
        /// Held exactly when the formatter writes the line's text.
        #[test]
        fn a_decimal_read_off_the_line_is_held_exactly_when_javascript_writes_it(
            negative in any::<bool>(),
            whole in prop_oneof![Just(0u64), 0u64..10_000_000],
            zeros in 0usize..8,
            digits in "[0-9]{0,10}",
            nudge in -1i64..=1,
        ) {
            let text = format!("{}{whole}.{}{digits}", if negative { "-" } else { "" }, "0".repeat(zeros));
            let parsed: f64 = format!("{text}0").parse().expect("a decimal");
            let v = f64::from_bits(parsed.to_bits().wrapping_add_signed(nudge));
            let written = with_num_text(Num::Float(v), |t| t == text.as_bytes());
            if let Some(held) = decimal_held(&text, v) {
                prop_assert_eq!(held, written, "{}", text);
            }
        }

        /// Whatever the row, copying from the line writes what writing does.
        #[test]
        fn copying_from_the_line_writes_the_same_head(
            fields in prop::collection::vec(field(), 0..10),
            space in any::<bool>(),
        ) {
            let sep = if space { ", " } else { "," };
            let line = format!(
                r#"{{"event_name":"e","timestamp":"2026-11-17T08:50:00Z"{}{}}}"#,
                if fields.is_empty() { "" } else { sep },
                fields.join(sep)
            );
            if let Some((written, copied, _)) = both(&line) {
                prop_assert_eq!(copied, written, "{}", line);
            }
        }
    }
}

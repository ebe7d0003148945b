//! Plain lines straight to a tape, in one pass (SPEC §9.3).
//!
//! Nearly every line a real store holds is plain: no `\`, no control byte,
//! numbers in their short forms. For such a line this module builds the
//! very tape simd-json would ([`simd_json::Node`]s in the same order, with
//! the same counts and the same number types and values), with strings
//! borrowed from the line where their tokens are. One scan marks the
//! quotes and looks for what would make the line not plain; one walk over
//! the tokens then builds the tape: no structural index, no copy of the
//! line, no string buffer. On the real mix that is about two thirds of
//! simd-json's instructions for the same lines, and nearly twice its
//! speed (docs/performance.md).
//!
//! Anything else (an escape, a tab between tokens, an integer of 19 digits,
//! a number beyond a double, a byte that is not UTF-8, nesting deeper than
//! [`MAX_DEPTH`], bad JSON of any kind) makes [`Plain::parse`] answer
//! `false` without judging it: the caller gives the line to simd-json,
//! which accepts it or says what is wrong. So this parser accepts a subset
//! of what simd-json accepts and never refuses a line itself; the tests
//! hold the two to the same tape on every line both accept.

use simd_json::{Node, StaticNode};

/// Containers nested deeper than this go to simd-json (a row has two levels).
pub const MAX_DEPTH: usize = 16;

/// Lines longer than this go to simd-json: the quote bitmap stays small.
pub const MAX_LINE: usize = 64 * 1024;

/// A worker's reusable state: the quote bitmap of the line being parsed.
#[derive(Default)]
pub struct Plain {
    /// Bit `i % 64` of word `i / 64` is set where byte `i` is a `"`.
    quotes: Vec<u64>,
}

/// An open container: where its node is on the tape, how many entries it
/// has so far, and the byte that closes it.
#[derive(Clone, Copy)]
struct Open {
    at: usize,
    len: usize,
    close: u8,
}

impl Plain {
    /// Builds `line`'s tape into `tape` (cleared first) and answers `true`
    /// when the line is a plain JSON object; answers `false`, with `tape`
    /// in any state, for any other line, which simd-json must then parse.
    pub fn parse<'a>(&mut self, line: &'a [u8], tape: &mut Vec<Node<'a>>) -> bool {
        tape.clear();
        if line.len() > MAX_LINE {
            return false;
        }
        match scan(line, &mut self.quotes) {
            Scan::Plain { ascii: true } => {}
            Scan::Plain { ascii: false } if std::str::from_utf8(line).is_ok() => {}
            _ => return false,
        }
        walk(Utf8(line), &self.quotes, tape).is_some()
    }
}

/// A line known to be UTF-8 with no `\`: each stretch between two of its
/// `"` is UTF-8 too.
#[derive(Clone, Copy)]
struct Utf8<'a>(&'a [u8]);

impl<'a> Utf8<'a> {
    /// The byte at `i`, or 0 past the end (0 is never a valid next byte).
    #[inline(always)]
    fn at(self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// The first byte at or after `i` that is not a space.
    #[inline(always)]
    fn spaces(self, mut i: usize) -> usize {
        while self.at(i) == b' ' {
            i += 1;
        }
        i
    }

    /// The string whose opening quote is at `open`, and the index after
    /// its closing quote.
    #[inline(always)]
    fn string(self, quotes: &[u64], open: usize) -> Option<(&'a str, usize)> {
        let close = quote_from(quotes, open + 1)?;
        Some((self.text(open + 1, close)?, close + 1))
    }

    /// Bytes `a..b` as text, where `a` follows an ASCII byte and `b` is at
    /// one (or at the end).
    #[inline(always)]
    fn text(self, a: usize, b: usize) -> Option<&'a str> {
        let bytes = self.0.get(a..b)?;
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: the line is UTF-8 (`Plain::parse` checked it), and every
        // caller cuts it next to ASCII bytes (quotes, digits), which end
        // one character and start the next: `bytes` is whole characters.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }
}

/// What [`scan`] found.
enum Scan {
    /// No `\` and no control byte; `ascii` when no byte is above 0x7f.
    Plain { ascii: bool },
    NotPlain,
}

/// Fills `quotes` with the line's quote bitmap, and says whether the line
/// can be plain (escapes and control bytes are simd-json's).
fn scan(line: &[u8], quotes: &mut Vec<u64>) -> Scan {
    quotes.clear();
    let mut high = false;
    // A block's quotes onto the bitmap; whether it holds a bad byte.
    let mut bad = |block: &[u8; 64]| {
        let m = block_masks(block);
        quotes.push(m.quotes);
        high |= m.high;
        m.bad
    };
    let (blocks, rest) = line.as_chunks::<64>();
    for block in blocks {
        if bad(block) {
            return Scan::NotPlain;
        }
    }
    if !rest.is_empty() {
        // The last bytes padded with spaces, neither quotes nor bad nor high.
        let mut block = [b' '; 64];
        block[..rest.len()].copy_from_slice(rest);
        if bad(&block) {
            return Scan::NotPlain;
        }
    }
    Scan::Plain { ascii: !high }
}

/// What one 64-byte block holds.
#[derive(Debug, Default, PartialEq)]
struct Masks {
    /// A bit per `"`.
    quotes: u64,
    /// Any `\` or byte below 0x20.
    bad: bool,
    /// Any byte above 0x7f.
    high: bool,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 target; each load reads 16 of
    // the block's 64 bytes (offsets 0, 16, 32, 48).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let below_space = _mm_set1_epi8(0x1f);
        let mut quotes = 0u64;
        let mut bad = _mm_set1_epi8(0);
        let mut high = _mm_set1_epi8(0);
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            quotes |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16) << (16 * k);
            // max(v, 0x1f) == 0x1f exactly where v <= 0x1f (unsigned).
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            bad = _mm_or_si128(bad, _mm_or_si128(control, _mm_cmpeq_epi8(v, backslash)));
            high = _mm_or_si128(high, v);
        }
        Masks {
            quotes,
            bad: _mm_movemask_epi8(bad) != 0,
            high: _mm_movemask_epi8(high) != 0,
        }
    }
}

/// The portable form of the x86_64 one above (and the tests' reference).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn block_masks_portable(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        m.quotes |= u64::from(b == b'"') << i;
        m.bad |= b == b'\\' || b < 0x20;
        m.high |= b > 0x7f;
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> Masks {
    block_masks_portable(block)
}

/// The first quote at or after byte `from`.
#[inline(always)]
fn quote_from(quotes: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut bits = quotes.get(w)? & (!0u64 << (from % 64));
    while bits == 0 {
        w += 1;
        bits = *quotes.get(w)?;
    }
    Some(w * 64 + bits.trailing_zeros() as usize)
}

/// The tokens of a plain line onto the tape; `None` as soon as the line
/// turns out not to be one (the tape is then left half built).
fn walk<'a>(line: Utf8<'a>, quotes: &[u64], tape: &mut Vec<Node<'a>>) -> Option<()> {
    let mut stack = [Open {
        at: 0,
        len: 0,
        close: 0,
    }; MAX_DEPTH];
    let mut depth = 0;
    let mut i = line.spaces(0);
    if line.at(i) != b'{' {
        return None;
    }
    // `i` is at a value; the loop parses it, then what follows it.
    loop {
        match line.at(i) {
            open @ (b'{' | b'[') => {
                let object = open == b'{';
                let close = if object { b'}' } else { b']' };
                let j = line.spaces(i + 1);
                if line.at(j) == close {
                    tape.push(if object {
                        Node::Object { len: 0, count: 0 }
                    } else {
                        Node::Array { len: 0, count: 0 }
                    });
                    i = j + 1;
                } else {
                    *stack.get_mut(depth)? = Open {
                        at: tape.len(),
                        len: 0,
                        close,
                    };
                    depth += 1;
                    tape.push(Node::Static(StaticNode::Null));
                    i = if object { key(line, quotes, j, tape)? } else { j };
                    continue;
                }
            }
            b'"' => {
                let (s, end) = line.string(quotes, i)?;
                tape.push(Node::String(s));
                i = end;
            }
            b't' if line.0.get(i..i + 4) == Some(b"true") => {
                tape.push(Node::Static(StaticNode::Bool(true)));
                i += 4;
            }
            b'f' if line.0.get(i..i + 5) == Some(b"false") => {
                tape.push(Node::Static(StaticNode::Bool(false)));
                i += 5;
            }
            b'n' if line.0.get(i..i + 4) == Some(b"null") => {
                tape.push(Node::Static(StaticNode::Null));
                i += 4;
            }
            b'-' | b'0'..=b'9' => i = number(line, i, tape)?,
            _ => return None,
        }
        // After a value: a comma, or the end of one or more containers.
        loop {
            let Some(top) = depth.checked_sub(1).and_then(|d| stack.get_mut(d)) else {
                // The line's object is complete: only spaces may follow.
                return (line.spaces(i) == line.0.len()).then_some(());
            };
            top.len += 1;
            i = line.spaces(i);
            match line.at(i) {
                b',' => {
                    let j = line.spaces(i + 1);
                    i = if top.close == b'}' { key(line, quotes, j, tape)? } else { j };
                    break;
                }
                c if c == top.close => {
                    let count = tape.len() - top.at - 1;
                    let node = if c == b'}' {
                        Node::Object { len: top.len, count }
                    } else {
                        Node::Array { len: top.len, count }
                    };
                    *tape.get_mut(top.at)? = node;
                    depth -= 1;
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

/// An object's key at `i`, its `:` and the spaces around it: the index of
/// its value.
#[inline(always)]
fn key<'a>(line: Utf8<'a>, quotes: &[u64], i: usize, tape: &mut Vec<Node<'a>>) -> Option<usize> {
    if line.at(i) != b'"' {
        return None;
    }
    let (s, end) = line.string(quotes, i)?;
    tape.push(Node::String(s));
    let j = if line.at(end) == b':' { end } else { line.spaces(end) };
    if line.at(j) != b':' {
        return None;
    }
    Some(line.spaces(j + 1))
}

/// The number at `i` onto the tape, as simd-json types it (a non-negative
/// integer is `U64`, a negative one `I64`, anything with a fraction or an
/// exponent `F64`, correctly rounded), and the index after it. `None` for
/// what is not a JSON number, an integer of more than 18 digits
/// (simd-json's slow path) and a float beyond a double's range (which
/// simd-json refuses).
///
/// Each branch pushes its own node: a `StaticNode` built by one branch and
/// pushed after them went through memory in parts, and reading it back
/// whole stalled on the partial writes.
#[inline(always)]
fn number(text: Utf8<'_>, i: usize, tape: &mut Vec<Node<'_>>) -> Option<usize> {
    let line = text.0;
    let negative = line.get(i) == Some(&b'-');
    let first = i + usize::from(negative);
    let mut j = first;
    let mut v = 0u64;
    while let Some(d) = line.get(j).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        j += 1;
    }
    let digits = j - first;
    if digits == 0 || (digits > 1 && line.get(first) == Some(&b'0')) {
        // No digit, or a leading zero before more.
        return None;
    }
    if matches!(line.get(j), Some(b'.' | b'e' | b'E')) {
        let (f, end) = float(text, i, j)?;
        tape.push(Node::Static(StaticNode::F64(f)));
        return Some(end);
    }
    if digits > 18 {
        return None;
    }
    // `v` < 10^18 fits an i64.
    if negative {
        tape.push(Node::Static(StaticNode::I64(-(v as i64))));
    } else {
        tape.push(Node::Static(StaticNode::U64(v)));
    }
    Some(j)
}

/// A number from `i` whose integer part ends at `j` with a `.`, `e` or `E`.
fn float(text: Utf8<'_>, i: usize, mut j: usize) -> Option<(f64, usize)> {
    let line = text.0;
    let digit = |j: usize| line.get(j).is_some_and(u8::is_ascii_digit);
    if line.get(j) == Some(&b'.') {
        j += 1;
        if !digit(j) {
            return None;
        }
        while digit(j) {
            j += 1;
        }
    }
    if matches!(line.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(line.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if !digit(j) {
            return None;
        }
        while digit(j) {
            j += 1;
        }
    }
    // `i` is at `-` or a digit, `j` after a digit.
    let f: f64 = text.text(i, j)?.parse().ok()?;
    f.is_finite().then_some((f, j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use simd_json::{Buffers, Tape};

    /// simd-json's tape of `line` (parsed in a copy), with each string as
    /// (its offset in the copy, its text).
    fn reference(line: &[u8]) -> Option<Vec<String>> {
        let mut copy = line.to_vec();
        copy.resize(line.len() + simd_json::INPUT_PADDING, 0);
        let base = copy.as_ptr() as usize;
        let mut tape = Tape::null();
        let mut buffers = Buffers::new(line.len());
        simd_json::fill_tape_padded(&mut copy, line.len(), &mut buffers, &mut tape).ok()?;
        Some(tape.0.iter().map(|n| owned(n, base)).collect())
    }

    /// A node as text that tells every type apart: `StaticNode`'s own `==`
    /// holds `U64(1)` equal to `I64(1)`, and `0.0` to `-0.0`.
    fn owned(n: &Node<'_>, base: usize) -> String {
        match *n {
            Node::String(s) => format!("String at {}: {s:?}", s.as_ptr() as usize - base),
            Node::Static(StaticNode::F64(f)) => format!("F64 {:#x}", f.to_bits()),
            ref n => format!("{n:?}"),
        }
    }

    /// Holds the fast tape to simd-json's whenever the fast parser takes
    /// `line`; returns whether it did.
    fn check(line: &[u8]) -> bool {
        let mut tape = Vec::new();
        if !Plain::default().parse(line, &mut tape) {
            return false;
        }
        let base = line.as_ptr() as usize;
        let ours: Vec<_> = tape.iter().map(|n| owned(n, base)).collect();
        let theirs = reference(line);
        assert_eq!(
            Some(&ours),
            theirs.as_ref(),
            "tapes differ for {:?}",
            String::from_utf8_lossy(line)
        );
        true
    }

    #[test]
    fn every_line_of_the_real_store_is_plain_and_parses_as_simd_json_does() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/real-store");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return; // the reference store is beside the checkout in CI, not in a crate download
        };
        let mut lines = 0;
        for e in entries.flatten() {
            let bytes = std::fs::read(e.path()).unwrap();
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                assert!(check(line), "not taken: {:?}", String::from_utf8_lossy(line));
                lines += 1;
            }
        }
        assert!(lines > 1000, "{lines} lines");
    }

    #[test]
    fn awkward_lines_take_the_same_tape_or_go_to_simd_json() {
        let taken = [
            r#"{}"#,
            r#"  { }  "#,
            r#"{"a":[]}"#,
            r#"{"a":[ ],"b":{ },"c":[[],[{}]]}"#,
            r#"{ "a" : 1 , "b" : [ 1 , 2 ] }"#,
            r#"{"n":0,"m":-0,"f":-0.0,"g":0.5e-3,"h":1E+2,"i":123456789012345678,"j":-123456789012345678}"#,
            r#"{"d":168.58353892553612,"e":2.2250738585072011e-308,"t":1e-400,"k":4.9e-324}"#,
            r#"{"a":true,"b":false,"c":null,"d":"é ☃ 𝄞","e":""}"#,
            r#"{"a":"x","a":"y"}"#,
            "{\"del\":\"\x7f\"}",
        ];
        for line in taken {
            assert!(check(line.as_bytes()), "not taken: {line}");
        }
        let left = [
            "",
            " ",
            "[]",
            "1",
            r#""s""#,
            r#"{"a":"\n"}"#,
            "{\"a\":\t1}",
            "{\"a\":\"\t\"}",
            r#"{"a":1}x"#,
            r#"{"a":1}{}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":1e400}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":[1}"#,
            r#"{"a":{1:2}}"#,
            r#"{"a""#,
            r#"{"a":"b"#,
            r#"{"a":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}"#,
        ];
        for line in left {
            assert!(!check(line.as_bytes()), "taken: {line}");
        }
        assert!(!check(b"{\"a\":\"\xff\"}"), "invalid UTF-8 taken");
        assert!(!check(&[b" ".repeat(MAX_LINE), b"{}".to_vec()].concat()), "a line over MAX_LINE taken");
    }

    #[test]
    fn the_quote_scan_matches_the_portable_one_on_every_byte() {
        for b in 0..=255u8 {
            for pos in [0, 15, 16, 31, 47, 63] {
                let mut block = [b'a'; 64];
                block[pos] = b;
                block[(pos + 7) % 64] = b'"';
                assert_eq!(block_masks(&block), block_masks_portable(&block), "byte {b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn quote_from_finds_the_next_quote_across_words() {
        let quotes = [1u64 << 63, 0, 1 << 5];
        assert_eq!(quote_from(&quotes, 0), Some(63));
        assert_eq!(quote_from(&quotes, 63), Some(63));
        assert_eq!(quote_from(&quotes, 64), Some(133));
        assert_eq!(quote_from(&quotes, 134), None);
        assert_eq!(quote_from(&quotes, 500), None);
    }

    /// A JSON-ish line: a row-like object of scalars, arrays and objects,
    /// written with random spacing, then perhaps damaged.
    fn json_value(depth: u32) -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            "[a-z_ é\\\\\"\t]{0,12}".prop_map(|s| format!("\"{s}\"")),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            any::<f64>().prop_map(|f| format!("{f:e}")),
            (0u64..1_000_000, 0u32..20, -30i32..30).prop_map(|(a, b, e)| format!("{a}.{b:0>3}e{e}")),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        prop_oneof![
            3 => leaf,
            1 => prop::collection::vec(json_value(depth - 1), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            1 => prop::collection::vec(("[a-z]{1,6}", json_value(depth - 1)), 0..4)
                .prop_map(|v| format!("{{{}}}", v.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect::<Vec<_>>().join(" ,"))),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn a_line_taken_has_simd_jsons_tape(
            fields in prop::collection::vec(("[a-zA-Z_]{1,10}", json_value(2)), 0..8),
            damage in prop::option::of((any::<prop::sample::Index>(), any::<u8>(), 0u8..3)),
        ) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let mut line = format!("{{{}}}", body.join(",")).into_bytes();
            if let Some((at, byte, how)) = damage {
                let i = at.index(line.len());
                match how {
                    0 => line[i] = byte,
                    1 => { line.remove(i); }
                    _ => line.insert(i, byte),
                }
            }
            check(&line);
        }

        #[test]
        fn every_plain_number_parses_as_simd_json_does(
            n in prop_oneof![
                any::<f64>().prop_map(|f| format!("{f:?}")),
                any::<f64>().prop_map(|f| format!("{f:e}")),
                any::<i64>().prop_map(|n| n.to_string()),
                "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?",
            ],
        ) {
            let line = format!("{{\"n\":{n}}}");
            check(line.as_bytes());
        }
    }
}

//! Low-level JSON writing: string escaping, numbers, OTLP nanosecond strings.
//!
//! Every encoder writes bytes straight into a `Vec<u8>`; nothing builds a
//! `serde_json::Value` in between. Numbers follow one rule everywhere: a
//! double is written as JavaScript's `String(x)` writes it (`13`, never
//! `13.0`; `1e+21`; `60766121714619590`), integers read as integers keep
//! every digit.

pub use crate::model::Num;

/// Bytes that need an escape inside a JSON string: control characters, `"` and `\`.
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Writes `s` as a quoted JSON string. Non-ASCII text passes through as UTF-8.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    write_str_body(out, s.as_bytes());
    out.push(b'"');
}

/// The SWAR mask of the bytes of `w` (8 bytes, little endian) that need an
/// escape: a control character (< 0x20), `"` or `\\`. Branch-free; zero when
/// the word is clean.
#[inline(always)]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // Bytes below 0x20 (the high-bit mask keeps bytes >= 0x80 out).
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below | has_zero(w ^ (ONES * b'"' as u64)) | has_zero(w ^ (ONES * b'\\' as u64))
}

/// The eight bytes of `bytes` at `i`, little endian; callers keep
/// `i + 8 <= bytes.len()`.
#[inline(always)]
pub fn word_at(bytes: &[u8], i: usize) -> u64 {
    let w: [u8; 8] = bytes[i..i + 8].try_into().unwrap_or([0; 8]);
    u64::from_le_bytes(w)
}

/// Position of the first byte at or after `i` that needs an escape, or
/// `bytes.len()`: 16 then 8 bytes at a time with the SWAR test, then the
/// tail (< 8 bytes) through the table.
#[inline(always)]
fn next_escape(bytes: &[u8], mut i: usize) -> usize {
    let n = bytes.len();
    while i + 16 <= n {
        if escape_mask(word_at(bytes, i)) | escape_mask(word_at(bytes, i + 8)) != 0 {
            break;
        }
        i += 16;
    }
    while i + 8 <= n {
        let m = escape_mask(word_at(bytes, i));
        if m != 0 {
            // The lowest flagged byte is exact: borrows only run upwards.
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && !ESCAPE[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Whether no byte of `bytes` needs an escape, with no loop over the
/// bytes of a short string (most keys and values): overlapping words
/// cover it, and a SWAR test wrongly flags a byte only above one that
/// needs an escape.
#[inline(always)]
fn is_clean(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let half = |i: usize| u64::from(u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]));
    const CLEAN_TOP: u64 = 0x6161_6161 << 32;
    match n {
        0 => true,
        1..=3 => bytes.iter().all(|&b| !ESCAPE[b as usize]),
        4..=7 => escape_mask(half(0) | CLEAN_TOP) | escape_mask(half(n - 4) | CLEAN_TOP) == 0,
        _ => {
            let mut flags = escape_mask(word_at(bytes, n - 8));
            let mut i = 0;
            while i + 8 <= n {
                flags |= escape_mask(word_at(bytes, i));
                i += 8;
            }
            flags == 0
        }
    }
}

/// Writes the escaped body of a JSON string (no quotes). The clean runs
/// between escapes (found 16 bytes at a time with a SWAR test) are copied
/// with one `extend_from_slice` each: a string without escapes, nearly
/// every string, is one scan and one copy.
#[inline]
pub fn write_str_body(out: &mut Vec<u8>, bytes: &[u8]) {
    if is_clean(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    loop {
        let i = next_escape(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        let Some(&b) = bytes.get(i) else {
            return;
        };
        write_byte(out, b);
        start = i + 1;
    }
}

/// Writes one byte, escaped if it must be.
#[inline(always)]
fn write_byte(out: &mut Vec<u8>, b: u8) {
    if !ESCAPE[b as usize] {
        out.push(b);
        return;
    }
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        }
    }
}

/// Writes a string lowercased (ASCII only): ids are output in lowercase hex.
pub fn write_str_lower(out: &mut Vec<u8>, s: &str) {
    if has_ascii_upper(s.as_bytes()) {
        write_str(out, &s.to_ascii_lowercase());
    } else {
        write_str(out, s);
    }
}

/// Whether `bytes` hold an ASCII capital: eight bytes at a time (ids are
/// 16 or 32 hex digits), with a SWAR range test on each byte's low seven
/// bits, bytes >= 0x80 masked out.
#[inline]
pub fn has_ascii_upper(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let upper = |w: u64| {
        let low = w & !HIGH;
        // High bit set where low >= b'A', and where low > b'Z'; no carries cross bytes.
        let from_a = low + ONES * (0x80 - u64::from(b'A'));
        let past_z = low + ONES * (0x80 - u64::from(b'Z') - 1);
        from_a & !past_z & !w & HIGH
    };
    let mut words = bytes.chunks_exact(8);
    let found = words
        .by_ref()
        .any(|c| upper(u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))) != 0);
    found || words.remainder().iter().any(u8::is_ascii_uppercase)
}

#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Largest magnitude an OTLP `asInt` takes from a double (an `i64` holds it).
const INTEGRAL_LIMIT: f64 = 9.0e18;

/// True when `v` is a whole number that fits an `i64`: OTLP sums write it as `asInt`.
#[inline]
pub fn is_integral(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0 && v.abs() < INTEGRAL_LIMIT
}

/// Below 2^53 every whole double is written with all its digits by
/// JavaScript too; past it JavaScript writes the shortest digits that
/// round-trip (`60766121714619590`, not `60766121714619592`).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// Writes a finite double exactly as JavaScript's `String(x)` does (the
/// extension's own writer): whole numbers below 2^53 through `itoa`, all
/// others through `ryu-js`, an implementation of ECMAScript's
/// `Number::toString`. Non-finite values have no JSON form and are written
/// as `null`; callers that must not emit `null` drop them first.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    with_f64_text(v, |t| out.extend_from_slice(t));
}

/// Calls `f` with a double's text exactly as JavaScript's `String(x)`
/// writes it (the extension's own writer): whole numbers below 2^53 through
/// `itoa`, all others through `ryu-js`, an implementation of ECMAScript's
/// `Number::toString`. Non-finite values have no JSON form: `null`.
#[inline]
pub fn with_f64_text<R>(v: f64, f: impl FnOnce(&[u8]) -> R) -> R {
    if v.fract() == 0.0 && v.abs() < EXACT_INTEGERS {
        // -0.0 is whole; JavaScript writes it as 0.
        f(itoa::Buffer::new().format(v as i64).as_bytes())
    } else if v.is_finite() {
        f(ryu_js::Buffer::new().format_finite(v).as_bytes())
    } else {
        f(b"null")
    }
}

/// Calls `f` with a number's shortest text (as [`write_num`] writes it).
#[inline]
pub fn with_num_text<R>(n: Num, f: impl FnOnce(&[u8]) -> R) -> R {
    match n {
        Num::Int(v) => f(itoa::Buffer::new().format(v).as_bytes()),
        Num::UInt(v) => f(itoa::Buffer::new().format(v).as_bytes()),
        Num::Float(v) => with_f64_text(v, f),
    }
}

#[inline]
pub fn write_num(out: &mut Vec<u8>, n: Num) {
    with_num_text(n, |t| out.extend_from_slice(t));
}

/// Writes a number as a JSON string holding its shortest text (property values
/// that arrive as numbers are stringified this way).
pub fn write_num_as_str(out: &mut Vec<u8>, n: Num) {
    out.push(b'"');
    write_num(out, n);
    out.push(b'"');
}

/// Writes an OTLP 64-bit integer field value: a decimal string.
#[inline]
pub fn write_nanos(out: &mut Vec<u8>, nanos: u64) {
    out.push(b'"');
    write_u64(out, nanos);
    out.push(b'"');
}

/// [`write_nanos`] that keeps the last time's text: the points of an event
/// share their times, so each is formatted once per event, not per point.
#[derive(Clone, Copy, Debug, Default)]
pub struct NanosText {
    nanos: u64,
    /// 0 until the first time is written (u64::MAX has 20 digits).
    len: u8,
    /// The quoted text, copied whole: one copy per point, not three.
    text: [u8; 22],
}

impl NanosText {
    pub fn write(&mut self, out: &mut Vec<u8>, nanos: u64) {
        if self.len == 0 || self.nanos != nanos {
            let mut b = itoa::Buffer::new();
            let t = b.format(nanos).as_bytes();
            self.text[0] = b'"';
            self.text[1..=t.len()].copy_from_slice(t);
            self.text[t.len() + 1] = b'"';
            self.len = t.len() as u8 + 2;
            self.nanos = nanos;
        }
        out.extend_from_slice(&self.text[..usize::from(self.len)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn a_kept_time_text_is_written_as_a_fresh_one_is() {
        let mut kept = NanosText::default();
        for n in [0, 0, 7, 1_795_004_595_774_000_000, 1_795_004_595_774_000_000, 9, u64::MAX, 0, 10] {
            assert_eq!(s(|o| kept.write(o, n)), s(|o| write_nanos(o, n)), "{n}");
        }
    }

    #[test]
    fn has_ascii_upper_finds_capitals_anywhere_and_nothing_else() {
        for b in 0..=255u8 {
            for at in 0..20 {
                let mut v = vec![b'a'; 20];
                v[at] = b;
                assert_eq!(has_ascii_upper(&v), b.is_ascii_uppercase(), "byte {b:#x} at {at}");
            }
        }
        assert!(!has_ascii_upper("00ff\u{e9}\u{c9}\u{17f}z@[`{".as_bytes()));
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(s(|o| write_str(o, "a\"b\\c")), r#""a\"b\\c""#);
        assert_eq!(s(|o| write_str(o, "\n\r\t\u{8}\u{c}")), r#""\n\r\t\b\f""#);
        assert_eq!(s(|o| write_str(o, "\u{1}\u{1f}")), r#""\u0001\u001f""#);
    }

    #[test]
    fn swar_scan_finds_every_escape_position() {
        // Each special byte at every offset of a 20-byte string, among ASCII and UTF-8.
        for special in [b'"', b'\\', b'\n', 0x00u8, 0x1f, 0x7f, 0xc3] {
            for at in 0..20 {
                let mut v: Vec<u8> = b"abcdefghijklmnopqrst".to_vec();
                v[at] = special;
                let text = String::from_utf8_lossy(&v).into_owned();
                let mut out = Vec::new();
                write_str(&mut out, &text);
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, text, "byte {special:#x} at {at}");
            }
        }
    }

    #[test]
    fn the_scan_stops_at_the_first_escape_whatever_the_length() {
        // Every length around the 8- and 16-byte steps, every start, one or two special
        // bytes anywhere, among bytes the SWAR test's borrows would flag
        // wrongly above an escape (` ` after a control byte, `#` after
        // `"`): the table's answer.
        for (len, filler) in (0..=40).flat_map(|len| [(len, b'a'), (len, b' '), (len, b'#')]) {
            for first in 0..=len {
                for second in first..=len {
                    let mut v = vec![filler; len];
                    if first < len {
                        v[first] = b'"';
                    }
                    if second < len {
                        v[second] = 0x1f;
                    }
                    for start in 0..=len {
                        let expect = (start..len).find(|&i| ESCAPE[v[i] as usize]).unwrap_or(len);
                        assert_eq!(next_escape(&v, start), expect, "len {len}, escapes at {first} and {second}, from {start}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_string_is_clean_when_no_byte_needs_an_escape() {
        for (len, filler) in (0..=24).flat_map(|len| [(len, b'a'), (len, b' '), (len, b'#'), (len, 0xc3)]) {
            assert!(is_clean(&vec![filler; len]), "{len} x {filler:#x}");
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut v = vec![filler; len];
                    v[at] = special;
                    assert!(!is_clean(&v), "{len} x {filler:#x}, {special:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn passes_non_ascii_through() {
        assert_eq!(s(|o| write_str(o, "héllo ✓ 😀 \u{2028}")), "\"héllo ✓ 😀 \u{2028}\"");
    }

    #[test]
    fn escaped_strings_round_trip_through_serde_json() {
        let nasty = "x\u{0}y\u{7f}\"\\/\u{ffff}\u{10ffff}";
        let out = s(|o| write_str(o, nasty));
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, nasty);
    }

    #[test]
    fn integral_doubles_have_no_fraction() {
        assert_eq!(s(|o| write_f64(o, 13.0)), "13");
        assert_eq!(s(|o| write_f64(o, -0.0)), "0");
        assert_eq!(s(|o| write_f64(o, -42.0)), "-42");
        assert_eq!(s(|o| write_f64(o, 1e18)), "1000000000000000000");
    }

    #[test]
    fn other_doubles_are_shortest_round_trip() {
        assert_eq!(s(|o| write_f64(o, 0.1)), "0.1");
        assert_eq!(s(|o| write_f64(o, -2.5)), "-2.5");
        let v = 0.1 + 0.2;
        let text = s(|o| write_f64(o, v));
        assert_eq!(text, "0.30000000000000004");
        assert_eq!(text.parse::<f64>().unwrap(), v);
    }

    #[test]
    fn doubles_are_written_as_javascript_writes_them() {
        // Expected strings are what `String(x)` gives in node.
        for (v, js) in [
            (0.000001, "0.000001"),
            (0.0000012345, "0.0000012345"),
            (1.5e-7, "1.5e-7"),
            (-1e-7, "-1e-7"),
            (1e20, "100000000000000000000"),
            (1.5e20, "150000000000000000000"),
            (1e21, "1e+21"),
            (1.2345678901234568e29, "1.2345678901234568e+29"),
            (-1.5e300, "-1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123.456, "123.456"),
            (0.00001, "0.00001"),
            (1e16 + 0.5, "10000000000000000"),
            (9.5e18, "9500000000000000000"),
        ] {
            assert_eq!(s(|o| write_f64(o, v)), js, "{v:e}");
            let back: f64 = s(|o| write_f64(o, v)).parse().unwrap();
            assert_eq!(back, v, "{js} must round-trip");
        }
    }

    #[test]
    fn every_double_round_trips_in_javascript_notation() {
        // Random bit patterns cover every exponent; the rules are ECMAScript's.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Half raw bit patterns, half values around the plain range's edges.
            let v = if x & 1 == 0 {
                f64::from_bits(x)
            } else {
                ((x >> 11) % 10_000_000) as f64 * 10f64.powi((x >> 40) as i32 % 32 - 16)
            };
            if !v.is_finite() {
                continue;
            }
            let text = s(|o| write_f64(o, v));
            assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
            let plain = v == 0.0 || (1e-6..1e21).contains(&v.abs());
            assert_eq!(!text.contains('e'), plain, "{text}");
            if !plain {
                assert!(text.contains("e+") || text.contains("e-"), "{text}");
            }
        }
    }

    /// `String(x)` in node 20 for whole doubles between 2^53 and 9e18 (where
    /// exact digits and JavaScript's shortest digits differ), random bit
    /// patterns and a few edges; made by a seeded script, bits -> text.
    const NODE: &[(u64, &str)] = &[
        (0x43d7cd42d74a5bd3, "6860402102123843000"),
        (0x43d93c3bae409b98, "7273575876580499000"),
        (0x43dec1f3a4796418, "8865281517519135000"),
        (0x43c82f82861b46e6, "3485510186621062000"),
        (0x43c6758b7050e2a5, "3236705911238380000"),
        (0x43ba29b17d6bf7fb, "1885233071271705300"),
        (0x43bdec74f3f464f3, "2156226912729756400"),
        (0x43d73103374e1c1c, "6684481891198857000"),
        (0x43d830f88d3394b9, "6972665364527375000"),
        (0x43b2a83d8266be8e, "1344392119048900000"),
        (0x43a1e8e9ff71d156, "645269288288561900"),
        (0x43c756c2a3ab6b90, "3363491038161740000"),
        (0x43d56f1e7e2b69c4, "6177946897817735000"),
        (0x43ac3f8937ac7701, "1017748214402220200"),
        (0x43ce1d96cbae6b08, "4340112794022449000"),
        (0x43d223f90a467651, "5228648557578896000"),
        (0x43ca9e7e1c3efd73, "3836218302174783000"),
        (0x43c32437373980df, "2758576192419380700"),
        (0x43844b087d334a5a, "182783979729537860"),
        (0x43b614c17ee62a9a, "1591109319140219400"),
        (0x43d512c3b1db4018, "6073964772129268000"),
        (0x43cfea9796dbd6cd, "4599634467830471000"),
        (0x43ae34a1ab381544, "1088271138339594800"),
        (0x438e3da67cff0b8f, "272385106312786400"),
        (0x43ac3d9a05daf819, "1017475978290269300"),
        (0x43aa1303d183f4f8, "939424833970273300"),
        (0x43d7e811e0bace7e, "6890586057494624000"),
        (0x43db4211309a79da, "7856605151738948000"),
        (0x43cb40ed3fb4c984, "3927660590810728400"),
        (0x43d6e4a38b261f61, "6598492726239266000"),
        (0x43db1c5b879b3b60, "7814147905420100000"),
        (0x43d3f480f414853e, "5751663867370732000"),
        (0x43c110a314cb014e, "2459324015945358300"),
        (0x43c9ea12c9ce6f00, "3734651306919198700"),
        (0x43d29137f97b95e0, "5351648435862209000"),
        (0x43caf982d8607e49, "3887457160061031000"),
        (0x43deb1e3ecdcfff0, "8847197993900687000"),
        (0x43b1534bcd04977d, "1248424865629175000"),
        (0x43d669a6e849b34a, "6460021831952574000"),
        (0x43d0b964eb8a8e30, "4820421352411939000"),
        (0x2d1ce28856d20e5e, "2.215603731797175e-91"),
        (0x572a15ed48b3fdc2, "7.841697833625344e+111"),
        (0x32b911499417aab9, "2.3803041954013153e-64"),
        (0x17a8ec88e0da0bac, "1.0669643833474769e-194"),
        (0x0cc88eab2f9ad4bb, "4.3902997915267284e-247"),
        (0xbc3a5b419a43afd2, "-1.4287870889761718e-18"),
        (0x6f0f3414c47c9c0d, "9.239942182940311e+226"),
        (0xe71a7567edb8c675, "-4.6049449625872434e+188"),
        (0x63674cf841ee8ab9, "7.034866163903114e+170"),
        (0xe375837da840d9ec, "-1.2990664698521692e+171"),
        (0x578eb22e1ea5a35f, "5.905686629582816e+113"),
        (0x4efa582ee029dfd9, "2.9091650704676072e+72"),
        (0xf3b363e938295a26, "-2.1692042628035588e+249"),
        (0x2e3a4ef3496f4112, "5.2900001119406624e-86"),
        (0xb809d78e2a2f9b10, "-9.49285634690637e-39"),
        (0x46217f104eb30026, "6.93101536724741e+29"),
        (0x8947b5fefda6afa6, "-5.882775229507853e-264"),
        (0x4a3ae29b2af0cb79, "3.9292734840969675e+49"),
        (0xbfd0273b10a6d4af, "-0.2523944532980051"),
        (0xed0a00eb302b52c6, "-1.7928344098460697e+217"),
        (0x3c0a45ad6d0175e3, "1.7802719962921167e-19"),
        (0x5bec25a986aa6fc8, "6.393254796400403e+134"),
        (0x904bc2dda0ebc917, "-3.576279648101772e-230"),
        (0x459ae6d82ef0bb45, "2.0814210227308495e+27"),
        (0xd8f30b16630d2b73, "-3.0734116139155754e+120"),
        (0x7110b72632258de5, "4.251812196359382e+236"),
        (0x543b14bc79e21fbe, "5.7844666878803994e+97"),
        (0xb3afb674d263f401, "-9.867437071726851e-60"),
        (0x992a5514fae813a9, "-1.891221305366931e-187"),
        (0x65950d0578f009ce, "2.18377227571136e+181"),
        (0x4340000000000001, "9007199254740994"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x441ac53a7e04bcda, "123456789012345680000"),
        (0x3fd3333333333334, "0.30000000000000004"),
        (0x3fd5555555555555, "0.3333333333333333"),
        (0xbe7ad7f29abcaf48, "-1e-7"),
        (0x0000000000000001, "5e-324"),
    ];

    #[test]
    fn large_whole_doubles_are_written_with_javascripts_digits_not_exact_ones() {
        assert_eq!(s(|o| write_f64(o, 60766121714619592.0)), "60766121714619590");
        for &(bits, js) in NODE {
            let v = f64::from_bits(bits);
            assert_eq!(s(|o| write_f64(o, v)), js, "{v:e}");
        }
    }

    #[test]
    fn non_finite_doubles_become_null() {
        assert_eq!(s(|o| write_f64(o, f64::NAN)), "null");
        assert_eq!(s(|o| write_f64(o, f64::INFINITY)), "null");
    }

    #[test]
    fn numbers_keep_their_width() {
        assert_eq!(s(|o| write_num(o, Num::UInt(u64::MAX))), "18446744073709551615");
        assert_eq!(s(|o| write_num(o, Num::Int(i64::MIN))), "-9223372036854775808");
        assert_eq!(s(|o| write_num_as_str(o, Num::Float(2.5))), "\"2.5\"");
    }

    #[test]
    fn ids_are_lowercased() {
        assert_eq!(s(|o| write_str_lower(o, "ABCdef01")), "\"abcdef01\"");
    }
}

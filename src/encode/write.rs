//! Low-level JSON writing: string escaping, numbers, OTLP nanosecond strings.
//!
//! Every encoder writes bytes straight into a `Vec<u8>`; nothing builds a
//! `serde_json::Value` in between. Numbers follow one rule everywhere:
//! integral values are written without a fraction (`13`, never `13.0`),
//! other finite values in the shortest form that round-trips (ryu).

/// A JSON number as read from the input, kept in the width it had.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(v) => v as f64,
            Num::UInt(v) => v as f64,
            Num::Float(v) => v,
        }
    }
}

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

/// Whether any byte of `w` (8 bytes, little endian) needs an escape:
/// a control character (< 0x20), `"` or `\`. Branch-free SWAR test.
#[inline(always)]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // Bytes below 0x20 (the high-bit mask keeps bytes >= 0x80 out).
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (below | has_zero(w ^ (ONES * b'"' as u64)) | has_zero(w ^ (ONES * b'\\' as u64))) != 0
}

/// Writes the escaped body of a JSON string (no quotes). Clean 8-byte words
/// are found with one SWAR test and copied as fixed-size stores; only the
/// bytes of a word that holds an escape are looked at one by one.
#[inline]
pub fn write_str_body(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len());
    let mut i = 0;
    while let Some(w) = bytes.get(i..i + 8) {
        let w8 = [w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]];
        if word_needs_escape(u64::from_le_bytes(w8)) {
            write_byte(out, bytes[i]);
            i += 1;
        } else {
            out.extend_from_slice(&w8);
            i += 8;
        }
    }
    // The tail (< 8 bytes) byte by byte: building a padded word here costs a
    // memcpy call and a store-forwarding stall, more than a few table lookups.
    for &b in &bytes[i..] {
        write_byte(out, b);
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
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        write_str(out, &s.to_ascii_lowercase());
    } else {
        write_str(out, s);
    }
}

#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Largest magnitude written as an integer; beyond it ryu's exponent form is used.
const INTEGRAL_LIMIT: f64 = 9.0e18;

/// True when `v` is a whole number that [`write_f64`] writes without a fraction.
#[inline]
pub fn is_integral(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0 && v.abs() < INTEGRAL_LIMIT
}

/// Writes a finite double as JavaScript would: integral values as integers,
/// others shortest round-trip. Non-finite values have no JSON form and are
/// written as `null`; callers that must not emit `null` drop them first.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if is_integral(v) {
        // -0.0 is integral; write it as 0.
        write_i64(out, v as i64);
    } else if v.is_finite() {
        let mut buf = ryu::Buffer::new();
        let text = buf.format_finite(v);
        if text.as_bytes().contains(&b'e') {
            write_js_exponent_form(out, text);
        } else {
            // ryu's plain notation is JavaScript's too (it uses it for a narrower range).
            out.extend_from_slice(text.as_bytes());
        }
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Rewrites ryu's exponent notation (`1e-6`, `1.5e20`) the way ECMAScript
/// `Number::toString` writes the same digits: plain for a decimal exponent
/// in (-7, 21), else `d.ddde+N` / `d.ddde-N`.
fn write_js_exponent_form(out: &mut Vec<u8>, text: &str) {
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The significant digits, and `n`: the value is 0.DIGITS x 10^n.
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let mut n = int.len() as i32 + exp;
    let lead = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..lead);
    n -= lead as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        out.push(b'0');
        return;
    }
    let k = digits.len() as i32;
    out.extend_from_slice(sign.as_bytes());
    if k <= n && n <= 21 {
        out.extend_from_slice(&digits);
        out.resize(out.len() + (n - k) as usize, b'0');
    } else if 0 < n && n <= 21 {
        out.extend_from_slice(&digits[..n as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-n) as usize, b'0');
        out.extend_from_slice(&digits);
    } else {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if n > 0 { b'+' } else { b'-' });
        write_i64(out, i64::from((n - 1).abs()));
    }
}

#[inline]
pub fn write_num(out: &mut Vec<u8>, n: Num) {
    match n {
        Num::Int(v) => write_i64(out, v),
        Num::UInt(v) => write_u64(out, v),
        Num::Float(v) => write_f64(out, v),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
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

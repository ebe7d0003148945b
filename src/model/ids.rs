//! Trace and span ids that were checked: `N` hex digits, not all zero (an
//! all-zero id is invalid in OTLP). Only [`HexId::parse`] makes one, so an
//! encoder that takes a [`SpanIds`] cannot write an invalid id.

/// `N` hex digits, not all zero, borrowed from the input line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexId<'a, const N: usize>(&'a str);

/// Hex digits, for a branch-free check.
static IS_HEX: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_hexdigit();
        i += 1;
    }
    t
};

impl<'a, const N: usize> HexId<'a, N> {
    /// The id, if `s` is `N` hex digits and not all zero.
    #[inline]
    pub fn parse(s: &'a str) -> Option<Self> {
        if s.len() != N {
            return None;
        }
        let (mut hex, mut nonzero) = (true, false);
        for &b in s.as_bytes() {
            hex &= IS_HEX[b as usize];
            nonzero |= b != b'0';
        }
        (hex && nonzero).then_some(HexId(s))
    }

    /// The digits as read (in either case).
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The ids of a span: its trace, its own id, and its parent's when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanIds<'a> {
    pub trace: HexId<'a, 32>,
    pub span: HexId<'a, 16>,
    pub parent: Option<HexId<'a, 16>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_of_the_right_length_and_not_all_zero() {
        assert!(HexId::<16>::parse("0123456789abcdef").is_some());
        assert!(HexId::<16>::parse("0123456789ABCDEF").is_some());
        assert!(HexId::<16>::parse("0000000000000000").is_none());
        assert!(HexId::<16>::parse("0123456789abcdeg").is_none());
        assert!(HexId::<16>::parse("0123").is_none());
        assert!(HexId::<32>::parse("0123456789abcdef").is_none());
    }
}

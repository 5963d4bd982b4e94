//! The reduction of one query: figures of its subdomain part (lengths, entropy normalised by
//! the alphabet it uses, bytes outside the hostname alphabet). Pure and allocation-free.

use crate::decode::entropy::{self, log2_of};

/// Figures of one subdomain part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SubdomainFigures {
    /// Bytes in the subdomain part (dots included).
    pub len: usize,
    /// Longest label.
    pub longest_label: usize,
    /// Shannon entropy, bits per character (dots excluded).
    pub entropy: f64,
    /// Entropy ÷ the most the alphabet and length allow.
    pub normalised_entropy: f64,
    /// Size of the alphabet the characters fit in (16 hex, 32 base32, 36 alnum, 64, 256).
    pub alphabet: u32,
    /// Bytes outside `[A-Za-z0-9-_]`.
    pub non_hostname_bytes: usize,
}

const HEX: u8 = 1;
const B32: u8 = 2;
const ALNUM: u8 = 4;
const B64: u8 = 8;
const HOST: u8 = 16;
/// Not an upper-case letter: a class every byte of an all-lower-case name has, so "any upper
/// case" is one AND a byte like the others (no OR and no count in the loop).
const NOT_UPPER: u8 = 32;

/// Each byte's classes, case-insensitive for the first three (one table load a byte instead of
/// five tests).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let l = b.to_ascii_lowercase();
        let mut c = 0;
        if l.is_ascii_hexdigit() {
            c |= HEX;
        }
        if l.is_ascii_lowercase() || (l >= b'2' && l <= b'7') {
            c |= B32;
        }
        if l.is_ascii_alphanumeric() {
            c |= ALNUM;
        }
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'+' || b == b'/' || b == b'=' {
            c |= B64;
        }
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            c |= HOST;
        }
        if !b.is_ascii_uppercase() {
            c |= NOT_UPPER;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Reduces a subdomain part to its figures. Allocation-free.
pub(crate) fn figures(sub: &[u8]) -> SubdomainFigures {
    // A byte's count fits in a `u8`: a name (and so a subdomain part) is at most 255 bytes,
    // and a longer slice is cut there for the counts (its other figures are exact). 256
    // bytes to clear, not 1 KiB.
    let mut counts = [0u8; 256];
    let counted = sub.get(..usize::from(u8::MAX)).unwrap_or(sub);
    let mut n = 0usize;
    let mut longest = 0usize;
    let mut cur = 0usize;
    // Every class the characters so far all belong to (upper case and bytes outside the
    // hostname alphabet included, as the lack of a class: both are rare, so they are counted
    // only when present).
    let mut all = HEX | B32 | ALNUM | B64 | HOST | NOT_UPPER;
    for &b in counted {
        if b == b'.' {
            longest = longest.max(cur);
            cur = 0;
            continue;
        }
        cur += 1;
        n += 1;
        counts[usize::from(b)] += 1;
        all &= CLASS[usize::from(b)];
    }
    let (hex, b32, alnum, b64) = (all & HEX != 0, all & B32 != 0, all & ALNUM != 0, all & B64 != 0);
    let non_host = if all & HOST != 0 {
        0
    } else {
        sub.iter().filter(|&&b| b != b'.' && CLASS[usize::from(b)] & HOST == 0).count()
    };
    longest = longest.max(cur);
    // H = log2(n) - Σ c·log2(c) / n: one table load per distinct byte instead of a division
    // and a libm log2 (the sum was ~1,300 instructions a query under a random-subdomain flood).
    let mut entropy = 0.0;
    if n > 0 {
        // Each distinct byte once, in order of first appearance: a second walk of the name
        // (a count is cleared once summed), not 256 counters for the ~30 a name uses.
        // The table once a name, not once a distinct byte.
        let c_log2_c = entropy::c_log2_c_table();
        let mut sum = 0.0;
        for &b in counted {
            let c = &mut counts[usize::from(b)];
            if *c != 0 {
                sum += c_log2_c[usize::from(*c)];
                *c = 0;
            }
        }
        entropy = (log2_of(n) - sum / n as f64).max(0.0);
    }
    let has_upper = all & NOT_UPPER == 0;
    let alphabet: u32 = if hex {
        16
    } else if b32 && !has_upper {
        32
    } else if alnum && !has_upper {
        36
    } else if b64 {
        64
    } else {
        256
    };
    let max_bits = log2_of((alphabet as usize).min(n).max(2));
    let normalised = if n > 1 { (entropy / max_bits).min(1.0) } else { 0.0 };
    SubdomainFigures {
        len: sub.len(),
        longest_label: longest,
        entropy,
        normalised_entropy: normalised,
        alphabet,
        non_hostname_bytes: non_host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures as first written (five tests a byte, a walk of all 256 counts, a libm log2 a
    /// byte): the tables and the walk of present bytes must give the same figures (the entropy to
    /// rounding).
    fn reference(sub: &[u8]) -> SubdomainFigures {
        let mut counts = [0u32; 256];
        let (mut n, mut longest, mut cur, mut non_host) = (0usize, 0usize, 0usize, 0usize);
        let (mut hex, mut b32, mut alnum, mut b64) = (true, true, true, true);
        for &b in sub {
            if b == b'.' {
                longest = longest.max(cur);
                cur = 0;
                continue;
            }
            cur += 1;
            n += 1;
            counts[usize::from(b)] += 1;
            let l = b.to_ascii_lowercase();
            hex &= l.is_ascii_hexdigit();
            b32 &= l.is_ascii_lowercase() || (b'2'..=b'7').contains(&l);
            alnum &= l.is_ascii_alphanumeric();
            b64 &= b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'+' || b == b'/' || b == b'=';
            if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                non_host += 1;
            }
        }
        longest = longest.max(cur);
        let mut entropy = 0.0;
        if n > 0 {
            for &c in counts.iter().filter(|c| **c > 0) {
                let p = f64::from(c) / n as f64;
                entropy -= p * p.log2();
            }
        }
        let has_upper = sub.iter().any(|b| b.is_ascii_uppercase());
        let alphabet: u32 = if hex {
            16
        } else if b32 && !has_upper {
            32
        } else if alnum && !has_upper {
            36
        } else if b64 {
            64
        } else {
            256
        };
        let max_bits = (f64::from(alphabet)).min(n as f64).max(2.0).log2();
        let normalised = if n > 1 { (entropy / max_bits).min(1.0) } else { 0.0 };
        SubdomainFigures {
            len: sub.len(),
            longest_label: longest,
            entropy,
            normalised_entropy: normalised,
            alphabet,
            non_hostname_bytes: non_host,
        }
    }

    #[test]
    fn the_same_figures_as_the_reference() {
        let mut x = 0x243f_6a88_85a3_08d3u64;
        let alphabets: [&[u8]; 6] = [
            b"0123456789abcdef",
            b"abcdefghijklmnopqrstuvwxyz234567.",
            b"ABCDEFabcdef0123456789-_.",
            b"abcXYZ+/=019",
            b"a.b",
            &[0, 1, 0x80, 0xff, b'.', b'A', b'z', b'=', b' '],
        ];
        for round in 0..3000 {
            let alpha = alphabets[round % alphabets.len()];
            let len = round % 90;
            let s: Vec<u8> = (0..len)
                .map(|_| {
                    x = crate::flow::host::mix(x);
                    alpha[(x % alpha.len() as u64) as usize]
                })
                .collect();
            let (a, b) = (figures(&s), reference(&s));
            // The entropy is summed another way (log2(n) - Σc·log2(c)/n): equal to rounding.
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs().max(1.0);
            assert!(close(a.entropy, b.entropy), "{s:?}: {} vs {}", a.entropy, b.entropy);
            assert!(close(a.normalised_entropy, b.normalised_entropy), "{s:?}");
            let exact = |f: SubdomainFigures| (f.len, f.longest_label, f.alphabet, f.non_hostname_bytes);
            assert_eq!(exact(a), exact(b), "{s:?}");
        }
    }
}

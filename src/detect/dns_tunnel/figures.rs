//! The reduction of one query: figures of its subdomain part (lengths, entropy normalised by
//! the alphabet it uses, bytes outside the hostname alphabet). Pure and allocation-free.

/// Figures of one subdomain part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubdomainFigures {
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

/// Reduces a subdomain part to its figures. Allocation-free.
pub fn figures(sub: &[u8]) -> SubdomainFigures {
    let mut counts = [0u32; 256];
    // Which bytes occur: the entropy sum visits those alone (in byte order, as a walk of all
    // 256 counts would), not 256 counters for the ~30 a name uses.
    let mut present = [0u64; 4];
    let mut n = 0usize;
    let mut longest = 0usize;
    let mut cur = 0usize;
    let (mut hex, mut b32, mut alnum, mut b64) = (true, true, true, true);
    let mut non_host = 0usize;
    for &b in sub {
        if b == b'.' {
            longest = longest.max(cur);
            cur = 0;
            continue;
        }
        cur += 1;
        n += 1;
        counts[usize::from(b)] += 1;
        present[usize::from(b >> 6)] |= 1 << (b & 63);
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
        for (w, &bits) in present.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let b = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let p = f64::from(counts[b]) / n as f64;
                entropy -= p * p.log2();
            }
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

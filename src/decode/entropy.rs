//! Shannon entropy from byte counts by table: `H = log2(n) − Σ c·log2(c) / n`, one table load
//! per distinct byte instead of a division and a libm `log2` (DNS names' figures, ICMP echo
//! payloads).

/// Counts the table covers: a DNS name is at most 255 bytes; a longer ICMP payload's counts
/// past it are worked out.
const TABLE: usize = 256;

/// `c·log2(c)` for `c` < [`TABLE`] (0 for 0), and `log2(c)`, computed once.
static LOG2: std::sync::LazyLock<([f64; TABLE], [f64; TABLE])> = std::sync::LazyLock::new(|| {
    let (mut cl, mut l) = ([0.0; TABLE], [0.0; TABLE]);
    for c in 1..TABLE {
        l[c] = (c as f64).log2();
        cl[c] = c as f64 * l[c];
    }
    (cl, l)
});

/// `log2(n)` (`-inf` for 0).
pub(crate) fn log2_of(n: usize) -> f64 {
    match LOG2.1.get(n) {
        Some(v) => *v,
        None => (n as f64).log2(),
    }
}

/// The table of `c·log2(c)` for counts below 256 (0 for 0): fetch it once per message, not
/// once per distinct byte.
pub(crate) fn c_log2_c_table() -> &'static [f64; TABLE] {
    &LOG2.0
}

/// `c·log2(c)` for any count, from `table` ([`c_log2_c_table`]) when it is there.
#[inline]
pub(crate) fn c_log2_c(table: &[f64; TABLE], c: usize) -> f64 {
    match table.get(c) {
        Some(v) => *v,
        None => c as f64 * (c as f64).log2(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_hold_what_libm_gives() {
        let t = c_log2_c_table();
        for c in [0usize, 1, 2, 3, 100, 255, 256, 4096] {
            let want = if c == 0 { 0.0 } else { c as f64 * (c as f64).log2() };
            assert_eq!(c_log2_c(t, c), want, "{c}");
            if c > 0 {
                assert_eq!(log2_of(c), (c as f64).log2(), "{c}");
            }
        }
    }
}

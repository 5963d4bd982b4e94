//! The beacon score: pure robust statistics over a short series of check-in gaps and sizes.
//!
//! Everything here works on at most [`RING`] values copied to the stack and sorted: no
//! allocation, a few hundred nanoseconds per score. The figures:
//! - median gap, median absolute deviation (MAD) and its ratio to the median (`madm`);
//! - Bowley (quartile) skew of the gaps, `(q3 + q1 - 2·median) / (q3 - q1)`;
//! - the share of gaps within `±tolerance × median` of one, two or three medians (a missed
//!   check-in doubles a gap, two missed treble it; the tolerance is absolute, so the multiples do
//!   not widen until every gap fits);
//! - the same MAD ratio on the sizes.
//!
//! [`score`] combines them; [`rita`] computes RITA v5's timestamp and data-size scores on the same
//! series for comparison (docs/detectors/beacon.md).

/// Most gaps and sizes a series keeps (the newest ones).
pub(crate) const RING: usize = 32;

/// The score's weights: regular gaps (fit share), tight gaps (MAD), symmetric gaps (skew),
/// steady sizes. They sum to 1.
pub(crate) const W_FIT: f64 = 0.4;
/// Weight of the gap MAD score.
pub(crate) const W_MAD: f64 = 0.3;
/// Weight of the gap skew score.
pub(crate) const W_SKEW: f64 = 0.15;
/// Weight of the size score.
pub(crate) const W_SIZE: f64 = 0.15;

/// Quartiles and dispersion of a small sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
}

impl Spread {
    /// MAD over median (0 when the median is 0): 0 is perfectly steady.
    pub fn madm(&self) -> f64 {
        if self.median > 0.0 { self.mad / self.median } else { 0.0 }
    }
    /// Bowley skew, in [-1, 1]; 0 when the quartiles coincide.
    pub fn bowley(&self) -> f64 {
        let iqr = self.q3 - self.q1;
        if iqr <= 0.0 { 0.0 } else { ((self.q3 + self.q1 - 2.0 * self.median) / iqr).clamp(-1.0, 1.0) }
    }
}

/// Quantile of sorted values, linear between closest ranks.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

fn sort(buf: &mut [f64]) {
    buf.sort_unstable_by(|a, b| a.total_cmp(b));
}

/// Quartiles, median and MAD of up to [`RING`] values (extra values are ignored).
pub(crate) fn spread(values: &[f64]) -> Spread {
    let n = values.len().min(RING);
    let mut v = [0f64; RING];
    v[..n].copy_from_slice(&values[..n]);
    let v = &mut v[..n];
    sort(v);
    let (q1, median, q3) = (quantile(v, 0.25), quantile(v, 0.5), quantile(v, 0.75));
    let mut d = [0f64; RING];
    for (o, x) in d.iter_mut().zip(v.iter()) {
        *o = (x - median).abs();
    }
    let d = &mut d[..n];
    sort(d);
    Spread { q1, median, q3, mad: quantile(d, 0.5) }
}

/// Share of `gaps` within `±tolerance × median` of 1, 2 or 3 times `median`.
pub(crate) fn fit_share(gaps: &[f64], median: f64, tolerance: f64) -> f64 {
    if gaps.is_empty() || median <= 0.0 {
        return 0.0;
    }
    let tol = tolerance * median;
    let fit = gaps
        .iter()
        .filter(|&&g| {
            let k = (g / median).round().clamp(1.0, 3.0);
            (g - k * median).abs() <= tol
        })
        .count();
    fit as f64 / gaps.len() as f64
}

/// The parts of a beacon score, all in [0, 1] (1 = a perfect beacon).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Score {
    /// Gap spread.
    pub gaps: Spread,
    /// Size spread (zeros when no size is known yet).
    pub sizes: Spread,
    /// Share of gaps that fit the interval or a multiple of it.
    pub fit: f64,
    /// `1 - madm` of the gaps, floored at 0.
    pub mad_score: f64,
    /// `1 - |Bowley skew|` of the gaps.
    pub skew_score: f64,
    /// `1 - madm` of the sizes, floored at 0; 0.5 (neutral) with fewer than 3 sizes.
    pub size_score: f64,
    /// The weighted total.
    pub total: f64,
}

/// Scores gaps (any unit) and sizes (bytes) with the fit `tolerance` (a fraction of the median).
pub fn score(gaps: &[f64], sizes: &[f64], tolerance: f64) -> Score {
    let g = spread(gaps);
    let fit = fit_share(&gaps[..gaps.len().min(RING)], g.median, tolerance);
    let mad_score = (1.0 - g.madm()).clamp(0.0, 1.0);
    let skew_score = 1.0 - g.bowley().abs();
    let (s, size_score) = if sizes.len() >= 3 {
        let s = spread(sizes);
        (s, (1.0 - s.madm()).clamp(0.0, 1.0))
    } else {
        (Spread::default(), 0.5)
    };
    let total = W_FIT * fit + W_MAD * mad_score + W_SKEW * skew_score + W_SIZE * size_score;
    Score { gaps: g, sizes: s, fit, mad_score, skew_score, size_score, total }
}

/// RITA v5's two short-horizon parts on the same series, for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Rita {
    /// Timestamp score: mean of `1 - |Bowley skew|` (skew forced to 0 when the gap IQR is under
    /// 10 s or the median equals a quartile) and the MAD score `(median - MAD) / median`.
    pub timestamp: f64,
    /// Data-size score: the same two parts on the sizes.
    pub data_size: f64,
    /// The total RITA would give before its duration (≥ 6 h) and histogram (≥ 11 h) parts can
    /// count: `0.25 × timestamp + 0.25 × data_size`, both missing parts scored 0.
    pub total_short: f64,
}

fn rita_part(s: &Spread, min_iqr: f64) -> f64 {
    let forced = s.q3 - s.q1 < min_iqr || s.median == s.q1 || s.median == s.q3;
    let skew = if forced { 0.0 } else { s.bowley() };
    let madm = if s.median > 0.0 { ((s.median - s.mad) / s.median).max(0.0) } else { 0.0 };
    ((1.0 - skew.abs()) + madm) / 2.0
}

/// RITA's timestamp (gaps in seconds) and data-size scores of a series.
pub(crate) fn rita(gaps_secs: &[f64], sizes: &[f64]) -> Rita {
    let timestamp = rita_part(&spread(gaps_secs), 10.0);
    let data_size = if sizes.is_empty() { 0.0 } else { rita_part(&spread(sizes), 0.0) };
    Rita { timestamp, data_size, total_short: 0.25 * timestamp + 0.25 * data_size }
}

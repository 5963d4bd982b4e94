//! The report's pictures, drawn as inline SVG (no script, no fetch): the alert timeline over the
//! traffic volume, the scan scatter and the egress bars. Every mark has a `<title>` so a browser
//! shows its figures on hover.

use super::model::AlertRow;
use crate::run_info::TrafficSeries;
use maud::{Markup, html};

/// A colour per detector (stable across reports: the detector's place in this list).
pub(crate) fn colour(detector: &str) -> &'static str {
    const KNOWN: [(&str, &str); 8] = [
        ("dns_tunnel", "#d62728"),
        ("icmp_tunnel", "#9467bd"),
        ("scan", "#ff7f0e"),
        ("proxyware", "#2ca02c"),
        ("egress_volume", "#1f77b4"),
        ("long_session", "#17becf"),
        ("alt_protocol", "#8c564b"),
        ("beacon", "#e377c2"),
    ];
    KNOWN.iter().find(|(d, _)| *d == detector).map_or("#7f7f7f", |(_, c)| c)
}

fn f(x: f64) -> String {
    format!("{x:.1}")
}

/// `HH:MM:SS` (UTC) of a time, with the date when `with_date`.
pub(crate) fn clock(ts: f64, with_date: bool) -> String {
    let secs = ts.floor() as i64;
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(d) if with_date => d.format("%m-%d %H:%M").to_string(),
        Some(d) => d.format("%H:%M:%S").to_string(),
        None => String::new(),
    }
}

/// An EVE timestamp shortened for tables: `2026-11-23 22:26:10.596`.
pub(crate) fn short_time(eve: &str) -> String {
    let s = eve.get(..23).unwrap_or(eve);
    s.replacen('T', " ", 1)
}

/// Bytes with a binary unit.
pub(crate) fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// The timeline: one lane per detector with a mark per alert (bigger for higher severity), over
/// the bytes per bucket of capture time as a grey area. `span` is the capture's first and last
/// packet time (or the alerts' when no stats were given).
pub(crate) fn timeline(alerts: &[AlertRow], traffic: Option<&TrafficSeries>, span: (f64, f64)) -> Markup {
    let mut detectors: Vec<&str> = alerts.iter().map(|a| a.detector.as_str()).collect();
    detectors.sort_unstable();
    detectors.dedup();
    let (w, left, right, top) = (1100.0, 120.0, 40.0, 10.0);
    let lane = 34.0;
    let plot_h = (detectors.len().max(1) as f64 * lane).max(120.0);
    let h = top + plot_h + 40.0;
    let (t0, mut t1) = span;
    if t1 - t0 < 1.0 {
        t1 = t0 + 1.0;
    }
    let x = |t: f64| left + (t - t0) / (t1 - t0) * (w - left - right);
    let bottom = top + plot_h;
    // Traffic: bytes per bucket, scaled to the plot height.
    let area = traffic.filter(|s| s.bucket_secs > 0 && !s.bytes.is_empty()).map(|s| {
        let max = s.bytes.iter().copied().max().unwrap_or(1).max(1) as f64;
        let mut d = format!("M{},{}", f(x(s.start_secs as f64).max(left)), f(bottom));
        for (i, b) in s.bytes.iter().enumerate() {
            let y = bottom - (*b as f64 / max) * plot_h * 0.95;
            let xa = x((s.start_secs + i as u64 * s.bucket_secs) as f64).clamp(left, w - right);
            let xb = x((s.start_secs + (i as u64 + 1) * s.bucket_secs) as f64).clamp(left, w - right);
            d += &format!(" L{},{} L{},{}", f(xa), f(y), f(xb), f(y));
        }
        d += &format!(" L{},{} Z", f(w - right), f(bottom));
        (d, max / s.bucket_secs as f64)
    });
    let with_date = t1 - t0 > 86_400.0;
    let ticks: Vec<f64> = (0..=6).map(|i| t0 + (t1 - t0) * f64::from(i) / 6.0).collect();
    html! {
        svg #timeline xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) width="100%" role="img"
            aria-label="alerts per detector over capture time, traffic volume behind" {
            rect x=(left) y=(top) width=(w - left - right) height=(plot_h) fill="#fafafa" stroke="#ccc" {}
            @if let Some((d, peak)) = &area {
                path d=(d) fill="#d9d9d9" stroke="#bdbdbd" stroke-width="0.5" {
                    title { "traffic volume (peak " (bytes(*peak)) "/s)" }
                }
                text x=(w - right - 4.0) y=(top + 12.0) text-anchor="end" class="axis" {
                    "grey: traffic, peak " (bytes(*peak)) "/s"
                }
            }
            @for (i, d) in detectors.iter().enumerate() {
                @let y = top + lane * (i as f64 + 0.5);
                line x1=(left) x2=(w - right) y1=(f(y)) y2=(f(y)) stroke="#e5e5e5" {}
                text x=(left - 6.0) y=(f(y + 4.0)) text-anchor="end" class="lane" fill=(colour(d)) { (d) }
                @for a in alerts.iter().filter(|a| a.detector == *d) {
                    circle cx=(f(x(a.ts))) cy=(f(y)) r=(f(9.0 - 2.0 * f64::from(a.severity)))
                        fill=(colour(d)) fill-opacity="0.75" stroke="#333" stroke-width="0.5" {
                        title { (a.time) " " (a.signature) " " (a.src) " → " (a.dst) " (severity " (a.severity) ")" }
                    }
                }
            }
            @for t in &ticks {
                line x1=(f(x(*t))) x2=(f(x(*t))) y1=(bottom) y2=(bottom + 5.0) stroke="#666" {}
                text x=(f(x(*t))) y=(bottom + 18.0) text-anchor="middle" class="axis" { (clock(*t, with_date)) }
            }
            text x=(left) y=(bottom + 34.0) class="axis" { "capture time (UTC)" }
        }
    }
}

/// Scan targets: one point per (target host, port) sampled in the alerts of one scanner, the
/// port on a log scale (ICMP probes at the bottom).
pub(crate) fn scatter(points: &[(String, Option<u16>)]) -> Markup {
    let mut hosts: Vec<&str> = points.iter().map(|p| p.0.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let (w, h, left, bottom) = (520.0, 220.0, 50.0, 30.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - 10.0;
    let step = plot_w / hosts.len().max(1) as f64;
    let y = |port: Option<u16>| match port {
        Some(p) => 10.0 + plot_h * (1.0 - (f64::from(p.max(1))).log10() / 65536f64.log10()) * 0.9,
        None => 10.0 + plot_h - 4.0,
    };
    html! {
        svg.scatter xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) width=(w) role="img"
            aria-label="scan targets: host by port" {
            rect x=(left) y="10" width=(plot_w) height=(plot_h) fill="#fafafa" stroke="#ccc" {}
            @for port in [1u16, 10, 100, 1000, 10000] {
                text x=(left - 4.0) y=(f(y(Some(port)) + 4.0)) text-anchor="end" class="axis" { (port) }
            }
            text x=(left - 4.0) y=(f(y(None) + 4.0)) text-anchor="end" class="axis" { "icmp" }
            @for (host, port) in points {
                @let i = hosts.iter().position(|h| h == host).unwrap_or(0);
                circle cx=(f(left + step * (i as f64 + 0.5))) cy=(f(y(*port))) r="3.5" fill=(colour("scan")) fill-opacity="0.8" {
                    title { (host) @if let Some(p) = port { ":" (p) } @else { " (icmp)" } }
                }
            }
            @if hosts.len() <= 8 {
                @for (i, host) in hosts.iter().enumerate() {
                    text x=(f(left + step * (i as f64 + 0.5))) y=(h - 12.0) text-anchor="middle" class="axis" { (host) }
                }
            } @else {
                text x=(left) y=(h - 12.0) class="axis" { (hosts.len()) " target hosts (sample), port on a log scale" }
            }
        }
    }
}

/// Horizontal bars: each case's measured figure against its threshold (a dark tick).
pub(crate) fn bars(rows: &[(String, f64, f64)]) -> Markup {
    let (w, left, row_h) = (620.0, 230.0, 22.0);
    let h = rows.len() as f64 * row_h + 10.0;
    let max = rows.iter().map(|r| r.1.max(r.2)).fold(1.0, f64::max);
    let x = |v: f64| left + v / max * (w - left - 90.0);
    html! {
        svg.bars xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) width=(w) role="img"
            aria-label="measured against threshold" {
            @for (i, (label, value, threshold)) in rows.iter().enumerate() {
                @let y = 5.0 + i as f64 * row_h;
                text x=(left - 6.0) y=(f(y + 14.0)) text-anchor="end" class="axis" { (label) }
                rect x=(left) y=(f(y + 3.0)) width=(f(x(*value) - left)) height="14" fill=(colour("egress_volume")) {
                    title { (bytes(*value)) " against a threshold of " (bytes(*threshold)) }
                }
                line x1=(f(x(*threshold))) x2=(f(x(*threshold))) y1=(f(y)) y2=(f(y + 20.0)) stroke="#000" stroke-width="2" {}
                text x=(f(x(value.max(*threshold)) + 4.0)) y=(f(y + 14.0)) class="axis" { (bytes(*value)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_clock() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(10_004_102.0), "9.5 MiB");
        assert_eq!(clock(1_795_472_770.5, false), "22:26:10");
    }

    #[test]
    fn timeline_marks_every_alert_and_closes_every_element() {
        let a = AlertRow::from_eve(&serde_json::json!({
            "timestamp": "2026-11-23T22:26:10.0+0000", "event_type": "alert", "src_ip": "10.0.0.1",
            "dest_ip": "203.0.113.1", "alert": {"signature_id": 1, "signature": "s <x>", "severity": 1},
            "siphon": {"detector": "scan", "score": 1.0, "evidence": {}},
        }))
        .unwrap();
        let mut s = TrafficSeries::default();
        s.add(crate::time::Timestamp::from_secs(1_795_472_760), 1500);
        let svg = timeline(&[a.clone(), a], Some(&s), (1_795_472_760.0, 1_795_472_790.0)).into_string();
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<circle").count(), svg.matches("</circle>").count());
        assert!(svg.contains("s &lt;x&gt;"), "text is escaped");
        assert!(svg.contains("<path"), "traffic drawn");
    }
}

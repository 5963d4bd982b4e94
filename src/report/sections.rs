//! One section per detector that fired: its top cases with the figures that matter for that
//! detector, and a picture where one helps. Detectors without their own entry in [`SECTIONS`]
//! get the generic table of their evidence; a new detector adds one line there (a `beacon`
//! section would draw its check-in gaps as a strip chart beside [`svg::bars`]).

use super::model::AlertRow;
use super::{short_name, svg};
use maud::{Markup, html};
use serde_json::Value;
use std::collections::BTreeMap;

/// Cases shown per detector.
pub(crate) const TOP_CASES: usize = 10;

/// A detector's own section body.
type Section = fn(&[&AlertRow]) -> Markup;

/// Detectors with their own section; the rest use [`generic`].
const SECTIONS: &[(&str, Section)] =
    &[("dns_tunnel", dns_tunnel), ("scan", scan), ("egress_volume", egress_volume)];

/// The section of `detector` over its alerts.
pub(crate) fn section(detector: &str, alerts: &[&AlertRow]) -> Markup {
    let body = SECTIONS.iter().find(|(d, _)| *d == detector).map_or(generic as Section, |(_, s)| *s);
    let cases = top_cases(alerts, |a| format!("{} {}", a.src, case_target(a)));
    html! {
        section.detector id=(format!("detector-{detector}")) {
            h3 { span.dot style=(format!("background:{}", svg::colour(detector))) {} (detector) }
            p.muted { (alerts.len()) " alerts, " (cases.len()) " cases (host and target); signatures: "
                @for (i, s) in signatures(alerts).iter().enumerate() { @if i > 0 { "; " } (s) } }
            (body(&cases))
        }
    }
}

fn case_target(a: &AlertRow) -> String {
    a.text("domain").map(str::to_owned).unwrap_or_else(|| a.dst.clone())
}

fn signatures(alerts: &[&AlertRow]) -> Vec<String> {
    let mut m: BTreeMap<u64, (&str, usize)> = BTreeMap::new();
    for a in alerts {
        m.entry(a.sid).or_insert((&a.signature, 0)).1 += 1;
    }
    m.iter().map(|(id, (s, n))| format!("{s} [{id}] ×{n}")).collect()
}

/// One alert per case (the latest, which carries the largest figures), worst first.
fn top_cases<'a>(alerts: &[&'a AlertRow], key: impl Fn(&AlertRow) -> String) -> Vec<&'a AlertRow> {
    let mut by: BTreeMap<String, &AlertRow> = BTreeMap::new();
    for a in alerts {
        let e = by.entry(key(a)).or_insert(a);
        if a.ts >= e.ts {
            *e = a;
        }
    }
    let mut v: Vec<&AlertRow> = by.into_values().collect();
    v.sort_by(|a, b| {
        a.severity.cmp(&b.severity).then(b.score.total_cmp(&a.score)).then(a.ts.total_cmp(&b.ts))
    });
    v.truncate(TOP_CASES);
    v
}

fn num(a: &AlertRow, k: &str) -> String {
    match a.evidence.get(k) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => "–".into(),
    }
}

fn dns_tunnel(cases: &[&AlertRow]) -> Markup {
    html! {
        table {
            tr { th { "client" } th { "domain" } th { "resolver" } th.num { "queries" } th.num { "unique names" }
                 th.num { "longest label" } th.num { "longest name" } th.num { "score" } th { "example query" } }
            @for a in cases {
                tr { td { (a.src) } td { (num(a, "domain")) } td { (num(a, "resolver")) } td.num { (num(a, "queries")) }
                     td.num { (num(a, "distinct_subdomains")) } td.num { (num(a, "longest_label")) }
                     td.num { (num(a, "longest_name")) } td.num { (a.score) }
                     td.mono { (a.name.as_deref().map(|n| short_name(n, 70)).unwrap_or_default())
                        @if let Some(b) = a.num("query_name_bytes") { " (" (b) " bytes)" } } }
            }
        }
    }
}

/// `203.0.113.11:443/tcp` → (host, Some(443)); `203.0.113.11/icmp` → (host, None).
fn parse_target(t: &str) -> Option<(String, Option<u16>)> {
    let (addr, _proto) = t.rsplit_once('/')?;
    match addr.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            Some((h.trim_matches(['[', ']']).to_owned(), p.parse().ok()))
        }
        _ => Some((addr.to_owned(), None)),
    }
}

fn scan(cases: &[&AlertRow]) -> Markup {
    html! {
        table {
            tr { th { "scanner" } th { "direction" } th { "technique" } th { "tool" } th { "trigger" } th.num { "probes" }
                 th.num { "failed" } th.num { "probes/s" } th { "first → last probe" } }
            @for a in cases {
                tr { td { (a.src) } td { (num(a, "direction")) } td { (num(a, "technique")) } td { (num(a, "tool")) }
                     td { (num(a, "trigger")) } td.num { (num(a, "probes")) } td.num { (num(a, "failed_probes")) }
                     td.num { (num(a, "probes_per_sec")) }
                     td.small { (svg::short_time(a.text("first_probe").unwrap_or(""))) " → " (svg::short_time(a.text("last_probe").unwrap_or(""))) } }
            }
        }
        div.figures {
            @for a in cases.iter().take(4) {
                @let pts: Vec<(String, Option<u16>)> = a.evidence.get("sample_targets").and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).filter_map(parse_target).collect()).unwrap_or_default();
                @if !pts.is_empty() {
                    figure { (svg::scatter(&pts)) figcaption { (a.src) ": sampled targets, host by port" } }
                }
            }
        }
    }
}

fn egress_volume(cases: &[&AlertRow]) -> Markup {
    let rows: Vec<(String, f64, f64)> = cases
        .iter()
        .filter_map(|a| {
            Some((
                format!("{} → {} ({})", a.src, a.dst, num(a, "window")),
                a.num("bytes_out")?,
                a.num("threshold_bytes")?,
            ))
        })
        .collect();
    html! {
        table {
            tr { th { "host" } th { "destination" } th { "window" } th.num { "bytes out" } th.num { "threshold" } th { "at" } }
            @for a in cases {
                tr { td { (a.src) } td { (a.dst) } td { (num(a, "window")) }
                     td.num { (a.num("bytes_out").map(svg::bytes).unwrap_or_default()) }
                     td.num { (a.num("threshold_bytes").map(svg::bytes).unwrap_or_default()) } td.small { (svg::short_time(&a.time)) } }
            }
        }
        @if !rows.is_empty() { figure { (svg::bars(&rows)) figcaption { "bytes out per window; the black tick is the threshold" } } }
    }
}

/// Evidence keys the generic table leaves out: thresholds and weights (config, not measurement).
fn is_config(k: &str) -> bool {
    k.ends_with("threshold") || k.ends_with("_weights") || k.ends_with("_weight") || k == "thresholds"
}

fn key_figures(a: &AlertRow) -> String {
    a.evidence
        .iter()
        .filter(|(k, v)| !is_config(k) && (v.is_number() || v.is_string()))
        .take(5)
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={}", short_name(s, 40)),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn generic(cases: &[&AlertRow]) -> Markup {
    html! {
        table {
            tr { th { "time" } th { "host → destination" } th { "signature" } th.num { "sev" } th.num { "score" } th { "figures" } }
            @for a in cases {
                tr { td.small { (svg::short_time(&a.time)) } td { (a.src) " → " (a.dst) @if let Some(p) = a.dport { ":" (p) } }
                     td { (a.signature) @if let Some(n) = &a.name { br; span.mono { (short_name(n, 60)) } } }
                     td.num { (a.severity) } td.num { (a.score) } td.small { (key_figures(a)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_targets_parse() {
        assert_eq!(parse_target("203.0.113.11:443/tcp"), Some(("203.0.113.11".into(), Some(443))));
        assert_eq!(parse_target("203.0.113.11/icmp"), Some(("203.0.113.11".into(), None)));
        assert_eq!(parse_target("[2001:db8::1]:22/tcp"), Some(("2001:db8::1".into(), Some(22))));
        assert_eq!(parse_target("2001:db8::1/icmp"), Some(("2001:db8::1".into(), None)));
    }
}

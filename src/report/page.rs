//! The page: header, timeline, ranked hosts, a section per detector, and the blind spots. One
//! self-contained HTML file: inline CSS and SVG, no script, nothing fetched.

use super::model::{HostRow, rank_hosts};
use super::{Report, sections, short_name, svg};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

const CSS: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 4px}table{border-collapse:collapse;margin:6px 0;font-size:13px}
td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right}.mono{font-family:ui-monospace,monospace;font-size:12px}
.muted{color:#666}.small{font-size:12px}.sev1{color:#b00;font-weight:bold}.sev2{color:#c60}.sev3{color:#555}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
dl.head{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}dt{color:#666}dd{margin:0}
svg text.axis{font-size:11px;fill:#555}svg text.lane{font-size:12px;font-weight:bold}
.figures{display:flex;flex-wrap:wrap;gap:12px}figure{margin:6px 0}figcaption{font-size:12px;color:#666}
.warn{background:#fff4e5;border-left:4px solid #f90;padding:6px 10px}
";

/// Renders the whole report.
pub(crate) fn render(r: &Report) -> Markup {
    let run = r.run();
    let hosts = rank_hosts(&r.alerts);
    let span = r.span();
    let mut detectors: Vec<&str> = r.alerts.iter().map(|a| a.detector.as_str()).collect();
    detectors.sort_unstable();
    detectors.dedup();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "siphon report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "siphon report" }
                (header(r, run.as_ref(), span))
                @for n in &r.notes { p.warn { (n) } }
                h2 { "Timeline" }
                p.muted { "Alerts per detector over capture time (larger: higher severity; hover a mark for its alert); grey: traffic volume." }
                (svg::timeline(&r.alerts, run.as_ref().map(|r| &r.traffic), span))
                h2 #hosts { "Hosts ranked by severity and evidence" }
                (host_table(&hosts))
                (places(&r.alerts))
                h2 { "Detectors" }
                @if detectors.is_empty() { p { "No detector fired." } }
                @for d in &detectors {
                    @let alerts: Vec<_> = r.alerts.iter().filter(|a| a.detector == *d).collect();
                    (sections::section(d, &alerts))
                }
                h2 #blind-spots { "Blind spots: dropped, undecoded, suppressed" }
                (blind_spots(r))
            }
        }
    }
}

fn header(r: &Report, run: Option<&crate::run_info::RunInfo>, span: (f64, f64)) -> Markup {
    let stats = r.stats.as_ref().and_then(|s| s.get("siphon"));
    let n = |k: &str| stats.and_then(|s| s.get(k)).and_then(Value::as_u64);
    html! {
        dl.head {
            dt { "captures" }
            dd { @match run { Some(run) if !run.inputs.is_empty() => {
                    @for (i, c) in run.inputs.iter().enumerate() { @if i > 0 { ", " } span.mono { (c.name) }
                        @if let Some(s) = c.size { " (" (svg::bytes(s as f64)) ")" } } }
                 _ => { "not recorded" } } }
            dt { "time span" }
            dd { @match run.and_then(|r| r.first_packet.as_ref().zip(r.last_packet.as_ref())) {
                    Some((a, b)) => { (a) " → " (b) " (" (format!("{:.1}", span.1 - span.0)) " s)" }
                    None => { "not recorded (alerts span " (format!("{:.1}", span.1 - span.0)) " s)" } } }
            dt { "packets" } dd { (n("packets").map_or("–".into(), |v| v.to_string())) }
            dt { "bytes" } dd { (n("bytes").map_or("–".into(), |v| format!("{v} ({})", svg::bytes(v as f64)))) }
            dt { "alerts" } dd { (r.alerts.len()) }
            dt { "home nets" } dd { (run.map_or("not recorded".into(), |r| r.home_net.join(", "))) }
            dt { "siphon" } dd { (run.map_or("version not recorded".into(), |r| format!("version {}, config digest {}", r.version, r.config_digest))) }
            dt { "source" } dd.mono { (r.source) }
        }
    }
}

fn host_table(hosts: &[HostRow]) -> Markup {
    html! {
        table #host-table {
            tr { th { "#" } th { "host" } th { "severity" } th.num { "alerts" } th { "detectors" } th { "first alert" } th { "last alert" }
                 th.num { "bytes out" } th { "destinations" } th { "domains and names" } }
            @for (i, h) in hosts.iter().enumerate() {
                tr {
                    td.num { (i + 1) } td.mono { (h.addr) }
                    td class=(format!("sev{}", h.severity)) { (match h.severity { 1 => "high", 2 => "medium", _ => "low" }) }
                    td.num { (h.alerts) }
                    td { @for (d, c) in &h.detectors { span.dot style=(format!("background:{}", svg::colour(d))) {} (d) " ×" (c) " " } }
                    td.small { (svg::short_time(&h.first_text)) } td.small { (svg::short_time(&h.last_text)) }
                    td.num { (if h.bytes_out > 0 { svg::bytes(h.bytes_out as f64) } else { "–".into() }) }
                    td.small.mono { (list(h.destinations.iter(), 5)) }
                    td.small.mono { (list(h.names.iter(), 4)) }
                }
            }
        }
        p.muted.small { "Bytes out: the largest figure the alerts measured per detector and destination (the detector's own byte count, else the alerted flow's bytes from the host), summed." }
    }
}

fn list<'a>(items: impl ExactSizeIterator<Item = &'a String>, max: usize) -> String {
    let n = items.len();
    let mut s: Vec<String> = items.take(max).map(|i| short_name(i, 60)).collect();
    if n > max {
        s.push(format!("+{} more", n - max));
    }
    s.join(", ")
}

/// Non-zero counters under `v`, flattened as `a.b=n`.
fn nonzero(prefix: &str, v: &Value, out: &mut Vec<(String, u64)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                nonzero(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
            }
        }
        Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => {
            out.push((prefix.to_owned(), n.as_u64().unwrap_or(0)))
        }
        _ => {}
    }
}

fn blind_spots(r: &Report) -> Markup {
    let Some(s) = r.stats.as_ref().and_then(|s| s.get("siphon")) else {
        return html! { p.warn { "No stats event in the input (run siphon with --stats-json, or --report): what was dropped or not decoded is unknown." } };
    };
    let mut rows = Vec::new();
    for k in ["anomalies", "capture", "defrag", "suppressed", "mirror"] {
        if let Some(v) = s.get(k) {
            nonzero(k, v, &mut rows);
        }
    }
    rows.retain(|(k, _)| {
        k != "capture.received"
            && k != "defrag.fragments"
            && k != "defrag.reassembled"
            && k != "mirror.decapsulated"
            && k != "mirror.pairs_learned"
    });
    for k in ["flows.evicted", "tls_reassembly_refused"] {
        if let Some(v) =
            s.pointer(&format!("/{}", k.replace('.', "/"))).and_then(Value::as_u64).filter(|v| *v > 0)
        {
            rows.push((k.to_owned(), v));
        }
    }
    if let Some(d) = s.get("detectors").and_then(Value::as_object) {
        for (name, v) in d {
            if let Some(e) = v.get("evicted").and_then(Value::as_u64).filter(|e| *e > 0) {
                rows.push((format!("detector state evicted: {name}"), e));
            }
        }
    }
    let decoded = s.get("decoded").and_then(Value::as_u64).unwrap_or(0);
    let packets = s.get("packets").and_then(Value::as_u64).unwrap_or(0);
    html! {
        p { (packets) " packets, " (decoded) " decoded to IP ("
            (if packets > 0 { format!("{:.1}", decoded as f64 * 100.0 / packets as f64) } else { "–".into() }) " %)." }
        @if let Some(e) = s.get("input_error").and_then(Value::as_str) { p.warn { "The input ended early: " (e) } }
        @if rows.is_empty() { p { "Nothing dropped, undecodable or suppressed." } } @else {
            table #blind-spot-table {
                tr { th { "counter" } th.num { "count" } th { "means" } }
                @for (k, v) in &rows { tr { td.mono { (k) } td.num { (v) } td.small { (meaning(k)) } } }
            }
        }
    }
}

fn meaning(k: &str) -> &'static str {
    match k.split('.').next().unwrap_or("") {
        "anomalies" => "packets not (fully) decoded: not looked at by the detectors past that layer",
        "capture" => "dropped by the kernel or interface before siphon saw them",
        "defrag" => "IPv4 fragments not reassembled",
        "suppressed" => "repeat alerts of an episode not written (counted, not lost)",
        "mirror" => "mirror transport left out of the analysis",
        "flows" => "flows evicted when the table was full: their state was lost",
        "tls_reassembly_refused" => "TLS ClientHellos not reassembled (no SNI seen)",
        _ => "state evicted under memory pressure: evidence may be incomplete",
    }
}

/// "Where the data went": bytes out by country and by network, when alerts carry `geoip`.
fn places(alerts: &[super::model::AlertRow]) -> Markup {
    let (countries, networks) = super::model::by_place(alerts);
    if countries.is_empty() && networks.is_empty() {
        return html! {};
    }
    let table = |title: &str, rows: &[super::model::PlaceRow]| {
        html! {
            h3 { (title) }
            table {
                tr { th { "where" } th.num { "bytes out" } th.num { "alerts" } th.num { "home hosts" } }
                @for p in rows {
                    tr { td { (p.place) } td.num { (svg::bytes(p.bytes_out as f64)) } td.num { (p.alerts) } td.num { (p.hosts) } }
                }
            }
        }
    };
    html! {
        h2 #places { "Where the data went" }
        p.muted { "The external side of each alert, from the GeoIP databases (general.geoip_country_db, geoip_asn_db); bytes out as the alerts report them, per home host and destination." }
        div.figures {
            div { (table("Bytes out by country", &countries)) }
            div { (table("Bytes out by network", &networks)) }
        }
    }
}

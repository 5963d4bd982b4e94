//! `--eve-types`: EVE `flow` and `netflow` events beside the alerts, with Suricata's field
//! names, and the Community ID that ties an alert to its flow in every sensor's logs.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;

fn events(name: &str, types: &str) -> Vec<Value> {
    let o = run_raw(&[name], &["--eve-types", types, "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn of_type<'a>(ev: &'a [Value], t: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["event_type"] == t).collect()
}

#[test]
fn every_flow_is_logged_once_and_the_totals_match_the_stats() {
    let ev = events("egress_http_post.pcap", "alert,flow,netflow,stats");
    let flows = of_type(&ev, "flow");
    let stats = of_type(&ev, "stats");
    assert_eq!(stats.len(), 1);
    let created = stats[0]["siphon"]["flows"]["created"].as_u64().unwrap();
    assert_eq!(flows.len() as u64, created, "one flow event per flow");
    let ids: std::collections::HashSet<u64> = flows.iter().map(|f| f["flow_id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), flows.len(), "flow ids are unique");
    for f in &flows {
        for k in [
            "pkts_toserver",
            "pkts_toclient",
            "bytes_toserver",
            "bytes_toclient",
            "start",
            "end",
            "age",
            "state",
            "reason",
        ] {
            assert!(!f["flow"][k].is_null(), "{k} missing: {f}");
        }
        if f["proto"] == "TCP" || f["proto"] == "UDP" {
            assert!(f["community_id"].as_str().is_some_and(|c| c.starts_with("1:") && c.len() == 30), "{f}");
        }
    }
    // netflow: one record per direction, from its sender; the bytes add up to the flows'.
    let netflow = of_type(&ev, "netflow");
    let flow_bytes: u64 = flows
        .iter()
        .map(|f| {
            f["flow"]["bytes_toserver"].as_u64().unwrap() + f["flow"]["bytes_toclient"].as_u64().unwrap()
        })
        .sum();
    let net_bytes: u64 = netflow.iter().map(|n| n["netflow"]["bytes"].as_u64().unwrap()).sum();
    assert_eq!(flow_bytes, net_bytes);
    // Egress per host, as a fleet's store would total it: the uploader sent the most.
    let mut per_host: HashMap<&str, u64> = HashMap::new();
    for n in &netflow {
        *per_host.entry(n["src_ip"].as_str().unwrap()).or_default() +=
            n["netflow"]["bytes"].as_u64().unwrap();
    }
    let top = per_host.iter().max_by_key(|(_, b)| **b).unwrap();
    let alerts = of_type(&ev, "alert");
    assert!(!alerts.is_empty());
    assert_eq!(*top.0, alerts[0]["src_ip"].as_str().unwrap(), "{per_host:?}");
}

#[test]
fn an_alert_and_its_flow_share_one_community_id() {
    let ev = events("egress_http_post.pcap", "alert,flow");
    let by_id: HashMap<u64, &Value> =
        of_type(&ev, "flow").into_iter().map(|f| (f["flow_id"].as_u64().unwrap(), f)).collect();
    let mut matched = 0;
    for a in of_type(&ev, "alert") {
        validate(a);
        if let Some(f) = a["flow_id"].as_u64().and_then(|id| by_id.get(&id)) {
            assert_eq!(a["community_id"], f["community_id"], "{a}\n{f}");
            matched += 1;
        }
    }
    assert!(matched >= 1, "an alert about one flow names it");
}

#[test]
fn community_id_is_in_every_alert_about_one_flow() {
    for name in [
        "proxy_tls_sni.pcap",
        "dns_iodine_null.pcap",
        "icmp_ptunnel.pcap",
        "egress_ssh_443.pcap",
        "scan_nmap_sS.pcap",
    ] {
        for a in run(name, &["-q"]) {
            let one_flow = a["src_port"].is_u64() || a["icmp_type"].is_u64();
            if one_flow {
                assert!(a["community_id"].is_string(), "{name}: {a}");
            }
        }
    }
}

#[test]
fn without_alert_only_the_asked_events_are_written() {
    let ev = events("dns_dig_loop.pcap", "flow");
    assert!(!ev.is_empty());
    assert!(ev.iter().all(|e| e["event_type"] == "flow"));
    let o = run_raw(&["dns_dig_loop.pcap"], &["--eve-types", "alert,bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bogus"));
}

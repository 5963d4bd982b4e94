//! Proxyware, proxies, Tor and miners, from captures of real tools (dig, curl, microsocks,
//! tinyproxy, openssl, ncat): every alert names the home host that runs the proxyware, proxy
//! or miner, and the service; benign look-alikes and every capture made for another detector
//! stay quiet. Captures: pcaps/scripts/make_proxy_egress.sh and make_proxyware.sh.

mod common;
use common::*;
use serde_json::Value;

const SIG_NAME: u64 = 9_100_300;
const SIG_SERVED: u64 = 9_100_301;
const SIG_USED: u64 = 9_100_302;
const SIG_TOR: u64 = 9_100_303;
const SIG_STRATUM: u64 = 9_100_304;
const SIG_RELAY: u64 = 9_100_305;
const SIG_PORT: u64 = 9_100_306;

fn proxyware(pcap: &str, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["-q"];
    a.extend_from_slice(args);
    run(pcap, &a).into_iter().filter(|a| a["siphon"]["detector"] == "proxyware").collect()
}

fn with_sig(alerts: &[Value], sig: u64) -> Vec<&Value> {
    alerts.iter().filter(|a| a["alert"]["signature_id"] == sig).collect()
}

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

fn services(alerts: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> =
        alerts.iter().map(|a| ev(a, "service").as_str().unwrap_or("").to_owned()).collect();
    v.sort();
    v
}

#[test]
fn dns_lookups_of_every_seed_service_name_the_service_and_the_client() {
    let alerts = proxyware("proxy_dns_names.pcap", &[]);
    let names = with_sig(&alerts, SIG_NAME);
    assert_eq!(
        services(&names),
        [
            "Bitping",
            "EarnApp",
            "Honeygain",
            "IPRoyal Pawns",
            "Mysterium",
            "PacketStream",
            "Peer2Profit",
            "Repocket",
            "Traffmonetizer"
        ],
        "one alert per service, however many names and answers:\n{}",
        describe(&alerts)
    );
    assert_eq!(names.len(), alerts.len());
    for a in &names {
        assert_eq!(a["src_ip"], "10.99.0.101");
        assert_eq!(a["dest_ip"], "192.0.2.53");
        assert_eq!(ev(a, "source"), "dns_query");
        let q = a["dns"]["queries"][0]["rrname"].as_str().unwrap();
        assert!(q.ends_with(ev(a, "matched_domain").as_str().unwrap()), "{q}");
    }
}

#[test]
fn dns_answers_alone_are_attributed_to_the_client() {
    // Only the resolver's answers (BPF filter): the alert is still about the querying host.
    let alerts = proxyware("proxy_dns_names.pcap", &["src port 53"]);
    assert_eq!(with_sig(&alerts, SIG_NAME).len(), 9, "{}", describe(&alerts));
    for a in &alerts {
        assert_eq!(a["src_ip"], "10.99.0.101");
        assert_eq!(ev(a, "source"), "dns_answer");
    }
}

#[test]
fn tls_server_names_and_http_host_name_the_service() {
    let alerts = proxyware("proxy_tls_sni.pcap", &[]);
    assert_eq!(
        services(&with_sig(&alerts, SIG_NAME)),
        ["EarnApp", "Honeygain", "IPRoyal Pawns", "Mysterium", "PacketStream", "Traffmonetizer"],
        "{}",
        describe(&alerts)
    );
    for a in &alerts {
        assert_eq!(a["src_ip"], "10.99.0.102");
        let src = ev(a, "source").as_str().unwrap();
        if ev(a, "service") == "PacketStream" {
            assert_eq!(src, "http_host");
            assert_eq!(a["http"]["hostname"], "packetstream.io");
        } else {
            assert_eq!(src, "tls_sni");
            assert_eq!(&a["tls"]["sni"], ev(a, "name"));
        }
    }
    let pawns = alerts.iter().find(|a| ev(a, "service") == "IPRoyal Pawns").unwrap();
    assert_eq!(
        (ev(pawns, "name"), ev(pawns, "matched_domain")),
        (&"api.pawns.app".into(), &"pawns.app".into())
    );
}

#[test]
fn look_alike_names_are_not_proxyware() {
    // www.example.com, nothoneygain.com, honeygain.com.evil.net, mysteriumfans.org, earnappreviews.net
    let alerts = proxyware("proxy_benign_tls.pcap", &[]);
    assert!(alerts.is_empty(), "{}", describe(&alerts));
}

#[test]
fn the_list_can_be_extended_and_replaced_from_the_config() {
    let alerts = proxyware(
        "proxy_benign_tls.pcap",
        &["--set", r#"proxyware.domains_extra={ "Example Share" = ["example.com"] }"#],
    );
    assert_eq!(services(&alerts.iter().collect::<Vec<_>>()), ["Example Share"], "{}", describe(&alerts));
    assert_eq!(ev(&alerts[0], "name"), "www.example.com");
    let alerts = proxyware(
        "proxy_dns_names.pcap",
        &["--set", r#"proxyware.domains={ "Only Pawns" = ["pawns.app"] }"#],
    );
    assert_eq!(services(&alerts.iter().collect::<Vec<_>>()), ["Only Pawns"], "{}", describe(&alerts));
}

#[test]
fn home_socks_proxy_relaying_for_outside_clients_is_served_proxy() {
    let alerts = proxyware("proxy_socks_relay.pcap", &[]);
    let served = with_sig(&alerts, SIG_SERVED);
    assert_eq!(served.len(), 1, "one alert for 20 relayed sessions:\n{}", describe(&alerts));
    let a = served[0];
    assert_eq!(a["src_ip"], "10.99.0.104");
    assert_eq!(a["src_port"], 1080);
    assert_eq!(ev(a, "service"), "socks5");
    assert_eq!(ev(a, "target"), "203.0.113.101:80");
    assert_eq!(ev(a, "proxy"), "10.99.0.104:1080");
    // The handshake is followed to its end; nothing else about this host at default thresholds.
    assert_eq!(alerts.len(), 1, "{}", describe(&alerts));
}

#[test]
fn relay_shape_is_measured_on_the_socks_relay_with_low_thresholds() {
    // 20 sessions of ~60 kB over 30 s: far below the defaults, but the figures are right.
    let alerts = proxyware(
        "proxy_socks_relay.pcap",
        &[
            "--set",
            "proxyware.relay_min_bytes=200KB",
            "--set",
            "proxyware.relay_min_peers=10",
            "--set",
            "proxyware.relay_min_concurrent=2",
            "--set",
            "proxyware.relay_min_session_age=1s",
        ],
    );
    let relay = with_sig(&alerts, SIG_RELAY);
    assert_eq!(relay.len(), 1, "{}", describe(&alerts));
    let a = relay[0];
    assert_eq!(a["src_ip"], "10.99.0.104");
    assert!(ev(a, "byte_ratio").as_f64().unwrap() > 0.9);
    assert!(ev(a, "distinct_peers").as_u64().unwrap() >= 10);
    assert!(ev(a, "passed_through_bytes").as_u64().unwrap() >= 200_000);
}

#[test]
fn relay_shape_at_default_thresholds() {
    let alerts = proxyware("proxy_relay_shape.pcap", &[]);
    let relay = with_sig(&alerts, SIG_RELAY);
    assert_eq!(relay.len(), 1, "{}", describe(&alerts));
    let a = relay[0];
    assert_eq!(a["src_ip"], "10.99.0.107");
    let e = &a["siphon"]["evidence"];
    let n = |k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k} in {e}"));
    assert!(n("distinct_peers") >= n("relay_min_peers"));
    assert!(n("concurrent_sessions_peak") >= n("relay_min_concurrent"));
    assert!(n("passed_through_bytes") >= n("relay_min_bytes"));
    assert!(n("byte_ratio") >= n("relay_min_balance"));
    // Time to detect: the first session opens at the capture's start.
    let secs = e["seconds_since_first_seen"].as_f64().unwrap();
    assert!(secs < 35.0, "relay detected after {secs} s");
    assert_eq!(with_sig(&alerts, SIG_SERVED)[0]["src_ip"], "10.99.0.107");
}

#[test]
fn symmetric_bulk_plus_many_downloads_is_not_a_relay() {
    // Many peers, many long sessions, bytes in ~ bytes out overall: but nothing is passed
    // through, so even a 1-byte pass-through threshold stays quiet.
    for args in [&[][..], &["--set", "proxyware.relay_min_bytes=1"][..]] {
        let alerts = proxyware("proxy_benign_symmetric.pcap", args);
        assert!(alerts.is_empty(), "{args:?}:\n{}", describe(&alerts));
    }
}

#[test]
fn home_host_using_an_outside_http_proxy() {
    let alerts = proxyware("proxy_http_connect.pcap", &[]);
    let used = with_sig(&alerts, SIG_USED);
    assert_eq!(used.len(), 1, "one alert for 3 CONNECTs and a GET to one proxy:\n{}", describe(&alerts));
    assert_eq!(used[0]["src_ip"], "10.99.0.105");
    assert_eq!(ev(used[0], "service"), "http_connect");
    assert_eq!(ev(used[0], "proxy"), "203.0.113.8:8888");
    assert_eq!(alerts.len(), 1);
    for knob in ["proxyware.allow_proxies=203.0.113.8:8888", "proxyware.alert_proxy_use=false"] {
        assert!(proxyware("proxy_http_connect.pcap", &["--set", knob]).is_empty(), "{knob}");
    }
}

#[test]
fn home_host_serving_an_http_proxy_to_outside_clients() {
    let alerts = proxyware("proxy_http_served.pcap", &[]);
    let served = with_sig(&alerts, SIG_SERVED);
    assert_eq!(served.len(), 1, "{}", describe(&alerts));
    assert_eq!(served[0]["src_ip"], "10.99.0.109");
    assert_eq!(ev(served[0], "service"), "http_connect");
    assert_eq!(ev(served[0], "target"), "203.0.113.161:443");
    // Two outside clients with absolute-URI requests on port 3128.
    let port = with_sig(&alerts, SIG_PORT);
    assert_eq!(port.len(), 1, "{}", describe(&alerts));
    assert_eq!(port[0]["src_ip"], "10.99.0.109");
    assert_eq!(ev(port[0], "port"), 3128);
    assert_eq!(ev(port[0], "distinct_clients"), 2);
}

#[test]
fn stratum_logins_on_any_port() {
    let alerts = proxyware("proxy_stratum.pcap", &[]);
    let s = with_sig(&alerts, SIG_STRATUM);
    assert_eq!(s.len(), 1, "three pools (3333, 8080, 443), one miner, one alert:\n{}", describe(&alerts));
    assert_eq!(s[0]["src_ip"], "10.99.0.106");
    assert_eq!(ev(s[0], "method"), "mining.subscribe");
    assert_eq!(ev(s[0], "agent"), "cpuminer/2.5");
    assert_eq!(alerts.len(), 1);
    let alerts = proxyware("proxy_stratum_xmrig.pcap", &[]);
    let s = with_sig(&alerts, SIG_STRATUM);
    assert_eq!(s.len(), 1, "{}", describe(&alerts));
    assert_eq!(s[0]["src_ip"], "10.99.0.116");
    assert_eq!(ev(s[0], "method"), "login");
    assert!(ev(s[0], "agent").as_str().unwrap().starts_with("XMRig/"));
    assert_eq!(ev(s[0], "pool"), "203.0.113.35:14444");
}

#[test]
fn tor_by_client_hello_shape_and_by_relay_list() {
    let alerts = proxyware("proxy_tor_shape.pcap", &[]);
    let tor = with_sig(&alerts, SIG_TOR);
    assert_eq!(tor.len(), 1, "{}", describe(&alerts));
    assert_eq!(tor[0]["src_ip"], "10.99.0.108");
    assert_eq!(ev(tor[0], "via"), "tls_client_hello_shape");
    assert_eq!(tor[0]["dest_port"], 9001);
    // Look-alikes: a random www name with ALPN (a browser-like client), word names without ALPN.
    let benign = proxyware("proxy_benign_tor_lookalike.pcap", &[]);
    assert!(benign.is_empty(), "{}", describe(&benign));
    // The same host, once its relay is on the configured list.
    let listed =
        proxyware("proxy_benign_tor_lookalike.pcap", &["--set", "proxyware.tor_relays=203.0.113.170:9001"]);
    let tor = with_sig(&listed, SIG_TOR);
    assert_eq!(tor.len(), 1, "{}", describe(&listed));
    assert_eq!(tor[0]["src_ip"], "10.99.0.118");
    assert_eq!(ev(tor[0], "via"), "relay_list");
    assert_eq!(ev(tor[0], "relay"), "203.0.113.170:9001");
}

#[test]
fn captures_made_for_other_detectors_raise_no_proxyware_alert() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut checked = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let benign_proxy = name.starts_with("proxy_benign_");
        let capture = name.ends_with(".pcap") || name.ends_with(".pcapng");
        if !capture || (name.starts_with("proxy_") && !benign_proxy) {
            continue;
        }
        let alerts = proxyware(&name, &[]);
        assert!(alerts.is_empty(), "{name}:\n{}", describe(&alerts));
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} captures checked");
}

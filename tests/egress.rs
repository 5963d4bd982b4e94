//! Egress and exfiltration (T1048): `egress_volume`, `long_session` and `alt_protocol` on the
//! captures made by real tools (pcaps/scripts/proxy_egress.md), on captures built here packet by
//! packet, and quiet on everything else.

mod common;
use common::*;
use etherparse::PacketBuilder;
use serde_json::Value;
use siphon::Timestamp;
use siphon::input::PcapWriter;
use std::path::{Path, PathBuf};

const DETECTORS: [&str; 3] = ["egress_volume", "long_session", "alt_protocol"];

fn ours(alerts: &[Value]) -> Vec<&Value> {
    alerts.iter().filter(|a| DETECTORS.iter().any(|d| a["siphon"]["detector"] == *d)).collect()
}

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

/// The single alert of `detector` in `alerts`, checked for subject, destination and signature.
fn one<'a>(alerts: &'a [Value], detector: &str, src: &str, dst: &str, sid: u64) -> &'a Value {
    let v = of(alerts, detector);
    assert_eq!(v.len(), 1, "want one {detector} alert:\n{}", describe(alerts));
    let a = v[0];
    assert_eq!(a["src_ip"], src, "the alert is about the home host");
    assert_eq!(a["dest_ip"], dst);
    assert_eq!(a["alert"]["signature_id"], sid);
    a
}

// ------------------------------------------------------------------ captures made by real tools

#[test]
fn curl_upload_crosses_the_volume_window_at_the_right_packet() {
    let alerts = run("egress_curl_upload.pcap", &["-q", "--set", "egress_volume.volume=5m:10MB"]);
    let a = one(&alerts, "egress_volume", "10.99.0.110", "203.0.113.20", 9_100_400);
    assert_eq!(a["dest_port"], 80);
    assert_eq!(ev(a, "window"), "5m");
    assert_eq!(ev(a, "threshold_bytes"), 10_000_000);
    // Figures from tshark (`-Y ip.src==10.99.0.110 -T fields -e frame.number -e frame.time_epoch
    // -e ip.len`, summed): the running total of ip.len reaches 10,000,000 with frame 1391 at
    // 22:26:38.952452, at 10,004,102 bytes. The capture is snaplen 96: only IP lengths give this.
    assert_eq!(ev(a, "bytes_out"), 10_004_102);
    assert_eq!(a["timestamp"], "2026-11-23T22:26:38.952452+0000");
    // Reported while the upload runs (it lasts 9.6 s), with its rate.
    assert!(ev(a, "duration_secs").as_f64().unwrap() < 4.0);
    assert!(ev(a, "rate_bytes_per_sec").as_u64().unwrap() > 2_000_000);
    // The default windows (1h:500MB, 8h:1GiB) are far above 30 MB.
    assert!(of(&run("egress_curl_upload.pcap", &["-q"]), "egress_volume").is_empty());
}

#[test]
fn curl_upload_is_sustained_throughput_and_an_http_put() {
    let set = ["-q", "--set", "long_session.sustained_rate=1MB", "--set", "long_session.sustained_for=5s"];
    let alerts = run("egress_curl_upload.pcap", &set);
    let a = one(&alerts, "long_session", "10.99.0.110", "203.0.113.20", 9_100_451);
    assert!(ev(a, "rate_bytes_per_sec").as_u64().unwrap() >= 1_000_000);
    assert!(ev(a, "duration_secs").as_f64().unwrap() >= 5.0);
    let h = one(&alerts, "alt_protocol", "10.99.0.110", "203.0.113.20", 9_100_502);
    assert_eq!(h["http"]["http_method"], "PUT");
    assert_eq!(h["http"]["url"], "/backup.tar");
}

#[test]
fn trickle_is_a_long_session_reported_while_open() {
    // The session lasts 90.65 s; with a 60 s threshold it is reported on its first packet past
    // 60 s, not at its end.
    let alerts = run("egress_trickle.pcap", &["-q", "--set", "long_session.min_duration=60s"]);
    let a = one(&alerts, "long_session", "10.99.0.111", "203.0.113.30", 9_100_450);
    assert_eq!(a["dest_port"], 4444);
    let d = ev(a, "duration_secs").as_f64().unwrap();
    assert!((60.0..62.0).contains(&d), "{d}");
    assert_eq!(ev(a, "long_session_secs"), 60.0);
    assert!(ev(a, "bytes_out").as_u64().unwrap() > 20_000);
    assert!(ev(a, "rate_out_bytes_per_sec").as_u64().unwrap() > 300);
    assert!(a["flow"]["age"].as_u64().unwrap() < 90);
    // Default: one hour.
    assert!(ours(&run("egress_trickle.pcap", &["-q"])).is_empty());
}

#[test]
fn ftp_stor_upload_is_caught_on_its_data_connection() {
    let alerts = run("egress_ftp_stor.pcap", &["-q"]);
    let a = one(&alerts, "alt_protocol", "10.99.0.112", "203.0.113.21", 9_100_500);
    assert_eq!(ev(a, "command"), "STOR");
    assert_eq!(ev(a, "file"), "customers.db");
    assert_eq!(ev(a, "passive"), true);
    assert!(ev(a, "bytes").as_u64().unwrap() >= 1_000_000);
    assert_ne!(a["dest_port"], 21, "the data connection, not the control one");
}

#[test]
fn smtp_message_size_is_caught() {
    let alerts = run("egress_smtp.pcap", &["-q"]);
    let a = one(&alerts, "alt_protocol", "10.99.0.113", "203.0.113.25", 9_100_501);
    assert_eq!(ev(a, "mail_from"), "alice@home.example");
    assert_eq!(ev(a, "rcpt_to"), "drop@mail.example.net");
    assert!(ev(a, "bytes").as_u64().unwrap() >= 1_000_000);
}

#[test]
fn ssh_on_443_is_caught() {
    let alerts = run("egress_ssh_443.pcap", &["-q"]);
    let a = one(&alerts, "alt_protocol", "10.99.0.114", "203.0.113.22", 9_100_504);
    assert_eq!(ev(a, "seen_protocol"), "ssh");
    assert_eq!(ev(a, "expected_protocol"), "tls");
    assert_eq!(ev(a, "port"), 443);
}

#[test]
fn http_post_is_caught_by_size_and_by_volume() {
    let alerts = run("egress_http_post.pcap", &["-q", "--set", "egress_volume.volume=5m:4MB"]);
    let a = one(&alerts, "alt_protocol", "10.99.0.115", "203.0.113.23", 9_100_502);
    assert_eq!(a["http"]["http_method"], "POST");
    assert_eq!(a["http"]["url"], "/upload");
    let v = one(&alerts, "egress_volume", "10.99.0.115", "203.0.113.23", 9_100_400);
    assert!(ev(v, "bytes_out").as_u64().unwrap() >= 4_000_000);
}

#[test]
fn benign_transfers_are_quiet_even_with_low_thresholds() {
    let low = [
        "-q",
        "--set",
        "egress_volume.volume=5m:10MB",
        "--set",
        "egress_volume.host_volume=5m:10MB",
        "--set",
        "long_session.min_duration=60s",
        "--set",
        "long_session.sustained_rate=1MB",
        "--set",
        "long_session.sustained_for=2s",
    ];
    for p in ["benign_download.pcap", "benign_small_upload.pcap", "benign_home_to_home.pcap"] {
        let alerts = run(p, &low);
        assert!(ours(&alerts).is_empty(), "{p}:\n{}", describe(&alerts));
    }
}

/// With the default config, the family raises exactly what each capture is for: nothing on
/// captures meant for other detectors, except Stratum on port 443 (a real mismatch).
#[test]
fn every_capture_with_defaults_raises_only_what_it_should() {
    let expected: &[(&str, &[u64])] = &[
        ("egress_curl_upload.pcap", &[9_100_502]),
        ("egress_ftp_stor.pcap", &[9_100_500]),
        ("egress_smtp.pcap", &[9_100_501]),
        ("egress_ssh_443.pcap", &[9_100_504]),
        ("egress_http_post.pcap", &[9_100_502]),
        ("proxy_stratum.pcap", &[9_100_503]),
        // tests/unseen_traffic.rs: trickle sessions past an hour, by duration alone.
        ("trickle_75min.pcap", &[9_100_450]),
        ("trickle_shell.pcap", &[9_100_450]),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    assert!(names.len() > 20);
    for n in &names {
        let out = run_raw(&[n.as_str()], &["-q"]);
        let alerts = parse_alerts(&out.stdout);
        let mut got: Vec<u64> =
            ours(&alerts).iter().map(|a| a["alert"]["signature_id"].as_u64().unwrap()).collect();
        got.sort();
        let want = expected.iter().find(|(p, _)| p == n).map_or(&[][..], |(_, s)| s);
        assert_eq!(got, want, "{n}:\n{}", describe(&alerts));
    }
    let stratum = run("proxy_stratum.pcap", &["-q"]);
    let a = one(&stratum, "alt_protocol", "10.99.0.106", "203.0.113.34", 9_100_503);
    assert_eq!(ev(a, "seen_protocol"), "stratum");
}

#[test]
fn off_hours_raise_severity_in_the_configured_zone() {
    // The capture is from Monday 2026-11-23 22:28 UTC.
    let alerts = run("egress_ssh_443.pcap", &["-q", "--set", "egress.allowed_hours=08:00-18:00"]);
    let a = one(&alerts, "alt_protocol", "10.99.0.114", "203.0.113.22", 9_100_504);
    assert_eq!(a["alert"]["severity"], 1);
    assert_eq!(ev(a, "off_hours"), true);
    assert!(ev(a, "local_time").as_str().unwrap().starts_with("2026-11-23T22:28"));
    // 22:28 UTC is 07:28 the next day in Tokyo (+09:00): Tuesday morning, outside 08-18 too; at
    // +10:00 (08:28) it is inside.
    let set = ["-q", "--set", "egress.allowed_hours=08:00-18:00", "--set", "egress.timezone=+10:00"];
    let alerts = run("egress_ssh_443.pcap", &set);
    let a = one(&alerts, "alt_protocol", "10.99.0.114", "203.0.113.22", 9_100_504);
    assert_eq!(a["alert"]["severity"], 2);
    assert_eq!(ev(a, "off_hours"), false);
}

#[test]
fn allow_lists_and_exclusions_are_honoured() {
    for set in [
        "alt_protocol.allow=10.99.0.114=ssh",
        "alt_protocol.allow=10.99.0.0/24=*",
        "egress.allow_destinations=203.0.113.22",
        "egress.allow_hosts=10.99.0.114",
        // Elastic's list exactly (the documentation ranges are not external then).
        "egress.exclude_nets=10.0.0.0/8,192.0.2.0/24,198.51.100.0/24,203.0.113.0/24",
        "alt_protocol.ssh_ports=22,443",
    ] {
        let alerts = run("egress_ssh_443.pcap", &["-q", "--set", set]);
        assert!(ours(&alerts).is_empty(), "{set}:\n{}", describe(&alerts));
    }
    // An allow entry for another protocol does not hide SSH.
    let alerts = run("egress_ssh_443.pcap", &["-q", "--set", "alt_protocol.allow=10.99.0.114=ftp"]);
    assert_eq!(of(&alerts, "alt_protocol").len(), 1);
}

#[test]
fn bad_egress_config_is_named() {
    for (set, key) in [
        ("egress_volume.volume=8h", "8h"),
        ("egress.timezone=Mars/Olympus", "Mars/Olympus"),
        ("alt_protocol.port_protocols=tcp/80=gopher", "gopher"),
        ("egress.allowed_hours=late", "late"),
    ] {
        let out = run_raw(&["egress_trickle.pcap"], &["-q", "--set", set]);
        assert_eq!(out.status.code(), Some(1), "{set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{set}: {err}");
    }
}

// ------------------------------------------------------------------ captures built here

const HOME_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const NET_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// Monday 2026-11-23 07:00:00 UTC, in microseconds.
const T0: u64 = 1_795_417_200_000_000;

struct Cap {
    w: PcapWriter<std::io::BufWriter<std::fs::File>>,
    snaplen: usize,
}

impl Cap {
    fn new(path: &Path, snaplen: usize) -> Cap {
        let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        Cap { w: PcapWriter::new(f).unwrap(), snaplen }
    }
    /// A TCP segment; `flags` "S", "SA", "A", "PA". Returns its IP total length.
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        us: u64,
        src: [u8; 4],
        sp: u16,
        dst: [u8; 4],
        dp: u16,
        flags: &str,
        payload: &[u8],
    ) -> u64 {
        let macs = if src[0] == 10 { (HOME_MAC, NET_MAC) } else { (NET_MAC, HOME_MAC) };
        let b = PacketBuilder::ethernet2(macs.0, macs.1).ipv4(src, dst, 64).tcp(sp, dp, 1000, 64240);
        let b = match flags {
            "S" => b.syn(),
            "SA" => b.syn().ack(1),
            "PA" => b.psh().ack(1),
            _ => b.ack(1),
        };
        let mut f = Vec::new();
        b.write(&mut f, payload).unwrap();
        self.w.write(us, &f, self.snaplen).unwrap();
        (f.len() - 14) as u64
    }
    fn udp(&mut self, us: u64, src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, payload: &[u8]) {
        let b = PacketBuilder::ethernet2(HOME_MAC, NET_MAC).ipv4(src, dst, 64).udp(sp, dp);
        let mut f = Vec::new();
        b.write(&mut f, payload).unwrap();
        self.w.write(us, &f, self.snaplen).unwrap();
    }
    /// Handshake from `src` to `dst`; returns the bytes `src` sent.
    fn open(&mut self, us: u64, src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> u64 {
        let a = self.tcp(us, src, sp, dst, dp, "S", &[]);
        self.tcp(us + 100, dst, dp, src, sp, "SA", &[]);
        a + self.tcp(us + 200, src, sp, dst, dp, "A", &[])
    }
    fn finish(self) {
        self.w.finish().unwrap();
    }
}

fn run_file(path: &Path, args: &[&str]) -> Vec<Value> {
    let out = siphon().arg("-r").arg(path).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    parse_alerts(&out.stdout)
}

#[test]
fn window_threshold_fires_on_the_crossing_packet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.pcap");
    // Snaplen 64: every frame is cut, so only IP total lengths can give the right sum.
    let mut cap = Cap::new(&path, 64);
    let (home, ext) = ([10, 99, 0, 201], [203, 0, 113, 201]);
    let mut sent = cap.open(T0, home, 40000, ext, 8443);
    let body = [0x5au8; 960];
    let mut crossing = None;
    for k in 0..200u64 {
        let us = T0 + 10_000 + k * 10_000;
        sent += cap.tcp(us, home, 40000, ext, 8443, "PA", &body);
        cap.tcp(us + 50, ext, 8443, home, 40000, "A", &[]);
        if crossing.is_none() && sent >= 50_000 {
            crossing = Some((us, sent));
        }
    }
    cap.finish();
    let (us, at) = crossing.unwrap();
    let alerts = run_file(&path, &["-q", "--set", "egress_volume.volume=1m:50000B,1h:1GB"]);
    let a = one(&alerts, "egress_volume", "10.99.0.201", "203.0.113.201", 9_100_400);
    let want = Timestamp(us * 1000).to_eve();
    assert_eq!(a["timestamp"], want.as_str(), "fired on the packet that crossed 50 000 B");
    assert_eq!(ev(a, "bytes_out"), at);
    assert_eq!(ev(a, "window"), "1m");
    assert_eq!(ev(a, "threshold_bytes"), 50_000);
    // The ACKs back are counted in, not out.
    assert!(ev(a, "bytes_in").as_u64().unwrap() > 0);
    assert_eq!(ev(a, "windows").as_array().unwrap().len(), 2);
}

#[test]
fn host_volume_adds_up_over_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spread.pcap");
    let mut cap = Cap::new(&path, 96);
    let home = [10, 99, 0, 202];
    let body = [0x33u8; 1460];
    let mut us = T0;
    for d in 0..5u8 {
        let ext = [198, 51, 100, 10 + d];
        cap.open(us, home, 41000 + u16::from(d), ext, 443);
        for _ in 0..10 {
            us += 1000;
            cap.tcp(us, home, 41000 + u16::from(d), ext, 443, "PA", &body);
        }
        us += 1000;
    }
    cap.finish();
    let set = ["-q", "--set", "egress_volume.volume=1m:1GB", "--set", "egress_volume.host_volume=1m:70000B"];
    let alerts = run_file(&path, &set);
    let a = one(&alerts, "egress_volume", "10.99.0.202", "198.51.100.14", 9_100_401);
    assert_eq!(ev(a, "destinations"), 5);
    assert!(ev(a, "bytes_out").as_u64().unwrap() >= 70_000);
    // The destination, not being a TLS server, is also a mismatch on 443: beside the point here.
}

#[test]
fn port_mismatch_judges_the_first_client_payload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ports.pcap");
    let mut cap = Cap::new(&path, 0xffff);
    let mut us = T0;
    let mut step = || {
        us += 100_000;
        us
    };
    // iodine's raw mode (no -r): UDP to 53 that is not DNS.
    let mut raw = b"\x10\xd1\x9e\x00".to_vec();
    raw.extend_from_slice(&[0xab; 60]);
    cap.udp(step(), [10, 99, 0, 203], 40001, [203, 0, 113, 53], 53, &raw);
    // iodine's probe of raw mode on a socket that spoke DNS first: the same flow, later datagrams.
    let q = siphon::synth::dns_message(7, "a.tunnel.example", false);
    let t = step();
    cap.udp(t, [10, 99, 0, 209], 40009, [203, 0, 113, 59], 53, &q);
    cap.udp(t + 1000, [10, 99, 0, 209], 40009, [203, 0, 113, 59], 53, &raw);
    cap.udp(t + 2000, [10, 99, 0, 209], 40009, [203, 0, 113, 59], 53, &raw);
    cap.udp(t + 3000, [10, 99, 0, 209], 40009, [203, 0, 113, 59], 53, &q);
    // QUIC on UDP 443: normal.
    let mut quic = vec![0xc3u8, 0, 0, 0, 1];
    quic.resize(1200, 0x11);
    cap.udp(step(), [10, 99, 0, 204], 40002, [203, 0, 113, 54], 443, &quic);
    // HTTP/2 with prior knowledge on 80: HTTP.
    let t = step();
    cap.open(t, [10, 99, 0, 205], 40003, [203, 0, 113, 55], 80);
    cap.tcp(
        t + 300,
        [10, 99, 0, 205],
        40003,
        [203, 0, 113, 55],
        80,
        "PA",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    );
    // Picked up mid-stream on 443 (no SYN seen): TLS records that are not a hello, not judged.
    let t = step();
    cap.tcp(t, [10, 99, 0, 206], 40004, [203, 0, 113, 56], 443, "PA", &[0x17, 3, 3, 0, 32, 1, 2, 3, 4, 5]);
    // A reverse shell to 443: the server speaks first, the client answers in clear.
    let t = step();
    cap.open(t, [10, 99, 0, 207], 40005, [203, 0, 113, 57], 443);
    cap.tcp(t + 300, [203, 0, 113, 57], 443, [10, 99, 0, 207], 40005, "PA", b"id\n");
    cap.tcp(t + 400, [10, 99, 0, 207], 40005, [203, 0, 113, 57], 443, "PA", b"uid=0(root) gid=0(root)\n");
    // Inbound garbage to a home server's port 80 (internet noise): not the home host's doing.
    let t = step();
    cap.open(t, [203, 0, 113, 58], 40006, [10, 99, 0, 208], 80);
    cap.tcp(t + 300, [203, 0, 113, 58], 40006, [10, 99, 0, 208], 80, "PA", b"\x03\x00\x00\x13\x0e\xe0");
    cap.finish();
    let alerts = run_file(&path, &["-q"]);
    let got = of(&alerts, "alt_protocol");
    assert_eq!(got.len(), 3, "{}", describe(&alerts));
    let raw_later = got.iter().find(|a| a["src_ip"] == "10.99.0.209").expect("raw after DNS on one socket");
    assert_eq!(ev(raw_later, "client_packet"), 2);
    assert_eq!(
        ev(raw_later, "payload_prefix"),
        "\\x10\\xd1\\x9e\\x00\\xab\\xab\\xab\\xab\\xab\\xab\\xab\\xab\\xab\\xab\\xab\\xab"
    );
    let dns = got.iter().find(|a| a["src_ip"] == "10.99.0.203").expect("raw UDP on 53");
    assert_eq!(dns["alert"]["signature_id"], 9_100_503);
    assert_eq!(ev(dns, "expected_protocol"), "dns");
    assert_eq!(ev(dns, "transport"), "udp");
    let shell = got.iter().find(|a| a["src_ip"] == "10.99.0.207").expect("clear text on 443");
    assert_eq!(ev(shell, "expected_protocol"), "tls");
    assert_eq!(ev(shell, "seen_protocol"), "other");
    // Judging QUIC is opt-in.
    let alerts = run_file(&path, &["-q", "--set", "alt_protocol.port_protocols=udp/443=quic"]);
    assert!(of(&alerts, "alt_protocol").is_empty(), "{}", describe(&alerts));
}

//! Decoding real captures: IPv4 fragments made by the kernel are reassembled (bounded pool).

mod common;
use common::*;

fn stats(pcap_name: &str) -> serde_json::Value {
    let out = run_raw(&[pcap_name], &["-q", "--stats-json"]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event")
}

#[test]
fn kernel_fragments_are_reassembled() {
    // pcaps/ip_fragments.pcap: 3 pings of 4000 bytes each way and one 3000-byte UDP datagram.
    let s = stats("ip_fragments.pcap");
    assert_eq!(s["siphon"]["defrag"]["reassembled"], 7, "{s}");
    assert_eq!(s["siphon"]["defrag"]["invalid"], 0);
}

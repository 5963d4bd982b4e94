//! The fast path for data sets with learned templates (src/capture/netflow/fast.rs) against
//! `netflow_parser` as the model: the bundled real exports, and the same exports with random
//! bytes changed (templates, headers, lengths, data), through one collector with the fast path
//! and one without, must give the same records and the same counters.

mod common;
use common::netflow::exports;
use siphon::NetflowConfig;
use siphon::input::{Collector, FlowRecord};
use std::net::SocketAddr;

const CAPTURES: [&str; 11] = [
    "netflow_v9.pcap",
    "netflow_ipfix.pcap",
    "netflow_v5.pcap",
    "netflow_benign_v9.pcap",
    "netflow_benign_ipfix.pcap",
    "netflow_split_v9.pcap",
    "netflow_split_ipfix.pcap",
    "netflow_sampled_v9.pcap",
    "netflow_sampled_ipfix.pcap",
    "netflow_v9.pcap",
    "netflow_ipfix.pcap",
];

/// Both collectors' records and counters for the same packets.
fn both(packets: &[(SocketAddr, Vec<u8>)], cfg: &NetflowConfig) -> [(Vec<FlowRecord>, String, u64); 2] {
    [true, false].map(|fast| {
        let mut c = Collector::new(cfg).unwrap();
        c.set_fast_path(fast);
        let mut out = Vec::new();
        for (from, p) in packets {
            c.decode(*from, p, &mut out);
        }
        c.refresh_stats();
        let s = &c.stats;
        let counters = format!(
            "{:?} {} {} {} {} {:?} {:?} {}",
            s.records,
            s.templates,
            s.pending,
            s.replayed,
            s.exporters,
            s.sequence_gaps,
            s.malformed,
            s.records_unusable
        );
        (out, counters, s.fast_packets)
    })
}

#[test]
fn the_fast_path_reads_the_bundled_exports_as_the_crate_does() {
    for name in CAPTURES {
        let packets = exports(name);
        let [(fast, fc, fast_packets), (model, mc, _)] = both(&packets, &NetflowConfig::default());
        assert_eq!(fast, model, "{name}");
        assert_eq!(fc, mc, "{name}");
        if !name.contains("v5") && !name.contains("sampled") {
            // Every packet but those carrying templates or options.
            assert!(fast_packets * 2 > packets.len() as u64, "{name}: {fast_packets} of {}", packets.len());
        }
    }
}

#[test]
fn the_fast_path_agrees_with_the_crate_on_mutated_exports() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let small =
        NetflowConfig { max_templates: 4, max_pending: 8, max_exporters: 4, ..NetflowConfig::default() };
    let mut fast_total = 0;
    for name in
        ["netflow_v9.pcap", "netflow_ipfix.pcap", "netflow_split_v9.pcap", "netflow_sampled_ipfix.pcap"]
    {
        let clean = exports(name);
        for round in 0..250 {
            let mut packets = clean.clone();
            for _ in 0..1 + next() % 6 {
                let i = (next() % packets.len() as u64) as usize;
                let p = &mut packets[i].1;
                if p.is_empty() {
                    continue;
                }
                match next() % 4 {
                    // A byte anywhere.
                    0 | 1 => {
                        let at = (next() % p.len() as u64) as usize;
                        p[at] = next() as u8;
                    }
                    // A set header's id or length (sets start at 20 in v9, 16 in IPFIX).
                    2 => {
                        let at = 16 + (next() % 8) as usize;
                        if at < p.len() {
                            p[at] = next() as u8;
                        }
                    }
                    // Cut short.
                    _ => {
                        let keep = (next() % p.len() as u64) as usize;
                        p.truncate(keep);
                    }
                }
            }
            let cfg = if round % 2 == 0 { NetflowConfig::default() } else { small.clone() };
            let [(fast, fc, n), (model, mc, _)] = both(&packets, &cfg);
            assert_eq!(fast, model, "{name} round {round}");
            assert_eq!(fc, mc, "{name} round {round}");
            fast_total += n;
        }
    }
    assert!(fast_total > 5000, "{fast_total}");
}

//! Export captures for the NetFlow/IPFIX tests: the UDP payloads (export packets) of a bundled
//! capture, with their sources, to hand to a `Collector`.

use super::pcap;
use siphon::decoding::{Anomalies, DecodeOptions, L4, decode};
use siphon::input::{FileSource, PacketSource};
use std::net::SocketAddr;

/// The UDP payloads (export packets) of a capture, with their sources.
pub fn exports(name: &str) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut src = FileSource::new(vec![pcap(name)], None).unwrap();
    let (opts, mut an, mut out) = (DecodeOptions::default(), Anomalies::default(), Vec::new());
    while src
        .read(256, &mut |p| {
            if let Some(d) = decode(p.link, p.data, &opts, &mut an)
                && let L4::Udp { sport, .. } = d.l4
            {
                out.push((SocketAddr::new(d.src, sport), d.payload.to_vec()));
            }
        })
        .unwrap()
    {}
    out
}

//! Hostile input never panics: mutated DNS messages, TLS hellos and whole frames (a short
//! seeded version of `examples/dns_mutations.rs`; the fuzz targets in `fuzz/` go further).

use siphon::Config;
use siphon::Timestamp;
use siphon::decoding::{LinkType, dns, tls};
use siphon::running::Worker;
use siphon::synth::{MixedTraffic, Rng, client_hello, dns_message, mutate};

#[test]
fn mutated_dns_and_tls_never_panic() {
    let seeds = [
        dns_message(1, "a.b.example.co.uk", false),
        dns_message(2, "x.example.com", true),
        client_hello("honeygain.com"),
    ];
    let mut rng = Rng::new(42);
    let mut buf = Vec::new();
    for i in 0..300_000u64 {
        mutate(&mut rng, &seeds[(i % 3) as usize], &mut buf);
        let _ = dns::parse(&buf);
        let _ = tls::parse_client_hello(&buf);
    }
}

#[test]
fn mutated_frames_through_the_whole_worker_never_panic() {
    let mut w = Worker::new(&Config::default());
    let mut g = MixedTraffic::new(9, 200, 1_700_000_000_000_000);
    let mut rng = Rng::new(7);
    let (mut frame, mut bad) = (Vec::new(), Vec::new());
    let mut t = 1_700_000_000u64 * 1_000_000_000;
    for _ in 0..200_000 {
        g.next_frame(&mut frame);
        mutate(&mut rng, &frame, &mut bad);
        t += 1_000_000;
        for link in [LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll2] {
            w.process(Timestamp(t), link, &bad, bad.len() as u32, &mut |_| {});
        }
    }
    w.finish(&mut |_| {});
    assert!(w.stats.anomalies.total() > 0, "mutations were counted as anomalies");
}

//! [`Interest`]: each packet falls in exactly the sets its protocol, payload and flow opening
//! say, whether the transport header was read or not.

use super::Interest;
use crate::decode::testutil::{eth, ipv4, udp};
use crate::decode::{Anomalies, LinkType, decode};
use crate::worker::decode_options;

fn class(frame: &[u8], new_flow: bool) -> usize {
    let opts = decode_options(&crate::Config::default());
    let d = decode(LinkType::Ethernet, frame, &opts, &mut Anomalies::default()).expect("decodes");
    Interest::class_of(&d, new_flow)
}

#[test]
fn packets_fall_in_the_sets_of_their_protocol_payload_and_opening() {
    let (a, b) = ([192, 168, 1, 2], [198, 51, 100, 7]);
    let dns = eth(&[], 0x0800, &ipv4(a, b, 17, &udp(40000, 53, b"\x12\x34query")));
    let empty_udp = eth(&[], 0x0800, &ipv4(a, b, 17, &udp(40000, 9999, b"")));
    let echo = eth(&[], 0x0800, &ipv4(a, b, 1, &[8, 0, 0, 0, 0, 1, 0, 1, b'x']));
    // A TCP header cut short: not read, still TCP by its IP protocol.
    let cut_tcp = eth(&[], 0x0800, &ipv4(a, b, 6, &[0, 80, 1, 187]));
    let gre = eth(&[], 0x0800, &ipv4(a, b, 99, b"opaque"));

    let c = class(&dns, false);
    assert!(Interest::UDP.has(c) && Interest::PAYLOAD.has(c) && !Interest::NEW_FLOW.has(c));
    assert!(!Interest::TCP.has(c) && !Interest::ICMP.has(c) && !Interest::OTHER.has(c));
    let c = class(&empty_udp, true);
    assert!(Interest::UDP.has(c) && !Interest::PAYLOAD.has(c) && Interest::NEW_FLOW.has(c));
    let c = class(&echo, false);
    assert!(Interest::ICMP.has(c) && !Interest::UDP.has(c));
    let c = class(&cut_tcp, true);
    assert!(Interest::TCP.has(c) && Interest::TCP.and(Interest::NEW_FLOW).has(c));
    let c = class(&gre, false);
    assert!(Interest::OTHER.has(c) && Interest::PAYLOAD.has(c));

    for c in 0..Interest::CLASSES {
        assert!(Interest::ALL.has(c) && !Interest::NONE.has(c));
        let protos = [Interest::TCP, Interest::UDP, Interest::ICMP, Interest::OTHER];
        assert_eq!(protos.iter().filter(|p| p.has(c)).count(), 1, "class {c}: one protocol");
        let either = Interest::PAYLOAD.or(Interest::NEW_FLOW);
        assert_eq!(either.has(c), Interest::PAYLOAD.has(c) || Interest::NEW_FLOW.has(c));
    }
    assert!(!Interest::ALL.has(Interest::CLASSES));
}

#[test]
fn event_sets_combine_and_every_detector_declares_the_event_hooks_it_has() {
    use super::Events;
    for e in [Events::DNS, Events::ICMP, Events::TLS, Events::HTTP] {
        assert!(Events::ALL.has(e) && !Events::NONE.has(e) && e.or(Events::NONE) == e);
    }
    assert!(Events::DNS.or(Events::TLS).has(Events::TLS) && !Events::DNS.or(Events::TLS).has(Events::HTTP));
    // A hook the detector has but does not declare would never be called: each detector's
    // source is read for the hooks it defines.
    let c = crate::Config::default();
    let hooks = [
        ("fn on_dns(", Events::DNS),
        ("fn on_icmp(", Events::ICMP),
        ("fn on_tls(", Events::TLS),
        ("fn on_http(", Events::HTTP),
    ];
    for d in c.detectors.build(&super::Env::from_config(&c)) {
        let path = format!("{}/src/detect/{}/mod.rs", env!("CARGO_MANIFEST_DIR"), d.name());
        let src = std::fs::read_to_string(&path).expect("detector source");
        for (hook, e) in hooks {
            assert_eq!(
                src.contains(hook),
                d.event_interest().has(e),
                "{}: {hook} and its event_interest",
                d.name()
            );
        }
    }
}

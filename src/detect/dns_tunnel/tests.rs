//! Unit tests of the reduction and the suspicion rule.

use super::*;

#[test]
fn hex_is_normalised_by_its_alphabet() {
    // 20 random bytes as hex, as `xxd -p` writes them.
    let f = figures(b"9f3c71e0a4b2d85c6e17f0a93b4d2c8e51f67a0b");
    assert_eq!(f.alphabet, 16);
    assert!(f.entropy < 4.0, "hex never exceeds 4 bits/char");
    assert!(f.normalised_entropy > 0.9, "{f:?}");
    // Hex of ASCII text has lower entropy, but its label length still gives it away.
    let text = figures(b"4a6f686e20446f6520736563726574206b65793a2031323334");
    assert!(text.longest_label >= DnsTunnelConfig::default().long_label);
}

#[test]
fn ordinary_names_are_not_suspicious() {
    let d = DnsTunnel::new(DnsTunnelConfig::default(), Escalation(10.0));
    for s in [&b"www"[..], b"mail", b"login.accounts", b"fonts", b"clients6", b"r3---sn-4g5e6nzz"] {
        assert!(!d.is_suspicious(&figures(s)), "{}", String::from_utf8_lossy(s));
    }
    for s in [&b"vaaaakaa2xbeaqkfwg2mj6qfmd3xnp2zrjz5cvvlkbq4mrtgmfe"[..], b"a\xc3\xa9\x01bc"] {
        assert!(d.is_suspicious(&figures(s)), "{}", String::from_utf8_lossy(s));
    }
}

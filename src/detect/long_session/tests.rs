//! Unit tests of the pair key and the section (the detector end to end: `tests/egress.rs`).

use super::*;
use std::net::IpAddr;

#[test]
fn pair_key_tells_pairs_apart_and_is_stable() {
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "192.0.2.1".parse().unwrap();
    let c: IpAddr = "192.0.2.2".parse().unwrap();
    assert_eq!(pair_key(&a, &b), pair_key(&a, &b));
    assert_ne!(pair_key(&a, &b), pair_key(&a, &c));
    assert_ne!(pair_key(&a, &b), pair_key(&b, &a));
}

#[test]
fn section_reads_its_duration_with_units() {
    let c: LongSessionConfig = toml::from_str("min_duration = \"90m\"\nsustained_rate = \"2MB\"").unwrap();
    assert_eq!(c.min_duration, Dur::secs(5400));
    assert_eq!(c.sustained_rate.0, 2_000_000);
    assert!(toml::from_str::<LongSessionConfig>("long_session = \"1h\"").is_err());
}

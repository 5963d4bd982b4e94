//! GeoIP lookups per second (docs/geoip.md): `GeoIp::tag` (what the worker does once per new
//! home ↔ external flow) and `GeoIp::describe` (once per admitted alert), on random IPv4 and
//! IPv6 addresses.
//!
//! ```sh
//! perl tests/geoip/make_mmdb.pl /tmp/geo                       # the test databases
//! perl tests/geoip/make_tor_mmdb.pl /tmp/geo/tor-country.mmdb  # real-size, from tor-geoipdb
//! SIPHON_GEOIP_COUNTRY=/tmp/geo/tor-country.mmdb SIPHON_GEOIP_ASN=/tmp/geo/asn.mmdb \
//!     cargo bench --bench geoip
//! ```
//!
//! Without the variables the benchmark writes the small test databases itself (needs Perl and
//! libmaxmind-db-writer-perl, as `scripts/setup.sh` installs).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siphon::GeoIp;
use siphon::synth::Rng;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

fn databases() -> (PathBuf, PathBuf, Option<tempfile::TempDir>) {
    if let (Ok(c), Ok(a)) = (std::env::var("SIPHON_GEOIP_COUNTRY"), std::env::var("SIPHON_GEOIP_ASN")) {
        return (c.into(), a.into(), None);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/geoip/make_mmdb.pl");
    let ok = std::process::Command::new("perl").arg(script).arg(dir.path()).status().expect("perl");
    assert!(ok.success(), "make_mmdb.pl failed");
    (dir.path().join("country.mmdb"), dir.path().join("asn.mmdb"), Some(dir))
}

fn addresses(n: usize) -> Vec<IpAddr> {
    let mut rng = Rng::new(26);
    (0..n)
        .map(|i| {
            if i % 4 == 3 {
                let hi = 0x2000_0000_0000_0000_u128 | u128::from(rng.next_u64() >> 4) << 64;
                IpAddr::V6(Ipv6Addr::from(hi | u128::from(rng.next_u64())))
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32))
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (country, asn, _keep) = databases();
    let g = GeoIp::open(Some(&country), Some(&asn)).expect("databases open").expect("some");
    let ips = addresses(4096);
    let mut group = c.benchmark_group("geoip");
    group.throughput(Throughput::Elements(ips.len() as u64));
    group.bench_function("tag (per flow): country + ASN", |b| {
        b.iter(|| {
            for ip in &ips {
                black_box(g.tag(black_box(*ip)));
            }
        })
    });
    group.bench_function("describe (per alert): names too", |b| {
        b.iter(|| {
            for ip in &ips {
                black_box(g.describe(black_box(*ip)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

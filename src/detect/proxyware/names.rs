//! The proxyware name list, matched by domain suffix on label boundaries.
//!
//! Built once from the config into a hash map keyed by lower-case suffix. A lookup lower-cases
//! the name into a stack buffer and probes the map at each label boundary, longest first: a
//! handful of hash probes, no allocation, never a substring test (`nothoneygain.com` and
//! `honeygain.com.evil.net` do not match `honeygain.com`).

use crate::decode::dns::DnsName;
use crate::decode::suffix::SuffixSet;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Longest name looked up (DNS's limit); longer names never match.
const MAX_NAME: usize = 255;

/// One list entry that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameMatch<'m> {
    /// Service name, as written in the config.
    pub service: &'m str,
    /// The list entry (domain suffix) that matched.
    pub domain: &'m str,
    /// Index of the service (stable for the matcher's lifetime).
    pub service_id: u32,
}

/// The compiled list.
#[derive(Debug, Default)]
pub(crate) struct NameMatcher {
    by_suffix: FxHashMap<Box<[u8]>, (u32, u32)>,
    /// The same suffixes as a set: most names match none, and the set says so in a walk of
    /// the name's last labels with a bit test at each (~200 instructions a DNS name), where
    /// lower-casing the tail and hashing each of its suffixes for the map cost ~430.
    set: SuffixSet,
    services: Vec<String>,
    domains: Vec<String>,
    /// Length of the longest suffix: only a name's last this many bytes can hold an entry.
    longest: usize,
}

/// Lower-cases a config entry and strips `*.`, leading and trailing dots.
fn normalise(d: &str) -> String {
    let d = d.trim().trim_start_matches("*.").trim_matches('.');
    d.to_ascii_lowercase()
}

impl NameMatcher {
    /// Compiles `lists` (service → suffixes), later lists adding to earlier ones. A suffix
    /// listed twice keeps its first service.
    pub(crate) fn new<'a>(lists: impl IntoIterator<Item = &'a BTreeMap<String, Vec<String>>>) -> Self {
        let mut m = NameMatcher::default();
        for list in lists {
            for (service, domains) in list {
                let sid = match m.services.iter().position(|s| s == service) {
                    Some(i) => i as u32,
                    None => {
                        m.services.push(service.clone());
                        (m.services.len() - 1) as u32
                    }
                };
                for d in domains {
                    let d = normalise(d);
                    if d.is_empty() || d.len() > MAX_NAME || m.by_suffix.contains_key(d.as_bytes()) {
                        continue;
                    }
                    m.longest = m.longest.max(d.len());
                    m.domains.push(d.clone());
                    let did = (m.domains.len() - 1) as u32;
                    m.by_suffix.insert(d.into_bytes().into_boxed_slice(), (sid, did));
                }
            }
        }
        m.set = SuffixSet::new(m.by_suffix.keys());
        m
    }

    /// Number of suffixes in the list.
    pub(crate) fn len(&self) -> usize {
        self.by_suffix.len()
    }

    /// The most specific entry `name` equals or falls under, ASCII case-insensitive; a
    /// trailing dot is ignored.
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<NameMatch<'_>> {
        if !self.set.matches(name) {
            return None;
        }
        self.most_specific(name)
    }

    /// [`NameMatcher::lookup`] for a DNS name: most names under a registrable domain no entry
    /// concerns are turned away by a remembered verdict ([`SuffixSet::matches_name`]).
    pub(crate) fn lookup_dns(&self, name: &DnsName) -> Option<NameMatch<'_>> {
        if !self.set.matches_name(name) {
            return None;
        }
        self.most_specific(name.as_bytes())
    }

    /// The most specific entry `name` falls under, by the map.
    fn most_specific(&self, name: &[u8]) -> Option<NameMatch<'_>> {
        let name = name.strip_suffix(b".").unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME {
            return None;
        }
        // Only the suffixes no longer than the longest entry can match (a long DNS name's first
        // labels are never lower-cased or hashed): from the first label start in the last
        // `longest` bytes.
        let mut tail_start = name.len().saturating_sub(self.longest);
        if tail_start > 0 && name[tail_start - 1] != b'.' {
            tail_start += name[tail_start..].iter().position(|&c| c == b'.')? + 1;
        }
        let tail = &name[tail_start..];
        let mut buf = [0u8; MAX_NAME];
        let lower = &mut buf[..tail.len()];
        for (d, s) in lower.iter_mut().zip(tail) {
            *d = s.to_ascii_lowercase();
        }
        let lower = &buf[..tail.len()];
        let mut start = 0;
        loop {
            if let Some(&(sid, did)) = self.by_suffix.get(&lower[start..]) {
                return Some(NameMatch {
                    service: self.services.get(sid as usize).map_or("", String::as_str),
                    domain: self.domains.get(did as usize).map_or("", String::as_str),
                    service_id: sid,
                });
            }
            match lower[start..].iter().position(|&c| c == b'.') {
                Some(i) => start += i + 1,
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::proxyware::config::ProxywareConfig;

    fn default_matcher() -> NameMatcher {
        let c = ProxywareConfig::default();
        NameMatcher::new([&c.domains, &c.domains_extra])
    }

    #[test]
    fn suffixes_match_on_label_boundaries_only() {
        let m = default_matcher();
        let hit = m.lookup(b"api.honeygain.com").unwrap();
        assert_eq!((hit.service, hit.domain), ("Honeygain", "honeygain.com"));
        assert_eq!(m.lookup(b"HONEYGAIN.COM.").unwrap().service, "Honeygain");
        assert_eq!(m.lookup(b"discovery.mysterium.network").unwrap().service, "Mysterium");
        assert_eq!(m.lookup(b"api.pawns.app").unwrap().service, "IPRoyal Pawns");
        for benign in [
            &b"nothoneygain.com"[..],
            b"honeygain.com.evil.net",
            b"mysteriumfans.org",
            b"earnappreviews.net",
            b"com",
            b"",
            b"example.com",
            b"honeygain",
            b"xhoneygain.com",
            b".",
            b"a..honeygain.comx",
        ] {
            assert_eq!(m.lookup(benign), None, "{}", String::from_utf8_lossy(benign));
        }
        let long = [b'a'; 300];
        assert_eq!(m.lookup(&long), None);
    }

    /// Only a name's tail (as long as the longest entry, from a label start) is looked at: the
    /// same answers as comparing the name with every entry, the most specific entry first.
    #[test]
    fn the_tail_answers_what_every_entry_answers() {
        use crate::decode::dns::name_is_under;
        let mut extra = BTreeMap::new();
        extra.insert("Deep".to_string(), vec!["a.b.api.honeygain.com".to_string(), "x.y".to_string()]);
        let c = ProxywareConfig::default();
        let m = NameMatcher::new([&c.domains, &extra]);
        let q = "q".repeat(200);
        let names = [
            format!("{q}.api.honeygain.com"),
            format!("{q}honeygain.com"),
            format!("{q}.a.b.api.honeygain.com"),
            "b.api.honeygain.com".to_string(),
            format!("{q}.x.y"),
            format!("{q}x.y"),
            format!("{}.HoneyGain.COM.", &q[..20]),
            format!("z.{}.com", &q[..5]),
            "honeygain.com".to_string(),
        ];
        for n in &names {
            let slow = m
                .domains
                .iter()
                .filter(|d| name_is_under(n.as_bytes(), d.as_bytes()))
                .max_by_key(|d| d.len());
            assert_eq!(m.lookup(n.as_bytes()).map(|h| h.domain), slow.map(String::as_str), "{n}");
        }
    }

    #[test]
    fn every_seed_service_is_listed() {
        let m = default_matcher();
        for (name, service) in [
            ("honeygain.com", "Honeygain"),
            ("iproyal.com", "IPRoyal Pawns"),
            ("pawns.app", "IPRoyal Pawns"),
            ("peer2profit.com", "Peer2Profit"),
            ("packetstream.io", "PacketStream"),
            ("traffmonetizer.com", "Traffmonetizer"),
            ("earnapp.com", "EarnApp"),
            ("repocket.com", "Repocket"),
            ("bitping.com", "Bitping"),
            ("mysterium.network", "Mysterium"),
        ] {
            assert_eq!(m.lookup(name.as_bytes()).map(|h| h.service), Some(service), "{name}");
        }
    }

    #[test]
    fn config_extends_and_replaces() {
        let mut extra = BTreeMap::new();
        extra.insert("Acme Share".to_string(), vec!["*.AcmeShare.example.".to_string()]);
        let c = ProxywareConfig::default();
        let m = NameMatcher::new([&c.domains, &extra]);
        assert_eq!(m.lookup(b"node.acmeshare.example").unwrap().service, "Acme Share");
        assert!(m.lookup(b"honeygain.com").is_some());
        let only = NameMatcher::new([&extra]);
        assert!(only.lookup(b"honeygain.com").is_none());
        assert_eq!(only.len(), 1);
        assert!(NameMatcher::new([&BTreeMap::new()]).lookup(b"honeygain.com").is_none());
    }
}

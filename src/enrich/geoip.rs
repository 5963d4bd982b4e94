//! Country and network owner of an address, from MaxMind-format databases (GeoLite2-Country /
//! GeoLite2-ASN, or DB-IP's free "lite" country and ASN databases) that the operator downloads
//! and names in `general.geoip_country_db` / `general.geoip_asn_db`. siphon ships none and
//! never fetches one.
//!
//! The files are memory-mapped by the `maxminddb` crate and opened once, when the config is
//! read; a missing, unreadable, corrupt or mismatched file is an error naming it. Two lookups:
//! [`GeoIp::tag`] (country code and AS number, no allocation) once per new home ↔ external
//! flow, for policy; [`GeoIp::describe`] (with the country's and network's names) once per
//! admitted alert, for the alert's `geoip` object.

use crate::error::GeoIpError;
use maxminddb::{Mmap, Reader, path};
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One opened database.
struct Db {
    path: PathBuf,
    reader: Reader<Mmap>,
}

/// The opened databases, shared by every worker.
pub struct GeoIp {
    country: Option<Db>,
    asn: Option<Db>,
    /// Lookups that failed on a malformed record (the alert or flow goes untagged).
    errors: AtomicU64,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("country", &self.country.as_ref().map(|d| &d.path))
            .field("asn", &self.asn.as_ref().map(|d| &d.path))
            .finish()
    }
}

/// What policy needs of a peer, `Copy` and 8 bytes, kept in its flow: country code
/// (`[0, 0]` unknown) and AS number (0 unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeoTag {
    /// ISO 3166-1 alpha-2 code, uppercase; `[0, 0]` when unknown.
    pub country: [u8; 2],
    /// Autonomous system number; 0 when unknown.
    pub asn: u32,
}

impl GeoTag {
    /// The country code, if known.
    pub fn country(&self) -> Option<[u8; 2]> {
        (self.country != [0, 0]).then_some(self.country)
    }
    /// The AS number, if known.
    pub fn asn(&self) -> Option<u32> {
        (self.asn != 0).then_some(self.asn)
    }
}

/// The alert's `geoip` object: the external side of the alert, named as Logstash's `geoip`
/// filter names them in its legacy (non-ECS) mode — `country_code2`, `country_name`, `asn`,
/// `as_org` — which is what Suricata users' dashboards (SELKS, EveBox over Logstash) read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveGeoip {
    /// The address looked up (the alert's external side).
    pub ip: IpAddr,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code2: Option<String>,
    /// English country name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
    /// Autonomous system number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// The autonomous system's organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
}

impl Db {
    /// Opens and checks one database: `kinds` are the words its `database_type` must contain
    /// one of (`Country`, `City` for a country database; `ASN`, `ISP` for a network one).
    fn open(path: &Path, key: &'static str, kinds: &[&str]) -> Result<Db, GeoIpError> {
        let bad = |reason: String| GeoIpError::Open { key, path: path.to_path_buf(), reason };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        // SAFETY: the mapping is read-only and lives as long as the reader. A database replaced
        // by renaming a new file over it (what geoipupdate does) leaves this mapping on the old
        // inode; truncating the file in place while siphon runs is not supported (documented in
        // docs/geoip.md).
        let reader =
            unsafe { Reader::open_mmap(path) }.map_err(|e| bad(format!("not a MaxMind DB file: {e}")))?;
        let ty = reader.metadata().database_type.clone();
        if !kinds.iter().any(|k| ty.to_ascii_lowercase().contains(&k.to_ascii_lowercase())) {
            return Err(bad(format!(
                "database type {ty:?} is not a {} database (expected one of: {})",
                if key.ends_with("country_db") { "country" } else { "network (ASN)" },
                kinds.join(", ")
            )));
        }
        // One lookup walks the search tree and decodes a record: a file whose header parses
        // but whose tree or data is cut fails here, not at the first alert.
        for probe in ["1.1.1.1", "2001:db8::1"] {
            if let Ok(ip) = probe.parse::<IpAddr>() {
                let r = reader.lookup(ip).map_err(|e| bad(format!("corrupt database: {e}")))?;
                r.decode::<serde::de::IgnoredAny>().map_err(|e| bad(format!("corrupt database: {e}")))?;
            }
        }
        Ok(Db { path: path.to_path_buf(), reader })
    }
}

impl GeoIp {
    /// Opens the configured databases; `Ok(None)` when neither is set.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Option<GeoIp>, GeoIpError> {
        if country.is_none() && asn.is_none() {
            return Ok(None);
        }
        let country =
            country.map(|p| Db::open(p, "general.geoip_country_db", &["Country", "City"])).transpose()?;
        let asn = asn.map(|p| Db::open(p, "general.geoip_asn_db", &["ASN", "ISP"])).transpose()?;
        Ok(Some(GeoIp { country, asn, errors: AtomicU64::new(0) }))
    }

    /// Is a network (AS) database loaded?
    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// Lookups that failed on a malformed record so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    fn failed<T>(&self, r: Result<Option<T>, maxminddb::MaxMindDbError>) -> Option<T> {
        r.unwrap_or_else(|_| {
            self.errors.fetch_add(1, Ordering::Relaxed);
            None
        })
    }

    /// Country code and AS number of `ip` (no allocation).
    pub fn tag(&self, ip: IpAddr) -> GeoTag {
        let mut t = GeoTag::default();
        if let Some(db) = &self.country {
            let code =
                db.reader.lookup(ip).and_then(|r| r.decode_path::<&str>(&path!["country", "iso_code"]));
            if let Some(c) = self.failed(code)
                && let [a, b] = c.as_bytes()
            {
                t.country = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
            }
        }
        if let Some(db) = &self.asn {
            let n =
                db.reader.lookup(ip).and_then(|r| r.decode_path::<u32>(&path!["autonomous_system_number"]));
            t.asn = self.failed(n).unwrap_or(0);
        }
        t
    }

    /// Everything known about `ip`, for an alert; `None` when no database knows it.
    pub fn describe(&self, ip: IpAddr) -> Option<EveGeoip> {
        let mut g = EveGeoip { ip, country_code2: None, country_name: None, asn: None, as_org: None };
        if let Some(db) = &self.country
            && let Ok(r) = db.reader.lookup(ip)
        {
            g.country_code2 = self.failed(r.decode_path::<String>(&path!["country", "iso_code"]));
            g.country_name = self.failed(r.decode_path::<String>(&path!["country", "names", "en"]));
        }
        if let Some(db) = &self.asn
            && let Ok(r) = db.reader.lookup(ip)
        {
            g.asn = self.failed(r.decode_path::<u32>(&path!["autonomous_system_number"]));
            g.as_org = self.failed(r.decode_path::<String>(&path!["autonomous_system_organization"]));
        }
        let known = g.country_code2.is_some() || g.asn.is_some() || g.as_org.is_some();
        known.then_some(g)
    }
}

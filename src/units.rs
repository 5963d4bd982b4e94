//! Config value types that accept units — durations (`30s`, `5m`, `8h`), sizes (`50MB`, `1GiB`),
//! window limits (`8h:1GiB`) — and the list helpers every config section shares (addresses,
//! networks, ports, strings as a TOML list or one comma-separated string).

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// A duration written with a unit (`500ms`, `30s`, `5m`, `8h`, `1d`) or as whole seconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    /// A duration of `s` seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }
    /// Nanoseconds, for arithmetic on packet time.
    pub fn nanos(self) -> u64 {
        self.0.as_nanos() as u64
    }
    /// Parses `5m`, `8h`, `1h30m`, or a bare number of seconds.
    pub fn parse(s: &str) -> Result<Dur, String> {
        let t = s.trim();
        if let Ok(n) = t.parse::<f64>()
            && n >= 0.0
            && n.is_finite()
        {
            return Ok(Dur(Duration::from_secs_f64(n)));
        }
        humantime::parse_duration(t)
            .map(Dur)
            .map_err(|e| format!("bad duration {s:?}: {e} (use units such as 30s, 5m, 8h)"))
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Dur, String> {
        Dur::parse(s)
    }
}

impl fmt::Debug for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}
impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Dur::secs(n)),
            Raw::Float(f) => Dur::parse(&f.to_string()).map_err(serde::de::Error::custom),
            Raw::Str(s) => Dur::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}
impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A byte count written with a unit (`50MB` = 50·10⁶, `1GiB` = 2³⁰) or as a plain number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    /// Parses `50MB`, `1GiB`, `4096`.
    pub fn parse(s: &str) -> Result<Size, String> {
        parse_size::parse_size(s.trim())
            .map(Size)
            .map_err(|e| format!("bad size {s:?}: {e} (use units such as 50MB, 1GiB)"))
    }
}

impl fmt::Debug for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GIB: u64 = 1 << 30;
        const MIB: u64 = 1 << 20;
        const KIB: u64 = 1 << 10;
        let n = self.0;
        if n >= GIB && n.is_multiple_of(GIB) {
            write!(f, "{}GiB", n / GIB)
        } else if n >= MIB && n.is_multiple_of(MIB) {
            write!(f, "{}MiB", n / MIB)
        } else if n >= KIB && n.is_multiple_of(KIB) {
            write!(f, "{}KiB", n / KIB)
        } else {
            write!(f, "{n}B")
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Size(n)),
            Raw::Str(s) => Size::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}
impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// One sliding-window volume limit, written `WINDOW:BYTES` (`8h:1GiB`, `5m:10MB`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    /// The window.
    pub window: Dur,
    /// Bytes that must be reached inside it.
    pub bytes: Size,
}

impl fmt::Debug for WindowLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.window, self.bytes)
    }
}

impl WindowLimit {
    /// Parses `8h:1GiB`.
    pub fn parse(s: &str) -> Result<WindowLimit, String> {
        let (w, b) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("bad volume limit {s:?} (use WINDOW:BYTES, e.g. 8h:1GiB)"))?;
        let window = Dur::parse(w)?;
        let bytes = Size::parse(b)?;
        if window.0.is_zero() || bytes.0 == 0 {
            return Err(format!("bad volume limit {s:?}: window and bytes must be above zero"));
        }
        Ok(WindowLimit { window, bytes })
    }
}

/// Most windows per list (each costs a ring of buckets per tracked key).
pub(crate) const MAX_WINDOWS: usize = 6;

/// Deserializes a comma-separated string (or a list) of `WINDOW:BYTES`, sorted by window.
pub(crate) fn de_limits<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WindowLimit>, D::Error> {
    let v = de_string_list(d)?;
    let mut out = v
        .iter()
        .map(|s| WindowLimit::parse(s).map_err(serde::de::Error::custom))
        .collect::<Result<Vec<_>, _>>()?;
    if out.len() > MAX_WINDOWS {
        return Err(serde::de::Error::custom(format!("at most {MAX_WINDOWS} windows")));
    }
    out.sort_by_key(|l| l.window);
    Ok(out)
}

/// Accepts either a TOML list or one comma-separated string, each item parsed with `FromStr`.
pub(crate) fn de_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let items: Vec<String> = match Raw::deserialize(d)? {
        Raw::One(s) => s.split(',').map(str::to_owned).collect(),
        Raw::Many(v) => v,
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<T>().map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}"))))
        .collect()
}

/// Strings as `"a,b"` or `["a","b"]`, trimmed, empty items dropped.
pub(crate) fn de_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    de_list::<D, String>(d)
}

/// Parses a CIDR or a bare address (a /32 or /128).
pub(crate) fn parse_net(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("bad network {s:?} (use a CIDR such as 10.0.0.0/8 or an address)"))
}

/// A list (or comma-separated string) of CIDRs or addresses; a bare address is a /32 (/128).
pub(crate) fn de_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let v = de_string_list(d)?;
    v.iter().map(|s| parse_net(s).map_err(serde::de::Error::custom)).collect()
}

/// Ports as TOML integers, strings, or one comma-separated string (`4789`, `[4789, 8472]`,
/// `"4789,8472"`).
pub(crate) fn de_ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        N(u16),
        S(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(One),
        Many(Vec<One>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(o) => vec![o],
        Raw::Many(v) => v,
    };
    let mut out = Vec::new();
    for i in items {
        match i {
            One::N(n) => out.push(n),
            One::S(s) => {
                for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    out.push(p.parse().map_err(|e| serde::de::Error::custom(format!("port {p:?}: {e}")))?);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_seconds() {
        assert_eq!(Dur::parse("5m").unwrap(), Dur::secs(300));
        assert_eq!(Dur::parse("8h").unwrap(), Dur::secs(8 * 3600));
        assert_eq!(Dur::parse("90").unwrap(), Dur::secs(90));
        assert!(Dur::parse("soon").is_err());
    }

    #[test]
    fn sizes_accept_si_and_binary_units() {
        assert_eq!(Size::parse("50MB").unwrap(), Size(50_000_000));
        assert_eq!(Size::parse("1GiB").unwrap(), Size(1 << 30));
        assert_eq!(Size::parse("4096").unwrap(), Size(4096));
        assert!(Size::parse("lots").is_err());
    }
}

//! Config value types that accept units: durations (`30s`, `5m`, `8h`) and sizes (`50MB`, `1GiB`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
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

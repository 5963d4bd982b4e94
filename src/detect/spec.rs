//! The detector table's types: a [`Spec`] per detector, each detector's config section behind
//! [`DetectorConfig`], and [`Sections`], the parsed sections of one table.
//!
//! A detector's config type is known only to its folder and to its `Spec`: the rest of the
//! crate (the config loader, the worker) walks the table and never names a detector type. Each
//! section is read from the config text by its name with the TOML deserializer itself, so an
//! error in it still names the key and its line.

use super::{Detector, Env};
use crate::alert::Signature;
use crate::validate::Checker;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::any::Any;
use std::fmt;

/// A detector's config section (`[name]` in `siphon.toml`): serde-readable with defaults for
/// every key, and switched on or off by its `enabled` key.
pub trait DetectorConfig: fmt::Debug + Clone + Default + DeserializeOwned + Send + Sync + 'static {
    /// The section's `enabled` key.
    fn enabled(&self) -> bool;
    /// Range-checks every key and checks every list entry, recording problems in `ck` (called
    /// once when the config is read; see [`crate::validate`]).
    fn validate(&self, _ck: &mut Checker) {}
}

/// A detector built from its own section and the shared environment.
pub trait Build: Detector + Sized + 'static {
    /// Its config section.
    type Config: DetectorConfig;
    /// Builds one detector (one per worker).
    fn build(config: &Self::Config, env: &Env) -> Self;
}

/// One row of the detector table.
pub struct Spec {
    /// Stable name: `siphon.detector` in alerts, and the config section's name.
    pub name: &'static str,
    /// What it catches, one line (the README's detector table).
    pub summary: &'static str,
    /// The detector's block of signature ids, inclusive (one block of 100 per detector).
    pub ids: (u32, u32),
    /// Every signature it can raise.
    pub signatures: &'static [Signature],
    /// Its section's defaults, parser and builder.
    pub section: SectionFns,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Reads a section by name from a whole TOML document (`None`: absent).
type ParseFn = fn(&str, &'static str) -> Result<Option<Box<dyn AnySection>>, toml::de::Error>;

/// The type-erased functions of one detector's section.
#[derive(Clone, Copy)]
pub struct SectionFns {
    default: fn() -> Box<dyn AnySection>,
    parse: ParseFn,
    build: fn(&dyn Any, &Env) -> Option<Box<dyn Detector>>,
}

impl Spec {
    /// The row of detector `D`.
    pub const fn of<D: Build>(
        name: &'static str,
        summary: &'static str,
        ids: (u32, u32),
        signatures: &'static [Signature],
    ) -> Spec {
        Spec {
            name,
            summary,
            ids,
            signatures,
            section: SectionFns {
                default: default_section::<D::Config>,
                parse: parse_section::<D::Config>,
                build: build_erased::<D>,
            },
        }
    }
}

fn default_section<C: DetectorConfig>() -> Box<dyn AnySection> {
    Box::new(C::default())
}

fn build_erased<D: Build>(section: &dyn Any, env: &Env) -> Option<Box<dyn Detector>> {
    let c = section.downcast_ref::<D::Config>()?;
    Some(Box::new(D::build(c, env)))
}

/// Reads the table `[name]` of the TOML document `text` as a `C`, `None` when it is absent.
fn parse_section<C: DetectorConfig>(
    text: &str,
    name: &'static str,
) -> Result<Option<Box<dyn AnySection>>, toml::de::Error> {
    struct Pick<C>(&'static str, std::marker::PhantomData<C>);
    impl<'de, C: DetectorConfig> Visitor<'de> for Pick<C> {
        type Value = Option<C>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a TOML document")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<C>, A::Error> {
            let mut out = None;
            while let Some(k) = map.next_key::<String>()? {
                if k == self.0 {
                    out = Some(map.next_value::<C>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    impl<'de, C: DetectorConfig> DeserializeSeed<'de> for Pick<C> {
        type Value = Option<C>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<C>, D::Error> {
            d.deserialize_map(self)
        }
    }
    let de = toml::Deserializer::parse(text)?;
    let c = Pick::<C>(name, std::marker::PhantomData).deserialize(de)?;
    Ok(c.map(|c| Box::new(c) as Box<dyn AnySection>))
}

/// A config section with its type erased (a [`DetectorConfig`]).
pub(crate) trait AnySection: fmt::Debug + Send + Sync {
    /// The section's `enabled` key.
    fn enabled(&self) -> bool;
    /// For downcasting to the detector's config type.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting to the detector's config type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn AnySection>;
    /// [`DetectorConfig::validate`].
    fn validate(&self, ck: &mut Checker);
}

impl<C: DetectorConfig> AnySection for C {
    fn enabled(&self) -> bool {
        DetectorConfig::enabled(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn clone_box(&self) -> Box<dyn AnySection> {
        Box::new(self.clone())
    }
    fn validate(&self, ck: &mut Checker) {
        DetectorConfig::validate(self, ck)
    }
}

/// The config sections of one detector table, in table order.
pub struct Sections {
    specs: &'static [Spec],
    items: Vec<Box<dyn AnySection>>,
}

impl Sections {
    /// Every section of `specs` at its defaults.
    pub fn defaults(specs: &'static [Spec]) -> Sections {
        Sections { specs, items: specs.iter().map(|s| (s.section.default)()).collect() }
    }

    /// Every section of `specs` read from the TOML document `text` (defaults where absent).
    pub fn parse(specs: &'static [Spec], text: &str) -> Result<Sections, toml::de::Error> {
        let items = specs
            .iter()
            .map(|s| Ok((s.section.parse)(text, s.name)?.unwrap_or_else(s.section.default)))
            .collect::<Result<_, toml::de::Error>>()?;
        Ok(Sections { specs, items })
    }

    /// The table these sections belong to.
    pub fn specs(&self) -> &'static [Spec] {
        self.specs
    }

    /// The section of type `C`, if the table has that detector.
    pub fn get<C: DetectorConfig>(&self) -> Option<&C> {
        self.items.iter().find_map(|s| s.as_any().downcast_ref::<C>())
    }

    /// The section of type `C`, to change it (tests, `--set`-like tweaks).
    pub fn get_mut<C: DetectorConfig>(&mut self) -> Option<&mut C> {
        self.items.iter_mut().find_map(|s| s.as_any_mut().downcast_mut::<C>())
    }

    /// Checks every section, each under its own name.
    pub fn validate(&self, ck: &mut Checker) {
        for (spec, section) in self.specs.iter().zip(&self.items) {
            section.validate(ck.section(spec.name));
        }
    }

    /// The enabled detectors, built in table order.
    pub fn build(&self, env: &Env) -> Vec<Box<dyn Detector>> {
        self.specs
            .iter()
            .zip(&self.items)
            .filter(|(_, c)| c.enabled())
            .filter_map(|(s, c)| (s.section.build)(c.as_any(), env))
            .collect()
    }
}

impl Default for Sections {
    fn default() -> Self {
        Sections::defaults(super::ALL)
    }
}

impl Clone for Sections {
    fn clone(&self) -> Self {
        Sections { specs: self.specs, items: self.items.iter().map(|s| s.clone_box()).collect() }
    }
}

impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.specs.iter().map(|s| s.name).zip(&self.items)).finish()
    }
}

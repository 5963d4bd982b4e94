//! The fast path for the common export packet: v9 or IPFIX data sets only, every one of them
//! with a fixed-length data template the crate has already learned. `netflow_parser` builds a
//! vector of decoded `(field, value)` pairs for every record; here a learned template is
//! compiled once into the offsets of the handful of fields siphon reads, and a record costs a
//! few loads.
//!
//! Templates are still learned (and capped, evicted, and withdrawn) by the crate alone: it
//! writes every template it accepts through its `TemplateStore` hook, and removes it there when
//! it evicts it; [`Layouts`] is that store. Anything else in a packet (a template, options, a
//! set whose template is unknown, a variable-length field, a length that does not tile, padding
//! the crate would refuse) sends the whole packet to the crate, so the two paths give the same
//! records (`tests/netflow_fast.rs` replays the bundled exports and mutated ones through both).

use super::fields::Raw;
use netflow_parser::template_store::{TemplateKind, TemplateStore, TemplateStoreError, TemplateStoreKey};
use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Which export format a template belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Proto {
    V9,
    Ipfix,
}

/// A data template compiled to what siphon reads: the record's length and, for every field it
/// reads, its offset, length and element number.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub rec_len: usize,
    pub fields: u32,
    pub reads: Vec<(u16, u16, u16)>,
}

/// Whether the fast path reads element `id` of this length the way the crate's value would
/// read: numbers of 1 to 8 bytes, addresses of their own size, uptimes of 4 bytes.
fn readable(id: u16, len: u16) -> Option<bool> {
    let ok = match id {
        1 | 2 | 4 | 6 | 7 | 11 | 34 | 50 | 305 | 306 => (1..=8).contains(&len),
        8 | 12 | 21 | 22 | 150 | 151 => len == 4,
        27 | 28 => len == 16,
        32 | 139 => len == 2,
        152 | 153 | 160 => len == 8,
        // Not read: any fixed length is skipped.
        _ => return Some(false),
    };
    ok.then_some(true)
}

impl Layout {
    /// Compiles a template's `(element, length, enterprise)` fields; `None` when a field has
    /// a variable or zero length or a length the fast path would read differently.
    fn compile(fields: impl Iterator<Item = (u16, u16, bool)>) -> Option<Layout> {
        let (mut off, mut n, mut reads) = (0usize, 0u32, Vec::new());
        for (id, len, enterprise) in fields {
            if len == 0 || len == 0xffff {
                return None;
            }
            if !enterprise && readable(id, len)? {
                reads.push((u16::try_from(off).ok()?, len, id));
            }
            off += usize::from(len);
            n += 1;
        }
        (off > 0).then_some(Layout { rec_len: off, fields: n, reads })
    }

    /// Reads one record.
    pub(super) fn read(&self, rec: &[u8]) -> Raw {
        let mut raw = Raw::default();
        for &(off, len, id) in &self.reads {
            let (o, l) = (usize::from(off), usize::from(len));
            if let Some(b) = rec.get(o..o + l) {
                raw.set_bytes(id, b);
            }
        }
        raw
    }
}

type Key = (SocketAddr, u32, Proto, u16);

/// The data templates the crate holds, compiled; the crate's `TemplateStore`.
#[derive(Debug)]
pub(super) struct Layouts {
    map: Mutex<FxHashMap<Key, Arc<Layout>>>,
    cap: usize,
}

/// The crate's scope of a per-source parser: `v9:ADDR:PORT/SOURCE_ID` or
/// `ipfix:ADDR:PORT/DOMAIN`.
fn scope(s: &str) -> Option<(SocketAddr, u32)> {
    let rest = s.strip_prefix("v9:").or_else(|| s.strip_prefix("ipfix:"))?;
    let (addr, domain) = rest.rsplit_once('/')?;
    Some((addr.parse().ok()?, domain.parse().ok()?))
}

/// The crate's template wire format (version 1): `[1][id u16][count u16]` then per field
/// `[type u16][len u16]`, IPFIX adding `[flag u8]([enterprise u32])`.
fn decode_template(b: &[u8], ipfix: bool) -> Option<Layout> {
    if b.first() != Some(&1) {
        return None;
    }
    let count = usize::from(u16::from_be_bytes([*b.get(3)?, *b.get(4)?]));
    let mut pos = 5;
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let f = b.get(pos..pos + 4)?;
        let (id, len) = (u16::from_be_bytes([f[0], f[1]]), u16::from_be_bytes([f[2], f[3]]));
        pos += 4;
        let mut enterprise = false;
        if ipfix {
            enterprise = match *b.get(pos)? {
                0 => false,
                1 => {
                    pos += 4;
                    true
                }
                _ => return None,
            };
            pos += 1;
        }
        fields.push((id & 0x7fff, len, enterprise || id & 0x8000 != 0));
    }
    Layout::compile(fields.into_iter())
}

impl Layouts {
    /// A store holding at most `cap` compiled templates (when full, a new one clears it: the
    /// packets of the forgotten ones take the crate's path until their templates come again).
    pub(super) fn new(cap: usize) -> Layouts {
        Layouts { map: Mutex::new(FxHashMap::default()), cap: cap.max(1) }
    }

    fn key(k: &TemplateStoreKey) -> Option<Key> {
        let proto = match k.kind {
            TemplateKind::V9Data => Proto::V9,
            TemplateKind::IpfixData => Proto::Ipfix,
            _ => return None,
        };
        let (addr, domain) = scope(&k.scope)?;
        Some((addr, domain, proto, k.template_id))
    }

    /// Runs `f` with the compiled templates.
    pub(super) fn with<R>(&self, f: impl FnOnce(&FxHashMap<Key, Arc<Layout>>) -> R) -> R {
        f(&self.map.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many compiled templates are held.
    pub(super) fn len(&self) -> usize {
        self.with(|m| m.len())
    }
}

impl TemplateStore for Layouts {
    fn get(&self, _key: &TemplateStoreKey) -> Result<Option<Vec<u8>>, TemplateStoreError> {
        // Not a second tier: the crate's own cache decides what it knows.
        Ok(None)
    }

    fn put(&self, key: &TemplateStoreKey, value: &[u8]) -> Result<(), TemplateStoreError> {
        let Some(k) = Layouts::key(key) else { return Ok(()) };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match decode_template(value, k.2 == Proto::Ipfix) {
            Some(layout) => {
                if map.len() >= self.cap && !map.contains_key(&k) {
                    map.clear();
                }
                map.insert(k, Arc::new(layout));
            }
            // A template the fast path cannot read: its data goes to the crate.
            None => {
                map.remove(&k);
            }
        }
        Ok(())
    }

    fn remove(&self, key: &TemplateStoreKey) -> Result<(), TemplateStoreError> {
        if let Some(k) = Layouts::key(key) {
            self.map.lock().unwrap_or_else(PoisonError::into_inner).remove(&k);
        }
        Ok(())
    }
}

/// One data set the fast path will read: its layout and where its whole records lie in the
/// packet.
pub(super) type DataSet = (Arc<Layout>, usize, usize);

/// Splits an export packet into data sets with known layouts, or `None` when any part of it
/// needs the crate.
pub(super) fn plan(
    layouts: &Layouts,
    from: SocketAddr,
    domain: u32,
    proto: Proto,
    payload: &[u8],
    out: &mut Vec<DataSet>,
) -> Option<()> {
    out.clear();
    let mut at = if proto == Proto::V9 { 20 } else { 16 };
    let mut values = 0usize;
    layouts.with(|map| {
        while at < payload.len() {
            let h = payload.get(at..at + 4)?;
            let (id, len) = (u16::from_be_bytes([h[0], h[1]]), usize::from(u16::from_be_bytes([h[2], h[3]])));
            if id < 256 || len < 4 || at + len > payload.len() {
                return None;
            }
            let layout = map.get(&(from, domain, proto, id))?;
            let body = len - 4;
            let (n, pad) = (body / layout.rec_len, body % layout.rec_len);
            // The crate's rules: at least one record, at most 1024 a set, padding shorter than
            // a record (v9: at most 3 bytes), at most 65,536 field values a message.
            if n == 0 || n > 1024 || (proto == Proto::V9 && pad > 3) {
                return None;
            }
            values += n * layout.fields as usize;
            if values > 65_536 {
                return None;
            }
            out.push((Arc::clone(layout), at + 4, at + 4 + n * layout.rec_len));
            at += len;
        }
        Some(())
    })?;
    (!out.is_empty()).then_some(())
}

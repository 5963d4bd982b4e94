//! DNS messages, over UDP or TCP (length-prefixed), on any port.
//!
//! Parsing is done by NLnet Labs' `domain` crate: lazy, zero-copy, and it hands over raw label
//! bytes, which iodine's base128 and raw codecs need (the requested `dns-parser` 0.8 rejects
//! non-ASCII labels with `LabelIsNotAscii` and exposes no raw bytes; see docs/architecture.md). The query
//! name is copied once into a fixed-size [`DnsName`] on the stack: no allocation per message.

use super::suffix::DomainKey;
use std::net::IpAddr;

/// Longest DNS name on the wire (RFC 1035).
pub(crate) const MAX_NAME_LEN: usize = 255;
/// Most labels a name can have (255 bytes of 1-byte labels plus length bytes).
pub(crate) const MAX_LABELS: usize = 128;

/// A DNS name as raw label bytes (case kept: base64 codecs use it) joined by `.`, with label
/// boundaries. Comparisons against names are ASCII case-insensitive.
#[derive(Clone, Copy)]
pub struct DnsName {
    buf: [u8; MAX_NAME_LEN + 1],
    len: u16,
    /// End offset (exclusive) of each label in `buf`.
    ends: [u8; MAX_LABELS],
    n: u8,
    longest_label: u8,
    /// Byte range in `buf` of the registrable domain, once [`DnsName::cache_registrable`]
    /// looked it up (the Public Suffix List lookup is the dearest step of a DNS message: done
    /// once, shared by every detector).
    reg: Option<(u8, u8)>,
    /// The registrable domain's key (with `reg`): its hash keys `dns_tunnel`'s groups and
    /// `beacon`'s DNS series, its words every detector's name lists' memos.
    reg_key: DomainKey,
}

impl Default for DnsName {
    fn default() -> Self {
        DnsName {
            buf: [0; MAX_NAME_LEN + 1],
            len: 0,
            ends: [0; MAX_LABELS],
            n: 0,
            longest_label: 0,
            reg: None,
            reg_key: DomainKey::default(),
        }
    }
}

impl DnsName {
    /// Empties the name for reuse (the bytes past its length are never read: not zeroed).
    #[inline]
    fn clear(&mut self) {
        self.len = 0;
        self.n = 0;
        self.longest_label = 0;
        self.reg = None;
    }
}

impl std::fmt::Debug for DnsName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_lossy_string())
    }
}

impl DnsName {
    /// Builds a name from its labels; `None` if it would exceed the DNS limits.
    pub fn from_labels<'l>(labels: impl IntoIterator<Item = &'l [u8]>) -> Option<DnsName> {
        let mut n = DnsName::default();
        for l in labels {
            if l.is_empty() {
                continue; // the root label
            }
            n.push_label(l)?;
        }
        Some(n)
    }

    /// The name at `start` of message `b` when it is the common case: no compression pointer,
    /// every label within the message, shorter than [`walk_name`]'s limit. Its labels are copied
    /// in one piece (the wire's length bytes become the dots), not one by one; answers the
    /// position after the name, as [`walk_name`] does. `None` (the name untouched): walk it.
    #[inline]
    fn copy_uncompressed(&mut self, b: &[u8], start: usize) -> Option<usize> {
        // The length bytes first: where the name ends, and that it is the common case.
        let mut pos = start;
        let mut n = 0usize;
        loop {
            let t = usize::from(*b.get(pos)?);
            if t == 0 {
                break;
            }
            // A pointer or a reserved label type; or more than `walk_name` allows (`name_len`,
            // the labels and their length bytes, reaching 255).
            if t > 0x3f || pos + 1 + t - start >= 255 || n == MAX_LABELS {
                return None;
            }
            pos += 1 + t;
            n += 1;
        }
        let end = pos; // the root label
        // The dotted name is the wire's bytes after the first length byte, each later length
        // byte a dot.
        let len = (end - start).saturating_sub(1);
        let wire = b.get(start + 1..start + 1 + len)?;
        self.buf.get_mut(..len)?.copy_from_slice(wire);
        let (mut at, mut longest) = (0usize, 0usize);
        for i in 0..n {
            let l = usize::from(*b.get(start + at + usize::from(i > 0))?);
            let label_start = at + usize::from(i > 0);
            // (The length byte of label `i` sits one before its first byte: a dot, but the first.)
            if i > 0 {
                *self.buf.get_mut(at)? = b'.';
            }
            at = label_start + l;
            *self.ends.get_mut(i)? = at as u8;
            longest = longest.max(l);
        }
        self.len = len as u16;
        self.n = n as u8;
        self.longest_label = longest as u8;
        self.reg = None;
        Some(end + 1)
    }

    fn push_label(&mut self, l: &[u8]) -> Option<()> {
        let start = usize::from(self.len) + usize::from(self.n > 0);
        let end = start + l.len();
        if end > MAX_NAME_LEN || usize::from(self.n) >= MAX_LABELS || l.len() > 63 {
            return None;
        }
        if self.n > 0 {
            self.buf[start - 1] = b'.';
        }
        self.buf[start..end].copy_from_slice(l);
        self.ends[usize::from(self.n)] = end as u8;
        self.n += 1;
        self.len = end as u16;
        self.longest_label = self.longest_label.max(l.len() as u8);
        self.reg = None;
        Some(())
    }

    /// The dotted name, raw bytes (not necessarily UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Number of labels.
    pub fn label_count(&self) -> usize {
        usize::from(self.n)
    }

    /// The `i`-th label from the left.
    pub fn label(&self, i: usize) -> Option<&[u8]> {
        if i >= usize::from(self.n) {
            return None;
        }
        let start = if i == 0 { 0 } else { usize::from(self.ends[i - 1]) + 1 };
        self.buf.get(start..usize::from(self.ends[i]))
    }

    /// Labels left to right.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.label_count()).filter_map(move |i| self.label(i))
    }

    /// Length of the longest label.
    pub fn longest_label(&self) -> usize {
        usize::from(self.longest_label)
    }

    /// The name's text, bytes other than printable ASCII (and `\\` itself) escaped as `\xNN`,
    /// for alerts.
    pub fn to_lossy_string(self) -> String {
        let mut s = String::with_capacity(self.as_bytes().len());
        for &b in self.as_bytes() {
            if b.is_ascii_graphic() && b != b'\\' {
                s.push(b as char);
            } else {
                s.push_str(&format!("\\x{b:02x}"));
            }
        }
        s
    }

    /// The registrable domain (public suffix + one label) per the Public Suffix List, as a byte
    /// suffix of this name; the whole name if it has no known suffix. Free once
    /// [`DnsName::cache_registrable`] ran, a lookup otherwise.
    pub fn registrable(&self) -> &[u8] {
        match self.reg {
            Some((start, end)) => {
                self.as_bytes().get(usize::from(start)..usize::from(end)).unwrap_or_default()
            }
            None => registrable(self.as_bytes()),
        }
    }

    /// Looks the registrable domain up once, so every later [`DnsName::registrable`] is free
    /// (the worker does this before handing a message to the detectors; a message parsed only
    /// to sniff a flow's protocol never pays for it).
    pub fn cache_registrable(&mut self) {
        if self.reg.is_none() {
            let name = self.as_bytes();
            // `registrable` answers a suffix of the name without its trailing dot (a raw label
            // may end with one).
            let end = name.strip_suffix(b".").unwrap_or(name).len();
            let start = end - registrable(name).len();
            // A name is at most 255 bytes, so both offsets fit.
            self.reg = u8::try_from(start).ok().zip(u8::try_from(end).ok());
            self.reg_key.set(self.buf.get(start..end).unwrap_or_default());
        }
    }

    /// The case-insensitive hash of the registrable domain
    /// ([`crate::flow::hash::hash_lower`]), worked out once by [`DnsName::cache_registrable`].
    pub fn registrable_hash(&self) -> u64 {
        self.registrable_key().hash()
    }

    /// The registrable domain's [`DomainKey`] (for [`SuffixSet::matches_under`]), worked out
    /// once by [`DnsName::cache_registrable`].
    ///
    /// [`SuffixSet::matches_under`]: super::suffix::SuffixSet::matches_under
    #[inline]
    pub(crate) fn registrable_key(&self) -> std::borrow::Cow<'_, DomainKey> {
        match self.reg {
            Some(_) => std::borrow::Cow::Borrowed(&self.reg_key),
            None => std::borrow::Cow::Owned(DomainKey::of(self.registrable())),
        }
    }
}

/// The registrable domain of a dotted name (public suffix + one label) per the Public Suffix
/// List, as a byte suffix of `name`; the whole name if it has no known suffix or is too long.
pub(crate) fn registrable(name: &[u8]) -> &[u8] {
    let bytes = name.strip_suffix(b".").unwrap_or(name);
    if bytes.len() > MAX_NAME_LEN {
        return bytes;
    }
    let mut lower = [0u8; MAX_NAME_LEN + 1];
    for (d, s) in lower.iter_mut().zip(bytes) {
        *d = s.to_ascii_lowercase();
    }
    match psl::domain(&lower[..bytes.len()]) {
        Some(d) => {
            let n = d.as_bytes().len();
            &bytes[bytes.len().saturating_sub(n)..]
        }
        None => bytes,
    }
}

/// True if dotted `name` equals `suffix` or ends with `.suffix`, ASCII case-insensitive: the
/// reference [`super::suffix::SuffixSet`] and the proxyware name list are tested against.
#[cfg(test)]
pub(crate) fn name_is_under(name: &[u8], suffix: &[u8]) -> bool {
    let suffix = suffix.strip_suffix(b".").unwrap_or(suffix);
    let name = name.strip_suffix(b".").unwrap_or(name);
    if suffix.is_empty() || name.len() < suffix.len() {
        return false;
    }
    let tail = &name[name.len() - suffix.len()..];
    tail.eq_ignore_ascii_case(suffix)
        && (name.len() == suffix.len() || name[name.len() - suffix.len() - 1] == b'.')
}

/// Why a message was not DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// Shorter than the 12-byte header.
    #[error("shorter than a DNS header")]
    Short,
    /// No question, or a question that does not parse (bad label, compression loop, cut).
    #[error("question section does not parse")]
    BadQuestion,
    /// The name exceeds DNS limits.
    #[error("name too long")]
    NameTooLong,
}

/// Ports whose UDP and TCP payloads are parsed as DNS whatever the flow's sniffed protocol: DNS,
/// multicast DNS, LLMNR.
pub(crate) fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 5353 | 5355)
}

/// A DNS message's registrable domain worked out by the reading side, where the packet was in
/// cache and a core to spare ([`RegistrableHint::of`]), handed to the worker with the packet
/// ([`DnsMessage::cache_registrable_hinted`]). The Public Suffix List lookup and the domain's key
/// were a sixth of a random-subdomain flood's worker, the one core such a flood keeps busy
/// while the other reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegistrableHint {
    /// The message it was worked out of, told apart by its id, length, query type and name
    /// length: a hint applies only to the message it came from.
    id: u16,
    qtype: u16,
    len: usize,
    qname_len: u16,
    reg: (u8, u8),
    key: DomainKey,
}

impl RegistrableHint {
    /// The hint of the DNS message in `payload`, parsed into `scratch`; `None` if it is not one.
    pub(crate) fn of(payload: &[u8], scratch: &mut DnsMessage) -> Option<RegistrableHint> {
        // (A response's answers change nothing of the hint, nor whether the message parses.)
        parse_question_into(payload, scratch).ok()?;
        let q = &mut scratch.qname;
        q.cache_registrable();
        let reg = q.reg?;
        Some(RegistrableHint {
            id: scratch.id,
            qtype: scratch.qtype,
            len: scratch.len,
            qname_len: q.len,
            reg,
            key: q.reg_key,
        })
    }
}

/// One DNS message, the figures detectors use.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsMessage {
    /// Transaction id.
    pub id: u16,
    /// QR bit: a response.
    pub is_response: bool,
    /// Opcode (0 = query).
    pub opcode: u8,
    /// Response code.
    pub rcode: u8,
    /// Records in the answer section.
    pub ancount: u16,
    /// The first question's name.
    pub qname: DnsName,
    /// The first question's type.
    pub qtype: u16,
    /// The first question's class.
    pub qclass: u16,
    /// Message length in bytes.
    pub len: usize,
    /// Total rdata bytes of answer records that parsed.
    pub answer_bytes: u32,
    /// Largest single answer rdata.
    pub largest_answer: u16,
    /// The first [`MAX_ANSWER_ADDRS`] A/AAAA addresses of the answer section (a response's
    /// name → address mapping, for detectors that key a destination by the name it came from).
    pub answer_addrs: [Option<IpAddr>; MAX_ANSWER_ADDRS],
}

impl DnsMessage {
    /// [`DnsName::cache_registrable`] of the query name, from `hint` when it is this message's
    /// (the reading side parsed the same bytes), else looked up.
    #[inline]
    pub(crate) fn cache_registrable_hinted(&mut self, hint: Option<&RegistrableHint>) {
        let q = &mut self.qname;
        match hint {
            Some(h)
                if q.reg.is_none()
                    && h.id == self.id
                    && h.len == self.len
                    && h.qtype == self.qtype
                    && h.qname_len == q.len =>
            {
                q.reg = Some(h.reg);
                q.reg_key = h.key;
            }
            _ => q.cache_registrable(),
        }
    }
}

/// Most answer addresses a [`DnsMessage`] keeps (fixed, so parsing allocates nothing for them).
pub(crate) const MAX_ANSWER_ADDRS: usize = 4;

/// Parses one DNS message (a UDP payload, or one TCP message without its length prefix).
///
/// A hand-written walk over the wire format that answers exactly what the `domain` crate's
/// `Message` answered before (the same checks, in the same order: see [`walk_name`] and
/// [`skip_name`]; `tests::same_as_domain_crate` compares both on generated and mutated
/// messages). It reads the header, the first question and, in a response, up to 64 answer
/// records; nothing is copied but the query name. Every read is bounds-checked.
pub fn parse(b: &[u8]) -> Result<DnsMessage, DnsError> {
    let mut m = DnsMessage::default();
    parse_into(b, &mut m)?;
    Ok(m)
}

/// [`parse`] into `m`, reused: a message is ~500 bytes, and building one to move it through
/// the sniffer and the worker copied it three times and zeroed its name's buffer (~250
/// instructions a DNS message). On an error `m` holds nothing to read.
pub(crate) fn parse_into(b: &[u8], m: &mut DnsMessage) -> Result<(), DnsError> {
    parse_message(b, m, true)
}

/// [`parse_into`] without a response's answer records (the answer figures left empty): what
/// the question is, and whether the message parses, for the same cost as a query's.
fn parse_question_into(b: &[u8], m: &mut DnsMessage) -> Result<(), DnsError> {
    parse_message(b, m, false)
}

#[inline(always)]
fn parse_message(b: &[u8], m: &mut DnsMessage, answers: bool) -> Result<(), DnsError> {
    let header: &[u8; 12] = b.first_chunk().ok_or(DnsError::Short)?;
    let id = u16::from_be_bytes([header[0], header[1]]);
    let is_response = header[2] & 0x80 != 0;
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let ancount = u16::from_be_bytes([header[6], header[7]]);
    if qdcount == 0 {
        return Err(DnsError::BadQuestion);
    }
    let qname = &mut m.qname;
    let mut too_long = false;
    let after_name = match qname.copy_uncompressed(b, 12) {
        Some(after) => after,
        None => {
            qname.clear();
            walk_name(b, 12, |l| {
                if !too_long && qname.push_label(l).is_none() {
                    too_long = true;
                }
            })
            .ok_or(DnsError::BadQuestion)?
        }
    };
    let qtype = read_u16(b, after_name).ok_or(DnsError::BadQuestion)?;
    let qclass = read_u16(b, after_name + 2).ok_or(DnsError::BadQuestion)?;
    if too_long {
        return Err(DnsError::NameTooLong);
    }
    let mut answer_bytes = 0u32;
    let mut largest_answer = 0u16;
    // Written where they are kept: an array built here and copied over stalled on its stores.
    m.answer_addrs = [None; MAX_ANSWER_ADDRS];
    let mut n_addrs = 0;
    if answers
        && is_response
        && ancount > 0
        && let Some(mut pos) = skip_questions(b, qdcount)
    {
        // Records up to the first that does not parse (the section ends there), at most 64.
        for _ in 0..ancount.min(64) {
            let Some(p) = walk_name(b, pos, |_| {}) else { break };
            let (Some(rtype), Some(rdlen)) = (read_u16(b, p), read_u16(b, p + 8)) else { break };
            let data_start = p + 10;
            let Some(rdata) = b.get(data_start..data_start + usize::from(rdlen)) else { break };
            pos = data_start + usize::from(rdlen);
            answer_bytes = answer_bytes.saturating_add(u32::from(rdlen));
            largest_answer = largest_answer.max(rdlen);
            if n_addrs < MAX_ANSWER_ADDRS {
                let addr = match rtype {
                    1 => <[u8; 4]>::try_from(rdata).ok().map(IpAddr::from),
                    28 => <[u8; 16]>::try_from(rdata).ok().map(IpAddr::from),
                    _ => None,
                };
                if addr.is_some() {
                    m.answer_addrs[n_addrs] = addr;
                    n_addrs += 1;
                }
            }
        }
    }
    m.id = id;
    m.is_response = is_response;
    m.opcode = (header[2] >> 3) & 0x0f;
    m.rcode = header[3] & 0x0f;
    m.ancount = ancount;
    m.qtype = qtype;
    m.qclass = qclass;
    m.len = b.len();
    m.answer_bytes = answer_bytes;
    m.largest_answer = largest_answer;
    Ok(())
}

/// The big-endian `u16` at `pos`, if the message holds it.
#[inline(always)]
fn read_u16(b: &[u8], pos: usize) -> Option<u16> {
    let s: &[u8; 2] = b.get(pos..)?.first_chunk()?;
    Some(u16::from_be_bytes(*s))
}

/// Walks the name at `pos` with full checks (those of `domain`'s `ParsedName::parse`): label
/// types 0x40-0xbf refused; at most 254 bytes of labels (with their length bytes) before the
/// root label; compression pointers followed, each pointing strictly before itself, at most
/// 255 of them. Hands each non-root label, in order, to `on_label` (also for a name that
/// turns out bad: only a `Some` answer makes them a name). Answers the position after the
/// name where it starts (after its first pointer if compressed).
#[inline]
fn walk_name(b: &[u8], mut pos: usize, mut on_label: impl FnMut(&[u8])) -> Option<usize> {
    let mut name_len = 0usize;
    // Uncompressed part.
    let mut ptr = loop {
        let t = *b.get(pos)?;
        pos += 1;
        match t {
            0 => return Some(pos),
            1..=0x3f => {
                let l = b.get(pos..pos + usize::from(t))?;
                pos += usize::from(t);
                name_len += usize::from(t) + 1;
                if name_len >= 255 {
                    return None;
                }
                on_label(l);
            }
            0xc0..=0xff => {
                let lo = *b.get(pos)?;
                pos += 1;
                break (usize::from(t & 0x3f) << 8) | usize::from(lo);
            }
            _ => return None,
        }
    };
    let end = pos;
    // `pos` is just after the pointer being followed.
    for _ in 0..255 {
        if ptr + 2 >= pos {
            return None;
        }
        pos = ptr;
        ptr = loop {
            let t = *b.get(pos)?;
            pos += 1;
            match t {
                0 => return Some(end),
                1..=0x3f => {
                    let l = b.get(pos..pos + usize::from(t))?;
                    pos += usize::from(t);
                    name_len += usize::from(t) + 1;
                    if name_len >= 255 {
                        return None;
                    }
                    on_label(l);
                }
                0xc0..=0xff => {
                    let lo = *b.get(pos)?;
                    pos += 1;
                    break (usize::from(t & 0x3f) << 8) | usize::from(lo);
                }
                _ => return None,
            }
        };
    }
    None
}

/// Skips the name at `pos` with `domain`'s `ParsedName::skip` checks: only the uncompressed
/// part is looked at (label types, length up to 255 bytes with the root label); a pointer
/// ends it unchecked.
fn skip_name(b: &[u8], mut pos: usize) -> Option<usize> {
    let mut len = 0usize;
    loop {
        let t = *b.get(pos)?;
        pos += 1;
        match t {
            0 => return (len < 255).then_some(pos),
            1..=0x3f => {
                pos += usize::from(t);
                if pos > b.len() {
                    return None;
                }
                len += usize::from(t) + 1;
                if len > 255 {
                    return None;
                }
            }
            0xc0..=0xff => {
                b.get(pos)?;
                return Some(pos + 1);
            }
            _ => return None,
        }
    }
}

/// The start of the answer section: `qdcount` questions skipped (each a name as
/// [`skip_name`] sees it, a type and a class).
fn skip_questions(b: &[u8], qdcount: u16) -> Option<usize> {
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = skip_name(b, pos)? + 4;
        if pos > b.len() {
            return None;
        }
    }
    Some(pos)
}

/// Is this plausibly DNS, strictly enough to trust on a port that is not 53?
pub(crate) fn looks_like_dns(m: &DnsMessage) -> bool {
    m.opcode <= 5 && m.qclass != 0 && (m.qclass <= 4 || m.qclass == 255 || m.qclass & 0x7fff == 1)
}

/// Iterates over the length-prefixed DNS messages at the start of a TCP segment.
pub fn tcp_messages(seg: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = seg;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let m = rest.get(2..2 + len)?;
        rest = &rest[2 + len..];
        Some(m)
    })
}

/// Query types that matter to the tunnel detector.
pub(crate) mod qtype {
    /// CNAME.
    pub(crate) const CNAME: u16 = 5;
    /// NULL: almost never benign.
    pub(crate) const NULL: u16 = 10;
    /// MX.
    pub(crate) const MX: u16 = 15;
    /// TXT.
    pub(crate) const TXT: u16 = 16;
    /// SRV.
    pub(crate) const SRV: u16 = 33;
    /// ANY.
    pub(crate) const ANY: u16 = 255;
    /// Start of the private-use range.
    pub(crate) const PRIVATE_START: u16 = 65280;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Rng, mutate};
    use domain::base::{Message, Rtype};
    use domain::rdata::{A, Aaaa};

    /// Everything a parse answers, labels included, as text to compare.
    fn outcome(r: &Result<DnsMessage, DnsError>) -> String {
        match r {
            Ok(m) => {
                let labels: Vec<&[u8]> = m.qname.labels().collect();
                format!(
                    "{m:?} labels={labels:?} longest={} reg={:?}",
                    m.qname.longest_label(),
                    m.qname.registrable()
                )
            }
            Err(e) => format!("{e:?}"),
        }
    }

    /// A name on the wire: random labels (sometimes bad label types, long labels, binary
    /// bytes), ended by the root, a pointer (anywhere: back, forward, at itself) or nothing.
    fn gen_name(rng: &mut Rng, out: &mut Vec<u8>) {
        let cap = if rng.below(8) == 0 { 140 } else { 6 };
        let n = rng.below(cap);
        for _ in 0..n {
            let len = match rng.below(10) {
                0 => rng.below(64),
                1 => 63,
                _ => 1 + rng.below(12),
            } as usize;
            if rng.below(200) == 0 {
                out.push(0x40 + rng.below(0x80) as u8); // reserved label types
            } else {
                out.push(len as u8);
            }
            for _ in 0..len {
                let b = if rng.below(10) == 0 {
                    rng.below(256) as u8
                } else {
                    b"abcXYZ-0."[rng.below(9) as usize]
                };
                out.push(b);
            }
        }
        match rng.below(10) {
            0..=5 => out.push(0),
            6..=8 => {
                let target = match rng.below(4) {
                    0 => 12,
                    1 => out.len() as u64,
                    2 => rng.below(0x4000),
                    _ => rng.below(out.len() as u64 + 4),
                };
                out.push(0xc0 | (target >> 8) as u8);
                out.push(target as u8);
            }
            _ => {}
        }
    }

    /// A message of random header, questions and records (A/AAAA with right and wrong
    /// lengths, others), counts sometimes lying, sometimes cut short.
    fn gen_message(rng: &mut Rng) -> Vec<u8> {
        let mut m = Vec::with_capacity(512);
        let qd = if rng.below(4) == 0 { rng.below(5) } else { 1 };
        let cap = if rng.below(8) == 0 { 80 } else { 6 };
        let an = rng.below(cap);
        let (qd_field, an_field) =
            if rng.below(6) == 0 { (rng.below(1 << 16), rng.below(1 << 16)) } else { (qd, an) };
        m.extend_from_slice(&(rng.below(1 << 16) as u16).to_be_bytes());
        m.push(rng.below(256) as u8);
        m.push(rng.below(256) as u8);
        m.extend_from_slice(&(qd_field as u16).to_be_bytes());
        m.extend_from_slice(&(an_field as u16).to_be_bytes());
        m.extend_from_slice(&(rng.below(3) as u16).to_be_bytes());
        m.extend_from_slice(&(rng.below(3) as u16).to_be_bytes());
        for _ in 0..qd {
            gen_name(rng, &mut m);
            m.extend_from_slice(&(rng.below(300) as u16).to_be_bytes());
            m.extend_from_slice(&(rng.below(5) as u16).to_be_bytes());
        }
        for _ in 0..an {
            gen_name(rng, &mut m);
            let rtype: u16 = [1, 28, 5, 16, 41, rng.below(1 << 16) as u16][rng.below(6) as usize];
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&1u16.to_be_bytes());
            m.extend_from_slice(&(rng.below(1 << 32) as u32).to_be_bytes());
            let right = match rtype {
                1 => 4,
                28 => 16,
                _ => rng.below(40) as usize,
            };
            let len = if rng.below(6) == 0 { rng.below(40) as usize } else { right };
            m.extend_from_slice(&(len as u16).to_be_bytes());
            for _ in 0..len {
                m.push(rng.below(256) as u8);
            }
        }
        if rng.below(5) == 0 {
            let keep = rng.below(m.len() as u64 + 1) as usize;
            m.truncate(keep);
        }
        m
    }

    /// The hand-written parser answers exactly what the `domain` crate answered, on generated
    /// messages, their mutations, and the test messages' mutations.
    #[test]
    fn same_as_domain_crate() {
        let mut rng = Rng::new(0x05ee_dd25);
        let hex: Vec<u8> = HB_ANSWER.bytes().filter(u8::is_ascii_hexdigit).collect();
        let hb: Vec<u8> =
            hex.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect();
        let mut seeds = vec![hb, binary_query()];
        let mut buf = Vec::new();
        let (mut ok, mut answers, mut addrs) = (0u32, 0u32, 0u32);
        for i in 0..400_000u32 {
            let m = if i % 2 == 0 {
                let m = gen_message(&mut rng);
                if seeds.len() < 64 && m.len() > 12 {
                    seeds.push(m.clone());
                }
                m
            } else {
                let seed = &seeds[rng.below(seeds.len() as u64) as usize];
                mutate(&mut rng, seed, &mut buf);
                buf.clone()
            };
            let new = parse(&m);
            let old = parse_with_domain(&m);
            assert_eq!(outcome(&new), outcome(&old), "message {m:02x?}");
            // The question alone (the reading side's hint): the same question, the same verdict.
            let mut q = DnsMessage::default();
            let question = |r: &Result<DnsMessage, DnsError>| {
                r.as_ref().map(|m| (m.id, m.qtype, m.len, m.qname.as_bytes().to_vec())).map_err(|e| *e)
            };
            assert_eq!(question(&parse_question_into(&m, &mut q).map(|()| q)), question(&new));
            if let Ok(p) = &new {
                ok += 1;
                answers += u32::from(p.answer_bytes > 0);
                addrs += u32::from(p.answer_addrs[0].is_some());
            }
        }
        // The generator reaches every path.
        assert!(ok > 50_000 && answers > 10_000 && addrs > 5_000, "{ok} {answers} {addrs}");
    }

    /// The parser as it was, on the `domain` crate: the reference the hand-written one is
    /// compared with.
    fn parse_with_domain(b: &[u8]) -> Result<DnsMessage, DnsError> {
        let msg = Message::from_octets(b).map_err(|_| DnsError::Short)?;
        let header = msg.header();
        let counts = msg.header_counts();
        if counts.qdcount() == 0 {
            return Err(DnsError::BadQuestion);
        }
        let q = match msg.question().next() {
            Some(Ok(q)) => q,
            _ => return Err(DnsError::BadQuestion),
        };
        let qname =
            DnsName::from_labels(q.qname().iter().map(|l| l.as_slice())).ok_or(DnsError::NameTooLong)?;
        let mut answer_bytes = 0u32;
        let mut largest_answer = 0u16;
        let mut answer_addrs = [None; MAX_ANSWER_ADDRS];
        let mut n_addrs = 0;
        if header.qr()
            && counts.ancount() > 0
            && let Ok(section) = msg.answer()
        {
            for rec in section.take(64).flatten() {
                answer_bytes = answer_bytes.saturating_add(u32::from(rec.rdlen()));
                largest_answer = largest_answer.max(rec.rdlen());
                if n_addrs < MAX_ANSWER_ADDRS {
                    let addr = match rec.rtype() {
                        Rtype::A => rec.to_record::<A>().ok().flatten().map(|r| IpAddr::V4(r.data().addr())),
                        Rtype::AAAA => {
                            rec.to_record::<Aaaa>().ok().flatten().map(|r| IpAddr::V6(r.data().addr()))
                        }
                        _ => None,
                    };
                    if addr.is_some() {
                        answer_addrs[n_addrs] = addr;
                        n_addrs += 1;
                    }
                }
            }
        }
        Ok(DnsMessage {
            id: header.id(),
            is_response: header.qr(),
            opcode: header.opcode().to_int(),
            rcode: header.rcode().to_int(),
            ancount: counts.ancount(),
            qname,
            qtype: q.qtype().to_int(),
            qclass: q.qclass().to_int(),
            len: b.len(),
            answer_bytes,
            largest_answer,
            answer_addrs,
        })
    }

    /// A query for `Qx\xc3\xa9abc.t.evil.co.uk` type NULL, shaped like iodine's raw codec.
    fn binary_query() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in [&b"Qx\xc3\xa9\x01\xffabc"[..], b"t", b"evil", b"co", b"uk"] {
            m.push(l.len() as u8);
            m.extend_from_slice(l);
        }
        m.extend_from_slice(&[0, 0, 10, 0, 1]);
        m
    }

    #[test]
    fn hands_over_raw_non_ascii_label_bytes() {
        let m = parse(&binary_query()).unwrap();
        assert_eq!(m.qtype, qtype::NULL);
        assert_eq!(m.qname.label(0).unwrap(), b"Qx\xc3\xa9\x01\xffabc");
        assert_eq!(m.qname.registrable(), b"evil.co.uk");
        assert_eq!(m.qname.label_count(), 5);
    }

    #[test]
    fn registrable_is_blind_to_case() {
        for name in [
            &b"www.example.co.uk"[..],
            b"a.b.evil.co.uk",
            b"x.github.io",
            b"host.local",
            b"q1.t.c2-example.net.",
            b"com",
        ] {
            let upper = name.to_ascii_uppercase();
            let mixed: Vec<u8> = name
                .iter()
                .enumerate()
                .map(|(i, b)| if i % 2 == 0 { b.to_ascii_uppercase() } else { *b })
                .collect();
            let want = registrable(name);
            for other in [&upper, &mixed] {
                let got = registrable(other);
                assert!(got.eq_ignore_ascii_case(want), "{:?}", String::from_utf8_lossy(other));
                assert!(other.strip_suffix(b".").unwrap_or(other).ends_with(got));
            }
        }
        assert_eq!(registrable(b"WWW.Example.CO.UK"), b"Example.CO.UK");
    }

    /// A hint worked out on the reading side gives what the lookup gives, and only to the
    /// message it came from.
    #[test]
    fn registrable_hints_apply_to_their_own_message_only() {
        let mut scratch = DnsMessage::default();
        for (id, name) in
            [(1, "x.flood.Example.com"), (2, "a.b.evil.co.uk"), (3, "localhost"), (4, "x.github.io")]
        {
            let wire = crate::synth::dns_message(id, name, false);
            let hint = RegistrableHint::of(&wire, &mut scratch).unwrap();
            let mut looked_up = parse(&wire).unwrap();
            looked_up.qname.cache_registrable();
            let mut hinted = parse(&wire).unwrap();
            hinted.cache_registrable_hinted(Some(&hint));
            assert_eq!(hinted.qname.registrable(), looked_up.qname.registrable(), "{name}");
            assert_eq!(hinted.qname.registrable_hash(), looked_up.qname.registrable_hash());
            assert_eq!(*hinted.qname.registrable_key(), *looked_up.qname.registrable_key());
        }
        // Another message's hint (another id, or a name of another length) is not taken.
        let wire = crate::synth::dns_message(7, "x.flood.example.com", false);
        for other in [
            crate::synth::dns_message(8, "x.flood.example.com", false),
            crate::synth::dns_message(7, "xy.flood.example.com", false),
            crate::synth::dns_message(7, "x.flood.example.com", true),
        ] {
            let hint = RegistrableHint::of(&other, &mut scratch);
            let mut m = parse(&wire).unwrap();
            let mut lied = hint.unwrap();
            lied.reg = (0, 1);
            m.cache_registrable_hinted(Some(&lied));
            assert_eq!(m.qname.registrable(), b"example.com");
        }
        // Not DNS: no hint.
        assert!(RegistrableHint::of(b"\x01\x02", &mut scratch).is_none());
    }

    #[test]
    fn cached_registrable_is_the_lookup() {
        let names: [&[&[u8]]; 6] = [
            &[b"Qx\xc3\xa9", b"t", b"Evil", b"CO", b"uk"],
            &[b"hb", b"c2-example", b"net"],
            &[b"localhost"],
            &[b"a", b"b."],
            &[b"x", b"unknown-tld-zz"],
            &[],
        ];
        for labels in names {
            let mut n = DnsName::from_labels(labels.iter().copied()).unwrap();
            let looked_up = registrable(n.as_bytes()).to_vec();
            assert_eq!(n.registrable(), &looked_up[..]);
            n.cache_registrable();
            assert_eq!(n.registrable(), &looked_up[..], "{n:?}");
        }
    }

    /// dnsmasq's answer to `dig hb.c2-example.net A` (pcaps/beacon_heartbeat.pcap, frame 4):
    /// one A record, 203.0.113.53, and an OPT record.
    const HB_ANSWER: &str = "d5db858000010001000000010268620a63322d6578616d706c65036e65740000010001\
        c00c00010001000000000004cb00713500002904d0000000000000";

    #[test]
    fn answer_addresses_are_kept() {
        let hex: Vec<u8> = HB_ANSWER.bytes().filter(u8::is_ascii_hexdigit).collect();
        let b: Vec<u8> =
            hex.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect();
        let m = parse(&b).unwrap();
        assert!(m.is_response);
        assert_eq!(m.qname.as_bytes(), b"hb.c2-example.net");
        assert_eq!(m.answer_addrs[0], Some("203.0.113.53".parse().unwrap()));
        assert_eq!(m.answer_addrs[1], None);
        assert_eq!(registrable(b"hb.c2-example.net."), b"c2-example.net");
        // A query has none.
        assert_eq!(parse(&binary_query()).unwrap().answer_addrs, [None; MAX_ANSWER_ADDRS]);
    }

    #[test]
    fn compression_loop_is_an_error() {
        // question name is a pointer to itself at offset 12
        let m = [0u8, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert!(parse(&m).is_err());
    }

    #[test]
    fn suffix_match_is_label_aware() {
        assert!(name_is_under(b"api.honeygain.com", b"honeygain.com"));
        assert!(name_is_under(b"honeygain.com", b"honeygain.com"));
        assert!(!name_is_under(b"nothoneygain.com", b"honeygain.com"));
        assert!(!name_is_under(b"honeygain.com.evil.net", b"honeygain.com"));
    }

    #[test]
    fn tcp_messages_split_on_length_prefix() {
        let q = binary_query();
        let mut seg = (q.len() as u16).to_be_bytes().to_vec();
        seg.extend_from_slice(&q);
        seg.extend_from_slice(&(q.len() as u16).to_be_bytes());
        seg.extend_from_slice(&q[..5]);
        assert_eq!(tcp_messages(&seg).count(), 1);
    }
}

//! The link layer: Ethernet (and the cooked and raw link types) through any stack of VLAN
//! tags up to `decode.max_vlan_depth`, handed to etherparse's lax slicer at the network layer.
//!
//! etherparse reads at most three tags itself: a deeper stack would stop it, and the frame would
//! look like something other than IP (issue 19's hiding place). Stacks it reads go to it as they
//! are; deeper ones are peeled here first; deeper than the limit count `vlan_too_deep`.

use super::Anomaly;
use super::packet::LinkType;
use etherparse::{EtherType, LaxSlicedPacket};

/// Tag EtherTypes: 802.1Q, 802.1ad, and the old QinQ 0x9100.
const VLAN_TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];
/// Tags etherparse's lax slicer reads itself; a deeper stack would stop it, and the frame would
/// look like something other than IP (the hiding place issue 19 found).
const ETHERPARSE_TAGS: usize = 3;

/// Slices the payload of an Ethernet-type header (`ether_type`, then `rest`) through any VLAN
/// stack up to `max` tags: stacks etherparse reads itself go to `plain`; deeper ones are peeled
/// here, with the outermost tag's VLAN id returned beside the slice.
fn slice_ether<'a>(
    ether_type: u16,
    rest: &'a [u8],
    max: u8,
    plain: impl FnOnce() -> Result<LaxSlicedPacket<'a>, Anomaly>,
) -> Result<(LaxSlicedPacket<'a>, Option<u16>), Anomaly> {
    let (mut et, mut p, mut tags, mut outer) = (ether_type, rest, 0usize, None);
    while VLAN_TPIDS.contains(&et) {
        let Some((tag, next)) = p.split_first_chunk::<4>() else { break };
        outer.get_or_insert(u16::from_be_bytes([tag[0] & 0x0f, tag[1]]));
        et = u16::from_be_bytes([tag[2], tag[3]]);
        p = next;
        tags += 1;
        if tags > usize::from(max) {
            return Err(Anomaly::VlanTooDeep);
        }
    }
    if tags <= ETHERPARSE_TAGS {
        return Ok((plain()?, None));
    }
    Ok((LaxSlicedPacket::from_ether_type(EtherType(et), p), outer))
}

/// Slices `frame` of link type `link`; with the outermost VLAN id when the tags were peeled here.
pub(super) fn slice_link(
    link: LinkType,
    frame: &[u8],
    max_vlan: u8,
) -> Result<(LaxSlicedPacket<'_>, Option<u16>), Anomaly> {
    let no_vlan = |s| Ok((s, None));
    match link {
        LinkType::Ethernet => {
            let (h, rest) = frame.split_first_chunk::<14>().ok_or(Anomaly::LinkTruncated)?;
            let et = u16::from_be_bytes([h[12], h[13]]);
            slice_ether(et, rest, max_vlan, || {
                LaxSlicedPacket::from_ethernet(frame).map_err(|_| Anomaly::LinkTruncated)
            })
        }
        LinkType::LinuxSll => {
            // 16-byte header; protocol type in the last two bytes.
            let proto = frame.get(14..16).ok_or(Anomaly::LinkTruncated)?;
            let rest = frame.get(16..).ok_or(Anomaly::LinkTruncated)?;
            let et = u16::from_be_bytes([proto[0], proto[1]]);
            slice_ether(et, rest, max_vlan, || Ok(LaxSlicedPacket::from_ether_type(EtherType(et), rest)))
        }
        LinkType::LinuxSll2 => {
            // 20-byte header; protocol type in the first two bytes.
            let proto = frame.get(0..2).ok_or(Anomaly::LinkTruncated)?;
            let rest = frame.get(20..).ok_or(Anomaly::LinkTruncated)?;
            let et = u16::from_be_bytes([proto[0], proto[1]]);
            slice_ether(et, rest, max_vlan, || Ok(LaxSlicedPacket::from_ether_type(EtherType(et), rest)))
        }
        LinkType::RawIp => {
            LaxSlicedPacket::from_ip(frame).map_err(|_| Anomaly::IpMalformed).and_then(no_vlan)
        }
        LinkType::Null => {
            let rest = frame.get(4..).ok_or(Anomaly::LinkTruncated)?;
            LaxSlicedPacket::from_ip(rest).map_err(|_| Anomaly::IpMalformed).and_then(no_vlan)
        }
        LinkType::Unsupported(_) => Err(Anomaly::UnsupportedLinkType),
    }
}

//! Country codes and AS numbers as the config writes them, checked when the config is read.

/// Parses an ISO 3166-1 alpha-2 country code (`de`, `DE`), uppercased; `None` if it is not an
/// assigned code.
pub(crate) fn country(s: &str) -> Option<[u8; 2]> {
    let b = s.trim().as_bytes();
    let [a, c] = b else { return None };
    let code = [a.to_ascii_uppercase(), c.to_ascii_uppercase()];
    ISO_CODES.as_bytes().chunks_exact(2).any(|k| k == code).then_some(code)
}

/// Parses an AS number: `64496` or `AS64496`. 0 and 4294967295 are reserved (RFC 7607,
/// RFC 7300) and rejected, as is 23456 (`AS_TRANS`, RFC 6793: it names no network).
pub(crate) fn asn(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t.strip_prefix("AS").or_else(|| t.strip_prefix("as")).unwrap_or(t);
    let n: u32 = t.parse().ok()?;
    (n != 0 && n != u32::MAX && n != 23_456).then_some(n)
}

/// A country code as text.
pub(crate) fn country_str(c: [u8; 2]) -> String {
    String::from_utf8_lossy(&c).into_owned()
}

/// ISO 3166-1 alpha-2 codes (from tzdata's iso3166.tab) plus `XK` (Kosovo, which MaxMind
/// and DB-IP use), concatenated: two letters each, sorted.
const ISO_CODES: &str = concat!(
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCN",
    "COCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHM",
    "HNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMK",
    "MLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURW",
    "SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVI",
    "VNVUWFWSXKYEYTZAZMZW"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked() {
        assert_eq!(country("de"), Some(*b"DE"));
        assert_eq!(country("XK"), Some(*b"XK"));
        assert_eq!(country("XX"), None);
        assert_eq!(country("DEU"), None);
        assert_eq!(country(""), None);
        assert_eq!(asn("AS64496"), Some(64_496));
        assert_eq!(asn("15169"), Some(15_169));
        assert_eq!(asn("0"), None);
        assert_eq!(asn("23456"), None);
        assert_eq!(asn("4294967296"), None);
        assert_eq!(asn("ASX"), None);
    }
}

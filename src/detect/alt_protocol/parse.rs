//! Pure, allocation-free readers of the few FTP and SMTP lines `alt_protocol` needs (what a
//! first payload looks like is [`crate::decode::app`]'s to say). Byte slices in, borrowed views
//! out; nothing panics.

/// An FTP client command that matters for uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FtpCmd<'a> {
    /// `STOR`, `APPE`, `STOU` (and `PUT` of some clients): the verb and the file name.
    Store(&'static str, &'a [u8]),
    /// `PORT h1,h2,h3,h4,p1,p2` or `EPRT |1|addr|port|`: the client's data port (active mode).
    Port(u16),
}

fn first_line(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(b.len());
    &b[..end]
}

fn verb_is(line: &[u8], verb: &[u8]) -> bool {
    line.len() >= verb.len()
        && line[..verb.len()].eq_ignore_ascii_case(verb)
        && line.get(verb.len()).is_none_or(|&c| c == b' ')
}

fn num(b: &[u8]) -> Option<u32> {
    let t = b.trim_ascii();
    if t.is_empty() || t.len() > 6 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    t.iter().try_fold(0u32, |a, &d| a.checked_mul(10)?.checked_add(u32::from(d - b'0')))
}

/// Port from the last two of six comma-separated numbers (`h1,h2,h3,h4,p1,p2`).
fn six_tuple_port(b: &[u8]) -> Option<u16> {
    let mut it = b.split(|&c| c == b',');
    let mut n = [0u32; 6];
    for slot in &mut n {
        *slot = num(it.next()?)?;
    }
    if it.next().is_some() || n.iter().any(|&x| x > 255) {
        return None;
    }
    u16::try_from(n[4] * 256 + n[5]).ok().filter(|&p| p > 0)
}

/// Port of `|af|addr|port|` (EPRT) or `|||port|` (EPSV reply).
fn extended_port(b: &[u8]) -> Option<u16> {
    let d = *b.first()?;
    let mut f = b.split(|&c| c == d);
    f.next()?; // empty before the first delimiter
    f.next()?; // address family
    f.next()?; // address
    u16::try_from(num(f.next()?)?).ok().filter(|&p| p > 0)
}

/// Reads one FTP client command.
pub(super) fn ftp_command(b: &[u8]) -> Option<FtpCmd<'_>> {
    let line = first_line(b);
    for verb in ["STOR", "APPE", "STOU", "PUT"] {
        if verb_is(line, verb.as_bytes()) {
            let name = line.get(verb.len() + 1..).unwrap_or(&[]).trim_ascii();
            return Some(FtpCmd::Store(verb, name));
        }
    }
    if verb_is(line, b"PORT") {
        return six_tuple_port(line.get(5..)?).map(FtpCmd::Port);
    }
    if verb_is(line, b"EPRT") {
        return extended_port(line.get(5..)?.trim_ascii()).map(FtpCmd::Port);
    }
    None
}

/// The data port a server opened: `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` or
/// `229 Entering Extended Passive Mode (|||port|)`.
pub(super) fn ftp_passive_port(b: &[u8]) -> Option<u16> {
    let line = first_line(b);
    let open = line.iter().position(|&c| c == b'(');
    if line.starts_with(b"227") {
        // Some servers omit the parentheses: take the text after the last space then.
        let inner = match open {
            Some(i) => {
                &line[i + 1..line.iter().rposition(|&c| c == b')').filter(|&j| j > i).unwrap_or(line.len())]
            }
            None => line.rsplit(|&c| c == b' ').next()?,
        };
        return six_tuple_port(inner.trim_ascii_end().strip_suffix(b".").unwrap_or(inner));
    }
    if line.starts_with(b"229") {
        let i = open?;
        let j = line.iter().rposition(|&c| c == b')').filter(|&j| j > i)?;
        return extended_port(&line[i + 1..j]);
    }
    None
}

/// An SMTP client command that matters for message size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SmtpCmd<'a> {
    /// `MAIL FROM:<addr>`.
    MailFrom(&'a [u8]),
    /// `RCPT TO:<addr>`.
    RcptTo(&'a [u8]),
    /// `DATA`: the message follows the server's 354.
    Data,
    /// `BDAT size [LAST]` (CHUNKING): the chunk follows at once.
    Bdat,
    /// `STARTTLS`: the rest is encrypted.
    StartTls,
}

fn addr_of(arg: &[u8]) -> &[u8] {
    let a = arg.trim_ascii();
    let a = a.strip_prefix(b"<").unwrap_or(a);
    let end = a.iter().position(|&c| c == b'>' || c == b' ').unwrap_or(a.len());
    &a[..end]
}

/// Iterates over the SMTP commands at the start of lines in a client segment (pipelining puts
/// several in one segment).
pub(super) fn smtp_commands(b: &[u8]) -> impl Iterator<Item = SmtpCmd<'_>> {
    b.split(|&c| c == b'\n').filter_map(|l| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let upper = |n: usize| l.get(..n).map(<[u8]>::to_ascii_uppercase);
        if upper(10).as_deref() == Some(b"MAIL FROM:") {
            Some(SmtpCmd::MailFrom(addr_of(&l[10..])))
        } else if upper(8).as_deref() == Some(b"RCPT TO:") {
            Some(SmtpCmd::RcptTo(addr_of(&l[8..])))
        } else if l.eq_ignore_ascii_case(b"DATA") {
            Some(SmtpCmd::Data)
        } else if verb_is(l, b"BDAT") {
            Some(SmtpCmd::Bdat)
        } else if l.eq_ignore_ascii_case(b"STARTTLS") {
            Some(SmtpCmd::StartTls)
        } else {
            None
        }
    })
}

/// Up to 16 leading bytes, printable ASCII kept and the rest as `\xNN`, for evidence.
pub(super) fn prefix(b: &[u8]) -> String {
    b.iter().take(16).flat_map(|&c| std::ascii::escape_default(c)).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftp_commands_and_replies() {
        // curl's upload in pcaps/egress_ftp_stor.pcap.
        assert_eq!(ftp_command(b"STOR customers.db\r\n"), Some(FtpCmd::Store("STOR", b"customers.db")));
        assert_eq!(ftp_command(b"stor a b.txt\r\n"), Some(FtpCmd::Store("STOR", b"a b.txt")));
        assert_eq!(ftp_command(b"PORT 10,99,0,112,200,10\r\n"), Some(FtpCmd::Port(200 * 256 + 10)));
        assert_eq!(ftp_command(b"EPRT |1|10.99.0.112|51210|\r\n"), Some(FtpCmd::Port(51210)));
        assert_eq!(ftp_command(b"STORE x\r\n"), None);
        assert_eq!(ftp_command(b"PORT 1,2,3\r\n"), None);
        // pyftpdlib's replies.
        assert_eq!(ftp_passive_port(b"227 Entering passive mode (203,0,113,21,234,145).\r\n"), Some(60049));
        assert_eq!(ftp_passive_port(b"229 Entering extended passive mode (|||60049|).\r\n"), Some(60049));
        assert_eq!(ftp_passive_port(b"227 =203,0,113,21,234,145\r\n"), None);
        assert_eq!(ftp_passive_port(b"227 Entering Passive Mode 203,0,113,21,234,145\r\n"), Some(60049));
        assert_eq!(ftp_passive_port(b"226 Transfer complete.\r\n"), None);
        assert_eq!(ftp_passive_port(b"227 (999,0,0,0,1,1)\r\n"), None);
    }

    #[test]
    fn smtp_pipelined_commands() {
        let seg = b"MAIL FROM:<alice@home.example> SIZE=1000\r\nRCPT TO:<drop@mail.example.net>\r\nDATA\r\n";
        let v: Vec<_> = smtp_commands(seg).collect();
        assert_eq!(
            v,
            [
                SmtpCmd::MailFrom(b"alice@home.example"),
                SmtpCmd::RcptTo(b"drop@mail.example.net"),
                SmtpCmd::Data
            ]
        );
        assert_eq!(smtp_commands(b"BDAT 1000 LAST\r\n").next(), Some(SmtpCmd::Bdat));
        assert_eq!(smtp_commands(b"DATABASE\r\n").next(), None);
    }

    #[test]
    fn evidence_prefix_escapes() {
        assert_eq!(prefix(b"SSH-2.0\r\n\x00"), "SSH-2.0\\r\\n\\x00");
    }
}

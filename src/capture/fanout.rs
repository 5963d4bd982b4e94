//! Kernel sharding of a live capture (issue 25): one packet socket per worker, joined in one
//! `PACKET_FANOUT` group whose classic BPF program picks each packet's socket from its home-side
//! address, so that every packet about one home host reaches the same worker, as the capture
//! thread's own sharding does for `-r`. The capture thread is then no longer a limit: each
//! worker reads its own socket.
//!
//! Why a program and not `PACKET_FANOUT_HASH`: the kernel's hash is per flow (addresses and
//! ports), which would spread one host's flows over every worker and split what the detectors
//! count per host (a scan's contacts, a host's egress).
//!
//! The program reads the packet where the kernel put its network header (`SKF_NET_OFF`, so
//! VLAN tags the kernel took off are already gone) and its protocol (`SKF_AD_PROTOCOL`):
//! for IPv4 and IPv6 the key is the home-side address, or, when neither or both sides are
//! home, the lower of the two (IPv6 addresses folded to 32 bits first); anything else goes to
//! the first socket. Tunnels are not looked into: a mirror delivered in GRE or VXLAN is sharded
//! by its outer addresses, so one mirror session lands on one worker.

use ipnet::IpNet;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const IMM: u16 = 0x00;
const AND: u16 = 0x50;
const MUL: u16 = 0x20;
const RSH: u16 = 0x70;
const MOD: u16 = 0x90;
const XOR: u16 = 0xa0;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const K: u16 = 0x00;
const X: u16 = 0x08;
const RET_A: u16 = 0x10;
const TAX: u16 = 0x00;
const SKF_AD_PROTOCOL: u32 = (-0x1000i32) as u32;
const SKF_NET_OFF: i32 = -0x100000;

/// One instruction, with its jump targets still labels.
#[derive(Debug, Clone, Copy)]
enum Insn {
    Plain(u16, u32),
    /// Conditional jump: (code, k, label if true, label if false).
    Jump(u16, u32, usize, usize),
    /// Unconditional jump to a label.
    Ja(usize),
    /// A label (no instruction).
    Label(usize),
}

/// A classic BPF instruction as the kernel takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

struct Asm {
    insns: Vec<Insn>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn op(&mut self, code: u16, k: u32) {
        self.insns.push(Insn::Plain(code, k));
    }
    fn jump(&mut self, code: u16, k: u32, t: usize, f: usize) {
        self.insns.push(Insn::Jump(code, k, t, f));
    }
    fn ja(&mut self, l: usize) {
        self.insns.push(Insn::Ja(l));
    }
    fn at(&mut self, l: usize) {
        self.insns.push(Insn::Label(l));
    }
    fn net_word(&mut self, off: u32) {
        self.op(LD | W | ABS, (SKF_NET_OFF + off as i32) as u32);
    }
    /// Resolves labels into forward offsets; `None` if a jump is out of reach.
    fn finish(self) -> Option<Vec<Op>> {
        let mut pos = vec![0usize; self.labels];
        let mut n = 0;
        for i in &self.insns {
            match i {
                Insn::Label(l) => pos[*l] = n,
                _ => n += 1,
            }
        }
        let mut out = Vec::with_capacity(n);
        for i in &self.insns {
            let pc = out.len();
            let rel = |l: usize| pos[l].checked_sub(pc + 1);
            match *i {
                Insn::Label(_) => {}
                Insn::Plain(code, k) => out.push(Op { code, jt: 0, jf: 0, k }),
                Insn::Ja(l) => out.push(Op { code: JMP | JA, jt: 0, jf: 0, k: u32::try_from(rel(l)?).ok()? }),
                Insn::Jump(code, k, t, f) => {
                    out.push(Op { code, jt: u8::try_from(rel(t)?).ok()?, jf: u8::try_from(rel(f)?).ok()?, k })
                }
            }
        }
        Some(out)
    }
}

/// Scratch memory slots of the program.
const M_SRC: u32 = 0;
const M_DST: u32 = 1;
const M_SRC_HOME: u32 = 2;
const M_DST_HOME: u32 = 3;

/// Emits: is the address at network-header offset `off` (4 or 16 bytes) inside any of `nets`?
/// Stores 1 or 0 in memory slot `slot`.
fn home_test(a: &mut Asm, nets: &[IpNet], v6: bool, off: u32, slot: u32) {
    let (yes, done) = (a.label(), a.label());
    for net in nets {
        let bytes: Vec<u8> = match (net, v6) {
            (IpNet::V4(n), false) => n.network().octets().to_vec(),
            (IpNet::V6(n), true) => n.network().octets().to_vec(),
            _ => continue,
        };
        let bits = u32::from(net.prefix_len());
        let next = a.label();
        let words = bits.div_ceil(32).max(1);
        for w in 0..words {
            let left = bits.saturating_sub(w * 32).min(32);
            let mask = if left == 0 { 0 } else { u32::MAX << (32 - left) };
            let i = (w * 4) as usize;
            let word = u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
            a.net_word(off + w * 4);
            a.op(ALU | AND | K, mask);
            let hit = if w + 1 == words { yes } else { a.label() };
            a.jump(JMP | JEQ | K, word & mask, hit, next);
            if w + 1 < words {
                a.at(hit);
            }
        }
        a.at(next);
    }
    a.op(LD | W | IMM, 0);
    a.ja(done);
    a.at(yes);
    a.op(LD | W | IMM, 1);
    a.at(done);
    a.op(ST, slot);
}

/// The fanout program for `workers` sockets with home networks `home`: returns the socket
/// index (the kernel takes it modulo the group's size). `None` if the home list is too long
/// for classic BPF's short jumps.
pub fn program(home: &[IpNet], workers: u32) -> Option<Vec<Op>> {
    let mut a = Asm { insns: Vec::new(), labels: 0 };
    let (v4, v6, choose, hash) = (a.label(), a.label(), a.label(), a.label());
    let (other, v4b, v6b) = (a.label(), a.label(), a.label());
    a.op(LD | W | ABS, SKF_AD_PROTOCOL);
    a.jump(JMP | JEQ | K, 0x0800, v4, v4b);
    a.at(v4b);
    a.jump(JMP | JEQ | K, 0x86dd, v6, v6b);
    a.at(v6b);
    a.ja(other);
    // IPv4: the addresses themselves are the keys.
    a.at(v4);
    a.net_word(12);
    a.op(ST, M_SRC);
    a.net_word(16);
    a.op(ST, M_DST);
    home_test(&mut a, home, false, 12, M_SRC_HOME);
    home_test(&mut a, home, false, 16, M_DST_HOME);
    a.ja(choose);
    // IPv6: each address folded to 32 bits.
    a.at(v6);
    for (off, slot) in [(8u32, M_SRC), (24, M_DST)] {
        a.net_word(off);
        a.op(MISC | TAX, 0);
        for w in 1..4 {
            a.net_word(off + 4 * w);
            a.op(ALU | XOR | X, 0);
            a.op(MISC | TAX, 0);
        }
        a.op(ST, slot);
    }
    home_test(&mut a, home, true, 8, M_SRC_HOME);
    home_test(&mut a, home, true, 24, M_DST_HOME);
    // The home side's key; the lower one when neither or both are home.
    a.at(choose);
    let (src_home, src_not, key_src, key_dst, key_min) =
        (a.label(), a.label(), a.label(), a.label(), a.label());
    a.op(LD | W | MEM, M_SRC_HOME);
    a.jump(JMP | JEQ | K, 0, src_not, src_home);
    a.at(src_home);
    a.op(LD | W | MEM, M_DST_HOME);
    a.jump(JMP | JEQ | K, 0, key_src, key_min);
    a.at(src_not);
    a.op(LD | W | MEM, M_DST_HOME);
    a.jump(JMP | JEQ | K, 0, key_min, key_dst);
    a.at(key_min);
    a.op(LDX | W | MEM, M_DST);
    a.op(LD | W | MEM, M_SRC);
    a.jump(JMP | JGT | X, 0, key_dst, key_src);
    a.at(key_src);
    a.op(LD | W | MEM, M_SRC);
    a.ja(hash);
    a.at(key_dst);
    a.op(LD | W | MEM, M_DST);
    a.at(hash);
    // Mix, then the socket.
    a.op(ALU | MUL | K, 0x9e37_79b1);
    a.op(MISC | TAX, 0);
    a.op(ALU | RSH | K, 15);
    a.op(ALU | XOR | X, 0);
    a.op(ALU | MOD | K, workers.max(1));
    a.op(RET | RET_A, 0);
    a.at(other);
    a.op(RET | K, 0);
    a.finish()
}

/// Joins the packet socket `fd` to fanout group `group` with `prog` as its demultiplexer.
pub(crate) fn join(fd: std::os::fd::RawFd, group: u16, prog: &[Op]) -> std::io::Result<()> {
    let mode: libc::c_int = i32::from(group) | ((libc::PACKET_FANOUT_CBPF as i32) << 16);
    // SAFETY: setsockopt with a c_int option value that lives across the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            std::ptr::from_ref(&mode).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut filter: Vec<libc::sock_filter> =
        prog.iter().map(|o| libc::sock_filter { code: o.code, jt: o.jt, jf: o.jf, k: o.k }).collect();
    let fprog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    // SAFETY: the program outlives the call; the kernel copies it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_FANOUT_DATA,
            std::ptr::from_ref(&fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests;

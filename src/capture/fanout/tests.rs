use super::*;

/// A classic BPF interpreter for the opcodes the program uses: `proto` is what `SKF_AD_PROTOCOL`
/// reads, `net` the bytes from the network header on.
fn run(prog: &[Op], proto: u16, net: &[u8]) -> u32 {
    let (mut a, mut x, mut m, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
    loop {
        let o = prog[pc];
        pc += 1;
        match o.code {
            c if c == LD | W | ABS && o.k == SKF_AD_PROTOCOL => a = u32::from(proto),
            c if c == LD | W | ABS => {
                let off = (o.k as i32 - SKF_NET_OFF) as usize;
                a = u32::from_be_bytes(net[off..off + 4].try_into().unwrap());
            }
            c if c == LD | W | IMM => a = o.k,
            c if c == LD | W | MEM => a = m[o.k as usize],
            c if c == LDX | W | MEM => x = m[o.k as usize],
            ST => m[o.k as usize] = a,
            c if c == ALU | AND | K => a &= o.k,
            c if c == ALU | MUL | K => a = a.wrapping_mul(o.k),
            c if c == ALU | RSH | K => a >>= o.k,
            c if c == ALU | XOR | X => a ^= x,
            c if c == ALU | MOD | K => a %= o.k,
            c if c == MISC | TAX => x = a,
            c if c == JMP | JA => pc += o.k as usize,
            c if c == JMP | JEQ | K => pc += usize::from(if a == o.k { o.jt } else { o.jf }),
            c if c == JMP | JGT | X => pc += usize::from(if a > x { o.jt } else { o.jf }),
            c if c == RET | RET_A => return a,
            c if c == RET | K => return o.k,
            c => panic!("opcode {c:#x} not expected"),
        }
    }
}

fn v4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0];
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

fn v6(src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

fn home() -> Vec<IpNet> {
    crate::config::Config::default().general.home_net
}

#[test]
fn one_home_host_one_socket_whatever_the_peer_or_direction() {
    let prog = program(&home(), 2).expect("fits");
    let mut used = [0u32; 2];
    for h in 0..200u8 {
        let host = [10, 1, h, 7];
        let first = run(&prog, 0x0800, &v4(host, [198, 51, 100, 1]));
        assert!(first < 2);
        used[first as usize] += 1;
        for p in 0..50u8 {
            let peer = [203, 0, 113, p];
            assert_eq!(run(&prog, 0x0800, &v4(host, peer)), first);
            assert_eq!(run(&prog, 0x0800, &v4(peer, host)), first);
        }
        // IPv6: fd00:1::h (fc00::/7 is home) against documentation peers.
        let mut h6 = [0u8; 16];
        h6[..4].copy_from_slice(&[0xfd, 0, 0, 1]);
        h6[15] = h;
        let mut p6 = [0u8; 16];
        p6[..4].copy_from_slice(&[0x20, 1, 0xd, 0xb8]);
        let first6 = run(&prog, 0x86dd, &v6(h6, p6));
        for p in 0..20u8 {
            p6[15] = p;
            assert_eq!(run(&prog, 0x86dd, &v6(h6, p6)), first6);
            assert_eq!(run(&prog, 0x86dd, &v6(p6, h6)), first6);
        }
    }
    assert!(used[0] > 50 && used[1] > 50, "both sockets get hosts: {used:?}");
    // Neither side home, or both: the pair stays together both ways.
    let (a, b) = ([198, 51, 100, 9], [203, 0, 113, 80]);
    assert_eq!(run(&prog, 0x0800, &v4(a, b)), run(&prog, 0x0800, &v4(b, a)));
    let (a, b) = ([10, 0, 0, 1], [192, 168, 1, 1]);
    assert_eq!(run(&prog, 0x0800, &v4(a, b)), run(&prog, 0x0800, &v4(b, a)));
    // Not IP: the first socket.
    assert_eq!(run(&prog, 0x0806, &[0; 40]), 0);
}

#[test]
fn long_home_lists_still_fit_or_are_refused() {
    let nets: Vec<IpNet> = (0..20).map(|i| format!("10.{i}.0.0/16").parse().unwrap()).collect();
    let prog = program(&nets, 4).expect("twenty networks fit");
    assert!(run(&prog, 0x0800, &v4([10, 19, 0, 1], [198, 51, 100, 1])) < 4);
    let many: Vec<IpNet> = (0..200).map(|i| format!("2001:db8:{i:x}::/48").parse().unwrap()).collect();
    assert!(program(&many, 2).is_none(), "too far for short jumps: refused, not wrong");
}

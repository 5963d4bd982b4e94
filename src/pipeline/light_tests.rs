//! The light parse ([`light::parse`]) gives exactly the full decode's shard, flow hint and DNS
//! payload (for a registrable hint): on every frame of the bundled captures, of both bench
//! generators, and on every prefix of the first frames of each capture (cut headers, cut
//! options, a cut VLAN tag).

use super::*;
use crate::capture::BATCH_PACKETS;
use crate::decode::LinkType;
use crate::time::Timestamp;

struct Check {
    home: HomeNet,
    dopts: decode::packet::DecodeOptions,
    scratch: Anomalies,
    /// Frames checked, how many the light parse took, and how many were DNS messages given a
    /// registrable hint.
    frames: u64,
    light: u64,
    hinted: usize,
}

impl Check {
    fn new() -> Check {
        let config = Config::load(None, &[]).expect("default config");
        Check {
            home: HomeNet::new(config.general.home_net.clone()),
            dopts: decode_options(&config),
            scratch: Anomalies::default(),
            frames: 0,
            light: 0,
            hinted: 0,
        }
    }

    fn frame(&mut self, link: LinkType, data: &[u8], what: &str) {
        let p = RawPacket { ts: Timestamp(0), data, wire_len: data.len() as u32, link };
        self.frames += 1;
        if light::parse(link, data, &self.dopts).is_some() {
            self.light += 1;
        }
        for n in [1, 2, 3, 4, 7] {
            // (With a DNS payload: the light parse cuts the same UDP payload as the decoder.)
            let got = shard_with_dns(&p, n, &self.home, &self.dopts, &mut self.scratch);
            let want = shard_of_decoded(&p, n, &self.home, &self.dopts, &mut self.scratch);
            assert_eq!(got, want, "{what}: frame {} ({} bytes), {n} workers", self.frames, data.len());
            self.hinted += usize::from(got.2.is_some());
        }
    }
}

#[test]
fn the_light_parse_shards_and_hints_as_the_full_decode_on_every_bundled_frame() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("pcaps/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() > 50);
    let mut c = Check::new();
    let (mut whole, mut whole_light) = (0u64, 0u64);
    for f in &files {
        let what = f.display().to_string();
        let mut src = FileSource::in_given_order(vec![f.clone()], None).expect("opens");
        let mut first: Vec<(LinkType, Vec<u8>)> = Vec::new();
        loop {
            let res = src.read(BATCH_PACKETS, &mut |p| {
                let light_before = c.light;
                c.frame(p.link, p.data, &what);
                whole += 1;
                whole_light += c.light - light_before;
                if first.len() < 40 {
                    first.push((p.link, p.data.to_vec()));
                }
            });
            if !matches!(res, Ok(true)) {
                break;
            }
        }
        // Every prefix of the first frames: each header cut at every byte.
        for (link, data) in &first {
            for k in 0..data.len().min(200) {
                c.frame(*link, &data[..k], &format!("{what} cut"));
            }
        }
    }
    // Tunnels, fragments and the like fall back; the common case does not.
    assert!(whole_light > whole / 2 && whole_light < whole, "{whole_light} of {whole} frames light");
    // DNS over UDP got its registrable hints, the same on both paths (5 worker counts each).
    assert!(c.hinted > 5 * 1000, "{} hinted", c.hinted);
}

#[test]
fn the_light_parse_shards_and_hints_as_the_full_decode_on_both_bench_generators() {
    let mut c = Check::new();
    let mut frame = Vec::new();
    let mut mixed = crate::synth::MixedTraffic::new(11, 2_000, 1_700_000_000_000_000);
    for _ in 0..60_000 {
        frame.clear();
        mixed.next_frame(&mut frame);
        c.frame(LinkType::Ethernet, &frame, "mixed");
    }
    let mut day = crate::synth::day::DayTraffic::new(
        0xda7,
        crate::synth::day::DayProfile::default(),
        1_700_000_000_000_000,
    );
    for _ in 0..150_000 {
        frame.clear();
        if !day.next_frame(&mut frame) {
            break;
        }
        c.frame(LinkType::Ethernet, &frame, "day");
    }
    assert!(c.light * 10 > c.frames * 9, "{} of {} frames light", c.light, c.frames);
}

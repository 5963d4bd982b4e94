//! Sharding without a copy ([`shard_block`], [`BlockPool`], [`Batch::push_ref`]) hands every
//! worker exactly the packets, in the same order and with the same flow hints, that copying
//! each packet into its worker's batch did; blocks are reused only once no worker holds them,
//! and never more than [`BLOCKS_IN_FLIGHT`] are in flight.

use super::*;
use crate::capture::BATCH_PACKETS;
use crate::capture::write::PcapWriter;
use crate::time::Timestamp;

/// One packet as a worker got it.
#[derive(Debug, PartialEq)]
struct Got {
    ts: Timestamp,
    data: Vec<u8>,
    wire_len: u32,
    hint: u64,
    registrable: Option<RegistrableHint>,
}

fn config() -> Config {
    Config::load(None, &[]).expect("default config")
}

/// Each worker's packets when the capture thread copies every packet (`read`, as before).
fn by_copy(paths: &[PathBuf], n: usize) -> Vec<Vec<Got>> {
    let config = config();
    let (home, dopts) = (HomeNet::new(config.general.home_net.clone()), decode_options(&config));
    let mut scratch = Anomalies::default();
    let mut dns = DnsMessage::default();
    let mut src = FileSource::in_given_order(paths.to_vec(), None).expect("opens");
    let mut out: Vec<Vec<Got>> = (0..n).map(|_| Vec::new()).collect();
    loop {
        let res = src.read(BATCH_PACKETS, &mut |p| {
            let (s, hint, payload) = shard_with_dns(p, n, &home, &dopts, &mut scratch);
            let registrable = payload.and_then(|pl| RegistrableHint::of(pl, &mut dns));
            out[s].push(Got { ts: p.ts, data: p.data.to_vec(), wire_len: p.wire_len, hint, registrable });
        });
        if !matches!(res, Ok(true)) {
            return out;
        }
    }
}

/// The workers' side: takes what worker `s` was sent, lets go of the blocks and hands the
/// batches back, as `work` does. Worker 0 is slow: it lets batches queue up to `lag`.
struct Workers {
    rx: Vec<Receiver<Batch>>,
    pool: Sender<Batch>,
    freed: Sender<()>,
    out: Vec<Vec<Got>>,
    lag: usize,
}

impl Workers {
    fn drain(&mut self, all: bool) {
        for (s, rx) in self.rx.iter().enumerate() {
            if s == 0 && !all && rx.len() < self.lag {
                continue;
            }
            for mut b in rx.try_iter() {
                for (k, m) in b.meta.iter().enumerate() {
                    let data = b.frame(m).to_vec();
                    let registrable =
                        b.registrable_hints().iter().find(|(at, _)| *at as usize == k).map(|(_, h)| *h);
                    self.out[s].push(Got {
                        ts: m.ts,
                        data,
                        wire_len: m.wire_len,
                        hint: m.flow_hint,
                        registrable,
                    });
                }
                if b.release_block() {
                    let _ = self.freed.try_send(());
                }
                b.clear();
                let _ = self.pool.try_send(b);
            }
        }
    }
}

/// Each worker's packets through the capture loop's zero-copy path (and `read` for the files
/// libpcap reads); also how many blocks were made.
fn by_reference(paths: &[PathBuf], n: usize, lag: usize) -> (Vec<Vec<Got>>, usize) {
    let config = config();
    let (home, dopts) = (HomeNet::new(config.general.home_net.clone()), decode_options(&config));
    let mut scratch = Anomalies::default();
    let mut dns = DnsMessage::default();
    let mut src = FileSource::in_given_order(paths.to_vec(), None).expect("opens");
    let (pool_tx, pool_rx) = bounded::<Batch>(n * BATCHES_PER_WORKER + n);
    for _ in 0..n * BATCHES_PER_WORKER + n {
        let _ = pool_tx.send(Batch::default());
    }
    let (freed_tx, freed_rx) = bounded::<()>(n * BATCHES_PER_WORKER + n);
    let mut blocks = BlockPool { blocks: Vec::new(), freed: freed_rx };
    let (senders, rx): (Vec<_>, Vec<_>) = (0..n).map(|_| bounded::<Batch>(BATCHES_PER_WORKER)).unzip();
    let mut workers = Workers { rx, pool: pool_tx, freed: freed_tx, out: Vec::new(), lag };
    workers.out = (0..n).map(|_| Vec::new()).collect();
    let mut current: Vec<Batch> = (0..n).map(|_| pool_rx.recv().unwrap_or_default()).collect();
    let pool_rx = Pool { batches: pool_rx, wait: true };
    loop {
        let i = blocks.take();
        let block = &mut blocks.blocks[i];
        if let Some(res) = Arc::get_mut(block).and_then(|b| src.fill_batch(b)) {
            shard_block(
                block,
                &mut current,
                &senders,
                &pool_rx,
                |p| shard_with_dns(p, n, &home, &dopts, &mut scratch),
                |pl| RegistrableHint::of(pl, &mut dns),
            );
            workers.drain(false);
            if matches!(res, Ok(true)) {
                continue;
            }
            break;
        }
        let res = src.read(BATCH_PACKETS, &mut |p| {
            let (s, hint, payload) = shard_with_dns(p, n, &home, &dopts, &mut scratch);
            current[s].push(p, hint);
            if let Some(h) = payload.and_then(|pl| RegistrableHint::of(pl, &mut dns)) {
                current[s].push_registrable_hint(h);
            }
        });
        // Batches of copied packets stay open across reads, as in `run`.
        for (s, b) in current.iter_mut().enumerate() {
            if b.is_full() {
                send_batch(b, &senders[s], &pool_rx);
            }
        }
        workers.drain(false);
        if !matches!(res, Ok(true)) {
            break;
        }
    }
    for (s, b) in current.iter_mut().enumerate() {
        if !b.is_empty() {
            send_batch(b, &senders[s], &pool_rx);
        }
    }
    workers.drain(true);
    (workers.out, blocks.blocks.len())
}

/// Panics at the first packet a worker got differently (naming it, not printing everything).
fn same(got: &[Vec<Got>], want: &[Vec<Got>], what: &str) {
    assert_eq!(got.len(), want.len());
    for (s, (g, w)) in got.iter().zip(want).enumerate() {
        if let Some(k) = (0..g.len().min(w.len())).find(|&k| g[k] != w[k]) {
            panic!("{what}: worker {s} packet {k} differs: {:?} vs {:?}", g[k].ts, w[k].ts);
        }
        assert_eq!(g.len(), w.len(), "{what}: worker {s} packets");
    }
}

fn bundled() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("pcaps/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_bundled_capture_reaches_the_same_workers_without_a_copy() {
    let files = bundled();
    assert!(files.len() > 50);
    for n in [2, 3] {
        for f in &files {
            let want = by_copy(std::slice::from_ref(f), n);
            let (got, _) = by_reference(std::slice::from_ref(f), n, 1);
            same(&got, &want, &format!("{} with {n} workers", f.display()));
        }
        // All in one run, classic pcap and pcapng interleaved: the hand-over between libpcap's
        // reads (copied) and blocks (shared) keeps each worker's order.
        let want = by_copy(&files, n);
        let (got, made) = by_reference(&files, n, 4);
        assert!(want.iter().all(|w| !w.is_empty()));
        same(&got, &want, &format!("every bundled capture with {n} workers"));
        assert!(made <= BLOCKS_IN_FLIGHT, "{made} blocks");
    }
}

/// Many blocks of mixed traffic, read by a slow worker 0: blocks are reused only once free.
#[test]
fn blocks_are_reused_only_when_no_worker_holds_them() {
    let dir = std::env::temp_dir().join(format!("siphon-share-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mixed.pcap");
    let mut w = PcapWriter::new(std::io::BufWriter::new(std::fs::File::create(&path).expect("create")))
        .expect("header");
    let mut g = crate::synth::MixedTraffic::new(7, 300, 1_700_000_000_000_000);
    let mut frame = Vec::new();
    for k in 0..40_000u64 {
        frame.clear();
        g.next_frame(&mut frame);
        w.write(1_700_000_000_000_000 + k * 50, &frame, 262_144).expect("write");
    }
    w.finish().expect("flush");
    let paths = [path];
    for (n, lag) in [(2, 7), (3, 1), (3, 7)] {
        let want = by_copy(&paths, n);
        assert_eq!(want.iter().map(Vec::len).sum::<usize>(), 40_000);
        let (got, made) = by_reference(&paths, n, lag);
        same(&got, &want, &format!("{n} workers, lag {lag}"));
        // A slow worker holds up to `lag` blocks: more were made, never more than the cap.
        assert!(made <= BLOCKS_IN_FLIGHT && made >= lag, "{made} blocks, lag {lag}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A classic pcap read after a pcapng file (whose start `read` buffered a block of) loses no
/// packet, whatever the worker count: before, the packets buffered and not yet delivered were
/// skipped when the reader moved on to whole blocks.
#[test]
fn every_packet_of_a_mixed_format_run_is_processed() {
    let files = bundled();
    let want = by_copy(&files, 1)[0].len() as u64;
    for workers in [1, 2, 3] {
        let mut src = FileSource::in_given_order(files.clone(), None).expect("opens");
        let opts = RunOptions { workers, ..RunOptions::default() };
        let (_, summary) = shared::collect(|sink| run(&mut src, &config(), sink, &opts)).expect("runs");
        assert_eq!(summary.workers.packets, want, "{workers} workers");
    }
}

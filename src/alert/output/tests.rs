//! The queue's own behaviour, with a transport the test controls: drop-oldest when full,
//! counted; a bounded close even when the transport is stuck; backoff after failures.

use super::*;
use std::sync::mpsc;

/// Sends into a channel; blocks in `send` while `gate` holds no permit.
struct Gate {
    gate: mpsc::Receiver<()>,
    out: mpsc::Sender<Vec<u8>>,
    fail_connects: u32,
}

impl Transport for Gate {
    fn connect(&mut self, _timeout: Duration) -> io::Result<()> {
        if self.fail_connects > 0 {
            self.fail_connects -= 1;
            return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        }
        Ok(())
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.gate.recv().map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        let _ = self.out.send(msg.to_vec());
        Ok(())
    }
    fn disconnect(&mut self) {}
}

fn opts(capacity: usize) -> QueueOptions {
    QueueOptions {
        capacity,
        connect_timeout: Duration::from_millis(100),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
    }
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts_it() {
    let (gate_tx, gate) = mpsc::channel();
    let (out, got) = mpsc::channel();
    let q = OutputQueue::start("t", Gate { gate, out, fail_connects: 0 }, opts(3)).unwrap();
    for i in 0..10u8 {
        q.push(vec![i]);
    }
    // At most one message left the queue before the gate opened; the rest kept the newest 3.
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..10 {
        gate_tx.send(()).unwrap();
    }
    let s = q.close(Duration::from_secs(2));
    let sent: Vec<Vec<u8>> = got.try_iter().collect();
    assert_eq!(s.sent as usize, sent.len());
    assert_eq!(s.sent + s.dropped, 10, "{s:?}");
    assert_eq!(sent.last().unwrap(), &vec![9u8], "the newest survives");
    assert!(s.dropped >= 6, "{s:?}");
}

#[test]
fn close_is_bounded_when_the_transport_is_stuck() {
    let (_gate_tx, gate) = mpsc::channel::<()>();
    let (out, _got) = mpsc::channel();
    let q = OutputQueue::start("t", Gate { gate, out, fail_connects: 0 }, opts(100)).unwrap();
    for i in 0..5u8 {
        q.push(vec![i]);
    }
    let t = Instant::now();
    let s = q.close(Duration::from_millis(200));
    assert!(t.elapsed() < Duration::from_millis(800), "{:?}", t.elapsed());
    assert_eq!(s, OutputStats { sent: 0, dropped: 5, reconnects: 0 });
    q.push(vec![9]);
    assert_eq!(q.stats().dropped, 6, "a push after close is counted as dropped");
}

#[test]
fn failed_connections_are_retried_with_backoff_and_counted() {
    let (gate_tx, gate) = mpsc::channel();
    let (out, got) = mpsc::channel();
    let q = OutputQueue::start("t", Gate { gate, out, fail_connects: 3 }, opts(100)).unwrap();
    gate_tx.send(()).unwrap();
    q.push(b"x".to_vec());
    let m = got.recv_timeout(Duration::from_secs(2)).expect("sent once connected");
    assert_eq!(m, b"x");
    let s = q.close(Duration::from_secs(1));
    assert_eq!(s, OutputStats { sent: 1, dropped: 0, reconnects: 3 });
}

/// Takes batches of up to `n`; fails every batch while `fail` is set.
struct Batches {
    n: usize,
    fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
    out: mpsc::Sender<Vec<Vec<u8>>>,
}

impl Transport for Batches {
    fn connect(&mut self, _timeout: Duration) -> io::Result<()> {
        Ok(())
    }
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        unreachable!("batched transports get send_batch")
    }
    fn batch_size(&self) -> usize {
        self.n
    }
    fn send_batch(&mut self, msgs: &[Vec<u8>]) -> io::Result<()> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let _ = self.out.send(msgs.to_vec());
        Ok(())
    }
    fn disconnect(&mut self) {}
}

#[test]
fn batches_are_sent_whole_and_a_failed_batch_is_counted_whole() {
    let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (out, got) = mpsc::channel();
    let q = OutputQueue::start("t", Batches { n: 4, fail: fail.clone(), out }, opts(100)).unwrap();
    for i in 0..3u8 {
        q.push(vec![i]);
    }
    // The first batch (up to 4 of what is queued) fails, and is dropped whole.
    let t = Instant::now();
    while q.stats().dropped == 0 {
        assert!(t.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(5));
    }
    fail.store(false, std::sync::atomic::Ordering::Relaxed);
    for i in 10..20u8 {
        q.push(vec![i]);
    }
    // Reconnected after the backoff, it sends again.
    let t = Instant::now();
    while q.stats().sent == 0 {
        assert!(t.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(5));
    }
    let s = q.close(Duration::from_secs(2));
    let batches: Vec<Vec<Vec<u8>>> = got.try_iter().collect();
    assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 4), "{batches:?}");
    let sent: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(s.sent as usize, sent);
    assert_eq!(s.sent + s.dropped, 13, "{s:?}");
    assert!(s.reconnects >= 1);
}

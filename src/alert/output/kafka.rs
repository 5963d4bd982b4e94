//! Kafka output (`--features kafka`, librdkafka through `rdkafka`): each event, one EVE JSON
//! document, produced to `topic` with the event's `src_ip` as the message key, so one host's
//! events land in one partition, in order.
//!
//! Behind the bounded [`OutputQueue`] like every network output: the drain thread hands a batch
//! to librdkafka and waits for its delivery reports (`acks`), at most [`DELIVERY_TIMEOUT`];
//! a batch with any message undelivered is counted as dropped and the producer rebuilt after
//! backoff. Connecting means the brokers answered a metadata request for the topic.

use super::config::KafkaConfig;
use super::tee::split_keyed;
use super::{OutputQueue, QueueOptions, Transport};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longest wait for a batch's delivery reports; past it the batch counts as dropped.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Counts undelivered messages from librdkafka's delivery reports.
struct Reports {
    failed: Arc<AtomicU64>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Kafka {
    config: ClientConfig,
    topic: String,
    batch: usize,
    producer: Option<BaseProducer<Reports>>,
    failed: Arc<AtomicU64>,
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl Transport for Kafka {
    fn connect(&mut self, timeout: Duration) -> io::Result<()> {
        let p: BaseProducer<Reports> =
            self.config.create_with_context(Reports { failed: self.failed.clone() }).map_err(err)?;
        p.client().fetch_metadata(Some(&self.topic), timeout).map_err(err)?;
        self.producer = Some(p);
        Ok(())
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.send_batch(std::slice::from_ref(&msg.to_vec()))
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn send_batch(&mut self, msgs: &[Vec<u8>]) -> io::Result<()> {
        let p = self.producer.as_ref().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        let before = self.failed.load(Ordering::Relaxed);
        for m in msgs {
            let (key, payload) = split_keyed(m);
            let rec = BaseRecord::to(&self.topic).key(key).payload(payload);
            p.send(rec).map_err(|(e, _)| err(e))?;
        }
        p.flush(DELIVERY_TIMEOUT).map_err(err)?;
        if self.failed.load(Ordering::Relaxed) != before {
            return Err(io::Error::other("undelivered messages"));
        }
        Ok(())
    }

    fn disconnect(&mut self) {
        if let Some(p) = self.producer.take() {
            p.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
        }
    }
}

/// Starts the Kafka output's queue and thread; the brokers need not be up yet.
pub fn start(c: &KafkaConfig) -> Result<OutputQueue, String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &c.brokers)
        .set("acks", &c.acks)
        .set("compression.type", &c.compression)
        .set("batch.num.messages", c.batch_size.to_string())
        .set("linger.ms", "5")
        .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string());
    // Checked now, so a bad setting is an error at start, not a silent reconnect loop.
    config
        .create_with_context::<_, BaseProducer<Reports>>(Reports { failed: Arc::default() })
        .map_err(|e| format!("outputs.kafka: {e}"))?;
    let t = Kafka {
        config,
        topic: c.topic.clone(),
        batch: c.batch_size.clamp(1, 10_000),
        producer: None,
        failed: Arc::default(),
    };
    let o = QueueOptions { capacity: c.queue.max(1), ..QueueOptions::default() };
    OutputQueue::start("kafka", t, o).map_err(|e| format!("outputs.kafka: {e}"))
}

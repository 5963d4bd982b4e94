//! The binary: glue between the command line, the pipeline and the process's edges (signals,
//! periodic stats, exit codes). `anyhow` lives only here.

use anyhow::Context;
use clap::Parser;
use siphon::cli::{Args, Format, Input, Settings, exit};
use siphon::input::FileSource;
use siphon::input::PacketSource;
use siphon::input::{ExportFiles, ExportSocket, RecordSource};
use siphon::input::{LiveOptions, LiveSource, drop_privileges};
use siphon::output::NetOutput;
use siphon::output::OutputQueue;
use siphon::output::TextLines;
use siphon::output::{AlertSink, JsonLines};
use siphon::running::{LiveCounters, RunOptions, run, run_records};

/// What a run reads: packets, or flow records (never both in one run).
enum Src {
    Packets(Box<dyn PacketSource>),
    Records(Box<dyn RecordSource>),
}
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// mimalloc 2 (the `v2` feature), with transparent huge pages off (`NO_HUGE_PAGES`; why:
/// docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long network outputs (syslog) may drain at exit before what is left is counted as
/// dropped: with the capture's flush interval and the writer's flush, SIGTERM exits within 2 s
/// whatever a collector does.
const OUTPUT_GRACE: std::time::Duration = std::time::Duration::from_millis(1000);

fn main() {
    // `siphon report EVE.json -o FILE`: a subcommand of its own, so filter words stay free.
    if std::env::args_os().nth(1).is_some_and(|a| a == "report") {
        let args = siphon::reporting::ReportArgs::parse_from(std::env::args_os().skip(1));
        std::process::exit(match args.run() {
            Ok(n) => {
                eprintln!("siphon: report with {n} alerts written to {}", args.output.display());
                exit::OK
            }
            Err(e @ siphon::reporting::ReportError::Read { .. }) => {
                eprintln!("siphon: {e}");
                exit::INPUT
            }
            Err(e) => {
                eprintln!("siphon: {e}");
                exit::OUTPUT
            }
        });
    }
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print on stdout and exit 0; every other error is usage (1).
            let _ = e.print();
            std::process::exit(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    if args.man {
        let man = clap_mangen::Man::new(<Args as clap::CommandFactory>::command());
        let mut out = Vec::new();
        let code = match man.render(&mut out) {
            Ok(()) => write_stdout(&out),
            Err(e) => {
                eprintln!("siphon: {e}");
                exit::OUTPUT
            }
        };
        std::process::exit(code);
    }
    if let Some(shell) = args.completions {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut <Args as clap::CommandFactory>::command(), "siphon", &mut out);
        std::process::exit(write_stdout(&out));
    }
    if args.print_config {
        let text = match args.effective_config() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("siphon: {e}");
                std::process::exit(exit::USAGE);
            }
        };
        std::process::exit(write_stdout(text.as_bytes()));
    }
    let settings = match args.build() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("siphon: {e}");
            std::process::exit(exit::USAGE);
        }
    };
    std::process::exit(match run_main(settings) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("siphon: {e:#}");
            exit::OUTPUT
        }
    });
}

/// Writes `b` to stdout: 0, or 0 on a closed pipe too; 3 on another failure.
fn write_stdout(b: &[u8]) -> i32 {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_all(b).and_then(|()| o.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("siphon: {e}");
            exit::OUTPUT
        }
    }
}

/// A sink chain and its network outputs' queues (read by the metrics endpoint).
type Outputs = (Box<dyn AlertSink>, Vec<Arc<OutputQueue>>);

/// The sink chain: `-o`/stdout, then Redis and Kafka (`[outputs.*]`), then syslog.
fn open_output(s: &Settings) -> anyhow::Result<Outputs> {
    let primary: Box<dyn AlertSink> = match (&s.output, s.format) {
        (Some(p), Format::Eve) => Box::new(JsonLines::create(p)?),
        (None, Format::Eve) => Box::new(JsonLines::new(std::io::stdout())),
        (Some(p), Format::Text) => Box::new(TextLines::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("{}: cannot open for appending", p.display()))?,
        )),
        (None, Format::Text) => Box::new(TextLines::new(std::io::stdout())),
    };
    let primary: Box<dyn AlertSink> =
        if s.eve_types.alert { primary } else { Box::new(siphon::output::NoAlerts(primary)) };
    let mut queues = Vec::new();
    let mut net = Vec::new();
    let o = &s.config.outputs;
    if o.redis.enabled {
        let q = Arc::new(siphon::output::redis_start(&o.redis).map_err(anyhow::Error::msg)?);
        queues.push(q.clone());
        net.push(NetOutput { queue: q, keyed: false });
    }
    #[cfg(feature = "kafka")]
    if o.kafka.enabled {
        let q = Arc::new(siphon::output::kafka_start(&o.kafka).map_err(anyhow::Error::msg)?);
        queues.push(q.clone());
        net.push(NetOutput { queue: q, keyed: true });
    }
    let primary: Box<dyn AlertSink> =
        if net.is_empty() { primary } else { Box::new(siphon::output::Tee::new(primary, net)) };
    let sink: Box<dyn AlertSink> = match &s.syslog {
        Some(t) => {
            let tee = siphon::output::SyslogTee::new(primary, t.clone())?;
            queues.push(tee.queue());
            Box::new(tee)
        }
        None => primary,
    };
    Ok((sink, queues))
}

extern "C" fn wake(_: libc::c_int) {}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) SIGINT, SIGTERM and SIGHUP for the calling
/// thread (and the threads it starts later). The main thread blocks them first thing, so a
/// signal that comes during start-up (opening a capture with a large `-B` buffer can take
/// seconds while the kernel finds the pages) waits instead of killing the process; the edge
/// thread unblocks them once its handlers are in place ([`spawn_edges`]), and so is the only
/// thread they are delivered to.
fn set_stop_signals(how: libc::c_int) {
    // SAFETY: a zeroed sigset_t filled by sigemptyset/sigaddset; pthread_sigmask reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// A no-op SIGUSR1 handler without SA_RESTART: signalling the capture thread makes a read
/// blocked on a pipe (`-r -`) return EINTR, so SIGINT/SIGTERM can stop it.
fn install_wake_handler() {
    // SAFETY: sigaction with a plain handler that does nothing; the struct is zeroed first.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = wake as *const () as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
}

/// Turns transparent huge pages off for this process (issue 25), from a constructor that runs
/// before mimalloc's own (priority 101) reserves its first arena. mimalloc marks its arenas
/// `MADV_HUGEPAGE`, so each 2 MiB page a thread's heap touches would become resident whole: on
/// the day profile that was 20 MiB of peak RSS with one worker and 30-37 MiB with two, for 5x
/// fewer page faults and no CPU time measurable here (docs/performance.md, "Memory").
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static NO_HUGE_PAGES: extern "C" fn() = no_huge_pages;

#[cfg(target_os = "linux")]
extern "C" fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn run_main(s: Settings) -> anyhow::Result<i32> {
    install_wake_handler();
    set_stop_signals(libc::SIG_BLOCK);
    // SAFETY: pthread_self has no preconditions.
    let capture_thread = unsafe { libc::pthread_self() };
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(LiveCounters::default());
    let mut early_sink = None;
    let mut fanned: Vec<Box<dyn PacketSource>> = Vec::new();
    let (mut source, breaker): (Src, Option<pcap::BreakLoop>) = match &s.input {
        Input::NetflowFiles(paths) => match ExportFiles::new(paths.clone(), &s.config.netflow) {
            Ok(src) => (Src::Records(Box::new(src)), None),
            Err(e) => {
                eprintln!("siphon: {e}");
                return Ok(exit::INPUT);
            }
        },
        Input::NetflowListen(addr) => match ExportSocket::bind(*addr, &s.config.netflow) {
            Ok(src) => (Src::Records(Box::new(src)), None),
            Err(e) => {
                eprintln!("siphon: {e}");
                return Ok(exit::LIVE);
            }
        },
        Input::Files(paths) => match FileSource::new(paths.clone(), s.filter.clone()) {
            Ok(src) => (Src::Packets(Box::new(src)), None),
            Err(e) => {
                eprintln!("siphon: {e}");
                return Ok(match e {
                    siphon::CaptureError::Filter { .. } => exit::USAGE,
                    _ => exit::INPUT,
                });
            }
        },
        Input::Live(iface) => {
            let o = LiveOptions {
                iface: iface.clone(),
                snaplen: s.snaplen,
                buffer_size: s.buffer_size,
                promisc: s.promisc,
                filter: s.filter.clone(),
                flush_interval: s.config.capture.flush_interval.0,
            };
            match LiveSource::open(&o) {
                Ok(mut src) => {
                    let h = src.stop_handle();
                    // One socket per worker, sharded by the kernel (capture.fanout).
                    let single = if s.workers > 1 && s.config.capture.fanout {
                        match open_fanout(src, &o, &s) {
                            Ok(all) => {
                                fanned = all;
                                None
                            }
                            Err((first, e)) => {
                                eprintln!("siphon: warning: {e}; the capture thread shards instead");
                                Some(first)
                            }
                        }
                    } else {
                        Some(src)
                    };
                    // Open the output while still privileged (and hand the file to the user, so
                    // a SIGHUP can reopen a rotated one), then drop to the user.
                    early_sink = Some(open_output(&s)?);
                    if let Some(u) = &s.user {
                        if let Some(out) = &s.output {
                            give_to_user(out, u);
                        }
                        if let Err(e) = drop_privileges(u) {
                            eprintln!("siphon: {e}");
                            return Ok(exit::LIVE);
                        }
                    }
                    match single {
                        Some(src) => (Src::Packets(Box::new(src)), Some(h)),
                        // Each worker's read returns within capture.flush_interval to look at the
                        // stop flag; no break handle (its socket ends inside the run).
                        None => (Src::Packets(Box::new(NoSource)), None),
                    }
                }
                Err(e) => {
                    eprintln!("siphon: {e}");
                    return Ok(exit::LIVE);
                }
            }
        }
    };
    let (sink, queues) = match early_sink {
        Some(sink) => sink,
        None => open_output(&s)?,
    };
    let live = s.metrics_listen.as_ref().map(|_| Arc::new(siphon::output::Live::new(counters.clone())));
    let metrics = match (&s.metrics_listen, &live) {
        (Some(addr), Some(l)) => {
            l.set_outputs(queues);
            let info = siphon::running::RunInfo::for_config(&s.config);
            let m = siphon::output::MetricsServer::start(addr, l.clone(), info.version, info.config_digest)
                .with_context(|| "cannot serve metrics".to_owned())?;
            if !s.quiet {
                eprintln!("siphon: metrics at http://{}/metrics", m.addr());
            }
            Some(m)
        }
        _ => None,
    };
    let (sink, report_alerts) = match &s.report {
        Some(_) => {
            let (c, kept) = siphon::reporting::Collector::new(sink);
            (Box::new(c) as Box<dyn AlertSink>, Some(kept))
        }
        None => (sink, None),
    };
    let is_live = matches!(s.input, Input::Live(_) | Input::NetflowListen(_));
    let reopen = Arc::new(AtomicBool::new(false));
    let edge = spawn_edges(
        stop.clone(),
        reopen.clone(),
        counters.clone(),
        breaker,
        capture_thread,
        if is_live { s.stats_interval } else { 0 },
    );
    let progress = match &s.input {
        Input::Files(paths) | Input::NetflowFiles(paths)
            if !s.quiet && paths.iter().all(|p| p.as_os_str() != "-") =>
        {
            let total = paths.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
            siphon::running::Progress::start(total, counters.clone())
        }
        _ => None,
    };
    let opts = RunOptions {
        workers: s.workers,
        stop: stop.clone(),
        counters,
        reopen,
        live: live.clone(),
        flow_events: s.eve_types.flow,
        netflow_events: s.eve_types.netflow,
    };
    let outcome = match &mut source {
        Src::Packets(_) if !fanned.is_empty() => siphon::running::run_fanout(fanned, &s.config, sink, &opts),
        Src::Packets(p) => run(&mut **p, &s.config, sink, &opts),
        Src::Records(r) => run_records(&mut **r, &s.config, sink, &opts),
    };
    drop(progress);
    let mut outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("siphon: {e}");
            return Ok(exit::OUTPUT);
        }
    };
    // -o/stdout were flushed by the writer; the network outputs get a short grace to drain.
    let mut sink = outcome.sink.take();
    if let Some(sink) = sink.as_mut() {
        outcome.summary.outputs = sink.close_outputs(OUTPUT_GRACE);
    }
    if let Some(l) = &live {
        l.set_input_done();
    }
    // The final figures stay up for a scraper while asked to (a signal ends the wait).
    if let Some(m) = &metrics
        && !s.metrics_linger.is_zero()
    {
        let until = std::time::Instant::now() + s.metrics_linger;
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if !s.quiet {
            eprintln!("siphon: metrics served {} scrapes", m.scrapes());
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(edge);
    drop(metrics);
    outcome.summary.run.inputs = inputs_of(&s.input);
    for w in &outcome.summary.input_warnings {
        eprintln!("siphon: warning: {w}");
    }
    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string();
    if !s.quiet {
        eprint!("{}", outcome.summary.to_text());
    } else {
        // Losses are said even with -q.
        for (name, o) in outcome.summary.outputs.iter().filter(|(_, o)| o.dropped > 0) {
            eprintln!(
                "siphon: outputs.{name}: {} sent, {} dropped, {} reconnects",
                o.sent, o.dropped, o.reconnects
            );
        }
    }
    // The stats event goes through the run's own sink: the file it holds open (reopened on
    // SIGHUP, before privileges were dropped for -Z), never a fresh open by path.
    if (s.stats_json || s.eve_types.stats)
        && s.format == Format::Eve
        && !outcome.broken_pipe
        && let Some(sink) = sink.as_mut()
        && let Err(e) = sink.write_event(&outcome.summary.to_eve(&ts)).and_then(|()| sink.flush())
    {
        eprintln!("siphon: cannot write the stats event: {e}");
        return Ok(exit::OUTPUT);
    }
    if let (Some(path), Some(kept)) = (&s.report, report_alerts) {
        let (alerts, over) = kept.lock().map(|mut k| (std::mem::take(&mut k.0), k.1)).unwrap_or_default();
        let source = match &s.input {
            Input::Files(p) => format!(
                "siphon -r {}",
                p.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -r ")
            ),
            Input::Live(i) => format!("siphon -i {i}"),
            Input::NetflowFiles(p) => format!(
                "siphon --netflow -r {}",
                p.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -r ")
            ),
            Input::NetflowListen(a) => format!("siphon --netflow-listen {a}"),
        };
        let mut r = siphon::reporting::Report::new(alerts, Some(outcome.summary.to_eve(&ts)), source);
        if over > 0 {
            r.notes.push(format!(
                "{over} alerts past the first {} are not shown.",
                siphon::reporting::MAX_ALERTS
            ));
        }
        if let Err(e) = r.write(path) {
            eprintln!("siphon: {e}");
            return Ok(exit::OUTPUT);
        }
        if !s.quiet {
            eprintln!("siphon: report written to {}", path.display());
        }
    }
    if let Some(e) = &outcome.input_error {
        eprintln!("siphon: {e}");
        return Ok(if is_live { exit::LIVE } else { exit::INPUT });
    }
    Ok(exit::OK)
}

/// The capture thread's source when every worker reads its own socket: nothing.
struct NoSource;

impl PacketSource for NoSource {
    fn read(
        &mut self,
        _max: usize,
        _f: &mut dyn FnMut(&siphon::input::RawPacket<'_>),
    ) -> Result<bool, siphon::CaptureError> {
        Ok(false)
    }
}

/// Opens `s.workers - 1` more sockets on the interface of `first` and joins all of them to one
/// `PACKET_FANOUT` group sharding by home host; on failure, hands `first` back with the reason.
#[allow(clippy::result_large_err)]
fn open_fanout(
    first: LiveSource,
    o: &LiveOptions,
    s: &Settings,
) -> Result<Vec<Box<dyn PacketSource>>, (LiveSource, String)> {
    let Some(prog) = siphon::input::fanout_program(&s.config.general.home_net, s.workers as u32) else {
        return Err((first, "the home networks do not fit a fanout program".into()));
    };
    let group = (std::process::id() & 0xffff) as u16;
    if let Err(e) = first.join_fanout(group, &prog) {
        return Err((first, e.to_string()));
    }
    let mut all: Vec<Box<dyn PacketSource>> = vec![Box::new(first)];
    for _ in 1..s.workers {
        match LiveSource::open(o).and_then(|src| src.join_fanout(group, &prog).map(|()| src)) {
            Ok(src) => all.push(Box::new(src)),
            Err(e) => {
                // The group cannot be undone on the first socket: report and stop.
                eprintln!("siphon: {e}");
                std::process::exit(exit::LIVE);
            }
        }
    }
    Ok(all)
}

/// Makes `user` own the output file (as tcpdump does for `-Z`), so the process can still reopen
/// it after dropping privileges. A failure is only a warning: the open descriptor keeps working.
fn give_to_user(path: &std::path::Path, user: &str) {
    let Ok((uid, gid)) = siphon::input::user_ids(user) else { return };
    if let Err(e) = std::os::unix::fs::chown(path, Some(uid), Some(gid)) {
        eprintln!("siphon: warning: cannot give {} to {user}: {e}", path.display());
    }
}

/// The inputs as the report's header names them, with file sizes.
fn inputs_of(input: &Input) -> Vec<siphon::running::InputInfo> {
    match input {
        Input::Files(paths) | Input::NetflowFiles(paths) => paths
            .iter()
            .map(|p| siphon::running::InputInfo {
                name: p.display().to_string(),
                size: std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()),
            })
            .collect(),
        Input::Live(i) => vec![siphon::running::InputInfo { name: i.clone(), size: None }],
        Input::NetflowListen(a) => vec![siphon::running::InputInfo { name: format!("udp {a}"), size: None }],
    }
}

/// Signals and periodic stats, on a small tokio runtime off the packet path.
struct Edges {
    /// Wakes the edge thread to end at once (a flag polled on the timer would hold every
    /// run's exit up to one tick).
    done: Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Edges {
    fn drop(&mut self) {
        // A stored permit: the edge thread sees it even if it is not waiting yet.
        self.done.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spawn_edges(
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    counters: Arc<LiveCounters>,
    breaker: Option<pcap::BreakLoop>,
    capture_thread: libc::pthread_t,
    interval: u64,
) -> Edges {
    let done = Arc::new(tokio::sync::Notify::new());
    let d = done.clone();
    let thread = std::thread::Builder::new()
        .name("siphon-edges".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                // No handlers: the signals act as by default again.
                set_stop_signals(libc::SIG_UNBLOCK);
                return;
            };
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let handlers =
                    (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()));
                // Handlers in place (or not to be had): a signal held since start-up is taken now.
                set_stop_signals(libc::SIG_UNBLOCK);
                let (Ok(mut int), Ok(mut term), Ok(mut hup)) = handlers else {
                    return;
                };
                let mut poll = tokio::time::interval(std::time::Duration::from_millis(100));
                let started = std::time::Instant::now();
                let mut last_stats = std::time::Instant::now();
                loop {
                    tokio::select! {
                        () = d.notified() => break,
                        _ = int.recv() => { stop.store(true, Ordering::Relaxed); if let Some(b) = &breaker { b.breakloop(); } }
                        _ = term.recv() => { stop.store(true, Ordering::Relaxed); if let Some(b) = &breaker { b.breakloop(); } }
                        // Log rotation: the writer reopens -o between two alerts.
                        _ = hup.recv() => reopen.store(true, Ordering::Relaxed),
                        _ = poll.tick() => {
                            if stop.load(Ordering::Relaxed) {
                                if let Some(b) = &breaker {
                                    b.breakloop();
                                }
                                // SAFETY: the capture thread outlives this one (joined in Drop
                                // before main returns); SIGUSR1 has a no-op handler.
                                unsafe {
                                    libc::pthread_kill(capture_thread, libc::SIGUSR1);
                                }
                            }
                            if interval > 0 && last_stats.elapsed().as_secs() >= interval {
                                last_stats = std::time::Instant::now();
                                eprintln!(
                                    "siphon: [{}s] {} packets, {} bytes, {} alerts, kernel {} received {} dropped",
                                    started.elapsed().as_secs(),
                                    counters.packets.load(Ordering::Relaxed),
                                    counters.bytes.load(Ordering::Relaxed),
                                    counters.alerts.load(Ordering::Relaxed),
                                    counters.kernel_received.load(Ordering::Relaxed),
                                    counters.kernel_dropped.load(Ordering::Relaxed),
                                );
                            }
                        }
                    }
                }
            });
        })
        .ok();
    Edges { done, thread }
}

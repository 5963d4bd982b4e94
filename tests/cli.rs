//! The command line's contract: formats, stdin, several files, filters, bad input, errors a
//! person can act on, exit codes, and a closed output pipe.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn key_fields(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {}",
                a["timestamp"], a["src_ip"], a["alert"]["signature_id"], a["siphon"]["evidence"]["queries"]
            )
        })
        .collect()
}

#[test]
fn pcap_pcapng_and_nanosecond_pcap_give_the_same_alerts() {
    let base = key_fields(&run("dns_dig_loop.pcap", &["-q"]));
    assert!(!base.is_empty());
    assert_eq!(key_fields(&run("fmt_dig_loop.pcapng", &["-q"])), base);
    assert_eq!(key_fields(&run("fmt_dig_loop_ns.pcap", &["-q"])), base);
}

#[test]
fn reads_stdin_with_dash() {
    let mut child =
        siphon().args(["-q", "-r", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    let bytes = std::fs::read(pcap("dns_dig_loop.pcap")).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(key_fields(&parse_alerts(&out.stdout)), key_fields(&run("dns_dig_loop.pcap", &["-q"])));
}

#[test]
fn several_files_are_one_timeline() {
    let out = run_raw(&["dns_dig_loop.pcap", "dns_dns2tcp.pcap"], &["-q"]);
    assert!(out.status.success());
    let alerts = parse_alerts(&out.stdout);
    let clients: Vec<_> = alerts.iter().map(|a| a["src_ip"].as_str().unwrap().to_owned()).collect();
    assert!(clients.contains(&"10.99.0.14".to_owned()) && clients.contains(&"10.99.0.13".to_owned()));
}

#[test]
fn bpf_filter_as_trailing_words_and_flag() {
    let none = run("dns_dig_loop.pcap", &["-q", "tcp"]);
    assert!(none.is_empty(), "tcp filter leaves no DNS");
    let some = run("dns_dig_loop.pcap", &["-q", "-f", "udp port 53"]);
    assert!(!some.is_empty());
    let bad = run_raw(&["dns_dig_loop.pcap"], &["-q", "-f", "this is not bpf"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad BPF filter"));
}

#[test]
fn truncated_capture_keeps_alerts_before_the_cut_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.pcap");
    let bytes = std::fs::read(pcap("dns_dig_loop.pcap")).unwrap();
    // Cut in the middle of a record, far enough in for the tunnel to have been seen.
    std::fs::write(&p, &bytes[..bytes.len() * 3 / 4 + 7]).unwrap();
    let out = siphon().args(["-q", "-r"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated") && err.contains("cut.pcap") && err.contains("offset"), "{err}");
    assert!(!parse_alerts(&out.stdout).is_empty(), "alerts before the cut are kept");
}

#[test]
fn random_empty_and_missing_files_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.pcap");
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&random, junk).unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    for (p, expect) in [
        (random.clone(), "not a capture"),
        (empty.clone(), "empty"),
        (dir.path().join("missing.pcap"), "cannot open"),
    ] {
        let out = siphon().args(["-q", "-r"]).arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", p.display());
        assert!(err.contains(expect) && err.contains(p.file_name().unwrap().to_str().unwrap()), "{err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn bad_config_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("siphon.toml");
    std::fs::write(&p, "[dns_tunnel]\nwindow = \"5m\"\nwindnow = \"1m\"\n").unwrap();
    let out = run_raw(&["dns_dig_loop.pcap"], &["-c", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("windnow") && err.contains("line 3"), "{err}");
    let out = run_raw(&["dns_dig_loop.pcap"], &["--set", "dns_tunnel.window=soon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("soon"));
}

#[test]
fn print_config_is_the_documented_example() {
    let out = siphon().arg("--print-config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[dns_tunnel]") && text.contains("window = \"5m\""));
    // A section per detector of the table, and the printed config loads back as the defaults.
    let table: toml::Table = text.parse().unwrap();
    for s in siphon::detectors::ALL {
        assert!(table.contains_key(s.name), "--print-config has no [{}] section", s.name);
    }
    let back = siphon::Config::from_toml(&text).unwrap();
    assert_eq!(format!("{back:?}"), format!("{:?}", siphon::Config::default()));
}

#[test]
fn closed_stdout_pipe_exits_quietly() {
    let mut child = siphon()
        .args(["-q", "-r"])
        .arg(pcap("dns_dig_loop.pcap"))
        .args(["--set", "alerts.escalation_factor=1.0001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn output_file_and_stats_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("eve.json");
    let out = siphon()
        .args(["-q", "--stats-json", "-o"])
        .arg(&p)
        .arg("-r")
        .arg(pcap("dns_dig_loop.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&p).unwrap();
    let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().any(|e| e["event_type"] == "alert"));
    let stats = events.iter().find(|e| e["event_type"] == "stats").expect("stats event");
    assert_eq!(stats["stats"]["decoder"]["pkts"], 202);
    assert!(stats["siphon"]["latency_ns"]["p99"].is_u64());
    let unwritable = siphon()
        .args(["-q", "-o", "/nonexistent/dir/eve.json", "-r"])
        .arg(pcap("dns_dig_loop.pcap"))
        .output()
        .unwrap();
    assert_eq!(unwritable.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("/nonexistent/dir/eve.json"));
}

#[test]
fn summary_on_stderr_counts_packets_flows_and_latency() {
    let out = run_raw(&["dns_dig_loop.pcap"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("202 packets") && err.contains("flows:") && err.contains("p99.9="), "{err}");
}

#[test]
fn options_may_follow_the_filter_words_and_double_dash_ends_them() {
    let f = pcap("dns_dig_loop.pcap");
    let f = f.to_str().unwrap();
    let base = run("dns_dig_loop.pcap", &["-q"]);
    for args in [
        vec!["-r", f, "not port 22", "-q"],
        vec!["-r", f, "not", "port", "22", "-q"],
        vec!["-q", "-r", f, "--", "not", "port", "22"],
    ] {
        let out = siphon().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.stderr.is_empty(),
            "-q after the filter is still -q: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(key_fields(&parse_alerts(&out.stdout)), key_fields(&base), "{args:?}");
    }
}

#[test]
fn a_trailing_file_name_is_refused_with_a_hint_to_use_r() {
    let (a, b) = (pcap("dns_dig_loop.pcap"), pcap("dns_dns2tcp.pcap"));
    let out = siphon().arg("-r").arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dns_dns2tcp.pcap") && err.contains("-r"), "{err}");
}

#[test]
fn a_filter_given_both_by_f_and_by_words_is_refused() {
    let out = run_raw(&["dns_dig_loop.pcap"], &["-f", "udp", "port", "53"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("both -f and filter words"));
}

#[test]
fn argument_parser_errors_exit_1_and_help_exits_0() {
    for bad in [&["--bogus"][..], &["-r"], &["--workers", "many", "-r", "x"], &["--completions", "tcsh"]] {
        let out = siphon().args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stderr.is_empty());
    }
    for ok in ["--help", "--version"] {
        let out = siphon().arg(ok).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{ok}");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn output_naming_an_input_capture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("x.pcap");
    std::fs::copy(pcap("dns_dig_loop.pcap"), &cap).unwrap();
    let link = dir.path().join("same-inode.json");
    std::fs::hard_link(&cap, &link).unwrap();
    let size = std::fs::metadata(&cap).unwrap().len();
    for out_path in [cap.clone(), dir.path().join(".").join("x.pcap"), link] {
        let out = siphon().arg("-r").arg(&cap).arg("-o").arg(&out_path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", out_path.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
        assert_eq!(std::fs::metadata(&cap).unwrap().len(), size, "the capture is untouched");
    }
}

#[test]
fn print_config_shows_the_effective_config_after_c_and_set() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("siphon.toml");
    std::fs::write(&p, "[flow]\nmax_flows = 1000\n").unwrap();
    let out = siphon()
        .args([
            "--print-config",
            "-c",
            p.to_str().unwrap(),
            "--set",
            "scan.window=1m",
            "--home-net",
            "192.0.2.0/24",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let t: toml::Table = text.parse().expect("the effective config is TOML");
    assert_eq!(t["flow"]["max_flows"].as_integer(), Some(1000), "from -c");
    assert_eq!(t["flow"]["idle_timeout"].as_str(), Some("2m"), "defaults fill the rest");
    assert_eq!(t["scan"]["window"].as_str(), Some("1m"), "from --set");
    assert_eq!(t["general"]["home_net"].as_str(), Some("192.0.2.0/24"), "from --home-net");
    // It is a config siphon reads back to the same effective config.
    let again = dir.path().join("effective.toml");
    std::fs::write(&again, &text).unwrap();
    let out2 = siphon().args(["--print-config", "-c", again.to_str().unwrap()]).output().unwrap();
    assert_eq!(String::from_utf8(out2.stdout).unwrap(), text);
    // A bad value is an error here too.
    let bad = siphon().args(["--print-config", "--set", "flow.max_flows=0"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn config_values_are_range_checked_naming_key_value_and_origin() {
    let cases: [(&str, &str); 5] = [
        ("dns_tunnel.score_threshold=-3", "dns_tunnel.score_threshold = -3"),
        ("general.max_tunnel_depth=99", "general.max_tunnel_depth = 99: must be between 1 and 16"),
        ("icmp_tunnel.allow_hosts=10.99.0.1OO", "icmp_tunnel.allow_hosts = \"10.99.0.1OO\""),
        ("proxyware.allow_proxies=192.0.2.1:3128,192.0.2.x", "proxyware.allow_proxies = \"192.0.2.x\""),
        ("capture.flush_interval=0ms", "capture.flush_interval = 0s: must be between 1ms and 10s"),
    ];
    for (set, want) in cases {
        let out = run_raw(&["dns_dig_loop.pcap"], &["--set", set]);
        assert_eq!(out.status.code(), Some(1), "{set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("--set {set}")) && err.contains(want), "{set}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("siphon.toml");
    std::fs::write(&p, "[dns_tunnel]\nwindow = \"5m\"\nresolvers = [\"10.0.0.53\", \"10.0.0.5e\"]\n")
        .unwrap();
    let out = run_raw(&["dns_dig_loop.pcap"], &["-c", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("siphon.toml line 3: dns_tunnel.resolvers = \"10.0.0.5e\": not an IP address"),
        "{err}"
    );
}

#[test]
fn a_syslog_target_without_a_port_or_that_does_not_resolve_exits_1() {
    for (target, want) in [
        ("tcp://127.0.0.1", "a port is required"),
        ("udp://[::1]", "a port is required"),
        ("tcp://no-such-collector.invalid:514", "does not resolve"),
        ("http://127.0.0.1:514", "expected udp://HOST:PORT"),
    ] {
        let out = run_raw(&["dns_dig_loop.pcap"], &["--syslog", target]);
        assert_eq!(out.status.code(), Some(1), "{target}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{target}: {err}");
    }
}

#[test]
fn man_page_and_shell_completions_come_from_the_clap_definition() {
    let man = siphon().arg("--man").output().unwrap();
    assert_eq!(man.status.code(), Some(0));
    let man = String::from_utf8(man.stdout).unwrap();
    assert!(man.contains(".TH siphon 1") && man.contains("\\-\\-stats\\-json"), "{man}");
    assert!(!man.contains("completions"), "hidden flags stay out of the man page");
    for (shell, want) in [("bash", "_siphon()"), ("zsh", "#compdef siphon"), ("fish", "complete -c siphon")] {
        let out = siphon().args(["--completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(want) && text.contains("stats-json"), "{shell}: {text}");
    }
}

//! Writes seed corpora for the fuzz targets from the captures in `pcaps/`:
//!
//! ```sh
//! cargo run --release --example fuzz_seeds      # → fuzz/corpus/<target>/seed-N
//! ```

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = siphon::harness::seeds(&root.join("pcaps"), 64);
    let sets: [(&str, &Vec<Vec<u8>>); 9] = [
        ("decode_frame", &s.decode_frame),
        ("tunnels", &s.tunnels),
        ("dns_message", &s.dns_message),
        ("tls_client_hello", &s.tls_client_hello),
        ("http_request", &s.http_request),
        ("packet_sequence", &s.packet_sequence),
        ("capture_file", &s.capture_file),
        ("fragment_sequence", &s.fragment_sequence),
        ("netflow_exports", &s.netflow_exports),
    ];
    for (name, set) in sets {
        let dir = root.join("fuzz/corpus").join(name);
        std::fs::create_dir_all(&dir)?;
        for (i, seed) in set.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed)?;
        }
        println!("{name}: {} seeds", set.len());
    }
    Ok(())
}

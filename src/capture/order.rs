//! Several capture files as one timeline: `-r DIR` expands to the captures in the directory,
//! and files are read in the order of their first packet's time, whatever order they were given
//! in. What cannot be put right is said: files whose times overlap (a packet of a later file is
//! earlier than one already read) give a warning, as windows and timeouts run on packet time.

use super::PacketSource;
use super::file::FileSource;
use crate::error::CaptureError;
use crate::time::Timestamp;
use std::path::{Path, PathBuf};

/// Does the file start with a pcap or pcapng magic number?
fn looks_like_capture(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok();
    ok && matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x0a, 0x0d, 0x0d, 0x0a]
    )
}

/// Replaces each directory by the capture files in it (by magic number, not by name; sorted by
/// name here, by time later). A directory with none is an error naming it.
pub(crate) fn expand_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let entries = std::fs::read_dir(p)
            .map_err(|e| CaptureError::Open { path: p.clone(), reason: e.to_string() })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|f| f.is_file() && looks_like_capture(f))
            .collect();
        if found.is_empty() {
            return Err(CaptureError::Open {
                path: p.clone(),
                reason: "no pcap or pcapng file in this directory".into(),
            });
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// The time of a file's first packet (`None`: stdin, unreadable or empty; such files keep
/// their place at the front, where they fail fast).
pub(crate) fn first_timestamp(path: &Path) -> Option<Timestamp> {
    if path.as_os_str() == "-" {
        return None;
    }
    let mut src = FileSource::in_given_order(vec![path.to_path_buf()], None).ok()?;
    let mut first = None;
    let _ = src.read(1, &mut |p| first = Some(p.ts));
    first
}

/// `paths` sorted by first packet time (stable), their first times, and a warning naming the
/// order used when it differs from the one given.
pub(crate) fn by_time(paths: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<Option<Timestamp>>, Option<String>) {
    if paths.len() < 2 || paths.iter().any(|p| p.as_os_str() == "-") {
        let n = paths.len();
        return (paths, vec![None; n], None);
    }
    let mut v: Vec<(PathBuf, Option<Timestamp>)> =
        paths.into_iter().map(|p| (p.clone(), first_timestamp(&p))).collect();
    let given: Vec<PathBuf> = v.iter().map(|x| x.0.clone()).collect();
    v.sort_by_key(|x| x.1);
    let (paths, firsts): (Vec<PathBuf>, Vec<Option<Timestamp>>) = v.into_iter().unzip();
    let warning = (paths != given).then(|| {
        format!(
            "capture files were not given in time order; read by first packet time: {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )
    });
    (paths, firsts, warning)
}

/// The warning for a file whose first packet is earlier than the latest packet already read.
pub(crate) fn overlap_warning(path: &Path, first: Timestamp, latest: Timestamp) -> String {
    format!(
        "{} starts at {first}, before the files read earlier ended ({latest}): their times overlap, so windows and timeouts see the merged timeline out of order",
        path.display()
    )
}

//! Capacity: the disk fills by bytes, as turmoil's `capacity` does. The
//! bytes in use are the live data of every file reachable from the root;
//! directories, symlinks and names take none. A write that does not fit
//! lands the prefix that does (after its truncation, for a `write`) and
//! fails with `ENOSPC`, as `write_all` over a short `write(2)` does; an
//! exclusive create is all or nothing (the `Fs` contract) and leaves no
//! file. Space comes back as soon as a file is removed or truncated.
//! Counting walks the tree, so a scenario with a capacity keeps its tree
//! small.

use steadfast_core::FsOp;

use super::Tree;

/// If `op` does not fit on a disk of `limit` bytes: how many of its bytes
/// still land (0 for an exclusive create). An operation the tree refuses
/// on its own (a missing parent, an existing target of an exclusive
/// create, a directory) is never a full disk: it fails as it would anyway.
pub(super) fn refuses(tree: &Tree, op: &FsOp, limit: u64) -> Option<usize> {
    if let FsOp::WriteAt { handle, at, data } = op {
        // A bad handle fails as EBADF, not ENOSPC.
        let (start, len) = tree.write_span(handle, *at).ok()?;
        let end = start.saturating_add(data.len() as u64);
        if end > super::FILE_LEN_MAX {
            // Past the largest file: EFBIG, before any block is allocated.
            return None;
        }
        let growth = end.saturating_sub(len);
        let free = limit.saturating_sub(tree.live_bytes());
        if growth <= free {
            return None;
        }
        // What lands is the prefix that ends within the free space.
        return Some((len + free).saturating_sub(start).min(data.len() as u64) as usize);
    }
    let (data, replaced) = match (op, tree.put_len(op)?.ok()?) {
        (FsOp::Write { data, .. }, len) => (data, len),
        (FsOp::Append { data, .. } | FsOp::CreateNew { data, .. }, _) => (data, 0),
        _ => return None,
    };
    let used = tree.live_bytes();
    debug_assert!(replaced <= used, "a file holds more bytes than the disk");
    let free = limit.saturating_sub(used - replaced);
    if data.len() as u64 <= free {
        return None;
    }
    Some(if matches!(op, FsOp::CreateNew { .. }) { 0 } else { free as usize })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::*;

    fn write(path: &str, n: usize) -> FsOp {
        FsOp::Write { path: PathBuf::from(path), data: vec![b'x'; n] }
    }

    #[test]
    fn a_write_fits_when_the_bytes_it_replaces_make_room() {
        let mut t = Tree::new(SystemTime::UNIX_EPOCH);
        t.apply(&write("/a", 60), SystemTime::UNIX_EPOCH).expect("write");
        assert_eq!(refuses(&t, &write("/a", 100), 100), None, "replacing 60 of 100 bytes");
        assert_eq!(refuses(&t, &write("/b", 50), 100), Some(40), "40 bytes free");
        let append = FsOp::Append { path: PathBuf::from("/a"), data: vec![0; 41] };
        assert_eq!(refuses(&t, &append, 100), Some(40));
        let create = FsOp::CreateNew { path: PathBuf::from("/c"), data: vec![0; 41] };
        assert_eq!(refuses(&t, &create, 100), Some(0), "all or nothing");
        assert_eq!(refuses(&t, &FsOp::RemoveFile(PathBuf::from("/a")), 0), None, "removing never needs space");
        let exists = FsOp::CreateNew { path: PathBuf::from("/a"), data: vec![0; 41] };
        assert_eq!(refuses(&t, &exists, 100), None, "an existing target fails as EEXIST, not ENOSPC");
        assert_eq!(refuses(&t, &write("/missing/b", 50), 100), None, "a missing parent fails as ENOENT");
    }
}

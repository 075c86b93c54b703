//! Silent faults (TigerBeetle's storage faults at file level): the call
//! reports success and did something else. A corrupt read returns the
//! file's bytes with one bit flipped (the file is intact); a lost write
//! changes no existing file (a new one appears empty: its directory entry
//! was written, its data was not); a misdirected write lands in another
//! regular file of the same directory, with the operation's own semantics,
//! and the intended file is left as a lost write leaves it. Through a
//! handle, a read is corrupted the same way and a write is lost (a write
//! through a descriptor has no path to go astray by, so a misdirected one
//! is lost too).

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use steadfast_core::{FileKind, FsOp, FsOutput};

use super::Tree;
use crate::faults::SilentFault;
use crate::log::{Ending, Struck};
use crate::plan::Silent;

/// Apply `op` under silent fault `s` on a disk of `capacity` bytes; `None`
/// if the fault cannot strike it (an empty or failing read, a write that
/// fails anyway), and the operation then runs as usual.
pub(super) fn apply(
    tree: &mut Tree,
    op: &FsOp,
    s: &Silent,
    capacity: Option<u64>,
    wall: SystemTime,
) -> Option<(io::Result<FsOutput>, Ending)> {
    let ending = |struck: Struck| Ending::Silent { fault: s.fault, rule: s.rule, struck };
    match (s.fault, op) {
        (SilentFault::CorruptRead, FsOp::Read(_) | FsOp::ReadAt { .. }) => {
            let Ok(FsOutput::Bytes(mut bytes)) = tree.apply(op, wall) else { return None };
            if bytes.is_empty() {
                return None;
            }
            let bit = s.pick % (bytes.len() as u64 * 8);
            bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
            Some((Ok(FsOutput::Bytes(bytes)), ending(Struck::Bit { byte: bit / 8, bit: (bit % 8) as u8 })))
        }
        (SilentFault::LostWrite, FsOp::Write { path, .. } | FsOp::Append { path, .. }) => {
            lose(tree, op, path, wall)?;
            Some((Ok(FsOutput::Unit), ending(Struck::Lost)))
        }
        (SilentFault::LostWrite | SilentFault::MisdirectedWrite, FsOp::WriteAt { handle, at, data }) => {
            let (start, _) = tree.write_span(handle, *at).ok()?;
            Some((Ok(FsOutput::Offset(start.saturating_add(data.len() as u64))), ending(Struck::Lost)))
        }
        (SilentFault::MisdirectedWrite, FsOp::Write { path, .. } | FsOp::Append { path, .. }) => {
            // The intended file first: if the write would fail anyway,
            // nothing else may have changed.
            lose(tree, op, path, wall)?;
            let elsewhere = sibling(tree, path, s.pick).map(|p| super::rewrite(op, Some(p), <[u8]>::to_vec));
            // Data that would not fit where it went astray is lost there.
            let fits = |o: &FsOp| capacity.is_none_or(|limit| super::capacity::refuses(tree, o, limit).is_none());
            match elsewhere.filter(|o| fits(o)) {
                Some(astray) if tree.apply(&astray, wall).is_ok() => {
                    Some((Ok(FsOutput::Unit), ending(Struck::LandedIn(astray.path().to_path_buf()))))
                }
                _ => Some((Ok(FsOutput::Unit), ending(Struck::Lost))),
            }
        }
        _ => None,
    }
}

/// The intended file after its data went astray: an existing file is left
/// as it was; a missing one is created empty. `None` if the operation
/// would fail anyway (its error is then the honest result).
fn lose(tree: &mut Tree, op: &FsOp, path: &Path, wall: SystemTime) -> Option<()> {
    if tree.file_len(path).is_some() {
        return Some(());
    }
    tree.apply(&super::rewrite(op, None, |_| Vec::new()), wall).ok().map(|_| ())
}

/// Another regular file in `path`'s directory, chosen by `pick`.
fn sibling(tree: &Tree, path: &Path, pick: u64) -> Option<PathBuf> {
    let dir = path.parent()?;
    let own = path.file_name()?;
    let others: Vec<_> =
        tree.list_dir(dir).ok()?.into_iter().filter(|e| e.kind == FileKind::File && e.name != own).collect();
    let chosen = others.get((pick % others.len().max(1) as u64) as usize)?;
    Some(dir.join(&chosen.name))
}

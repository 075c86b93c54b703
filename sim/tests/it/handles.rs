//! The fault model through open files (the handle operations behind the
//! `tokio_fs` and `std_fs` facades): data written through a handle is
//! volatile until the handle is synced and a new file's entry until its
//! directory is; error rules, a full disk and silent faults strike handle
//! writes as they strike path writes; a write in flight when its file is
//! closed still lands; a power loss closes every handle.

use std::io::ErrorKind;
use std::time::Duration;

use steadfast_core::{FsExt, FsOp, OpenMode};
use steadfast_sim::schedule::{ErrorRule, Event};
use steadfast_sim::{FaultKind, Schedule, is_injected};

use super::world::{in_world, silently, slow};

const RW_CREATE: OpenMode = {
    let mut m = OpenMode::CREATE;
    m.read = true;
    m.truncate = false;
    m
};

#[test]
fn handle_data_is_volatile_until_synced_and_a_new_entry_until_its_directory_is() {
    in_world(Schedule::calm(1, 1000), |w| async move {
        let fs = w.env().fs;
        w.setup([FsOp::Write { path: "/d/old".into(), data: b"old".to_vec() }]);
        let synced = fs.open("/d/synced", RW_CREATE).await.expect("open");
        fs.write_at(&synced, 0, b"durable".to_vec()).await.expect("write");
        fs.sync_handle(&synced, true).await.expect("fdatasync");
        let entry_only = fs.open("/d/entry-only", RW_CREATE).await.expect("open");
        fs.write_at(&entry_only, 0, b"data".to_vec()).await.expect("write");
        fs.sync_handle(&entry_only, false).await.expect("fsync");
        fs.sync_dir("/d").await.expect("sync dir: both entries durable now");
        let unsynced = fs.open("/d/unsynced", RW_CREATE).await.expect("open after the directory sync");
        fs.write_at(&unsynced, 0, b"lost".to_vec()).await.expect("write");
        fs.sync_handle(&unsynced, false).await.expect("data synced, entry not");
        let old = fs.open("/d/old", RW_CREATE).await.expect("open");
        fs.write_at(&old, 0, b"new".to_vec()).await.expect("overwrite, never synced");
        assert_eq!(w.open_handles(), 4);
        w.fire(&Event::PowerLoss { torn: false, restart_after_ms: None });
        assert_eq!(w.open_handles(), 0, "every process died: no handle stays open");
        assert_eq!(w.peek_file("/d/synced".as_ref()).expect("survives"), b"durable");
        assert_eq!(w.peek_file("/d/entry-only".as_ref()).expect("survives"), b"data");
        let gone = w.peek_file("/d/unsynced".as_ref()).expect_err("its directory entry was never synced");
        assert_eq!(gone.kind(), ErrorKind::NotFound);
        assert_eq!(w.peek_file("/d/old".as_ref()).expect("old"), b"old", "an unsynced overwrite is lost");
        let e = fs.read_at(&synced, 0, 1).await.expect_err("a handle from before the power loss");
        assert_eq!(e.raw_os_error(), Some(9));
    });
}

#[test]
fn error_rules_and_a_full_disk_strike_handle_writes() {
    let mut s = Schedule::calm(3, 1000);
    s.capacity_bytes = Some(100);
    for (op, nth) in [("write", 2), ("sync_file", 1)] {
        let rule = ErrorRule {
            ops: vec![op.into()],
            path_prefix: None,
            error: FaultKind::Eio,
            nth: Some(nth),
            probability: None,
            while_renaming: false,
        };
        s.errors.push(rule);
    }
    in_world(s, |w| async move {
        let fs = w.env().fs;
        let h = fs.open("/d/f", RW_CREATE).await.expect("open");
        fs.write_at(&h, 0, vec![b'a'; 10]).await.expect("first write passes");
        let e = fs.write_at(&h, 10, vec![b'b'; 10]).await.expect_err("the second write matches");
        assert!(is_injected(&e) && e.kind() == ErrorKind::Other, "EIO: {e}");
        let e = fs.sync_handle(&h, false).await.expect_err("a handle's fsync is a sync_file");
        assert!(is_injected(&e));
        let before = w.peek_file("/d/f".as_ref()).expect("f").len();
        assert!((10..=20).contains(&before), "a failed write may land a prefix: {before}");
        let e = fs.write_at(&h, 0, vec![b'c'; 150]).await.expect_err("150 bytes on a 100-byte disk");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert_eq!(w.peek_file("/d/f".as_ref()).expect("f"), vec![b'c'; 100], "what fits lands");
        fs.set_len(&h, 10).await.expect("cut");
        fs.write_at(&h, 10, vec![b'd'; 50]).await.expect("space came back");
    });
}

#[test]
fn silent_faults_strike_handle_reads_and_writes() {
    in_world(silently(4, steadfast_sim::SilentFault::LostWrite), |w| async move {
        w.setup([FsOp::Write { path: "/d/f".into(), data: b"old".to_vec() }]);
        let fs = w.env().fs;
        let h = fs.open("/d/f", RW_CREATE).await.expect("open");
        let end = fs.write_at(&h, 0, b"new!".to_vec()).await.expect("reported as written");
        assert_eq!(end, 4, "it reports the offset a real write would");
        assert_eq!(w.peek_file("/d/f".as_ref()).expect("f"), b"old");
    });
    in_world(silently(5, steadfast_sim::SilentFault::CorruptRead), |w| async move {
        w.setup([FsOp::Write { path: "/d/f".into(), data: vec![0u8; 64] }]);
        let fs = w.env().fs;
        let h = fs.open("/d/f", OpenMode::READ).await.expect("open");
        let got = fs.read_at(&h, 0, 64).await.expect("the read reports success");
        let flipped: u32 = got.iter().map(|b| b.count_ones()).sum();
        assert_eq!((got.len(), flipped), (64, 1), "one bit flipped");
    });
}

#[test]
fn a_write_in_flight_when_its_file_is_dropped_still_lands() {
    for seed in 0..10 {
        in_world(slow(Schedule::calm(seed, 10_000), 100, 1_000), |w| async move {
            use tokio::io::AsyncWriteExt as _;
            let _facade = steadfast_core::ambient::install(w.env().fs);
            let mut f = steadfast_core::tokio_fs::File::create("/d/late").await.expect("create");
            f.write_all(b"late").await.expect("accepted at once, as tokio's File does");
            drop(f);
            madsim::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(w.peek_file("/d/late".as_ref()).expect("late"), b"late", "seed {seed}");
            assert_eq!(w.open_handles(), 0, "the handle closed once its write landed");
        });
    }
}

#[test]
fn a_write_or_set_len_past_the_largest_simulated_file_is_efbig() {
    let mut s = Schedule::calm(6, 1000);
    s.capacity_bytes = Some(1 << 20);
    in_world(s, |w| async move {
        let fs = w.env().fs;
        let h = fs.open("/d/f", RW_CREATE).await.expect("open");
        let e = fs.write_at(&h, 1 << 40, b"far".to_vec()).await.expect_err("a write at 1 TiB");
        assert_eq!(e.raw_os_error(), Some(27), "EFBIG, not an allocation of a terabyte: {e}");
        let e = fs.write_at(&h, u64::MAX - 1, b"wrap".to_vec()).await.expect_err("an offset that overflows");
        assert_eq!(e.raw_os_error(), Some(27));
        let e = fs.set_len(&h, u64::MAX).await.expect_err("set_len to 16 EiB");
        assert_eq!(e.raw_os_error(), Some(27));
        let got = fs.read_at(&h, u64::MAX, u64::MAX).await.expect("a read far past the end");
        assert!(got.is_empty());
        fs.write_at(&h, 100, b"near".to_vec()).await.expect("a near write still works");
    });
}

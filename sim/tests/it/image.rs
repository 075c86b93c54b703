//! Issue 19: worlds that start from a prebuilt image. A fork of an image
//! is, to everything that can look, the tree `World::setup` would have
//! built from the same operations at the same instant; what one fork
//! changes, no other fork and not the image sees; a power loss takes a
//! fork back to the image's durable state plus what the fork synced.

use std::sync::OnceLock;

use steadfast_core::{FsExt, FsOp, FsOutput};
use steadfast_sim::disk::Tree;
use steadfast_sim::schedule::Event;
use steadfast_sim::{Schedule, TreeImage, World};

fn ops() -> Vec<FsOp> {
    let mut ops = vec![FsOp::CreateDirAll("/s/deep/er".into()), FsOp::CreateDirAll("/w".into())];
    ops.extend((0..50).map(|i| FsOp::Write { path: format!("/s/f{i}").into(), data: vec![b'a'; i] }));
    ops.push(FsOp::Symlink { target: "/s/f3".into(), link: "/w/link".into() });
    ops.push(FsOp::Write { path: "/s/deep/er/x".into(), data: b"x".to_vec() });
    // A write over an existing file, after others: the last one wins.
    ops.push(FsOp::Write { path: "/s/f1".into(), data: b"again".to_vec() });
    ops
}

static IMAGE: OnceLock<TreeImage> = OnceLock::new();

/// Run `body` in a world of `seed` whose tree starts as `ops()`, built by
/// `setup` or forked from the image; what it saw.
fn world_of(seed: u64, forked: bool, body: impl AsyncFnOnce(&World) -> String) -> String {
    let rt = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.block_on(async move {
        let world = World::new(Schedule::calm(seed, 1000), &[], usize::MAX);
        world.start();
        if forked {
            world.setup_image(IMAGE.get_or_init(|| Tree::image(ops())));
        } else {
            world.setup(ops());
        }
        body(&world).await
    })
}

/// Every entry with its kind, length, content hash and times.
async fn everything(world: &World) -> String {
    let fs = world.env().fs;
    let mut out = String::new();
    for l in world.listing() {
        let m = fs.symlink_metadata(&l.path).await.expect("metadata");
        out += &format!("{} {:?} {} {:x} {:?} {:?}\n", l.path.display(), l.kind, l.len, l.hash, m.modified, m.changed);
    }
    out
}

async fn workload(world: &World) -> String {
    let fs = world.env().fs;
    let mut seen = everything(world).await;
    fs.write("/s/f2", b"changed".to_vec()).await.expect("write");
    fs.append("/s/f4", b"more".to_vec()).await.expect("append");
    fs.sync_file("/s/f4").await.expect("sync");
    fs.rename("/s/f5", "/w/f5").await.expect("rename");
    fs.remove_file("/s/f6").await.expect("remove");
    fs.write("/s/deep/new", b"new".to_vec()).await.expect("write");
    fs.sync_dir("/s/deep").await.expect("sync dir");
    fs.remove_dir_all("/s/deep/er").await.expect("remove dir all");
    madsim::time::sleep(std::time::Duration::from_secs(3)).await;
    fs.write("/w/link", b"through the link".to_vec()).await.expect("write");
    seen += "-- after the workload\n";
    seen += &everything(world).await;
    world.fire(&Event::PowerLoss { torn: false, restart_after_ms: None });
    seen += "-- after a power loss\n";
    seen += &everything(world).await;
    seen
}

#[test]
fn a_fork_of_an_image_is_the_tree_setup_would_build() {
    for seed in [1, 2, 3] {
        let built = world_of(seed, false, async |w| workload(w).await);
        let forked = world_of(seed, true, async |w| workload(w).await);
        assert_eq!(built, forked, "seed {seed}");
        assert!(built.contains("/s/deep/new") && built.contains("-- after a power loss"), "{built}");
    }
    // The instants are the fork's: another seed starts at another wall time.
    let one = world_of(1, true, async |w| everything(w).await);
    let two = world_of(2, true, async |w| everything(w).await);
    assert_ne!(one, two);
}

#[test]
fn what_a_fork_changes_no_other_fork_sees() {
    let before = world_of(7, true, async |w| everything(w).await);
    world_of(7, true, async |w| {
        let fs = w.env().fs;
        fs.write("/s/f1", b"mine".to_vec()).await.expect("write");
        fs.sync_file("/s/f1").await.expect("sync");
        fs.remove_dir_all("/s").await.expect("remove");
        fs.sync_dir("/").await.expect("sync");
        assert!(w.listing().iter().all(|l| !l.path.starts_with("/s")));
        String::new()
    });
    assert_eq!(world_of(7, true, async |w| everything(w).await), before);
    let f1 = world_of(7, true, async |w| {
        let out = w.peek(FsOp::Read("/s/f1".into())).expect("read");
        let FsOutput::Bytes(b) = out else { panic!("{out:?}") };
        String::from_utf8(b).expect("utf-8")
    });
    assert_eq!(f1, "again");
}

#[test]
#[should_panic(expected = "setup_image: the tree was changed already")]
fn an_image_is_where_a_world_starts() {
    world_of(1, false, async |w| {
        w.setup_image(IMAGE.get_or_init(|| Tree::image(ops())));
        String::new()
    });
}

//! The world changed from outside every process: a scenario's initial
//! tree, kernel pseudo-files, and hostile actors (a planted symlink or
//! FIFO, `touch -d`, a removed directory). No latency, no faults.

use std::io;
use std::path::Path;
use std::time::SystemTime;

use steadfast_core::{FsOp, FsOutput};

use super::World;
use crate::disk::Tree;
use crate::log::{HarnessAct, SimEvent};

/// The node label of an outside actor.
const HARNESS: &str = "harness";

fn err_name<T>(result: &io::Result<T>) -> Option<String> {
    result.as_ref().err().map(|e| format!("{:?}", e.kind()))
}

impl World {
    /// Build the initial tree: apply `ops` instantly, then make everything
    /// durable. Panics on an error (a scenario bug).
    pub fn setup(&self, ops: impl IntoIterator<Item = FsOp>) {
        let mut st = self.lock();
        let wall = st.wall_at(self.now_ns());
        if let Err((op, e)) = st.disk.tree.apply_all(ops, wall) {
            panic!("setup {} {}: {e}", op.name(), op.path().display());
        }
        st.disk.tree.sync_all();
    }

    /// Start from `image` (see [`Tree::image`]): the tree becomes a fork
    /// of it in O(1), as if `setup` had built it now. What every seed
    /// shares (20,000 session files) goes in one image built once per
    /// process, kept in a `static`; what the seed draws goes in a
    /// [`World::setup`] after this. Panics unless the tree is still new:
    /// call it first.
    ///
    /// ```
    /// # use std::sync::OnceLock;
    /// # use steadfast_core::FsOp;
    /// # use steadfast_sim::{TreeImage, World, disk::Tree};
    /// static SESSIONS: OnceLock<TreeImage> = OnceLock::new();
    ///
    /// fn setup(world: &World) {
    ///     let image = SESSIONS.get_or_init(|| {
    ///         let files = (0..20_000).map(|i| FsOp::Write { path: format!("/s/{i}.json").into(), data: b"{}".to_vec() });
    ///         Tree::image(std::iter::once(FsOp::CreateDirAll("/s".into())).chain(files))
    ///     });
    ///     world.setup_image(image);
    ///     world.setup([FsOp::CreateDirAll("/work".into())]);
    /// }
    /// ```
    pub fn setup_image(&self, image: &crate::TreeImage) {
        let mut st = self.lock();
        assert!(st.disk.tree.is_new(), "setup_image: the tree was changed already (call it first)");
        let wall = st.wall_at(self.now_ns());
        st.disk.tree = Tree::from_image(image, wall);
    }

    /// Write a file from outside every process, instantly and durably (a
    /// kernel pseudo-file such as a cgroup's `memory.current`, or a file an
    /// operator drops in): only that file and its directory are synced,
    /// not the whole tree. Panics on an error (a scenario bug).
    pub fn harness_write(&self, path: &Path, data: Vec<u8>) {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        let write = FsOp::Write { path: path.to_path_buf(), data };
        if let Err(e) = st.disk.tree.apply(&write, wall) {
            panic!("harness write {}: {e}", path.display());
        }
        for p in [Some(path), path.parent()].into_iter().flatten() {
            let sync = FsOp::SyncFile(p.to_path_buf());
            if let Err(e) = st.disk.tree.apply(&sync, wall) {
                panic!("harness sync {}: {e}", p.display());
            }
        }
    }

    /// Change the tree from outside every process, instantly (an operator
    /// or a hostile user: a planted symlink, a removed directory): no
    /// latency, no faults, nothing made durable. The result is returned,
    /// and recorded in the history.
    pub fn harness_apply(&self, op: FsOp) -> io::Result<FsOutput> {
        self.harness_act(op.path(), |tree, wall| (tree.apply(&op, wall), HarnessAct::Op { op: op.name() }))
    }

    /// Set a file's mtime from outside every process (`touch -d`: a
    /// hostile user dating a file into the future, or into the past); its
    /// ctime becomes the wall clock's now. Recorded in the history.
    pub fn harness_touch(&self, path: &Path, mtime: SystemTime) -> io::Result<()> {
        self.harness_act(path, |tree, wall| {
            let offset_ms = match mtime.duration_since(wall) {
                Ok(ahead) => ahead.as_millis() as i128,
                Err(behind) => -(behind.duration().as_millis() as i128),
            };
            (tree.set_mtime(path, mtime, wall), HarnessAct::Touch { offset_ms })
        })
    }

    /// Plant a FIFO (a special file) at `path` from outside every process.
    pub fn harness_special(&self, path: &Path) -> io::Result<()> {
        self.harness_act(path, |tree, wall| (tree.plant_special(path, wall), HarnessAct::Fifo))
    }

    /// One outside act on the tree as it is now (due effects landed
    /// first), recorded with its result.
    fn harness_act<T>(
        &self,
        path: &Path,
        act: impl FnOnce(&mut Tree, SystemTime) -> (io::Result<T>, HarnessAct),
    ) -> io::Result<T> {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        let (result, act) = act(&mut st.disk.tree, wall);
        let event = SimEvent::Harness { act, path: path.to_path_buf(), err: err_name(&result) };
        st.record(now, HARNESS, event);
        result
    }
}

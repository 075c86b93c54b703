//! The file-system conformance suite: one table of cases, generic over
//! [`Fs`], that every adapter runs (the real one in a temporary directory, the
//! simulated one in its world). Where an adapter and the real file system
//! disagree, the adapter is wrong.
//!
//! Each case gets a fresh, empty, existing directory `root` and may use
//! only paths under it (plus symlinks that *point* outside it, which it
//! creates itself under a sibling it is handed as `outside`).
//!
//! ```no_run
//! # async fn demo(fs: &dyn steadfast_core::Fs) {
//! use steadfast_core::conformance::CASES;
//! for case in CASES {
//!     let root = std::path::Path::new("/tmp/conf").join(case.name);
//!     let outside = std::path::Path::new("/tmp/conf-outside").join(case.name);
//!     // create both directories, then:
//!     let verdict = (case.run)(fs, &root, &outside).await;
//!     assert!(verdict.is_ok(), "{}: {:?}", case.name, verdict);
//! }
//! # }
//! ```

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::task::Poll;

use crate::fs::{BoxFuture, ELOOP, FileKind, Fs, FsExt, OpenMode};

/// A case's verdict: `Err` carries what went wrong, in words.
pub type Verdict = Result<(), String>;

/// The signature of a case: the adapter, its fresh root, and a fresh
/// directory outside the root for symlink targets.
pub type CaseFn = for<'a> fn(&'a dyn Fs, &'a Path, &'a Path) -> BoxFuture<'a, Verdict>;

/// One conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// Its name, unique in [`CASES`].
    pub name: &'static str,
    /// What it checks.
    pub run: CaseFn,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, in a fixed order.
        pub const CASES: &[Case] = &[
            $(Case { name: stringify!($name), run: |fs, root, outside| Box::pin($name(fs, root, outside)) },)*
        ];
    };
}

cases![
    write_then_read_round_trips,
    write_truncates,
    write_blocking_and_async_agree,
    write_with_missing_parent_is_not_found,
    write_to_directory_is_a_directory,
    write_under_a_file_is_not_a_directory,
    read_missing_is_not_found,
    read_directory_is_a_directory,
    append_creates_then_extends,
    concurrent_appends_keep_whole_lines,
    create_new_refuses_existing_entries,
    racing_create_new_has_one_winner,
    rename_replaces_existing_file,
    rename_dir_onto_empty_dir_replaces_it,
    rename_dir_onto_non_empty_dir_is_refused,
    rename_file_onto_dir_is_a_directory,
    rename_dir_onto_file_is_not_a_directory,
    rename_into_missing_parent_is_not_found,
    rename_missing_source_is_not_found,
    remove_file_missing_is_not_found,
    remove_file_on_directory_is_a_directory,
    remove_file_on_symlink_keeps_target,
    remove_dir_refuses_non_empty_and_files,
    remove_dir_all_never_follows_symlinks_out,
    remove_dir_all_missing_or_file,
    read_dir_lists_sorted_with_kinds,
    read_dir_of_a_changing_directory,
    read_dir_errors,
    read_dir_metadata_is_the_listing_and_each_look,
    dangling_symlink_metadata,
    metadata_follows_symlinks,
    create_dir_all_cases,
    sync_cases,
    symlink_and_read_link_cases,
    create_dir_cases,
    handle_writes_and_reads_at_offsets,
    handle_write_past_the_end_zero_fills,
    append_handle_writes_land_at_the_end,
    set_len_cuts_and_zero_extends,
    open_modes_follow_std,
    no_follow_refuses_a_final_symlink_only,
    open_refuses_a_directory_for_writing_and_syncs_it_for_reading,
    a_handle_follows_its_file_through_rename_and_unlink,
    a_handle_refuses_what_its_mode_forbids,
    a_closed_handle_is_a_bad_descriptor,
    an_open_directory_looks_at_and_removes_its_own_entries,
    blocking_handles_agree_with_async_ones,
    a_trailing_slash_names_a_directory,
];

fn check(cond: bool, what: impl FnOnce() -> String) -> Verdict {
    if cond { Ok(()) } else { Err(what()) }
}

/// `result` must be an error of `kind`.
fn expect_kind<T: std::fmt::Debug>(what: &str, result: io::Result<T>, kind: ErrorKind) -> Verdict {
    match result {
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(format!("{what}: expected {kind:?}, got error {:?} ({e})", e.kind())),
        Ok(v) => Err(format!("{what}: expected {kind:?}, got Ok({v:?})")),
    }
}

/// `result` must be `Ok`.
fn ok<T>(what: &str, result: io::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: unexpected error {:?} ({e})", e.kind()))
}

async fn content(fs: &dyn Fs, p: &Path) -> Result<Vec<u8>, String> {
    ok(&format!("read {}", p.display()), fs.read(p).await)
}

async fn expect_content(fs: &dyn Fs, p: &Path, want: &[u8]) -> Verdict {
    let got = content(fs, p).await?;
    check(got == want, || {
        format!(
            "{}: expected {:?}, found {:?}",
            p.display(),
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&got)
        )
    })
}

async fn expect_missing(fs: &dyn Fs, p: &Path) -> Verdict {
    expect_kind(&format!("symlink_metadata {}", p.display()), fs.symlink_metadata(p).await, ErrorKind::NotFound)
}

async fn kind_of(fs: &dyn Fs, p: &Path) -> Result<FileKind, String> {
    Ok(ok(&format!("symlink_metadata {}", p.display()), fs.symlink_metadata(p).await)?.kind)
}

/// Poll every future concurrently on the current task; results in order.
/// The suite needs no spawn seam: with a real adapter each operation runs on
/// its own worker thread, and a simulator interleaves them by its schedule.
pub async fn join_all<'a, T>(futures: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut slots: Vec<(Option<BoxFuture<'a, T>>, Option<T>)> = futures.into_iter().map(|f| (Some(f), None)).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, out) in slots.iter_mut() {
            if let Some(f) = fut {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *fut = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    slots.into_iter().filter_map(|(_, out)| out).collect()
}

async fn write_then_read_round_trips(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("a.txt");
    ok("write", fs.write(&p, b"hello\nworld\n".to_vec()).await)?;
    expect_content(fs, &p, b"hello\nworld\n").await?;
    let m = ok("symlink_metadata", fs.symlink_metadata(&p).await)?;
    check(m.kind == FileKind::File && m.len == 12, || format!("metadata after write: {m:?}"))?;
    ok("write empty", fs.write(root.join("empty"), Vec::new()).await)?;
    expect_content(fs, &root.join("empty"), b"").await
}

async fn write_truncates(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("t");
    ok("write long", fs.write(&p, b"a long first version".to_vec()).await)?;
    ok("write short", fs.write(&p, b"short".to_vec()).await)?;
    expect_content(fs, &p, b"short").await
}

async fn write_blocking_and_async_agree(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("b");
    ok("write_blocking", fs.write_blocking(&p, b"sync".to_vec()))?;
    expect_content(fs, &p, b"sync").await?;
    ok("append", fs.append(&p, b"+async".to_vec()).await)?;
    let got = ok("read_blocking", fs.read_blocking(&p))?;
    check(got == b"sync+async", || format!("read_blocking: {:?}", String::from_utf8_lossy(&got)))?;
    ok("rename_blocking", fs.rename_blocking(&p, root.join("c")))?;
    expect_missing(fs, &p).await?;
    ok("remove_file_blocking", fs.remove_file_blocking(root.join("c")))?;
    expect_missing(fs, &root.join("c")).await
}

async fn write_with_missing_parent_is_not_found(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("missing").join("f");
    expect_kind("write", fs.write(&p, b"x".to_vec()).await, ErrorKind::NotFound)?;
    expect_kind("append", fs.append(&p, b"x".to_vec()).await, ErrorKind::NotFound)?;
    expect_kind("create_new", fs.create_new(&p, b"x".to_vec()).await, ErrorKind::NotFound)
}

async fn write_to_directory_is_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let d = root.join("d");
    ok("create_dir_all", fs.create_dir_all(&d).await)?;
    expect_kind("write", fs.write(&d, b"x".to_vec()).await, ErrorKind::IsADirectory)?;
    expect_kind("append", fs.append(&d, b"x".to_vec()).await, ErrorKind::IsADirectory)?;
    check(kind_of(fs, &d).await? == FileKind::Dir, || "directory changed kind".into())
}

async fn write_under_a_file_is_not_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let f = root.join("f");
    ok("write", fs.write(&f, b"x".to_vec()).await)?;
    expect_kind("write", fs.write(f.join("g"), b"y".to_vec()).await, ErrorKind::NotADirectory)?;
    expect_kind("read", fs.read(f.join("g")).await, ErrorKind::NotADirectory)?;
    expect_content(fs, &f, b"x").await
}

async fn read_missing_is_not_found(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    expect_kind("read", fs.read(root.join("nope")).await, ErrorKind::NotFound)?;
    expect_kind("read_blocking", fs.read_blocking(root.join("nope")), ErrorKind::NotFound)
}

async fn read_directory_is_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    expect_kind("read", fs.read(root).await, ErrorKind::IsADirectory)
}

async fn append_creates_then_extends(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("log.jsonl");
    ok("append 1", fs.append(&p, b"{\"n\":1}\n".to_vec()).await)?;
    ok("append 2", fs.append(&p, b"{\"n\":2}\n".to_vec()).await)?;
    expect_content(fs, &p, b"{\"n\":1}\n{\"n\":2}\n").await
}

async fn concurrent_appends_keep_whole_lines(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    const WRITERS: usize = 8;
    const LINES: usize = 25;
    let p = root.join("shared.jsonl");
    let writers: Vec<BoxFuture<'_, io::Result<()>>> = (0..WRITERS)
        .map(|w| {
            let p = p.clone();
            Box::pin(async move {
                for i in 0..LINES {
                    // Long enough lines that a non-atomic append would show.
                    let line = format!("{{\"writer\":{w},\"line\":{i},\"pad\":\"{}\"}}\n", "x".repeat(200 + w));
                    fs.append(&p, line.into_bytes()).await?;
                }
                Ok(())
            }) as BoxFuture<'_, _>
        })
        .collect();
    for r in join_all(writers).await {
        ok("append", r)?;
    }
    let text = String::from_utf8(content(fs, &p).await?).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut seen = vec![0usize; WRITERS];
    for line in text.lines() {
        let w = parse_line(line).ok_or_else(|| format!("torn or interleaved line: {line:?}"))?;
        check(w.1 == seen[w.0], || format!("writer {} out of order at {line:?}", w.0))?;
        seen[w.0] += 1;
    }
    check(seen.iter().all(|&n| n == LINES), || format!("lines per writer: {seen:?}"))
}

/// Parse `{"writer":W,"line":L,"pad":"xxx…"}` with the exact pad length.
fn parse_line(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("{\"writer\":")?;
    let (w, rest) = rest.split_once(",\"line\":")?;
    let (l, rest) = rest.split_once(",\"pad\":\"")?;
    let w: usize = w.parse().ok()?;
    let pad = rest.strip_suffix("\"}")?;
    (pad.len() == 200 + w && pad.bytes().all(|b| b == b'x')).then_some((w, l.parse().ok()?))
}

async fn create_new_refuses_existing_entries(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("lock");
    ok("create_new", fs.create_new(&p, b"mine".to_vec()).await)?;
    expect_kind("create_new again", fs.create_new(&p, b"theirs".to_vec()).await, ErrorKind::AlreadyExists)?;
    expect_content(fs, &p, b"mine").await?;
    expect_kind("create_new on dir", fs.create_new(root, b"x".to_vec()).await, ErrorKind::AlreadyExists)?;
    let dangling = root.join("dangling");
    ok("symlink", fs.symlink(root.join("nowhere"), &dangling).await)?;
    expect_kind(
        "create_new on dangling symlink",
        fs.create_new(&dangling, b"x".to_vec()).await,
        ErrorKind::AlreadyExists,
    )?;
    expect_missing(fs, &root.join("nowhere")).await
}

async fn racing_create_new_has_one_winner(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    for round in 0..5 {
        let p = root.join(format!("race-{round}"));
        let racers: Vec<BoxFuture<'_, io::Result<()>>> = (0..8)
            .map(|i| fs.create_new(p.clone(), format!("racer {i}").into_bytes()))
            .map(|f| Box::pin(f) as BoxFuture<'_, _>)
            .collect();
        let results = join_all(racers).await;
        let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
        check(winners.len() == 1, || format!("round {round}: winners {winners:?}"))?;
        for r in results.into_iter().filter(|r| r.is_err()) {
            expect_kind("losing create_new", r, ErrorKind::AlreadyExists)?;
        }
        expect_content(fs, &p, format!("racer {}", winners[0]).as_bytes()).await?;
    }
    Ok(())
}

async fn rename_replaces_existing_file(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let (tmp, dst) = (root.join("trace.json.tmp"), root.join("trace.json"));
    ok("write dst", fs.write(&dst, b"old".to_vec()).await)?;
    ok("write tmp", fs.write(&tmp, b"new".to_vec()).await)?;
    ok("rename", fs.rename(&tmp, &dst).await)?;
    expect_content(fs, &dst, b"new").await?;
    expect_missing(fs, &tmp).await?;
    // Renaming a path onto itself is a no-op.
    ok("rename onto itself", fs.rename(&dst, &dst).await)?;
    expect_content(fs, &dst, b"new").await
}

async fn rename_dir_onto_empty_dir_replaces_it(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let (a, b) = (root.join("a"), root.join("b"));
    ok("mkdir a", fs.create_dir_all(&a).await)?;
    ok("write a/f", fs.write(a.join("f"), b"f".to_vec()).await)?;
    ok("mkdir b", fs.create_dir_all(&b).await)?;
    ok("rename", fs.rename(&a, &b).await)?;
    expect_missing(fs, &a).await?;
    expect_content(fs, &b.join("f"), b"f").await
}

async fn rename_dir_onto_non_empty_dir_is_refused(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let (a, b) = (root.join("a"), root.join("b"));
    ok("mkdir a", fs.create_dir_all(&a).await)?;
    ok("mkdir b", fs.create_dir_all(&b).await)?;
    ok("write b/keep", fs.write(b.join("keep"), b"k".to_vec()).await)?;
    expect_kind("rename", fs.rename(&a, &b).await, ErrorKind::DirectoryNotEmpty)?;
    check(kind_of(fs, &a).await? == FileKind::Dir, || "source lost".into())?;
    expect_content(fs, &b.join("keep"), b"k").await
}

async fn rename_file_onto_dir_is_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    ok("mkdir", fs.create_dir_all(root.join("d")).await)?;
    expect_kind("rename", fs.rename(root.join("f"), root.join("d")).await, ErrorKind::IsADirectory)?;
    expect_content(fs, &root.join("f"), b"f").await
}

async fn rename_dir_onto_file_is_not_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    ok("mkdir", fs.create_dir_all(root.join("d")).await)?;
    expect_kind("rename", fs.rename(root.join("d"), root.join("f")).await, ErrorKind::NotADirectory)?;
    expect_content(fs, &root.join("f"), b"f").await
}

async fn rename_into_missing_parent_is_not_found(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let src = root.join("f");
    ok("write", fs.write(&src, b"f".to_vec()).await)?;
    expect_kind("rename", fs.rename(&src, root.join("no").join("such").join("f")).await, ErrorKind::NotFound)?;
    expect_content(fs, &src, b"f").await
}

async fn rename_missing_source_is_not_found(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("write dst", fs.write(root.join("dst"), b"d".to_vec()).await)?;
    expect_kind("rename", fs.rename(root.join("src"), root.join("dst")).await, ErrorKind::NotFound)?;
    expect_content(fs, &root.join("dst"), b"d").await
}

async fn remove_file_missing_is_not_found(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    expect_kind("remove_file", fs.remove_file(root.join("gone")).await, ErrorKind::NotFound)?;
    ok("write", fs.write(root.join("once"), b"1".to_vec()).await)?;
    ok("remove_file", fs.remove_file(root.join("once")).await)?;
    expect_kind("remove_file twice", fs.remove_file(root.join("once")).await, ErrorKind::NotFound)
}

async fn remove_file_on_directory_is_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("mkdir", fs.create_dir_all(root.join("d")).await)?;
    expect_kind("remove_file", fs.remove_file(root.join("d")).await, ErrorKind::IsADirectory)?;
    check(kind_of(fs, &root.join("d")).await? == FileKind::Dir, || "directory removed".into())
}

async fn remove_file_on_symlink_keeps_target(fs: &dyn Fs, root: &Path, outside: &Path) -> Verdict {
    let target = outside.join("precious");
    ok("write target", fs.write(&target, b"keep me".to_vec()).await)?;
    ok("symlink", fs.symlink(&target, root.join("link")).await)?;
    ok("remove_file link", fs.remove_file(root.join("link")).await)?;
    expect_missing(fs, &root.join("link")).await?;
    expect_content(fs, &target, b"keep me").await
}

async fn remove_dir_refuses_non_empty_and_files(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let d = root.join("d");
    ok("mkdir", fs.create_dir_all(&d).await)?;
    ok("write", fs.write(d.join("f"), b"f".to_vec()).await)?;
    expect_kind("remove_dir non-empty", fs.remove_dir(&d).await, ErrorKind::DirectoryNotEmpty)?;
    expect_kind("remove_dir on file", fs.remove_dir(d.join("f")).await, ErrorKind::NotADirectory)?;
    expect_kind("remove_dir missing", fs.remove_dir(root.join("none")).await, ErrorKind::NotFound)?;
    ok("remove_file", fs.remove_file(d.join("f")).await)?;
    ok("remove_dir empty", fs.remove_dir(&d).await)?;
    expect_missing(fs, &d).await
}

async fn remove_dir_all_never_follows_symlinks_out(fs: &dyn Fs, root: &Path, outside: &Path) -> Verdict {
    let tree = root.join("workspace");
    ok("mkdir", fs.create_dir_all(tree.join("a").join("b")).await)?;
    ok("write", fs.write(tree.join("a").join("b").join("f"), b"f".to_vec()).await)?;
    ok("write outside", fs.write(outside.join("secret"), b"s".to_vec()).await)?;
    ok("mkdir outside", fs.create_dir_all(outside.join("dir")).await)?;
    ok("write outside dir", fs.write(outside.join("dir").join("g"), b"g".to_vec()).await)?;
    ok("symlink to file", fs.symlink(outside.join("secret"), tree.join("a").join("to-file")).await)?;
    ok("symlink to dir", fs.symlink(outside.join("dir"), tree.join("to-dir")).await)?;
    ok("remove_dir_all", fs.remove_dir_all(&tree).await)?;
    expect_missing(fs, &tree).await?;
    expect_content(fs, &outside.join("secret"), b"s").await?;
    expect_content(fs, &outside.join("dir").join("g"), b"g").await
}

async fn remove_dir_all_missing_or_file(fs: &dyn Fs, root: &Path, outside: &Path) -> Verdict {
    expect_kind("remove_dir_all missing", fs.remove_dir_all(root.join("none")).await, ErrorKind::NotFound)?;
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    expect_kind("remove_dir_all on file", fs.remove_dir_all(root.join("f")).await, ErrorKind::NotADirectory)?;
    expect_content(fs, &root.join("f"), b"f").await?;
    // A symlink to a directory is not a directory to recurse into.
    ok("mkdir outside", fs.create_dir_all(outside.join("d")).await)?;
    ok("write outside", fs.write(outside.join("d").join("g"), b"g".to_vec()).await)?;
    ok("symlink", fs.symlink(outside.join("d"), root.join("link")).await)?;
    expect_kind("remove_dir_all on symlink", fs.remove_dir_all(root.join("link")).await, ErrorKind::NotADirectory)?;
    expect_content(fs, &outside.join("d").join("g"), b"g").await
}

async fn read_dir_lists_sorted_with_kinds(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("write", fs.write(root.join("c-file"), b"".to_vec()).await)?;
    ok("mkdir", fs.create_dir_all(root.join("a-dir")).await)?;
    ok("symlink", fs.symlink(root.join("a-dir"), root.join("b-link")).await)?;
    ok("write nested", fs.write(root.join("a-dir").join("nested"), b"".to_vec()).await)?;
    let entries = ok("read_dir", fs.read_dir(root).await)?;
    let got: Vec<(String, FileKind)> =
        entries.iter().map(|e| (e.name.to_string_lossy().into_owned(), e.kind)).collect();
    let want = vec![
        ("a-dir".to_string(), FileKind::Dir),
        ("b-link".to_string(), FileKind::Symlink),
        ("c-file".to_string(), FileKind::File),
    ];
    check(got == want, || format!("read_dir: {got:?}"))?;
    let empty = ok("mkdir empty", fs.create_dir_all(root.join("empty")).await).map(|_| root.join("empty"))?;
    let listed = ok("read_dir empty", fs.read_dir(&empty).await)?;
    check(listed.is_empty(), || format!("empty dir lists {listed:?}"))
}

async fn read_dir_of_a_changing_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    const STABLE: usize = 5;
    const CHURN: usize = 40;
    for i in 0..STABLE {
        ok("write stable", fs.write(root.join(format!("stable-{i}")), b"s".to_vec()).await)?;
    }
    let mutator: BoxFuture<'_, Result<Vec<Vec<String>>, String>> = Box::pin(async move {
        for i in 0..CHURN {
            ok("write churn", fs.write(root.join(format!("churn-{i}")), b"c".to_vec()).await)?;
            if i > 0 {
                ok("remove churn", fs.remove_file(root.join(format!("churn-{}", i - 1))).await)?;
            }
        }
        Ok(Vec::new())
    });
    let reader: BoxFuture<'_, Result<Vec<Vec<String>>, String>> = Box::pin(async move {
        let mut listings = Vec::new();
        for _ in 0..CHURN {
            let entries = ok("read_dir", fs.read_dir(root).await)?;
            listings.push(entries.into_iter().map(|e| e.name.to_string_lossy().into_owned()).collect());
        }
        Ok(listings)
    });
    let mut results = join_all(vec![mutator, reader]).await.into_iter();
    let (m, r) = (results.next().ok_or("mutator result missing")?, results.next().ok_or("reader result missing")?);
    m?;
    for names in r? {
        for i in 0..STABLE {
            let n = names.iter().filter(|n| **n == format!("stable-{i}")).count();
            check(n == 1, || format!("stable-{i} listed {n} times in {names:?}"))?;
        }
        let stray: Vec<&String> = names
            .iter()
            .filter(|n| {
                !(n.starts_with("stable-") || n.strip_prefix("churn-").is_some_and(|k| k.parse::<usize>().is_ok()))
            })
            .collect();
        check(stray.is_empty(), || format!("entries that never existed: {stray:?}"))?;
        let mut sorted = names.clone();
        sorted.sort();
        check(sorted == names, || format!("listing not sorted: {names:?}"))?;
    }
    Ok(())
}

async fn read_dir_errors(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    expect_kind("read_dir missing", fs.read_dir(root.join("none")).await, ErrorKind::NotFound)?;
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    expect_kind("read_dir on file", fs.read_dir(root.join("f")).await, ErrorKind::NotADirectory)
}

async fn read_dir_metadata_is_the_listing_and_each_look(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("write", fs.write(root.join("c-file"), b"abc".to_vec()).await)?;
    ok("mkdir", fs.create_dir_all(root.join("a-dir")).await)?;
    ok("write nested", fs.write(root.join("a-dir").join("nested"), b"n".to_vec()).await)?;
    ok("symlink", fs.symlink(root.join("missing"), root.join("b-link")).await)?;
    ok("symlink to dir", fs.symlink(root.join("a-dir"), root.join("d-link")).await)?;
    // An adapter may not offer the listing (callers fall back); one that
    // does lists what `read_dir` lists.
    let listed = match fs.read_dir_metadata(root).await {
        Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(()),
        other => ok("read_dir_metadata", other)?,
    };
    let plain = ok("read_dir", fs.read_dir(root).await)?;
    let entries: Vec<_> = listed.iter().map(|(e, _)| e.clone()).collect();
    check(entries == plain, || format!("read_dir_metadata lists {entries:?}, read_dir {plain:?}"))?;
    for (entry, meta) in &listed {
        let path = root.join(&entry.name);
        let look = ok("symlink_metadata", fs.symlink_metadata(&path).await)?;
        // Every adapter here can look at every entry of its own directory.
        check(meta.as_ref() == Some(&look), || {
            format!("{}: listed with {meta:?}, looked at: {look:?}", path.display())
        })?;
        check(entry.kind == look.kind, || {
            format!("{}: listed as {:?}, is {:?}", path.display(), entry.kind, look.kind)
        })?;
    }
    let blocking = ok("read_dir_metadata_blocking", fs.read_dir_metadata_blocking(root))?;
    check(blocking == listed, || format!("blocking listing {blocking:?} differs from {listed:?}"))?;
    // Through a symlink to a directory, as `read_dir` goes.
    let through = ok("read_dir_metadata via symlink", fs.read_dir_metadata(root.join("d-link")).await)?;
    let names: Vec<_> =
        through.iter().map(|(e, m)| (e.name.to_string_lossy().into_owned(), m.as_ref().map(|m| m.len))).collect();
    check(names == [("nested".to_string(), Some(1))], || format!("listing through d-link: {names:?}"))?;
    expect_kind("read_dir_metadata missing", fs.read_dir_metadata(root.join("none")).await, ErrorKind::NotFound)?;
    expect_kind(
        "read_dir_metadata on file",
        fs.read_dir_metadata(root.join("c-file")).await,
        ErrorKind::NotADirectory,
    )?;
    expect_kind("read_dir_metadata dangling", fs.read_dir_metadata(root.join("b-link")).await, ErrorKind::NotFound)
}

async fn dangling_symlink_metadata(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let link = root.join("dangling");
    ok("symlink", fs.symlink(root.join("missing-target"), &link).await)?;
    let m = ok("symlink_metadata", fs.symlink_metadata(&link).await)?;
    check(m.kind == FileKind::Symlink, || format!("dangling symlink reported as {:?}", m.kind))?;
    expect_kind("metadata follows into nothing", fs.metadata(&link).await, ErrorKind::NotFound)?;
    expect_kind("read through dangling", fs.read(&link).await, ErrorKind::NotFound)
}

async fn metadata_follows_symlinks(fs: &dyn Fs, root: &Path, outside: &Path) -> Verdict {
    ok("write", fs.write(outside.join("t"), b"12345".to_vec()).await)?;
    ok("symlink", fs.symlink(outside.join("t"), root.join("l")).await)?;
    let followed = ok("metadata", fs.metadata(root.join("l")).await)?;
    check(followed.kind == FileKind::File && followed.len == 5, || format!("metadata via link: {followed:?}"))?;
    let own = ok("symlink_metadata", fs.symlink_metadata(root.join("l")).await)?;
    check(own.kind == FileKind::Symlink, || format!("symlink_metadata: {own:?}"))?;
    // Reading through a symlink reads the target.
    expect_content(fs, &root.join("l"), b"12345").await
}

async fn create_dir_all_cases(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let deep = root.join("a").join("b").join("c");
    ok("create_dir_all", fs.create_dir_all(&deep).await)?;
    ok("create_dir_all again", fs.create_dir_all(&deep).await)?;
    check(kind_of(fs, &deep).await? == FileKind::Dir, || "not a directory".into())?;
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    expect_kind("through a file", fs.create_dir_all(root.join("f").join("x")).await, ErrorKind::NotADirectory)?;
    expect_kind("onto a file", fs.create_dir_all(root.join("f")).await, ErrorKind::AlreadyExists)
}

async fn sync_cases(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let f = root.join("f");
    ok("write", fs.write(&f, b"durable".to_vec()).await)?;
    ok("sync_file", fs.sync_file(&f).await)?;
    ok("sync_dir", fs.sync_dir(root).await)?;
    ok("sync_file_blocking", fs.sync_file_blocking(&f))?;
    ok("sync_dir_blocking", fs.sync_dir_blocking(root))?;
    expect_kind("sync_file missing", fs.sync_file(root.join("none")).await, ErrorKind::NotFound)?;
    expect_kind("sync_dir missing", fs.sync_dir(root.join("none")).await, ErrorKind::NotFound)?;
    expect_kind("sync_dir on file", fs.sync_dir(&f).await, ErrorKind::NotADirectory)?;
    expect_content(fs, &f, b"durable").await
}

async fn symlink_and_read_link_cases(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let target = PathBuf::from("relative/target");
    ok("symlink", fs.symlink(&target, root.join("l")).await)?;
    let got = ok("read_link", fs.read_link(root.join("l")).await)?;
    check(got == target, || format!("read_link: {}", got.display()))?;
    expect_kind("symlink onto existing", fs.symlink("x", root.join("l")).await, ErrorKind::AlreadyExists)?;
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    expect_kind("read_link on file", fs.read_link(root.join("f")).await, ErrorKind::InvalidInput)?;
    expect_kind("read_link missing", fs.read_link(root.join("none")).await, ErrorKind::NotFound)
}

/// `result` must be an error with raw OS error `errno` (`EBADF` has no
/// `ErrorKind` of its own).
fn expect_errno<T: std::fmt::Debug>(what: &str, result: io::Result<T>, errno: i32) -> Verdict {
    match result {
        Err(e) if e.raw_os_error() == Some(errno) => Ok(()),
        Err(e) => Err(format!("{what}: expected errno {errno}, got {:?} ({e})", e.raw_os_error())),
        Ok(v) => Err(format!("{what}: expected errno {errno}, got Ok({v:?})")),
    }
}

const EBADF: i32 = 9;

/// Read, write, both; create if missing.
const RW_CREATE: OpenMode = OpenMode { read: true, write: true, create: true, ..OpenMode::READ };

async fn create_dir_cases(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("create_dir", fs.create_dir(root.join("d")).await)?;
    check(kind_of(fs, &root.join("d")).await? == FileKind::Dir, || "not a directory".into())?;
    expect_kind("create_dir again", fs.create_dir(root.join("d")).await, ErrorKind::AlreadyExists)?;
    expect_kind("missing parent", fs.create_dir(root.join("none").join("d")).await, ErrorKind::NotFound)?;
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    expect_kind("under a file", fs.create_dir(root.join("f").join("d")).await, ErrorKind::NotADirectory)?;
    ok("symlink", fs.symlink("nowhere", root.join("l")).await)?;
    expect_kind("onto a dangling symlink", fs.create_dir(root.join("l")).await, ErrorKind::AlreadyExists)
}

async fn handle_writes_and_reads_at_offsets(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    let h = ok("open", fs.open(&p, RW_CREATE).await)?;
    let end = ok("write_at 0", fs.write_at(&h, 0, b"hello".to_vec()).await)?;
    check(end == 5, || format!("write_at returned {end}, not 5"))?;
    ok("write_at 5", fs.write_at(&h, 5, b" world".to_vec()).await)?;
    ok("overwrite", fs.write_at(&h, 0, b"J".to_vec()).await)?;
    let all = ok("read_at 0", fs.read_at(&h, 0, 100).await)?;
    check(all == b"Jello world", || format!("read_at: {:?}", String::from_utf8_lossy(&all)))?;
    let mid = ok("read_at 6", fs.read_at(&h, 6, 3).await)?;
    check(mid == b"wor", || format!("read_at 6: {:?}", String::from_utf8_lossy(&mid)))?;
    let past = ok("read_at past the end", fs.read_at(&h, 50, 10).await)?;
    check(past.is_empty(), || format!("read past the end gave {} bytes", past.len()))?;
    let m = ok("handle_metadata", fs.handle_metadata(&h).await)?;
    check(m.len == 11 && m.kind == FileKind::File, || format!("handle_metadata: {m:?}"))?;
    ok("sync_handle", fs.sync_handle(&h, false).await)?;
    ok("sync_handle data", fs.sync_handle(&h, true).await)?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &p, b"Jello world").await
}

async fn handle_write_past_the_end_zero_fills(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    let h = ok("open", fs.open(&p, RW_CREATE).await)?;
    ok("write_at 4", fs.write_at(&h, 4, b"x".to_vec()).await)?;
    let end = ok("write_at nothing", fs.write_at(&h, 10, Vec::new()).await)?;
    check(end == 10, || format!("an empty write at 10 ended at {end}"))?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &p, b"\0\0\0\0x").await
}

async fn append_handle_writes_land_at_the_end(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    ok("write", fs.write(&p, b"ab".to_vec()).await)?;
    let mode = OpenMode { append: true, ..OpenMode::default() };
    let h = ok("open append", fs.open(&p, mode).await)?;
    let end = ok("write_at 0 on append", fs.write_at(&h, 0, b"cd".to_vec()).await)?;
    check(end == 4, || format!("an append handle's write ended at {end}, not 4"))?;
    // Another writer extends the file: the next append lands after it.
    ok("append", fs.append(&p, b"ef".to_vec()).await)?;
    let end = ok("write_at again", fs.write_at(&h, 1, b"gh".to_vec()).await)?;
    check(end == 8, || format!("ended at {end}, not 8"))?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &p, b"abcdefgh").await?;
    let missing = root.join("new");
    let create = OpenMode { append: true, create: true, ..OpenMode::default() };
    let h = ok("open append create", fs.open(&missing, create).await)?;
    ok("write_at", fs.write_at(&h, 7, b"x".to_vec()).await)?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &missing, b"x").await
}

async fn set_len_cuts_and_zero_extends(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    ok("write", fs.write(&p, b"abcdef".to_vec()).await)?;
    let h = ok("open", fs.open(&p, RW_CREATE).await)?;
    ok("set_len 2", fs.set_len(&h, 2).await)?;
    expect_content(fs, &p, b"ab").await?;
    ok("set_len 4", fs.set_len(&h, 4).await)?;
    expect_content(fs, &p, b"ab\0\0").await?;
    ok("close", fs.close(&h).await)
}

async fn open_modes_follow_std(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    expect_kind("open missing", fs.open(&p, OpenMode::READ).await, ErrorKind::NotFound)?;
    expect_kind("nothing to do", fs.open(&p, OpenMode::default()).await, ErrorKind::InvalidInput)?;
    let truncate_ro = OpenMode { read: true, truncate: true, ..OpenMode::default() };
    expect_kind("truncate without write", fs.open(&p, truncate_ro).await, ErrorKind::InvalidInput)?;
    let create_ro = OpenMode { read: true, create: true, ..OpenMode::default() };
    expect_kind("create without write", fs.open(&p, create_ro).await, ErrorKind::InvalidInput)?;
    let new = OpenMode { write: true, create_new: true, ..OpenMode::default() };
    let h = ok("create_new", fs.open(&p, new).await)?;
    ok("close", fs.close(&h).await)?;
    expect_kind("create_new on existing", fs.open(&p, new).await, ErrorKind::AlreadyExists)?;
    ok("symlink", fs.symlink("nowhere", root.join("l")).await)?;
    expect_kind("create_new on a dangling symlink", fs.open(root.join("l"), new).await, ErrorKind::AlreadyExists)?;
    // `create` follows a dangling symlink and creates its target.
    let h = ok("create through a symlink", fs.open(root.join("l"), OpenMode::CREATE).await)?;
    ok("close", fs.close(&h).await)?;
    check(kind_of(fs, &root.join("nowhere")).await? == FileKind::File, || "symlink target not created".into())?;
    ok("write", fs.write(&p, b"full".to_vec()).await)?;
    let h = ok("create truncates", fs.open(&p, OpenMode::CREATE).await)?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &p, b"").await?;
    let missing_parent = root.join("none").join("f");
    expect_kind("missing parent", fs.open(&missing_parent, OpenMode::CREATE).await, ErrorKind::NotFound)
}

async fn no_follow_refuses_a_final_symlink_only(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let (t, l, gone) = (root.join("t"), root.join("l"), root.join("gone"));
    ok("write", fs.write(&t, b"keep".to_vec()).await)?;
    ok("symlink", fs.symlink(&t, &l).await)?;
    ok("dangling symlink", fs.symlink(root.join("missing"), &gone).await)?;
    for (what, mode) in [
        ("append", OpenMode::APPEND_CREATE),
        ("read-write", OpenMode::READ_WRITE),
        ("create", OpenMode::CREATE),
        ("read", OpenMode::READ),
    ] {
        let mode = mode.refuse_symlink();
        expect_errno(&format!("{what} through a symlink"), fs.open(&l, mode).await, ELOOP)?;
        expect_errno(&format!("{what} through a dangling symlink"), fs.open(&gone, mode).await, ELOOP)?;
    }
    let new = OpenMode::CREATE_NEW.refuse_symlink();
    expect_kind("create_new at a symlink", fs.open(&l, new).await, ErrorKind::AlreadyExists)?;
    // A trailing slash makes the last name a directory to resolve: Linux
    // follows a symlink to one even so.
    ok("create_dir", fs.create_dir(root.join("d")).await)?;
    ok("symlink to the directory", fs.symlink(root.join("d"), root.join("dl")).await)?;
    let mut slashed = root.join("dl").into_os_string();
    slashed.push("/");
    let h = ok(
        "read a symlinked directory named with a slash",
        fs.open(Path::new(&slashed), OpenMode::READ.refuse_symlink()).await,
    )?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &t, b"keep").await?;
    expect_missing(fs, &root.join("missing")).await?;
    // A regular file, a missing one, and symlinks among the directories
    // above the last component are all as without it.
    let h = ok("append to a file", fs.open(&t, OpenMode::APPEND_CREATE.refuse_symlink()).await)?;
    ok("write_at", fs.write_at(&h, 0, b"!".to_vec()).await)?;
    ok("close", fs.close(&h).await)?;
    expect_content(fs, &t, b"keep!").await?;
    let h = ok(
        "create under a symlinked directory",
        fs.open(root.join("dl").join("n"), OpenMode::APPEND_CREATE.refuse_symlink()).await,
    )?;
    ok("close", fs.close(&h).await)?;
    check(kind_of(fs, &root.join("d").join("n")).await? == FileKind::File, || "not created under the directory".into())
}

async fn open_refuses_a_directory_for_writing_and_syncs_it_for_reading(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let d = root.join("d");
    ok("create_dir", fs.create_dir(&d).await)?;
    let rw = OpenMode { read: true, write: true, ..OpenMode::default() };
    expect_kind("open a directory to write", fs.open(&d, rw).await, ErrorKind::IsADirectory)?;
    let h = ok("open a directory to read", fs.open(&d, OpenMode::READ).await)?;
    ok("fsync the directory", fs.sync_handle(&h, false).await)?;
    let m = ok("handle_metadata", fs.handle_metadata(&h).await)?;
    check(m.kind == FileKind::Dir, || format!("a directory handle's kind: {:?}", m.kind))?;
    expect_kind("read a directory handle", fs.read_at(&h, 0, 10).await, ErrorKind::IsADirectory)?;
    ok("close", fs.close(&h).await)
}

async fn a_handle_follows_its_file_through_rename_and_unlink(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let (a, b) = (root.join("a"), root.join("b"));
    let h = ok("open", fs.open(&a, RW_CREATE).await)?;
    ok("write_at", fs.write_at(&h, 0, b"one".to_vec()).await)?;
    ok("rename", fs.rename(&a, &b).await)?;
    ok("write_at after rename", fs.write_at(&h, 3, b"two".to_vec()).await)?;
    expect_content(fs, &b, b"onetwo").await?;
    expect_missing(fs, &a).await?;
    let id_before = ok("metadata", fs.metadata(&b).await)?.id;
    ok("remove_file", fs.remove_file(&b).await)?;
    let got = ok("read_at after unlink", fs.read_at(&h, 0, 100).await)?;
    check(got == b"onetwo", || format!("read after unlink: {:?}", String::from_utf8_lossy(&got)))?;
    let m = ok("handle_metadata after unlink", fs.handle_metadata(&h).await)?;
    check(m.id == id_before && m.len == 6, || format!("handle_metadata after unlink: {m:?}"))?;
    ok("close", fs.close(&h).await)?;
    expect_missing(fs, &b).await
}

async fn a_handle_refuses_what_its_mode_forbids(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    ok("write", fs.write(&p, b"data".to_vec()).await)?;
    let ro = ok("open read-only", fs.open(&p, OpenMode::READ).await)?;
    expect_errno("write through a read-only handle", fs.write_at(&ro, 0, b"x".to_vec()).await, EBADF)?;
    expect_kind("set_len through a read-only handle", fs.set_len(&ro, 0).await, ErrorKind::InvalidInput)?;
    ok("close", fs.close(&ro).await)?;
    let wo = ok("open write-only", fs.open(&p, OpenMode { write: true, ..OpenMode::default() }).await)?;
    expect_errno("read through a write-only handle", fs.read_at(&wo, 0, 4).await, EBADF)?;
    ok("close", fs.close(&wo).await)?;
    expect_content(fs, &p, b"data").await
}

async fn a_closed_handle_is_a_bad_descriptor(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    let h = ok("open", fs.open(&p, RW_CREATE).await)?;
    ok("close", fs.close(&h).await)?;
    ok("close twice", fs.close(&h).await)?;
    expect_errno("read_at a closed handle", fs.read_at(&h, 0, 1).await, EBADF)?;
    expect_errno("write_at a closed handle", fs.write_at(&h, 0, b"x".to_vec()).await, EBADF)?;
    expect_errno("sync a closed handle", fs.sync_handle(&h, false).await, EBADF)?;
    expect_content(fs, &p, b"").await
}

/// `StatAt` and `RemoveFileAt` act in the directory the handle opened,
/// wherever it is now: renamed away and replaced by a symlink to another
/// directory, the open one is still the one asked (an adapter may not
/// offer them: callers fall back to paths).
async fn an_open_directory_looks_at_and_removes_its_own_entries(fs: &dyn Fs, root: &Path, outside: &Path) -> Verdict {
    let d = root.join("d");
    ok("mkdir", fs.create_dir_all(d.join("sub")).await)?;
    ok("write a", fs.write(d.join("a"), b"a".to_vec()).await)?;
    ok("write b", fs.write(d.join("b"), b"bb".to_vec()).await)?;
    ok("write outside", fs.write(outside.join("a"), b"outside".to_vec()).await)?;
    ok("symlink", fs.symlink(outside.join("a"), d.join("l")).await)?;
    // Only a directory opens so, and never for writing.
    let only = OpenMode::READ.refuse_symlink().only_directory();
    expect_kind("open a file as a directory", fs.open(d.join("a"), only).await, ErrorKind::NotADirectory)?;
    expect_kind("open a symlink as a directory", fs.open(d.join("l"), only).await, ErrorKind::NotADirectory)?;
    let writing = OpenMode { write: true, ..only };
    expect_kind("open a directory to write", fs.open(&d, writing).await, ErrorKind::InvalidInput)?;
    let h = ok("open the directory", fs.open(&d, only).await)?;
    let b = match fs.stat_at(&h, "b").await {
        Err(e) if e.kind() == ErrorKind::Unsupported => return ok("close", fs.close(&h).await),
        other => ok("stat_at b", other)?,
    };
    let look = ok("symlink_metadata b", fs.symlink_metadata(d.join("b")).await)?;
    check(b == look, || format!("stat_at b: {b:?}, symlink_metadata: {look:?}"))?;
    let blocking = ok("stat_at_blocking b", fs.stat_at_blocking(&h, "b"))?;
    check(blocking == b, || format!("stat_at_blocking b: {blocking:?}, stat_at: {b:?}"))?;
    let l = ok("stat_at l", fs.stat_at(&h, "l").await)?;
    check(l.kind == FileKind::Symlink, || format!("stat_at follows a symlink: {l:?}"))?;
    expect_kind("stat_at missing", fs.stat_at(&h, "none").await, ErrorKind::NotFound)?;
    // One name in the open directory, nothing else.
    for name in ["sub/x", "..", ".", "/etc/passwd", "", "sub/", "b/", "b\0"] {
        expect_kind(&format!("stat_at {name:?}"), fs.stat_at(&h, name).await, ErrorKind::InvalidInput)?;
        expect_kind(&format!("remove_file_at {name:?}"), fs.remove_file_at(&h, name).await, ErrorKind::InvalidInput)?;
    }
    expect_kind("remove_file_at a directory", fs.remove_file_at(&h, "sub").await, ErrorKind::IsADirectory)?;
    expect_kind("remove_file_at missing", fs.remove_file_at(&h, "none").await, ErrorKind::NotFound)?;
    // A symlink goes, not what it names.
    ok("remove_file_at l", fs.remove_file_at(&h, "l").await)?;
    expect_missing(fs, &d.join("l")).await?;
    expect_content(fs, &outside.join("a"), b"outside").await?;
    // Renamed away and replaced by a symlink to another directory that
    // holds the same name: the open directory's entry goes.
    ok("rename away", fs.rename(&d, root.join("d-old")).await)?;
    ok("symlink in its place", fs.symlink(outside, &d).await)?;
    ok("remove_file_at a", fs.remove_file_at(&h, "a").await)?;
    expect_missing(fs, &root.join("d-old").join("a")).await?;
    expect_content(fs, &outside.join("a"), b"outside").await?;
    let moved = ok("stat_at b, moved", fs.stat_at(&h, "b").await)?;
    check(moved.id == b.id && moved.len == 2, || format!("stat_at b after the move: {moved:?}, before: {b:?}"))?;
    ok("remove_file_at_blocking b", fs.remove_file_at_blocking(&h, "b"))?;
    expect_missing(fs, &root.join("d-old").join("b")).await?;
    // A handle to a file has no entries; a closed one is a bad descriptor.
    let f = ok("open a file", fs.open(outside.join("a"), OpenMode::READ).await)?;
    expect_kind("stat_at in a file", fs.stat_at(&f, "x").await, ErrorKind::NotADirectory)?;
    ok("close the file", fs.close(&f).await)?;
    ok("close", fs.close(&h).await)?;
    expect_errno("stat_at a closed handle", fs.stat_at(&h, "sub").await, EBADF)?;
    expect_errno("remove_file_at a closed handle", fs.remove_file_at(&h, "sub").await, EBADF)
}

async fn blocking_handles_agree_with_async_ones(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    let p = root.join("f");
    let h = ok("open_blocking", fs.open_blocking(&p, RW_CREATE))?;
    ok("write_at_blocking", fs.write_at_blocking(&h, 0, b"sync".to_vec()))?;
    ok("sync_handle_blocking", fs.sync_handle_blocking(&h, true))?;
    let got = ok("read_at", fs.read_at(&h, 0, 10).await)?;
    check(got == b"sync", || format!("read_at: {:?}", String::from_utf8_lossy(&got)))?;
    ok("set_len_blocking", fs.set_len_blocking(&h, 2))?;
    let m = ok("handle_metadata_blocking", fs.handle_metadata_blocking(&h))?;
    check(m.len == 2, || format!("len after set_len: {}", m.len))?;
    ok("close_blocking", fs.close_blocking(&h))
}

/// `f/` names a directory: a regular file reached that way is
/// `NotADirectory`, and `open(O_CREAT)` of such a name is `IsADirectory`.
async fn a_trailing_slash_names_a_directory(fs: &dyn Fs, root: &Path, _: &Path) -> Verdict {
    ok("write", fs.write(root.join("f"), b"f".to_vec()).await)?;
    ok("create_dir", fs.create_dir(root.join("d")).await)?;
    let slashed = |name: &str| PathBuf::from(format!("{}/{name}/", root.display()));
    expect_kind("read f/", fs.read(slashed("f")).await, ErrorKind::NotADirectory)?;
    expect_kind("metadata f/", fs.metadata(slashed("f")).await, ErrorKind::NotADirectory)?;
    expect_kind("symlink_metadata f/", fs.symlink_metadata(slashed("f")).await, ErrorKind::NotADirectory)?;
    expect_kind("open f/", fs.open(slashed("f"), OpenMode::READ).await, ErrorKind::NotADirectory)?;
    expect_kind("write f/", fs.write(slashed("f"), b"x".to_vec()).await, ErrorKind::IsADirectory)?;
    expect_kind("remove_file f/", fs.remove_file(slashed("f")).await, ErrorKind::NotADirectory)?;
    expect_kind("write new/", fs.write(slashed("new"), b"x".to_vec()).await, ErrorKind::IsADirectory)?;
    let m = ok("metadata d/", fs.metadata(slashed("d")).await)?;
    check(m.kind == FileKind::Dir, || format!("metadata d/: {:?}", m.kind))?;
    ok("read_dir d/", fs.read_dir(slashed("d")).await)?;
    expect_content(fs, &root.join("f"), b"f").await?;
    expect_missing(fs, &root.join("new")).await
}

/// The signature of a facade case: a fresh, empty, existing directory,
/// used through [`crate::tokio_fs`] and [`crate::std_fs`] on the file
/// system of [`crate::ambient`].
pub type FacadeCaseFn = for<'a> fn(&'a Path) -> BoxFuture<'a, Verdict>;

/// One facade case.
#[derive(Clone, Copy)]
pub struct FacadeCase {
    /// Its name, unique in [`FACADE_CASES`].
    pub name: &'static str,
    /// What it checks.
    pub run: FacadeCaseFn,
}

impl std::fmt::Debug for FacadeCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! facade_cases {
    ($($name:ident),* $(,)?) => {
        /// Every facade case, in a fixed order: the `tokio_fs` and `std_fs`
        /// facades used as code written for `tokio::fs` and `std::fs` uses
        /// them, on whatever file system [`crate::ambient`] gives.
        pub const FACADE_CASES: &[FacadeCase] = &[
            $(FacadeCase { name: stringify!($name), run: |root| Box::pin($name(root)) },)*
        ];
    };
}

facade_cases![
    tokio_file_writes_seeks_and_reads,
    tokio_file_appends_and_refuses_a_negative_seek,
    tokio_free_functions,
    std_file_writes_seeks_and_reads,
    std_free_functions,
    a_directory_syncs_through_an_open_handle,
];

async fn tokio_file_writes_seeks_and_reads(root: &Path) -> Verdict {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
    let p = root.join("f");
    let mut f = ok("open", crate::tokio_fs::OpenOptions::new().read(true).write(true).create(true).open(&p).await)?;
    ok("write_all", f.write_all(b"hello world").await)?;
    ok("flush", f.flush().await)?;
    ok("sync_all", f.sync_all().await)?;
    check(ok("seek start", f.seek(io::SeekFrom::Start(0)).await)? == 0, || "seek start".into())?;
    let mut five = [0; 5];
    ok("read_exact", f.read_exact(&mut five).await)?;
    check(&five == b"hello", || format!("read_exact: {:?}", String::from_utf8_lossy(&five)))?;
    let at = ok("seek current", f.seek(io::SeekFrom::Current(1)).await)?;
    check(at == 6, || format!("seek current landed at {at}"))?;
    let mut rest = String::new();
    ok("read_to_string", f.read_to_string(&mut rest).await)?;
    check(rest == "world", || format!("read_to_string: {rest:?}"))?;
    let at = ok("seek end", f.seek(io::SeekFrom::End(-5)).await)?;
    check(at == 6, || format!("seek end landed at {at}"))?;
    ok("set_len", f.set_len(5).await)?;
    let len = ok("metadata", f.metadata().await)?.len();
    check(len == 5, || format!("len after set_len: {len}"))?;
    ok("seek end", f.seek(io::SeekFrom::End(0)).await)?;
    ok("write_all", f.write_all(b"!").await)?;
    ok("sync_data", f.sync_data().await)?;
    let mut buf = [0; 3];
    let n = ok("read_at", f.read_at(&mut buf, 3).await)?;
    check(n == 3 && &buf == b"lo!", || format!("read_at: {n} {:?}", String::from_utf8_lossy(&buf)))?;
    ok("write_all_at", f.write_all_at(b"J", 0).await)?;
    drop(f);
    let got = ok("read", crate::tokio_fs::read(&p).await)?;
    check(got == b"Jello!", || format!("file: {:?}", String::from_utf8_lossy(&got)))
}

async fn tokio_file_appends_and_refuses_a_negative_seek(root: &Path) -> Verdict {
    use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
    let p = root.join("log");
    ok("write", crate::tokio_fs::write(&p, "a\n").await)?;
    let mut f = ok("open append", crate::tokio_fs::OpenOptions::new().append(true).open(&p).await)?;
    ok("write_all", f.write_all(b"b\n").await)?;
    ok("write_all", f.write_all(b"c\n").await)?;
    let at = ok("stream_position", f.stream_position().await)?;
    check(at == 6, || format!("position after two appends: {at}"))?;
    let e = f.seek(io::SeekFrom::Current(-10)).await;
    expect_kind("seek before the start", e, ErrorKind::InvalidInput)?;
    ok("shutdown", f.shutdown().await)?;
    drop(f);
    let text = ok("read_to_string", crate::tokio_fs::read_to_string(&p).await)?;
    check(text == "a\nb\nc\n", || format!("log: {text:?}"))?;
    let created = ok("create", crate::tokio_fs::File::create(root.join("new")).await)?;
    drop(created);
    let e = crate::tokio_fs::File::create_new(root.join("new")).await;
    expect_kind("create_new on existing", e, ErrorKind::AlreadyExists)?;
    expect_kind("open missing", crate::tokio_fs::File::open(root.join("none")).await, ErrorKind::NotFound)
}

async fn tokio_free_functions(root: &Path) -> Verdict {
    use crate::tokio_fs as fs;
    let (a, b) = (root.join("a"), root.join("b"));
    ok("write", fs::write(&a, b"1").await)?;
    ok("rename", fs::rename(&a, &b).await)?;
    check(!ok("try_exists a", fs::try_exists(&a).await)?, || "a still exists".into())?;
    check(ok("try_exists b", fs::try_exists(&b).await)?, || "b missing".into())?;
    let n = ok("copy", fs::copy(&b, root.join("c")).await)?;
    check(n == 1, || format!("copied {n}"))?;
    ok("create_dir", fs::create_dir(root.join("d")).await)?;
    ok("create_dir_all", fs::create_dir_all(root.join("d/e/f")).await)?;
    ok("symlink", fs::symlink("b", root.join("l")).await)?;
    let mut dir = ok("read_dir", fs::read_dir(root).await)?;
    let mut seen = Vec::new();
    while let Some(entry) = ok("next_entry", dir.next_entry().await)? {
        let kind = ok("file_type", entry.file_type().await)?;
        check(entry.path() == root.join(entry.file_name()), || "path is not dir + name".into())?;
        seen.push(format!("{}:{kind:?}", entry.file_name().to_string_lossy()));
    }
    check(seen == ["b:File", "c:File", "d:Dir", "l:Symlink"], || format!("read_dir: {seen:?}"))?;
    check(ok("metadata", fs::metadata(root.join("l")).await)?.is_file(), || "metadata follows".into())?;
    check(ok("symlink_metadata", fs::symlink_metadata(root.join("l")).await)?.is_symlink(), || "lstat".into())?;
    let target = ok("read_link", fs::read_link(root.join("l")).await)?;
    check(target == Path::new("b"), || format!("read_link: {}", target.display()))?;
    expect_kind("remove_dir non-empty", fs::remove_dir(root.join("d")).await, ErrorKind::DirectoryNotEmpty)?;
    ok("remove_dir_all", fs::remove_dir_all(root.join("d")).await)?;
    ok("remove_file", fs::remove_file(root.join("l")).await)?;
    ok("sync_dir", fs::sync_dir(root).await)?;
    ok("write", fs::write(root.join("bin"), [0xff, 0xfe]).await)?;
    expect_kind("read_to_string of bytes", fs::read_to_string(root.join("bin")).await, ErrorKind::InvalidData)
}

fn std_file_writes_seeks_and_reads_sync(root: &Path) -> Verdict {
    use std::io::{Read as _, Seek as _, Write as _};
    let p = root.join("f");
    let mut f = ok("open", crate::std_fs::OpenOptions::new().read(true).write(true).create(true).open(&p))?;
    ok("write_all", f.write_all(b"hello world"))?;
    ok("sync_all", f.sync_all())?;
    ok("seek start", f.seek(io::SeekFrom::Start(6)))?;
    let mut rest = String::new();
    ok("read_to_string", f.read_to_string(&mut rest))?;
    check(rest == "world", || format!("read_to_string: {rest:?}"))?;
    let at = ok("seek end", f.seek(io::SeekFrom::End(-5)))?;
    check(at == 6, || format!("seek end landed at {at}"))?;
    ok("set_len", f.set_len(5))?;
    check(ok("metadata", f.metadata())?.len() == 5, || "len after set_len".into())?;
    ok("write_all_at", f.write_all_at(b"J", 0))?;
    let mut buf = [0; 2];
    ok("read_at", f.read_at(&mut buf, 3))?;
    check(&buf == b"lo", || format!("read_at: {:?}", String::from_utf8_lossy(&buf)))?;
    ok("sync_data", f.sync_data())?;
    expect_kind("seek before the start", f.seek(io::SeekFrom::Current(-100)), ErrorKind::InvalidInput)?;
    drop(f);
    let got = ok("read", crate::std_fs::read(&p))?;
    check(got == b"Jello", || format!("file: {:?}", String::from_utf8_lossy(&got)))?;
    let mut log = ok("append", crate::std_fs::OpenOptions::new().append(true).create(true).open(root.join("log")))?;
    ok("write_all", log.write_all(b"a\n"))?;
    ok("write_all", log.write_all(b"b\n"))?;
    drop(log);
    let text = ok("read_to_string", crate::std_fs::read_to_string(root.join("log")))?;
    check(text == "a\nb\n", || format!("log: {text:?}"))
}

async fn std_file_writes_seeks_and_reads(root: &Path) -> Verdict {
    std_file_writes_seeks_and_reads_sync(root)
}

async fn std_free_functions(root: &Path) -> Verdict {
    use crate::std_fs as fs;
    ok("create_dir_all", fs::create_dir_all(root.join("d/e")))?;
    ok("write", fs::write(root.join("d/x"), "x"))?;
    ok("copy", fs::copy(root.join("d/x"), root.join("d/y")))?;
    ok("rename", fs::rename(root.join("d/y"), root.join("z")))?;
    let names: Vec<String> = ok("read_dir", fs::read_dir(root.join("d")))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()
        .map_err(|e| format!("read_dir entry: {e}"))?;
    check(names == ["e", "x"], || format!("read_dir: {names:?}"))?;
    check(ok("exists", fs::exists(root.join("z")))?, || "z missing".into())?;
    expect_kind("create_dir existing", fs::create_dir(root.join("d")), ErrorKind::AlreadyExists)?;
    ok("remove_file", fs::remove_file(root.join("z")))?;
    ok("remove_dir", fs::remove_dir(root.join("d/e")))?;
    ok("remove_dir_all", fs::remove_dir_all(root.join("d")))?;
    ok("sync_dir", fs::sync_dir(root))?;
    check(!ok("exists", fs::exists(root.join("d")))?, || "d still exists".into())
}

async fn a_directory_syncs_through_an_open_handle(root: &Path) -> Verdict {
    ok("write", crate::tokio_fs::write(root.join("f"), "f").await)?;
    let dir = ok("open dir", crate::tokio_fs::File::open(root).await)?;
    ok("sync_all on a directory", dir.sync_all().await)?;
    let dir = ok("open dir", crate::std_fs::File::open(root))?;
    ok("sync_all on a directory", dir.sync_all())?;
    let e = crate::tokio_fs::OpenOptions::new().write(true).open(root).await;
    expect_kind("open a directory to write", e, ErrorKind::IsADirectory)
}

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

use crate::fs::{BoxFuture, FileKind, Fs, FsExt};

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
    dangling_symlink_metadata,
    metadata_follows_symlinks,
    create_dir_all_cases,
    sync_cases,
    symlink_and_read_link_cases,
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

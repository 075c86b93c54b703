//! What a failing seed prints: the violations with their promises, the
//! events around the first violation, and the commands that replay it.

use super::{Outcome, RUNNER_INVARIANTS, Scenario};

/// How to replay a seed from the test that is running now, as a command
/// to paste: the calling test's package, target and name (what `cargo
/// test` set up), and the replay variables naming the scenario they apply
/// to. Outside `cargo test` (a binary of its own), the variables alone.
pub fn replay_commands(scenario: &str, seed: u64) -> String {
    replay_commands_with(scenario, seed, "")
}

/// [`replay_commands`] with `cargo_args` (`--features planted-bug`, say)
/// after `cargo test`: what the test was built with, which a running
/// test cannot see.
pub fn replay_commands_with(scenario: &str, seed: u64, cargo_args: &str) -> String {
    replay_commands_vars(
        scenario,
        &format!("STEADFAST_SCENARIO={} STEADFAST_SEED={seed}", shell_quote(scenario)),
        cargo_args,
    )
}

/// `s` as one word to a POSIX shell: in single quotes, each `'` in it
/// closed, escaped and reopened (`it's` is `'it'\''s'`), so a pasted
/// command means what it printed whatever a name or path holds.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// [`replay_commands_with`] for any replay variables (`STEADFAST_SCHEDULE`
/// for a schedule replayed from a file).
pub fn replay_commands_vars(scenario: &str, vars: &str, cargo_args: &str) -> String {
    let line = replay_line(scenario, vars, cargo_args);
    if !line.ends_with(" --exact --nocapture") {
        return format!("  replay:   {line}\n");
    }
    let files = line.trim_end_matches(" --nocapture");
    format!(
        "  replay:   {line}\n  \
         files:    STEADFAST_ARTIFACTS=steadfast-out {files}\n            \
         (writes the timeline, the Chrome trace, the schedule and a shrunk schedule of the seed)\n"
    )
}

/// The one command that replays with `vars` from the calling test (the
/// `replay:` line of [`replay_commands_vars`]; what a regression file
/// keeps beside each seed).
pub fn replay_line(scenario: &str, vars: &str, cargo_args: &str) -> String {
    // A test built without debug assertions ran under `--release` (or a
    // profile like it): the replay builds the same way, not a fresh
    // debug build of everything.
    let release = !cfg!(debug_assertions) && !cargo_args.contains("--release") && !cargo_args.contains("--profile");
    let with_release = format!("--release {cargo_args}");
    let cargo_args = if release { with_release.trim_end() } else { cargo_args };
    match calling_test(scenario) {
        None => format!("{vars} cargo test -- --nocapture   (from the crate whose test checks {scenario})"),
        Some(test) if cargo_args.is_empty() => format!("{vars} cargo test {test} --exact --nocapture"),
        Some(test) => format!("{vars} cargo test {cargo_args} {test} --exact --nocapture"),
    }
}

/// `-p PKG --test TARGET -- NAME` for the test running on this thread, if
/// this is a `cargo test` binary (for a thread of a run, the test that
/// started the check of `scenario`).
fn calling_test(scenario: &str) -> Option<String> {
    let pkg = std::env::var("CARGO_PKG_NAME").ok()?;
    let exe = std::env::args_os().next().map(std::path::PathBuf::from)?;
    let stem = exe.file_stem()?.to_string_lossy().into_owned();
    // `cargo test` names its binaries `<target>-<16 hex digits>`, the
    // target's dashes as underscores.
    let (target, hash) = stem.rsplit_once('-')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let in_examples = exe.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "examples");
    let kind = target_flags(&pkg, target, in_examples, manifest.as_deref());
    // A check run from an ignored test (`cargo test -- --ignored`) replays
    // only with the flag that runs it: without, the replay reports "1
    // ignored" and passes.
    let ignored =
        if std::env::args().any(|a| a == "--ignored" || a == "--include-ignored") { " --include-ignored" } else { "" };
    let thread = std::thread::current();
    let name = thread
        .name()
        .filter(|n| *n != "main" && !n.starts_with("steadfast-"))
        .map(String::from)
        .or_else(|| started_by(scenario))
        .or_else(exact_filter)
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    // (Without a test's name, every ignored test of the binary runs
    // again: slower, but the one that failed is among them, and the
    // replay variables skip the other checks.)
    Some(format!("-p {pkg} {kind} --{name}{ignored}"))
}

/// The one test this binary was asked to run (`NAME --exact`), for a
/// check on a thread the test spawned (no test's name on it): libtest's
/// free arguments, less the values of its options that take one.
fn exact_filter() -> Option<String> {
    const TAKES_VALUE: &[&str] =
        &["--test-threads", "--skip", "--format", "--color", "--logfile", "-Z", "--shuffle-seed"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--exact") {
        return None;
    }
    let mut free = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if TAKES_VALUE.contains(&a.as_str()) {
            i += 1;
        } else if !a.starts_with('-') {
            free.push(a.clone());
        }
        i += 1;
    }
    (free.len() == 1).then(|| free.remove(0))
}

/// The `cargo test` flags that select the test binary named `target`
/// (cargo's spelling: dashes as underscores) of package `pkg`, from the
/// package's files and manifest at `manifest`. Every kind of target that
/// could have built a binary of that name is selected (the `--exact`
/// filter then runs the one test wherever it is); none is named that
/// does not exist, which cargo would refuse:
/// - under `examples/`: `--example`;
/// - the library (named as the package, or by `[lib] name`): `--lib`;
/// - a binary named as the package (`src/main.rs`): `--bins`, which
///   selects it whatever a `[[bin]]` table renamed it to;
/// - a `[[bin]]`, `[[test]]` or `[[bench]]` of that name, or a file or
///   directory of that name under `src/bin/`, `tests/` or `benches/`:
///   `--bin`, `--test`, `--bench`;
/// - nothing found: `--test`, as an integration test usually is.
fn target_flags(pkg: &str, target: &str, in_examples: bool, manifest: Option<&std::path::Path>) -> String {
    let has = |p: &str| manifest.is_some_and(|m| m.join(p).exists());
    let under = |dir: &str| {
        let name = spelled(manifest, dir, target);
        (has(&format!("{dir}/{name}.rs")) || has(&format!("{dir}/{name}/main.rs"))).then_some(name)
    };
    if in_examples {
        return format!("--example {}", spelled(manifest, "examples", target));
    }
    let declared = manifest.map(|m| declared_targets(&m.join("Cargo.toml"))).unwrap_or_default();
    let named = |kind: &str| declared.iter().find(|(k, n)| k == kind && n.replace('-', "_") == target).map(|(_, n)| n);
    let own = target == pkg.replace('-', "_");
    let mut flags = Vec::new();
    let lib_renamed = declared.iter().any(|(k, _)| k == "lib");
    if named("lib").is_some() || (own && !lib_renamed && (has("src/lib.rs") || !has("src/main.rs"))) {
        flags.push("--lib".to_string());
    }
    if own && has("src/main.rs") {
        flags.push("--bins".to_string());
    } else if let Some(name) = named("bin").cloned().or_else(|| under("src/bin")) {
        flags.push(format!("--bin {name}"));
    }
    for (kind, dir) in [("test", "tests"), ("bench", "benches")] {
        if let Some(name) = named(kind).cloned().or_else(|| under(dir)) {
            flags.push(format!("--{kind} {name}"));
        }
    }
    if flags.is_empty() {
        flags.push(format!("--test {}", spelled(manifest, "tests", target)));
    }
    flags.join(" ")
}

/// The `[lib]`, `[[bin]]`, `[[test]]` and `[[bench]]` tables of a
/// manifest that name their target, as `(kind, name)`: a line scan of
/// the tables' `name = "..."` keys (no TOML parser for this one use;
/// a manifest it cannot read names none).
fn declared_targets(manifest: &std::path::Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(manifest) else { return Vec::new() };
    let mut kind = None;
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            kind = match line.split('#').next().unwrap_or_default().trim() {
                "[lib]" => Some("lib"),
                "[[bin]]" => Some("bin"),
                "[[test]]" => Some("test"),
                "[[bench]]" => Some("bench"),
                _ => None,
            };
            continue;
        }
        let Some(kind) = kind else { continue };
        if let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
            && let Some(name) = quoted(value.trim())
        {
            found.push((kind.to_string(), name.to_string()));
        }
    }
    found
}

/// A TOML string's text: basic (`"..."`) or literal (`'...'`), with no
/// escapes (a target's name needs none).
fn quoted(value: &str) -> Option<&str> {
    let quote = value.chars().next().filter(|&c| c == '"' || c == '\'')?;
    value[1..].split(quote).next()
}

/// A target's name as cargo knows it: `tests/my-test.rs` is built as
/// `my_test`, and `--test my_test` finds nothing. The file (or directory)
/// under `dir` whose name reads as `target` gives the spelling.
fn spelled(manifest: Option<&std::path::Path>, dir: &str, target: &str) -> String {
    let found = manifest.and_then(|m| std::fs::read_dir(m.join(dir)).ok()).and_then(|entries| {
        entries.filter_map(|e| e.ok()).find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".rs").unwrap_or(&name).to_string();
            (stem != target && stem.replace('-', "_") == target).then_some(stem)
        })
    });
    found.unwrap_or_else(|| target.to_string())
}

/// The test each scenario's check was started from (its thread's name),
/// for what a run's own thread reports (the watchdog's RUN6 replay).
fn tests_by_scenario() -> &'static std::sync::Mutex<std::collections::BTreeMap<String, String>> {
    static TESTS: std::sync::OnceLock<std::sync::Mutex<std::collections::BTreeMap<String, String>>> =
        std::sync::OnceLock::new();
    TESTS.get_or_init(Default::default)
}

/// Note that the check of `scenario` runs from the test on this thread.
pub(crate) fn remember_calling_test(scenario: &str) {
    if let Some(name) = std::thread::current().name().filter(|n| *n != "main") {
        tests_by_scenario().lock().unwrap_or_else(|p| p.into_inner()).insert(scenario.to_string(), name.to_string());
    }
}

fn started_by(scenario: &str) -> Option<String> {
    tests_by_scenario().lock().unwrap_or_else(|p| p.into_inner()).get(scenario).cloned()
}

/// A failure report for one violating outcome: the [`violations_report`]
/// and the commands that replay it from the calling test
/// ([`replay_commands`]).
pub fn failure_report(scenario: &dyn Scenario, outcome: &Outcome) -> String {
    violations_report(scenario, outcome) + &replay_commands(outcome.scenario, outcome.seed)
}

/// What broke in one outcome: scenario, seed, each violated invariant with
/// its statement, when, and the events around the first violation (or the
/// last ones).
pub fn violations_report(scenario: &dyn Scenario, outcome: &Outcome) -> String {
    let ended =
        if outcome.ended_when_caught { " before the sweep ended it once caught (a replay runs it whole)" } else { "" };
    let mut out = format!(
        "scenario {} seed {}: {} violation(s){ended}\n",
        outcome.scenario,
        outcome.seed,
        outcome.violations.len()
    );
    let statement = |id: &str| {
        scenario
            .invariants()
            .iter()
            .chain(RUNNER_INVARIANTS)
            .find(|i| i.id == id)
            .map_or("(undeclared)", |i| i.statement)
    };
    const SHOWN: usize = 5;
    for v in outcome.violations.iter().take(SHOWN) {
        out += &format!(
            "  {} at {}ms: {}\n    {} promises: {}\n",
            v.invariant,
            v.at_ms,
            v.message,
            v.invariant,
            statement(&v.invariant)
        );
    }
    if outcome.violations.len() > SHOWN {
        // A run keeps its first violations only (the history has them all).
        let at_least = if outcome.violations.len() >= crate::judge::VIOLATIONS_KEPT_MAX { "at least " } else { "" };
        out += &format!("  and {at_least}{} more\n", outcome.violations.len() - SHOWN);
    }
    let (around, at) = &outcome.around_first_violation;
    if !around.is_empty() {
        let (before, after) = (*at, around.len() - at - 1);
        out += &format!(
            "  around the first violation ({before} events before, {after} after; STEADFAST_REPORT_WINDOW=B,A):\n"
        );
        for (i, e) in around.iter().enumerate() {
            out += &format!("  {} {}\n", if i == *at { ">>" } else { "  " }, e.line());
        }
    } else if !outcome.history.is_empty() {
        out += "  last events:\n";
        let mut last: Vec<_> = outcome.history.iter().rev().take(12).collect();
        last.sort_by_key(|e| e.at_ns); // time order; stable for equal instants
        for e in last {
            out += &format!("    {}\n", e.line());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target's spelling comes from its file: `tests/my-test.rs` is
    /// `--test my-test` (cargo's binary says `my_test`), `tests/it/` is
    /// `it`, and a target with no file under the directory keeps its name.
    #[test]
    fn a_target_is_spelled_as_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tests/it")).expect("it/");
        std::fs::write(dir.path().join("tests/it/main.rs"), "").expect("it");
        std::fs::write(dir.path().join("tests/my-test.rs"), "").expect("my-test");
        std::fs::write(dir.path().join("tests/plain_name.rs"), "").expect("plain");
        let spell = |t| spelled(Some(dir.path()), "tests", t);
        assert_eq!(spell("my_test"), "my-test");
        assert_eq!(spell("it"), "it");
        assert_eq!(spell("plain_name"), "plain_name");
        assert_eq!(spell("elsewhere"), "elsewhere");
        assert_eq!(spelled(None, "tests", "my_test"), "my_test");
    }

    /// Each kind of test binary gets the flags that select it, and a
    /// name several kinds could have built gets each of them; no flag
    /// names a target that does not exist.
    #[test]
    fn a_test_binary_is_selected_by_its_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = dir.path();
        let write = |f: &str, text: &str| {
            std::fs::create_dir_all(at.join(f).parent().expect("parent")).expect("dirs");
            std::fs::write(at.join(f), text).expect("file");
        };
        for f in
            ["tests/it/main.rs", "tests/my-test.rs", "src/bin/my-tool.rs", "src/bin/other/main.rs", "benches/speed.rs"]
        {
            write(f, "");
        }
        let flags = |target| target_flags("my-pkg", target, false, Some(at));
        assert_eq!(flags("my_pkg"), "--lib", "no src/main.rs: a library");
        assert_eq!(flags("it"), "--test it");
        assert_eq!(flags("my_test"), "--test my-test");
        assert_eq!(flags("my_tool"), "--bin my-tool");
        assert_eq!(flags("other"), "--bin other");
        assert_eq!(flags("speed"), "--bench speed");
        assert_eq!(flags("gone"), "--test gone");
        assert_eq!(target_flags("my-pkg", "demo", true, Some(at)), "--example demo");
        write("src/main.rs", "");
        assert_eq!(flags("my_pkg"), "--bins", "a binary crate");
        write("src/lib.rs", "");
        assert_eq!(flags("my_pkg"), "--lib --bins", "both: the filter finds the test in either");
        // An integration test named as its package.
        write("tests/my-pkg.rs", "");
        assert_eq!(flags("my_pkg"), "--lib --bins --test my-pkg");
        // Targets the manifest names: a binary renamed from src/main.rs
        // (as this workspace's `steadfast`), a library, a test and a
        // bench with their own names and paths.
        write(
            "Cargo.toml",
            "[package]\nname = \"my-pkg\"\n\n[lib]\nname = \"core_of_it\"\n\n[[bin]] # the tool\nname = 'sf'\npath = \"src/main.rs\"\n\n[[test]]\nname = \"e2e\"\npath = \"checks/e2e.rs\"\n\n[[bench]]\nname = \"load-bench\"\npath = \"perf/load.rs\"\n",
        );
        assert_eq!(flags("sf"), "--bin sf");
        assert_eq!(flags("core_of_it"), "--lib");
        assert_eq!(flags("e2e"), "--test e2e");
        assert_eq!(flags("load_bench"), "--bench load-bench");
        assert_eq!(flags("my_pkg"), "--bins --test my-pkg", "the library is named otherwise");
        assert_eq!(target_flags("my-pkg", "my_pkg", false, None), "--lib");
    }

    /// A pasted command means what was printed, whatever a name holds.
    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(shell_quote("a/b-c"), "'a/b-c'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let quoted = shell_quote("x'y\"z $HOME");
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf %s {quoted}")).output();
        assert_eq!(String::from_utf8_lossy(&out.expect("sh").stdout), "x'y\"z $HOME");
    }
}

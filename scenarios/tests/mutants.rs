//! The hold sweeps that judge each mutant of `core` (issue 20; run by
//! cargo-mutants through `.cargo/mutants.toml`, see MUTANTS.md): every
//! `hold` scenario that runs `core` under faults, sized so that one mutant
//! costs about half a minute of sweeping on 2 cores. A mutant is killed
//! when any seed breaks any invariant, or a coverage point goes unreached.
//! Not part of `cargo test --workspace` (`test = false`: CI runs the same
//! sweeps at full size in `tests/it/sweeps.rs`); run it by name:
//! `cargo test -p steadfast-scenarios --test mutants`.

/// Sweep `name` over `seeds` seeds; regression seeds are neither read nor
/// written (a mutant's failures are not the project's regressions).
fn sweep(name: &str, seeds: u64) {
    let sc = steadfast_scenarios::find(name).unwrap_or_else(|| panic!("no scenario {name}"));
    steadfast_sim::check(sc).seeds(seeds).regressions(None).run();
}

#[test]
fn trace() {
    sweep("trace", 1_000);
}

#[test]
fn trace_shared_dir() {
    sweep("trace-shared-dir", 300);
}

#[test]
fn lock() {
    sweep("lock", 1_000);
}

#[test]
fn retention() {
    sweep("retention", 300);
}

#[test]
fn liveness() {
    sweep("liveness", 200);
}

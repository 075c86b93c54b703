//! The `steadfast` command line.

fn main() {
    println!("steadfast: the simulated world and its scenarios have not landed yet.");
    println!("What exists: steadfast-core's seams (Fs, Clock, Procs, Spawn, Entropy),");
    println!("its real adapters (feature `real`) and the file-system conformance suite");
    println!("(feature `conformance`), {} cases.", steadfast_core::conformance::CASES.len());
}

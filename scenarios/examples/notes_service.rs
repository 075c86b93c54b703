//! The pattern a production adapter copies: a toy service written once
//! against `steadfast-core`'s seams, run in production on the real
//! adapters (`main`), and tested under the simulator with its own
//! invariant (the tests at the bottom, one `check` call).
//!
//! The service takes notes: each note is recorded in its session's trace
//! and acknowledged once `flush` has made it durable. Its promise, N1:
//! every acknowledged note survives a power loss.
//!
//! ```sh
//! cargo run -p steadfast-scenarios --example notes_service -- /tmp/notes   # production, real files
//! cargo test -p steadfast-scenarios --example notes_service                # the same code, simulated
//! ```

use std::path::Path;
use std::sync::Arc;

use steadfast_core::Env;
use steadfast_core::trace::{FileExporter, FileExporterConfig, Session, TraceConfig, TraceError, Tracer};

/// The service: written against `Env`, so it runs on either world.
struct NotesService {
    session: Session,
    exporter: Arc<FileExporter>,
}

impl NotesService {
    async fn open(env: &Env, dir: &Path, id: &str) -> std::io::Result<NotesService> {
        let exporter = Arc::new(FileExporter::open(env, dir, FileExporterConfig::default()).await?);
        let tracer = Tracer::new(env, vec![exporter.clone()], TraceConfig::default());
        Ok(NotesService { session: tracer.start(id), exporter })
    }

    /// Take a note; `Ok` means it is durable (the acknowledgement).
    async fn add(&self, note: &str) -> Result<(), TraceError> {
        self.session.record(note, None, serde_json::Value::Null);
        self.session.flush().await
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "notes".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let env = Env::real()?;
        let svc = NotesService::open(&env, Path::new(&dir), "demo").await?;
        for n in ["buy milk", "call back", "ship it"] {
            svc.add(n).await?;
            println!("acknowledged: {n}");
        }
        println!("trace: {}", svc.exporter.path_for("demo").display());
        Ok(())
    })
}

#[cfg(test)]
mod simulated {
    use std::sync::Mutex;

    use steadfast_core::trace::TraceDoc;
    use steadfast_sim::schedule::{Event, Latency, Mount, TimedEvent};
    use steadfast_sim::world::{Invariant, LocalBoxFuture};
    use steadfast_sim::{Expect, Scenario, Schedule, SimRng, World};

    use super::*;

    const N1: &[Invariant] = &[Invariant { id: "N1", statement: "every acknowledged note survives a power loss" }];

    /// Notes taken on a slow disk while the power fails at a seeded instant.
    struct NotesUnderPowerLoss;

    impl Scenario for NotesUnderPowerLoss {
        fn name(&self) -> &'static str {
            "example/notes-under-power-loss"
        }
        fn expect(&self) -> Expect {
            Expect::Hold
        }
        fn description(&self) -> &'static str {
            "the notes service, power loss at a seeded instant"
        }
        fn invariants(&self) -> &'static [Invariant] {
            N1
        }
        fn schedule(&self, seed: u64) -> Schedule {
            let mut rng = SimRng::new(seed, 1);
            let mut s = Schedule::calm(seed, 5_000);
            s.metadata_commit_ms = Some(rng.range(5, 500));
            s.mounts.push(Mount { prefix: "/".into(), latency: vec![Latency { ops: vec![], ms_min: 0, ms_max: 30 }] });
            let at_ms = rng.range(1, 4_000);
            s.events
                .push(TimedEvent { at_ms, what: Event::PowerLoss { torn: rng.chance(0.5), restart_after_ms: None } });
            s
        }
        fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
            Box::pin(async move {
                let acked: Arc<Mutex<usize>> = Arc::default();
                let a = acked.clone();
                world.add_node("svc", move |w| {
                    let acked = a.clone();
                    async move {
                        let Ok(svc) = NotesService::open(&w.env(), Path::new("/notes"), "s").await else { return };
                        for i in 0.. {
                            if svc.add(&format!("note {i}")).await.is_err() {
                                return;
                            }
                            *acked.lock().expect("lock") = i + 1;
                        }
                    }
                });
                world.sleep_until(world.chaos_end()).await;
                let acked = *acked.lock().expect("lock");
                let held = world
                    .peek_file(Path::new("/notes/s.trace.json"))
                    .ok()
                    .and_then(|b| TraceDoc::parse(&b).ok())
                    .map_or(0, |d| d.events.len());
                world.check("N1", held >= acked, || format!("{acked} notes acknowledged, {held} on disk"));
            })
        }
    }

    #[test]
    fn acknowledged_notes_survive_power_loss() {
        steadfast_sim::check(&NotesUnderPowerLoss).seeds(300).regressions(None).run();
    }
}

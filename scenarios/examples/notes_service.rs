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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use steadfast_core::trace::TraceDoc;
    use steadfast_sim::{Schedule, ScheduleEvent, SimRng, TimedEvent, scenario};

    use super::*;

    /// Notes taken on a slow disk while the power fails at a seeded
    /// instant; N1 judged at the end on what the disk kept.
    #[test]
    fn acknowledged_notes_survive_power_loss() {
        let sc = scenario("example/notes-under-power-loss")
            .description("the notes service, power loss at a seeded instant")
            .invariant("N1", "every acknowledged note survives a power loss")
            .schedule(|seed| {
                let mut s = Schedule::storage_faults(seed);
                s.errors.clear(); // N1 is about power loss; a failed flush is no acknowledgement anyway
                s.events.clear();
                let mut rng = SimRng::new(seed, 1);
                let what = ScheduleEvent::PowerLoss { torn: rng.chance(0.5), restart_after_ms: None };
                s.events.push(TimedEvent { at_ms: rng.range(1, 9_000), what });
                s
            })
            .node("svc", |w| async move {
                let acked = w.shared::<AtomicUsize>();
                let Ok(svc) = NotesService::open(&w.env(), Path::new("/notes"), "s").await else { return };
                for i in 0.. {
                    if svc.add(&format!("note {i}")).await.is_err() {
                        return;
                    }
                    acked.store(i + 1, Ordering::Relaxed);
                }
            })
            .at_end(|w| async move {
                let acked = w.shared::<AtomicUsize>().load(Ordering::Relaxed);
                let held = w
                    .peek_file(Path::new("/notes/s.trace.json"))
                    .ok()
                    .and_then(|b| TraceDoc::parse(&b).ok())
                    .map_or(0, |d| d.events.len());
                w.check("N1", held >= acked, || format!("{acked} notes acknowledged, {held} on disk"));
            })
            .build();
        steadfast_sim::check(&sc).seeds(300).regressions(None).run();
    }
}

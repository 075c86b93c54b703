//! [`Heartbeat`] and [`Health`] (H1).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::spawn::TaskHandle;
use crate::{Clock, Env, Mono};

/// Heartbeat timing. Defaults are upstream's.
#[derive(Clone, Copy, Debug)]
pub struct HeartbeatConfig {
    /// How often the loop ticks. Default 5 s.
    pub tick: Duration,
    /// Health turns stalled once the last tick is older than this.
    /// Default 30 s.
    pub stalled_after: Duration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig { tick: Duration::from_secs(5), stalled_after: Duration::from_secs(30) }
    }
}

/// One tick, as measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// When it ran.
    pub at: Mono,
    /// How late it ran: elapsed since the previous tick minus the period.
    pub lag: Duration,
}

struct State {
    last: Tick,
    lag_max: Duration,
}

/// An event-loop heartbeat. Cheap to clone.
#[derive(Clone)]
pub struct Heartbeat {
    clock: Arc<dyn Clock>,
    config: HeartbeatConfig,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeat").field("config", &self.config).finish_non_exhaustive()
    }
}

/// What `/healthz` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The event loop ticked recently enough.
    pub ok: bool,
    /// Time since the last tick, in ms.
    pub since_tick_ms: u64,
    /// The last tick's measured lag, in ms.
    pub lag_ms: u64,
    /// The largest lag seen, in ms.
    pub lag_max_ms: u64,
}

impl Health {
    /// The HTTP status: 200 when ok, 503 when stalled.
    pub fn status_code(&self) -> u16 {
        if self.ok { 200 } else { 503 }
    }

    /// The JSON body: the state and the event loop's figures.
    ///
    /// ```
    /// use steadfast_core::liveness::Health;
    /// let h = Health { ok: false, since_tick_ms: 31_000, lag_ms: 12, lag_max_ms: 26_000 };
    /// assert_eq!(h.status_code(), 503);
    /// assert!(h.to_json().starts_with(r#"{"status":"stalled""#));
    /// ```
    pub fn to_json(&self) -> String {
        format!(
            "{{\"status\":\"{}\",\"event_loop\":{{\"ok\":{},\"since_tick_ms\":{},\"lag_ms\":{},\"lag_max_ms\":{}}}}}",
            if self.ok { "ok" } else { "stalled" },
            self.ok,
            self.since_tick_ms,
            self.lag_ms,
            self.lag_max_ms
        )
    }
}

impl Heartbeat {
    /// Start ticking on a background task (it runs until the runtime or
    /// simulated node stops, or the handle is aborted: a loop meant to run
    /// forever). `on_tick` sees every tick (for metrics, or a checker).
    pub fn start(
        env: &Env,
        config: HeartbeatConfig,
        on_tick: Option<Box<dyn Fn(Tick) + Send + Sync>>,
    ) -> (Heartbeat, TaskHandle) {
        let first = Tick { at: env.clock.now(), lag: Duration::ZERO };
        let hb = Heartbeat {
            clock: env.clock.clone(),
            config,
            state: Arc::new(Mutex::new(State { last: first, lag_max: Duration::ZERO })),
        };
        let me = hb.clone();
        let task = env.spawner.spawn(
            "heartbeat",
            Box::pin(async move {
                loop {
                    let before = me.clock.now();
                    me.clock.sleep(me.config.tick).await;
                    let at = me.clock.now();
                    let tick = Tick { at, lag: at.saturating_since(before).saturating_sub(me.config.tick) };
                    {
                        let mut st = me.lock();
                        st.last = tick;
                        st.lag_max = st.lag_max.max(tick.lag);
                    }
                    if let Some(f) = &on_tick {
                        f(tick);
                    }
                }
            }),
        );
        (hb, task)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The health answer now (H1).
    pub fn health(&self) -> Health {
        let now = self.clock.now();
        let st = self.lock();
        let since = now.saturating_since(st.last.at);
        Health {
            ok: since <= self.config.stalled_after,
            since_tick_ms: since.as_millis() as u64,
            lag_ms: st.last.lag.as_millis() as u64,
            lag_max_ms: st.lag_max.as_millis() as u64,
        }
    }
}

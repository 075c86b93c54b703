//! Swarm testing, as in TigerBeetle's simulator: every seed draws its own
//! mood (calm, one fault kind only, a mix, or brutal) and its own rate per
//! fault kind, instead of one fixed mix for every seed. A fixed mix keeps
//! rare combinations rare; a swarm reaches them in some seeds and keeps
//! other seeds quiet enough for long, deep runs.

use std::collections::BTreeMap;

use crate::rng::SimRng;

/// How brutal a seed's world is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mood {
    /// No faults at all: the workload's own concurrency only.
    Calm,
    /// Exactly one fault kind, at a high rate.
    OneKind,
    /// Each kind on with probability one half, at a low to moderate rate.
    Mixed,
    /// Every kind on, at a high rate.
    Brutal,
}

/// A seed's draw: a mood and a rate per fault kind, fixed at construction
/// (so asking in any order gives the same answers).
#[derive(Clone, Debug)]
pub struct Swarm {
    mood: Mood,
    rates: BTreeMap<&'static str, f64>,
    rng: SimRng,
}

/// Share of seeds per mood, in per mille: calm, one kind, mixed, brutal.
const MOOD_PER_MILLE: [u64; 4] = [100, 300, 400, 200];

impl Swarm {
    /// Draw the swarm of `seed` over the scenario's fault `kinds`.
    pub fn draw(seed: u64, kinds: &[&'static str]) -> Swarm {
        let mut rng = SimRng::new(seed, 0x5A);
        let roll = rng.range(0, 999);
        let mood = match roll {
            r if r < MOOD_PER_MILLE[0] => Mood::Calm,
            r if r < MOOD_PER_MILLE[0] + MOOD_PER_MILLE[1] => Mood::OneKind,
            r if r < MOOD_PER_MILLE[0] + MOOD_PER_MILLE[1] + MOOD_PER_MILLE[2] => Mood::Mixed,
            _ => Mood::Brutal,
        };
        let only = if kinds.is_empty() { None } else { Some(*rng.pick(kinds)) };
        let mut rates = BTreeMap::new();
        for &kind in kinds {
            // Draw for every kind whatever the mood, so adding a kind to a
            // scenario changes no other kind's rate.
            let (on, lo, hi) = match mood {
                Mood::Calm => (false, 0, 0),
                Mood::OneKind => (Some(kind) == only, 50, 300),
                Mood::Mixed => (rng.chance(0.5), 5, 100),
                Mood::Brutal => (true, 100, 400),
            };
            let rate = rng.range(lo, hi) as f64 / 1000.0;
            rates.insert(kind, if on { rate } else { 0.0 });
        }
        Swarm { mood, rates, rng }
    }

    /// The seed's mood.
    pub fn mood(&self) -> Mood {
        self.mood
    }

    /// The rate of `kind` in `0..=0.4`; 0 when off or not declared.
    pub fn rate(&self, kind: &str) -> f64 {
        self.rates.get(kind).copied().unwrap_or(0.0)
    }

    /// Is `kind` on for this seed?
    pub fn on(&self, kind: &str) -> bool {
        self.rate(kind) > 0.0
    }

    /// The swarm's own stream, for the rest of the schedule's choices.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[&str] = &["eio", "enospc", "slow", "crash"];

    #[test]
    fn moods_and_rates_follow_their_shares() {
        let mut moods = BTreeMap::new();
        for seed in 0..10_000 {
            let s = Swarm::draw(seed, KINDS);
            *moods.entry(format!("{:?}", s.mood())).or_insert(0u32) += 1;
            let on = KINDS.iter().filter(|k| s.on(k)).count();
            match s.mood() {
                Mood::Calm => assert_eq!(on, 0),
                Mood::OneKind => assert_eq!(on, 1),
                Mood::Brutal => assert_eq!(on, KINDS.len()),
                Mood::Mixed => {}
            }
            assert!(KINDS.iter().all(|k| (0.0..=0.4).contains(&s.rate(k))));
        }
        // Shares within 2 points of the declared ones, over 10,000 seeds.
        for (mood, per_mille) in ["Calm", "OneKind", "Mixed", "Brutal"].iter().zip(MOOD_PER_MILLE) {
            let got = moods.get(*mood).copied().unwrap_or(0) as u64;
            assert!(got.abs_diff(per_mille * 10) < 200, "{mood}: {got} of 10000");
        }
    }

    #[test]
    fn a_seed_draws_the_same_swarm_every_time() {
        let (a, b) = (Swarm::draw(77, KINDS), Swarm::draw(77, KINDS));
        assert_eq!(a.mood(), b.mood());
        assert!(KINDS.iter().all(|k| a.rate(k) == b.rate(k)));
    }
}

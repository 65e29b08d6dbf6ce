//! The per-fly CSVs (`step,trial,odor,accept,reward`, one row per odor presentation) and the
//! sessions made from them.

use super::config::{BehaviorData, FitBehaviorConfig, FliesConfig};
use super::model::*;
use crate::rng::Rng;
use std::path::Path;

/// One fly's recorded presentations.
#[derive(Debug, Clone, PartialEq)]
pub struct FlyChoices {
    /// Odor of each presentation (0 = A, 1 = B).
    pub odor: Vec<u8>,
    /// Accepted or not.
    pub accept: Vec<bool>,
    /// Reward on accepted presentations (0 or 1), 0 on rejected ones.
    pub reward: Vec<f64>,
    /// Number of trials.
    pub trials: usize,
}

/// Parses one fly's CSV (`step,trial,odor,accept,reward`; see the data README). `name` is used
/// in errors, which read `name:line: problem`. Never panics, whatever the text.
pub fn parse_fly_csv(text: &str, name: &str) -> Result<FlyChoices, String> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim_end_matches('\r').trim())
        .unwrap_or("");
    if header != "step,trial,odor,accept,reward" {
        return Err(format!(
            "{name}:1: expected the header `step,trial,odor,accept,reward`, got `{}`",
            header.chars().take(80).collect::<String>()
        ));
    }
    let mut out = FlyChoices {
        odor: Vec::new(),
        accept: Vec::new(),
        reward: Vec::new(),
        trials: 0,
    };
    let mut trial_open = false;
    for (i, raw) in lines {
        let ln = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 5 {
            return Err(format!(
                "{name}:{ln}: expected 5 comma-separated fields, got {}",
                f.len()
            ));
        }
        let step: usize = f[0]
            .trim()
            .parse()
            .map_err(|_| format!("{name}:{ln}: step: expected a whole number, got `{}`", f[0]))?;
        if step != out.odor.len() {
            return Err(format!(
                "{name}:{ln}: step: expected {} (steps count up from 0), got {step}",
                out.odor.len()
            ));
        }
        let trial: usize = f[1].trim().parse().map_err(|_| {
            format!(
                "{name}:{ln}: trial: expected a whole number, got `{}`",
                f[1]
            )
        })?;
        let expected_trial = out.trials - usize::from(trial_open);
        if trial != expected_trial {
            return Err(format!(
                "{name}:{ln}: trial: expected {expected_trial} (a trial ends at its accepted presentation), got {trial}"
            ));
        }
        let odor = match f[2].trim() {
            "A" => 0,
            "B" => 1,
            o => return Err(format!("{name}:{ln}: odor: expected A or B, got `{o}`")),
        };
        let accept = match f[3].trim() {
            "1" => true,
            "0" => false,
            a => return Err(format!("{name}:{ln}: accept: expected 0 or 1, got `{a}`")),
        };
        let reward = match (accept, f[4].trim()) {
            (true, "1") => 1.0,
            (true, "0") => 0.0,
            (false, "") => 0.0,
            (true, v) => {
                return Err(format!(
                    "{name}:{ln}: reward: expected 0 or 1 on an accepted row, got `{v}`"
                ))
            }
            (false, v) => {
                return Err(format!(
                    "{name}:{ln}: reward: expected an empty field on a rejected row, got `{v}`"
                ))
            }
        };
        if !trial_open {
            out.trials += 1;
        }
        trial_open = !accept;
        out.odor.push(odor);
        out.accept.push(accept);
        out.reward.push(reward);
        if out.odor.len() > 1_000_000 {
            return Err(format!("{name}:{ln}: more than 1000000 presentations"));
        }
    }
    if out.odor.is_empty() {
        return Err(format!("{name}: no presentations after the header"));
    }
    Ok(out)
}

/// The CSV path of fly `id` in `dir`.
pub fn fly_path(dir: &Path, id: u32) -> std::path::PathBuf {
    dir.join(format!("fly{id:02}.csv"))
}

/// Reads and parses every listed fly; the error names the file (and line).
pub fn load_flies(f: &FliesConfig) -> Result<Vec<(u32, FlyChoices)>, String> {
    let dir = Path::new(&f.dir);
    let ids: Vec<u32> = match &f.ids {
        Some(ids) => ids.iter().map(|c| c.0).collect(),
        None => (1..=18).collect(),
    };
    ids.iter()
        .map(|&id| {
            let p = fly_path(dir, id);
            let bytes = std::fs::read(&p).map_err(|e| {
                format!(
                    "{}: cannot read fly data: {e} (data.flies.dir names the directory of fly01.csv ... fly18.csv; see the README for where to get them)",
                    p.display()
                )
            })?;
            if bytes.len() > 64 << 20 {
                return Err(format!("{}: larger than 64 MiB", p.display()));
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| format!("{}: not UTF-8 text: {e}", p.display()))?;
            parse_fly_csv(text, &p.display().to_string()).map(|c| (id, c))
        })
        .collect()
}

/// Checks the data a config names, before a run directory exists (bad data: exit 2).
pub fn check_data(cfg: &FitBehaviorConfig) -> Result<(), String> {
    match &cfg.data {
        BehaviorData::Flies(f) => load_flies(f).map(|_| ()),
        BehaviorData::Choices(c) => {
            let recs = super::choices::load_choices(c)?;
            super::choices_run::held_out_sessions(cfg, recs.len(), &c.file).map(|_| ())
        }
        BehaviorData::Simulated(_) => Ok(()),
    }
}

/// A fly's session: inputs synthesised from odor identity with seeded noise, and seeded
/// initial weights.
pub fn fly_session(cfg: &FitBehaviorConfig, c: &FlyChoices, rng: &mut Rng) -> SessionData {
    let w0 = initial_weights(cfg, rng);
    let mut x = Vec::with_capacity(c.odor.len() * 2);
    let mut buf = [0.0; 2];
    for &o in &c.odor {
        odor_input(cfg, o, rng, &mut buf);
        x.extend_from_slice(&buf);
    }
    SessionData {
        x,
        odor: c.odor.clone(),
        accept: c.accept.clone(),
        reward: c.reward.clone(),
        r: reward_signals(&c.accept, &c.reward),
        w0,
    }
}

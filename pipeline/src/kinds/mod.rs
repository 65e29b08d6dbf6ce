//! The registry: every experiment kind this build knows, in one list. `synplast list`,
//! parsing, `check`, `run`, `--resume` and data checks all go through it.
//!
//! A new kind is a folder here (its config, validation, run, metrics and artifacts, and a type
//! implementing [`Kind`]) plus two lines in this file: its `pub mod` and its entry in
//! [`KINDS`]. Nothing else in the crate names a kind.

pub mod fit_behavior;
pub mod fit_rate;
pub mod meta_function;
pub mod prune;
pub mod rule_filter;
pub mod spiking;

use crate::config::{self, ConfigError};
use crate::kind::{Experiment, Kind};
use crate::rundir::Resume;
use std::marker::PhantomData;
use std::path::Path;

/// A registered kind, as the command line sees it.
pub trait Entry: Sync {
    /// The value of `kind:`.
    fn name(&self) -> &'static str;
    /// One line for `synplast list`.
    fn about(&self) -> &'static str;
    /// What `--resume` does.
    fn resume(&self) -> Resume;
    /// Parses and validates experiment text of this kind.
    fn parse(&self, text: &str, file: &str) -> Result<Experiment, ConfigError>;
}

struct Registered<K>(PhantomData<K>);

impl<K: Kind> Entry for Registered<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn about(&self) -> &'static str {
        K::ABOUT
    }
    fn resume(&self) -> Resume {
        K::RESUME
    }
    fn parse(&self, text: &str, file: &str) -> Result<Experiment, ConfigError> {
        config::parse_typed::<K::Config>(text, file, K::validate).map(Experiment::new::<K>)
    }
}

/// The experiment kinds of this build.
pub static KINDS: &[&dyn Entry] = &[
    &Registered::<fit_rate::FitRate>(PhantomData),
    &Registered::<fit_behavior::FitBehavior>(PhantomData),
    &Registered::<prune::Prune>(PhantomData),
    &Registered::<spiking::Spiking>(PhantomData),
    &Registered::<rule_filter::RuleFilter>(PhantomData),
    &Registered::<meta_function::MetaFunction>(PhantomData),
];

/// The kind called `name`.
pub fn find(name: &str) -> Option<&'static dyn Entry> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

fn kind_names() -> String {
    KINDS
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads, parses and validates an experiment file.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    let bytes = config::read_file(path)?;
    parse_bytes(&bytes, &path.display().to_string())
}

/// Parses and validates the raw bytes of an experiment file (size limit, UTF-8, YAML,
/// schema, ranges); `file` names it in errors. Never panics, whatever the bytes.
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Experiment, ConfigError> {
    parse_str(config::text_of(bytes, file)?, file)
}

/// Parses and validates experiment text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<Experiment, ConfigError> {
    let text = config::text_of(text.as_bytes(), file)?;
    let kind = config::kind_of(text, file, &kind_names())?;
    match find(&kind) {
        Some(k) => k.parse(text, file),
        None => Err(config::positioned(
            text,
            file,
            (
                "kind".into(),
                format!("unknown experiment kind `{kind}`; one of: {}", kind_names()),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = include_str!("../../../experiments/oja_recovery.yaml");

    #[test]
    fn shipped_config_parses_and_round_trips_through_yaml() {
        let exp = parse_str(GOOD, "good.yaml").unwrap();
        let again = parse_str(&exp.to_yaml(), "resolved.yaml").unwrap();
        assert_eq!(exp, again);
        assert_eq!(exp.hash(), again.hash());
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!("b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        bomb.push_str("kind: fit_rate\n");
        assert!(parse_str(&bomb, "bomb.yaml").is_err());
        let deep = format!(
            "kind: fit_rate\nname: {}1{}\n",
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(parse_str(&deep, "deep.yaml").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary bytes never panic; every error carries a position.
        #[test]
        fn arbitrary_bytes_give_a_value_or_a_positioned_error(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Err(e) = parse_bytes(&bytes, "fuzz.yaml") {
                prop_assert!(e.line >= 1 && e.col >= 1);
                prop_assert!(!e.problem.is_empty());
            }
        }

        /// A valid file with one line deleted or one character replaced: never a panic, and
        /// an error names a position inside the file.
        #[test]
        fn mutated_configs_fail_cleanly(line in 0usize..40, pos in 0usize..2000, ch in proptest::char::any()) {
            let mut lines: Vec<&str> = GOOD.lines().collect();
            if line < lines.len() {
                lines.remove(line);
            }
            let mut text = lines.join("\n");
            if let Some((i, _)) = text.char_indices().nth(pos % text.chars().count().max(1)) {
                let len = text[i..].chars().next().map(char::len_utf8).unwrap_or(0);
                text.replace_range(i..i + len, &ch.to_string());
            }
            if let Err(e) = parse_str(&text, "mutated.yaml") {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1) + 1, "{e}");
            }
        }
    }
}

//! The contract of an experiment kind, and [`Experiment`], a parsed experiment of any kind.
//!
//! A kind is a folder under `kinds/` holding its config types, validation, run, metrics and
//! artifacts, plus one type implementing [`Kind`]; the registry (`kinds/mod.rs`) lists the
//! kinds. Nothing outside a kind's folder and the registry names a kind: the command line,
//! parsing, `check`, `run`, `--resume` and data checks all go through this trait.
//!
//! Raw input is parsed into the kind's [`Kind::Config`] (serde, unknown keys rejected), checked
//! by [`Kind::validate`], and completed by [`Kind::fill_defaults`] (the seed and every derived
//! default written into the config, so `config.yaml` states every value a run used).

use crate::config;
use crate::error::{ConfigError, RunError};
use crate::rundir::{Job, Resume, RunDir};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::fmt::Debug;
use std::marker::PhantomData;

/// One experiment kind.
pub trait Kind: Sized + Send + Sync + 'static {
    /// The kind's config, as read from YAML (serde; `deny_unknown_fields`).
    type Config: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static;
    /// The value of `kind:` in an experiment file.
    const NAME: &'static str;
    /// One line for `synplast list`.
    const ABOUT: &'static str;
    /// What `synplast run --resume` does for this kind.
    const RESUME: Resume;
    /// Whether the kind can spread a run over processes (`--shard I/N`, `synplast merge`):
    /// its run then reads [`RunDir::shard`] and [`RunDir::merging`].
    const SHARDS: bool = false;
    /// The experiment's name (the run directory's parent).
    fn name(c: &Self::Config) -> &str;
    /// The seed, if set.
    fn seed(c: &Self::Config) -> Option<u64>;
    /// Sets the seed.
    fn set_seed(c: &mut Self::Config, seed: u64);
    /// Semantic checks after parsing: the dotted field path and the problem.
    fn validate(c: &Self::Config) -> Result<(), (String, String)>;
    /// Writes derived defaults into the config (before the config is hashed). It must leave an
    /// already completed config unchanged: `--resume` completes the saved `config.yaml` again
    /// and compares its hash with the run's.
    fn fill_defaults(_c: &mut Self::Config) {}
    /// Checks the data files the config names, so bad data is an exit-2 error before
    /// anything is written.
    fn check_data(_c: &Self::Config) -> Result<(), String> {
        Ok(())
    }
    /// Runs the experiment into `dir`; returns the summary printed on stdout.
    fn run(c: &Self::Config, dir: &RunDir) -> Result<String, RunError>;
}

/// Writes [`Kind::name`], [`Kind::seed`] and [`Kind::set_seed`] for a config with fields
/// `name: String` and `seed: Option<u64>` (every kind's config has them).
macro_rules! name_and_seed {
    () => {
        fn name(c: &Self::Config) -> &str {
            &c.name
        }
        fn seed(c: &Self::Config) -> Option<u64> {
            c.seed
        }
        fn set_seed(c: &mut Self::Config, seed: u64) {
            c.seed = Some(seed);
        }
    };
}
pub(crate) use name_and_seed;

/// The value of `kind:` inside a kind's config: serialised as the kind's name, and only that
/// name is accepted when reading.
pub struct KindName<K>(PhantomData<K>);

impl<K> KindName<K> {
    /// The tag.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}
impl<K> Default for KindName<K> {
    fn default() -> Self {
        Self::new()
    }
}
impl<K> Clone for KindName<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for KindName<K> {}
impl<K> PartialEq for KindName<K> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<K: Kind> Debug for KindName<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(K::NAME)
    }
}
impl<K: Kind> Serialize for KindName<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(K::NAME)
    }
}
impl<'de, K: Kind> serde::Deserialize<'de> for KindName<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == K::NAME {
            Ok(Self::new())
        } else {
            Err(serde::de::Error::custom(format!("must be {}", K::NAME)))
        }
    }
}

/// The object-safe face of a typed config.
trait Erased: Debug + Send + Sync {
    fn kind(&self) -> &'static str;
    fn name(&self) -> &str;
    fn seed(&self) -> Option<u64>;
    fn set_seed(&mut self, seed: u64);
    fn fill_defaults(&mut self);
    fn to_json(&self) -> serde_json::Value;
    fn to_yaml(&self) -> String;
    fn validate(&self) -> Result<(), (String, String)>;
    fn check_data(&self) -> Result<(), String>;
    fn with_overrides(&self, overrides: &[String]) -> Result<Box<dyn Erased>, ConfigError>;
    fn resume(&self) -> Resume;
    fn shards(&self) -> bool;
    fn run(&self, dir: &RunDir) -> Result<String, RunError>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn clone_box(&self) -> Box<dyn Erased>;
}

struct Typed<K: Kind>(K::Config);

impl<K: Kind> Debug for Typed<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<K: Kind> Erased for Typed<K> {
    fn kind(&self) -> &'static str {
        K::NAME
    }
    fn name(&self) -> &str {
        K::name(&self.0)
    }
    fn seed(&self) -> Option<u64> {
        K::seed(&self.0)
    }
    fn set_seed(&mut self, seed: u64) {
        K::set_seed(&mut self.0, seed)
    }
    fn fill_defaults(&mut self) {
        K::fill_defaults(&mut self.0)
    }
    fn to_json(&self) -> serde_json::Value {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&self.0).unwrap_or_default()
    }
    fn validate(&self) -> Result<(), (String, String)> {
        K::validate(&self.0)
    }
    fn check_data(&self) -> Result<(), String> {
        K::check_data(&self.0)
    }
    fn with_overrides(&self, overrides: &[String]) -> Result<Box<dyn Erased>, ConfigError> {
        config::apply_overrides(&self.0, overrides, K::validate)
            .map(|c| Box::new(Typed::<K>(c)) as Box<dyn Erased>)
    }
    fn resume(&self) -> Resume {
        K::RESUME
    }
    fn shards(&self) -> bool {
        K::SHARDS
    }
    fn run(&self, dir: &RunDir) -> Result<String, RunError> {
        K::run(&self.0, dir)
    }
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        &mut self.0
    }
    fn clone_box(&self) -> Box<dyn Erased> {
        Box::new(Typed::<K>(self.0.clone()))
    }
}

/// A parsed and validated experiment of any kind.
#[derive(Debug)]
pub struct Experiment(Box<dyn Erased>);

impl Clone for Experiment {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl PartialEq for Experiment {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_json() == other.0.to_json()
    }
}

impl Experiment {
    /// Wraps a config of kind `K` (not validated here: the registry's parsers validate).
    pub fn new<K: Kind>(config: K::Config) -> Self {
        Self(Box::new(Typed::<K>(config)))
    }
    /// The config, if this is an experiment of kind `K`.
    pub fn config<K: Kind>(&self) -> Option<&K::Config> {
        self.0.as_any().downcast_ref()
    }
    /// The config, mutably, if this is an experiment of kind `K`. Validate again after a
    /// change ([`Experiment::validate`]).
    pub fn config_mut<K: Kind>(&mut self) -> Option<&mut K::Config> {
        self.0.as_any_mut().downcast_mut()
    }
    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }
    /// The experiment's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }
    /// The seed, if set.
    pub fn seed(&self) -> Option<u64> {
        self.0.seed()
    }
    /// Sets the seed.
    pub fn set_seed(&mut self, seed: u64) {
        self.0.set_seed(seed)
    }
    /// Draws a seed if there is none and writes the derived defaults into the config, so
    /// `config.yaml` states every value used.
    pub fn resolve(&mut self) {
        if self.seed().is_none() {
            self.set_seed(crate::rundir::draw_seed());
        }
        self.0.fill_defaults();
    }
    /// The semantic checks of the kind.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.0.validate()
    }
    /// Checks the data files the experiment reads.
    pub fn check_data(&self) -> Result<(), String> {
        self.0.check_data()
    }
    /// Applies Hydra-style overrides `a.b=value` (see [`config::apply_overrides`]).
    pub fn apply_overrides(self, overrides: &[String]) -> Result<Self, ConfigError> {
        if overrides.is_empty() {
            return Ok(self);
        }
        self.0.with_overrides(overrides).map(Self)
    }
    /// The resolved config as JSON with sorted keys (the canonical form the hash is over).
    pub fn canonical_json(&self) -> String {
        self.0.to_json().to_string()
    }
    /// FNV-1a 64 of the canonical JSON, as 16 hex digits.
    pub fn hash(&self) -> String {
        format!("{:016x}", config::fnv1a(self.canonical_json().as_bytes()))
    }
    /// The resolved config as YAML (what `config.yaml` holds).
    pub fn to_yaml(&self) -> String {
        self.0.to_yaml()
    }
}

impl Job for Experiment {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn hash(&self) -> String {
        Experiment::hash(self)
    }
    fn to_yaml(&self) -> String {
        self.0.to_yaml()
    }
    fn resume(&self) -> Resume {
        self.0.resume()
    }
    fn shards(&self) -> bool {
        self.0.shards()
    }
    fn run(&self, dir: &RunDir) -> Result<String, RunError> {
        self.0.run(dir)
    }
}

//! The crate's two error types, at the bottom of the module graph (this file imports nothing
//! of the crate):
//! - [`ConfigError`]: a problem in an experiment file, an override or the data it names;
//!   printed `file:line:col: field: problem`, exit code 2, nothing written;
//! - [`RunError`]: a failure while running (exit code 1; `meta.json` says `failed` and why),
//!   or a requested stop (Ctrl-C, SIGTERM, SIGHUP: exit 130, `meta.json` says `interrupted`).

use std::fmt;

/// A problem in an experiment file or an override, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file (or `<override>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Dotted field path (empty when the problem is the whole document).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            "(document)"
        } else {
            &self.field
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, field, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

/// A failure while running (exit code 1), or a requested stop.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    /// What happened.
    pub message: String,
    /// True when the run stopped because it was asked to (Ctrl-C, SIGTERM, SIGHUP), not
    /// because it failed.
    pub interrupted: bool,
}

impl RunError {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            interrupted: false,
        }
    }

    /// A requested stop.
    pub fn interrupted() -> Self {
        Self {
            message: "interrupted".into(),
            interrupted: true,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RunError {}

/// A kernel error as a [`RunError`], with what was being done.
pub fn kernel_error(context: &str, e: synplast_kernels::KernelError) -> RunError {
    RunError::new(format!("{context}: {e}"))
}

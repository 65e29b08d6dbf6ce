//! Error values returned by kernels. Kernels never panic on data; they return one of these.

use core::fmt;

/// Why a kernel refused or stopped a computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelError {
    /// A buffer's length does not match the dimensions of the call.
    Shape {
        /// Which argument is wrong.
        what: &'static str,
        /// The length the dimensions require.
        expected: usize,
        /// The length that was passed.
        got: usize,
    },
    /// An input or a computed state is NaN or infinite (for example weights that blew up).
    NonFinite {
        /// Which quantity became non-finite.
        what: &'static str,
        /// The time step at which it happened (0 where there is no time axis).
        step: usize,
    },
    /// A dimension or parameter is outside the kernel's documented valid range.
    OutOfRange {
        /// Which quantity is out of range.
        what: &'static str,
    },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::Shape {
                what,
                expected,
                got,
            } => write!(f, "{what}: expected length {expected}, got {got}"),
            KernelError::NonFinite { what, step } => {
                write!(f, "{what} became non-finite at step {step}")
            }
            KernelError::OutOfRange { what } => write!(f, "{what} is out of range"),
        }
    }
}

/// `0` for a finite value, NaN for NaN or infinity: summed over a buffer, one branch-free
/// finiteness check of the whole buffer.
#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn finite_probe<F: num_traits::Float>(v: F) -> F {
    v - v
}

/// `Ok` when a sum of [`finite_probe`]s is zero (every value finite), else
/// [`KernelError::NonFinite`] naming `what` and `step`.
#[inline]
pub(crate) fn finite_or<F: num_traits::Float>(
    check: F,
    what: &'static str,
    step: usize,
) -> Result<(), KernelError> {
    if check == F::zero() {
        Ok(())
    } else {
        Err(KernelError::NonFinite { what, step })
    }
}

/// `Ok` when every value is finite, else [`KernelError::NonFinite`] naming `what` (step 0).
#[inline]
pub(crate) fn all_finite<'a, F: num_traits::Float + 'a>(
    values: impl Iterator<Item = &'a F>,
    what: &'static str,
) -> Result<(), KernelError> {
    finite_or(
        values.fold(F::zero(), |acc, v| acc + finite_probe(*v)),
        what,
        0,
    )
}

/// Checks that `buf` has length `expected`.
#[inline]
pub(crate) fn check_len<T>(
    what: &'static str,
    buf: &[T],
    expected: usize,
) -> Result<(), KernelError> {
    if buf.len() == expected {
        Ok(())
    } else {
        Err(KernelError::Shape {
            what,
            expected,
            got: buf.len(),
        })
    }
}

//! # synplast-ffi
//!
//! A C ABI over `synplast-kernels` for closed-loop rigs: a static library (`libsynplast_ffi.a`)
//! and the header `include/synplast.h`. No heap, no panics reach C: every function checks its
//! pointers and sizes and returns a status code (`SYNPLAST_OK` = 0, negative on error).
//!
//! | function | what | cost per call |
//! |---|---|---|
//! | `synplast_rate_step_f32` | `y = sigmoid(W x)`, then `W += eta dW` with a 27-term Taylor rule | `n_in n_out` rule evaluations; no memory beyond the caller's |
//! | `synplast_coba_step` | one 0.1 ms step of a COBA LIF network with E->E doublet STDP (neurons, delivery, plasticity, traces) | `O(N)` + `O(events)`; caller-owned state |
//! | `synplast_prune_score_f64` | pruning scores `|w| Var(x_i - sign(w) x_j)` | `O(n^2)`, `n` scratch |
//! | `synplast_prune_sample_f64` | keep probabilities, symmetric sampling with `1/p` reweighting, diagonal reset | `O(n^2)`; a 64-bit generator state |
//!
//! Unsafe code is confined to turning C pointers into slices after null and size checks; each
//! block says why it is sound. On bare-metal targets (`target_os = "none"`, e.g.
//! `thumbv7em-none-eabihf`) the crate is `no_std` and provides a panic handler that halts; CI
//! checks that the release build for that target has no allocator symbol and that no object of
//! this crate or of the kernels references a core panic entry point, so the handler is
//! unreachable from these functions. On a hosted target the static library carries Rust's std
//! (link with `-lpthread -ldl -lm`), which the functions never use to allocate.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

use core::slice;
use synplast_kernels::prune::{keep_probabilities, reset_diagonal, sample_symmetric, score};
use synplast_kernels::rate::rate_step;
use synplast_kernels::spiking::{
    coba_step, deliver, doublet_post, doublet_pre, traces_update, CobaNeuron, DoubletRule,
};
use synplast_kernels::{KernelError, TaylorRule};

/// Success.
pub const SYNPLAST_OK: i32 = 0;
/// A null pointer or a zero or inconsistent size.
pub const SYNPLAST_EBADARG: i32 = -1;
/// A buffer length does not match the dimensions.
pub const SYNPLAST_ESHAPE: i32 = -2;
/// An input or a computed state is NaN or infinite.
pub const SYNPLAST_ENONFINITE: i32 = -3;
/// A parameter or index is out of range.
pub const SYNPLAST_ERANGE: i32 = -4;

/// Largest count accepted for any dimension (guards size arithmetic against overflow).
pub const SYNPLAST_MAX_LEN: usize = 1 << 28;

fn code(e: KernelError) -> i32 {
    match e {
        KernelError::Shape { .. } => SYNPLAST_ESHAPE,
        KernelError::NonFinite { .. } => SYNPLAST_ENONFINITE,
        KernelError::OutOfRange { .. } => SYNPLAST_ERANGE,
    }
}

fn status(r: Result<(), KernelError>) -> i32 {
    match r {
        Ok(()) => SYNPLAST_OK,
        Err(e) => code(e),
    }
}

/// A read-only slice from C, or `None` for a null pointer or an oversized length.
///
/// # Safety
/// `p` must point to `len` valid, initialised values that nothing writes during the call.
#[allow(unsafe_code)]
unsafe fn view<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    if p.is_null() || len > SYNPLAST_MAX_LEN {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees `len` readable values for the call.
    Some(unsafe { slice::from_raw_parts(p, len) })
}

/// A writable slice from C, or `None` for a null pointer or an oversized length.
///
/// # Safety
/// `p` must point to `len` valid values that nothing else reads or writes during the call.
#[allow(unsafe_code)]
unsafe fn view_mut<'a, T>(p: *mut T, len: usize) -> Option<&'a mut [T]> {
    if p.is_null() || len > SYNPLAST_MAX_LEN {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees exclusive access to `len` values.
    Some(unsafe { slice::from_raw_parts_mut(p, len) })
}

macro_rules! or_bad {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return SYNPLAST_EBADARG,
        }
    };
}

/// One step of a plastic rate layer in `f32`: `y = sigmoid(W x)`, then
/// `W_ij += eta sum theta[a][b][c] x_j^a y_i^b W_ij^c` (`theta`: 27 coefficients, flat
/// `9a + 3b + c`; Oja's rule is `theta[12] = 1`, `theta[7] = -1`). `w` is `n_out x n_in`
/// row-major. Returns `SYNPLAST_OK` or an error code (weights that blew up are left as computed).
///
/// # Safety
/// `w` has `n_in * n_out` values, `x` `n_in`, `y` `n_out`, `theta` 27, none aliasing.
#[allow(unsafe_code)]
#[no_mangle]
pub unsafe extern "C" fn synplast_rate_step_f32(
    w: *mut f32,
    n_in: usize,
    n_out: usize,
    x: *const f32,
    y: *mut f32,
    theta: *const f32,
    eta: f32,
) -> i32 {
    if n_in == 0 || n_out == 0 || n_in > SYNPLAST_MAX_LEN / n_out {
        return SYNPLAST_EBADARG;
    }
    // SAFETY: sizes as documented; the caller owns the buffers for the call.
    let (w, x, y, theta) = unsafe {
        (
            or_bad!(view_mut(w, n_in * n_out)),
            or_bad!(view(x, n_in)),
            or_bad!(view_mut(y, n_out)),
            or_bad!(view(theta, 27)),
        )
    };
    let mut t = [0.0f32; 27];
    for (d, v) in t.iter_mut().zip(theta) {
        *d = *v;
    }
    let rule = TaylorRule::new(t);
    status(rate_step(&rule, eta, w, x, y))
}

/// A COBA network with E->E doublet STDP, as arrays the caller owns (see `synplast.h`).
/// Neurons `0..n_exc` are excitatory, `n_exc..n` inhibitory. Projections are compressed sparse
/// rows: `ee` (E->E, plastic, targets `0..n_exc`), `ei` (E->I, targets global), `ia` (I->all,
/// rows `0..n - n_exc`, targets global). `ee_in_*` index the E->E synapses by target.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SynplastCobaNet {
    /// Neurons.
    pub n: u32,
    /// Excitatory neurons.
    pub n_exc: u32,
    /// E->E row pointers (`n_exc + 1`).
    pub ee_ptr: *const u32,
    /// E->E targets (`ee_ptr[n_exc]`).
    pub ee_target: *const u32,
    /// E->E incoming row pointers by target (`n_exc + 1`).
    pub ee_in_ptr: *const u32,
    /// E->E incoming synapse indices.
    pub ee_in_syn: *const u32,
    /// E->E incoming presynaptic neurons.
    pub ee_in_pre: *const u32,
    /// E->I row pointers (`n_exc + 1`).
    pub ei_ptr: *const u32,
    /// E->I targets.
    pub ei_target: *const u32,
    /// E->I weights.
    pub ei_w: *const f32,
    /// I->all row pointers (`n - n_exc + 1`).
    pub ia_ptr: *const u32,
    /// I->all targets.
    pub ia_target: *const u32,
    /// I->all weights.
    pub ia_w: *const f32,
    /// Doublet rule: `[tau_pre, tau_post, alpha, beta, gamma, kappa, eta, w_max]`, times in ms.
    pub stdp: [f32; 8],
}

/// The state of a [`SynplastCobaNet`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SynplastCobaState {
    /// Membrane potentials (`n`).
    pub v: *mut f32,
    /// Excitatory conductances (`n`).
    pub ge: *mut f32,
    /// Inhibitory conductances (`n`).
    pub gi: *mut f32,
    /// Refractory steps left (`n`).
    pub refractory: *mut u16,
    /// E->E weights (`ee_ptr[n_exc]`).
    pub ee_w: *mut f32,
    /// Presynaptic traces (`n_exc`).
    pub x_pre: *mut f32,
    /// Postsynaptic traces (`n_exc`).
    pub x_post: *mut f32,
    /// Receives the indices of this step's spikes (room for `n`).
    pub spikes: *mut u32,
}

/// One 0.1 ms step of the COBA network with the benchmark neuron (`docs/coba_benchmark.md`): neurons, spike
/// delivery, E->E doublet plasticity, traces. Writes the number of spikes to `n_spikes`.
///
/// # Safety
/// Every pointer of `net` and `st` holds the documented number of values; state buffers are
/// exclusively the caller's for the call.
#[allow(unsafe_code)]
#[no_mangle]
pub unsafe extern "C" fn synplast_coba_step(
    net: *const SynplastCobaNet,
    st: *const SynplastCobaState,
    n_spikes: *mut u32,
) -> i32 {
    if net.is_null() || st.is_null() || n_spikes.is_null() {
        return SYNPLAST_EBADARG;
    }
    // SAFETY: non-null; the caller passes valid structs.
    let (net, st) = unsafe { (*net, *st) };
    let (n, ne) = (net.n as usize, net.n_exc as usize);
    if ne == 0 || ne > n || n > SYNPLAST_MAX_LEN {
        return SYNPLAST_EBADARG;
    }
    let ni = n - ne;
    // SAFETY: row pointers first (their last entry gives the synapse counts), then the rest,
    // all with the lengths the header documents.
    let r = unsafe {
        let ee_ptr = or_bad!(view(net.ee_ptr, ne + 1));
        let ei_ptr = or_bad!(view(net.ei_ptr, ne + 1));
        let ia_ptr = or_bad!(view(net.ia_ptr, ni + 1));
        let ee_in_ptr = or_bad!(view(net.ee_in_ptr, ne + 1));
        let last = |p: &[u32]| p.last().map(|v| *v as usize);
        let (see, sei, sia) = (
            or_bad!(last(ee_ptr)),
            or_bad!(last(ei_ptr)),
            or_bad!(last(ia_ptr)),
        );
        if last(ee_in_ptr) != Some(see) {
            return SYNPLAST_ESHAPE;
        }
        step_inner(
            &net,
            ee_ptr,
            or_bad!(view(net.ee_target, see)),
            ee_in_ptr,
            or_bad!(view(net.ee_in_syn, see)),
            or_bad!(view(net.ee_in_pre, see)),
            ei_ptr,
            or_bad!(view(net.ei_target, sei)),
            or_bad!(view(net.ei_w, sei)),
            ia_ptr,
            or_bad!(view(net.ia_target, sia)),
            or_bad!(view(net.ia_w, sia)),
            or_bad!(view_mut(st.v, n)),
            or_bad!(view_mut(st.ge, n)),
            or_bad!(view_mut(st.gi, n)),
            or_bad!(view_mut(st.refractory, n)),
            or_bad!(view_mut(st.ee_w, see)),
            or_bad!(view_mut(st.x_pre, ne)),
            or_bad!(view_mut(st.x_post, ne)),
            or_bad!(view_mut(st.spikes, n)),
        )
    };
    match r {
        Ok(count) => {
            // SAFETY: checked non-null above.
            unsafe { *n_spikes = count as u32 };
            SYNPLAST_OK
        }
        Err(e) => code(e),
    }
}

#[allow(clippy::too_many_arguments)]
fn step_inner(
    net: &SynplastCobaNet,
    ee_ptr: &[u32],
    ee_target: &[u32],
    ee_in_ptr: &[u32],
    ee_in_syn: &[u32],
    ee_in_pre: &[u32],
    ei_ptr: &[u32],
    ei_target: &[u32],
    ei_w: &[f32],
    ia_ptr: &[u32],
    ia_target: &[u32],
    ia_w: &[f32],
    v: &mut [f32],
    ge: &mut [f32],
    gi: &mut [f32],
    refractory: &mut [u16],
    ee_w: &mut [f32],
    x_pre: &mut [f32],
    x_post: &mut [f32],
    spikes: &mut [u32],
) -> Result<usize, KernelError> {
    let neuron = CobaNeuron::<f32>::benchmark();
    let count = coba_step(&neuron, v, ge, gi, refractory, 0, spikes)?;
    let spikes = spikes.get(..count).unwrap_or(&[]);
    let split = spikes.partition_point(|&s| s < net.n_exc);
    let (exc, inh) = spikes.split_at_checked(split).unwrap_or((spikes, &[]));
    deliver(ee_ptr, ee_target, ee_w, exc, ge)?;
    deliver(ei_ptr, ei_target, ei_w, exc, ge)?;
    for &s in inh {
        deliver(ia_ptr, ia_target, ia_w, &[s.wrapping_sub(net.n_exc)], gi)?;
    }
    let p = net.stdp;
    let rule = DoubletRule {
        tau_pre: p[0],
        tau_post: p[1],
        alpha: p[2],
        beta: p[3],
        gamma: p[4],
        kappa: p[5],
        eta: p[6],
        w_max: p[7],
    };
    if !(rule.tau_pre > 0.0 && rule.tau_post > 0.0) {
        return Err(KernelError::OutOfRange {
            what: "trace time constants",
        });
    }
    doublet_pre(&rule, ee_ptr, ee_target, 0, ee_w, exc, x_post)?;
    doublet_post(&rule, ee_in_ptr, ee_in_syn, ee_in_pre, 0, ee_w, exc, x_pre)?;
    let dt = neuron.dt;
    traces_update(x_pre, exc, 0, libm::expf(-dt / rule.tau_pre))?;
    traces_update(x_post, exc, 0, libm::expf(-dt / rule.tau_post))?;
    Ok(count)
}

/// Pruning scores `out_ij = |w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij)` (0 on the diagonal) for
/// `n x n` row-major `w` and `c`; `diag` is `n` scratch.
///
/// # Safety
/// `w`, `c`, `out` have `n * n` values, `diag` `n`; `out` and `diag` are not aliased.
#[allow(unsafe_code)]
#[no_mangle]
pub unsafe extern "C" fn synplast_prune_score_f64(
    w: *const f64,
    c: *const f64,
    n: usize,
    diag: *mut f64,
    out: *mut f64,
) -> i32 {
    if n == 0 || n > SYNPLAST_MAX_LEN / n {
        return SYNPLAST_EBADARG;
    }
    // SAFETY: sizes as documented.
    let (w, c, diag, out) = unsafe {
        (
            or_bad!(view(w, n * n)),
            or_bad!(view(c, n * n)),
            or_bad!(view_mut(diag, n)),
            or_bad!(view_mut(out, n * n)),
        )
    };
    status(score(w, c, n, diag, out))
}

/// SplitMix64 over a caller-held 64-bit state: the generator of [`synplast_prune_sample_f64`].
struct SplitMix<'a>(&'a mut u64);

impl rand_core::RngCore for SplitMix<'_> {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        *self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            for (d, b) in chunk.iter_mut().zip(v) {
                *d = b;
            }
        }
    }
}

/// Symmetric noise-driven pruning of `w` (`n x n`, symmetric) from its `scores`: keep each
/// pair with `p = min(1, rho s)`, reweight kept ones by `1/p`, reset the diagonal; the result
/// goes to `out`, `p` is `n * n` scratch (left holding the probabilities), `rng_state` a 64-bit
/// SplitMix64 state the call advances. Writes the number of kept pairs to `kept`.
///
/// # Safety
/// `w`, `scores`, `p`, `out` have `n * n` values; `p` and `out` are not aliased with the others.
#[allow(unsafe_code)]
#[no_mangle]
pub unsafe extern "C" fn synplast_prune_sample_f64(
    w: *const f64,
    scores: *const f64,
    n: usize,
    rho: f64,
    rng_state: *mut u64,
    p: *mut f64,
    out: *mut f64,
    kept: *mut u32,
) -> i32 {
    if n == 0 || n > SYNPLAST_MAX_LEN / n || rng_state.is_null() || kept.is_null() {
        return SYNPLAST_EBADARG;
    }
    // SAFETY: sizes as documented; `rng_state` and `kept` checked non-null.
    let (w, s, p, out, state) = unsafe {
        (
            or_bad!(view(w, n * n)),
            or_bad!(view(scores, n * n)),
            or_bad!(view_mut(p, n * n)),
            or_bad!(view_mut(out, n * n)),
            &mut *rng_state,
        )
    };
    let r = keep_probabilities(s, rho, p)
        .and_then(|_| sample_symmetric(w, p, n, &mut SplitMix(state), out))
        .and_then(|k| reset_diagonal(w, out, n).map(|_| k));
    match r {
        Ok(k) => {
            // SAFETY: checked non-null above.
            unsafe { *kept = k as u32 };
            SYNPLAST_OK
        }
        Err(e) => code(e),
    }
}

/// Halts: the kernels return errors rather than panic, so reaching this is a bug.
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn rate_step_checks_pointers_and_runs() {
        let mut w = [0.1f32, -0.2, 0.05, 0.3];
        let x = [0.5f32, -0.5];
        let mut y = [0.0f32; 2];
        let mut theta = [0.0f32; 27];
        theta[12] = 1.0;
        theta[7] = -1.0;
        // SAFETY: buffers of the documented sizes.
        let r = unsafe {
            synplast_rate_step_f32(
                w.as_mut_ptr(),
                2,
                2,
                x.as_ptr(),
                y.as_mut_ptr(),
                theta.as_ptr(),
                0.1,
            )
        };
        assert_eq!(r, SYNPLAST_OK);
        assert!(y.iter().all(|v| *v > 0.0 && *v < 1.0));
        // SAFETY: a null pointer is refused before any access.
        let r = unsafe {
            synplast_rate_step_f32(
                w.as_mut_ptr(),
                2,
                2,
                core::ptr::null(),
                y.as_mut_ptr(),
                theta.as_ptr(),
                0.1,
            )
        };
        assert_eq!(r, SYNPLAST_EBADARG);
        // SAFETY: zero sizes are refused before any access.
        let r = unsafe {
            synplast_rate_step_f32(
                w.as_mut_ptr(),
                0,
                2,
                x.as_ptr(),
                y.as_mut_ptr(),
                theta.as_ptr(),
                0.1,
            )
        };
        assert_eq!(r, SYNPLAST_EBADARG);
    }
}

//! Recorded activity: the checkpointed adjoint gradient of the squared error with respect to
//! the rule, the initial weights and the affine readout against central finite differences,
//! with gaps (NaN) in the recording; every segment length gives the same bits; the plain
//! trajectory gradient of `gradient` is the special case without gaps and readout; the per-row
//! Gauss-Newton matrix is `J^T J` of a finite-difference Jacobian.

mod common;

use common::*;
use proptest::prelude::*;
use synplast_kernels::gradient::{adjoint_scratch_len, loss_gradient_adjoint, Observation, Shape};
use synplast_kernels::recorded::{
    recorded_error, recorded_gradient, recorded_predict, recorded_scratch_len, row_gauss_newton,
    row_gauss_newton_scratch_len, Readout, RecordedGradient, Recording,
};
use synplast_kernels::taylor::{TaylorRule, TAYLOR_TERMS};

#[derive(Debug, Clone)]
struct Case {
    shape: Shape,
    theta: Vec<f64>,
    w0: Vec<f64>,
    x: Vec<f64>,
    y_obs: Vec<f64>,
    gain: Vec<f64>,
    offset: Vec<f64>,
}

/// Small layers, Oja-like rules plus small other terms, recordings with about 20% gaps.
fn case() -> impl Strategy<Value = Case> {
    (1usize..4, 1usize..4, 1usize..12).prop_flat_map(|(n_in, n_out, steps)| {
        let shape = Shape { n_in, n_out, steps };
        (
            proptest::collection::vec(-0.2f64..0.2, TAYLOR_TERMS),
            proptest::collection::vec(-0.5f64..0.5, n_in * n_out),
            proptest::collection::vec(-1.0f64..1.0, steps * n_in),
            proptest::collection::vec(proptest::option::weighted(0.8, 0.0f64..2.0), steps * n_out),
            proptest::collection::vec(0.5f64..2.0, n_out),
            proptest::collection::vec(-0.5f64..0.5, n_out),
        )
            .prop_map(move |(mut theta, w0, x, y, gain, offset)| {
                theta[12] += 1.0; // x*y
                theta[7] -= 1.0; // y^2*w
                Case {
                    shape,
                    theta,
                    w0,
                    x,
                    y_obs: y.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
                    gain,
                    offset,
                }
            })
    })
}

fn rule(theta: &[f64]) -> TaylorRule<f64> {
    let mut t = [0.0; TAYLOR_TERMS];
    t.copy_from_slice(theta);
    TaylorRule::new(t)
}

fn error_of(c: &Case, theta: &[f64], w0: &[f64], gain: &[f64], offset: &[f64]) -> f64 {
    let mut s = vec![0.0; c.shape.n_syn().unwrap() + c.shape.n_out];
    let rec = Recording {
        x: &c.x,
        y_obs: &c.y_obs,
    };
    recorded_error(
        &rule(theta),
        0.7,
        c.shape,
        w0,
        &rec,
        &Readout { gain, offset },
        &mut s,
    )
    .map(|(e, _)| e)
    .unwrap_or(f64::NAN)
}

struct Grads {
    e: f64,
    n: usize,
    theta: Vec<f64>,
    w0: Vec<f64>,
    gain: Vec<f64>,
    offset: Vec<f64>,
}

fn grads(c: &Case, segment: usize) -> Option<Grads> {
    let n_syn = c.shape.n_syn().unwrap();
    let mut scratch = vec![f64::NAN; recorded_scratch_len(c.shape, segment).unwrap()];
    let mut g = Grads {
        e: 0.0,
        n: 0,
        theta: vec![f64::NAN; TAYLOR_TERMS],
        w0: vec![f64::NAN; n_syn],
        gain: vec![f64::NAN; c.shape.n_out],
        offset: vec![f64::NAN; c.shape.n_out],
    };
    let rec = Recording {
        x: &c.x,
        y_obs: &c.y_obs,
    };
    let (e, n) = recorded_gradient(
        &rule(&c.theta),
        0.7,
        c.shape,
        &c.w0,
        &rec,
        &Readout {
            gain: &c.gain,
            offset: &c.offset,
        },
        segment,
        &mut scratch,
        RecordedGradient {
            theta: &mut g.theta,
            w0: &mut g.w0,
            gain: &mut g.gain,
            offset: &mut g.offset,
        },
    )
    .ok()?;
    g.e = e;
    g.n = n;
    Some(g)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn adjoint_matches_finite_differences(c in case()) {
        let g = grads(&c, 0);
        prop_assume!(g.is_some());
        let g = g.unwrap();
        prop_assert_eq!(g.n, c.y_obs.iter().filter(|v| !v.is_nan()).count());
        prop_assert!((g.e - error_of(&c, &c.theta, &c.w0, &c.gain, &c.offset)).abs() <= 1e-12 * g.e.max(1.0));
        let eps = 1e-6;
        let ft = fd(&c.theta, eps, |p| error_of(&c, p, &c.w0, &c.gain, &c.offset));
        let fw = fd(&c.w0, eps, |p| error_of(&c, &c.theta, p, &c.gain, &c.offset));
        let fg = fd(&c.gain, eps, |p| error_of(&c, &c.theta, &c.w0, p, &c.offset));
        let fb = fd(&c.offset, eps, |p| error_of(&c, &c.theta, &c.w0, &c.gain, p));
        prop_assume!(ft.iter().chain(&fw).all(|v| v.is_finite()));
        for (name, a, b) in [("theta", &g.theta, &ft), ("w0", &g.w0, &fw), ("gain", &g.gain, &fg), ("offset", &g.offset, &fb)] {
            prop_assert!(close(a, b, 1e-6, 1e-8), "{}: adjoint {:?} vs fd {:?}", name, a, b);
        }
    }

    #[test]
    fn every_segment_length_gives_the_same_bits(c in case(), k in 1usize..6) {
        let plain = grads(&c, c.shape.steps);
        let ck = grads(&c, k);
        let auto = grads(&c, 0);
        prop_assert_eq!(plain.is_some(), ck.is_some());
        if let (Some(a), Some(b), Some(z)) = (plain, ck, auto) {
            for (x, y, w) in [(&a.theta, &b.theta, &z.theta), (&a.w0, &b.w0, &z.w0), (&a.gain, &b.gain, &z.gain)] {
                let bits = |v: &Vec<f64>| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(x), bits(y));
                prop_assert_eq!(bits(x), bits(w));
            }
            prop_assert_eq!(a.e.to_bits(), b.e.to_bits());
        }
    }

    /// Without gaps, with gain 1 and offset 0, `E = L * T * n_out` and the theta gradients
    /// agree with the trajectory adjoint of `gradient`.
    #[test]
    fn plain_recording_is_the_trajectory_loss(mut c in case()) {
        c.y_obs.iter_mut().for_each(|v| if v.is_nan() { *v = 0.3 });
        c.gain.iter_mut().for_each(|v| *v = 1.0);
        c.offset.iter_mut().for_each(|v| *v = 0.0);
        let g = grads(&c, 0);
        prop_assume!(g.is_some());
        let g = g.unwrap();
        let mask = vec![1.0; c.shape.n_out];
        let obs = Observation { x: &c.x, y_obs: &c.y_obs, mask: &mask };
        let mut scratch = vec![0.0; adjoint_scratch_len(c.shape).unwrap()];
        let mut gt = vec![0.0; TAYLOR_TERMS];
        let l = loss_gradient_adjoint(&rule(&c.theta), 0.7, c.shape, &c.w0, &obs, &mut scratch, &mut gt).unwrap();
        let scale = (c.shape.steps * c.shape.n_out) as f64;
        prop_assert!((g.e - l * scale).abs() <= 1e-12 * g.e.max(1e-12));
        let scaled: Vec<f64> = gt.iter().map(|v| v * scale).collect();
        prop_assert!(close(&g.theta, &scaled, 1e-10, 1e-14));
    }

    /// Row `i`'s Gauss-Newton matrix is `J^T J` with `J` the finite-difference Jacobian of its
    /// readout at the observed steps.
    #[test]
    fn row_gauss_newton_is_jtj(c in case()) {
        let Shape { n_in, n_out, steps } = c.shape;
        let n_syn = n_in * n_out;
        let p = TAYLOR_TERMS + n_in + 2;
        let predict = |theta: &[f64], w0: &[f64], gain: &[f64], offset: &[f64]| -> Vec<f64> {
            let mut w = vec![0.0; n_syn];
            let mut yh = vec![0.0; steps * n_out];
            match recorded_predict(&rule(theta), 0.7, c.shape, w0, &c.x, &Readout { gain, offset }, &mut w, &mut yh) {
                Ok(()) => yh,
                Err(_) => vec![f64::NAN; steps * n_out],
            }
        };
        for row in 0..n_out {
            let mut scratch = vec![f64::NAN; row_gauss_newton_scratch_len(n_in, TAYLOR_TERMS).unwrap()];
            let mut jtj = vec![0.0; p * p];
            let rec = Recording { x: &c.x, y_obs: &c.y_obs };
            let got = row_gauss_newton(&rule(&c.theta), 0.7, c.shape, row, &c.w0, &rec,
                &Readout { gain: &c.gain, offset: &c.offset }, &mut scratch, &mut jtj);
            prop_assume!(got.is_ok());
            // Finite-difference Jacobian, one column per parameter.
            let eps = 1e-6;
            let mut jac = vec![vec![0.0; steps]; p];
            for (a, col) in jac.iter_mut().enumerate() {
                let (mut th, mut w0, mut g, mut b) = (c.theta.clone(), c.w0.clone(), c.gain.clone(), c.offset.clone());
                let bump = |th: &mut Vec<f64>, w0: &mut Vec<f64>, g: &mut Vec<f64>, b: &mut Vec<f64>, d: f64| {
                    if a < TAYLOR_TERMS { th[a] += d } else if a < TAYLOR_TERMS + n_in { w0[row * n_in + a - TAYLOR_TERMS] += d }
                    else if a == TAYLOR_TERMS + n_in { g[row] += d } else { b[row] += d }
                };
                bump(&mut th, &mut w0, &mut g, &mut b, eps);
                let up = predict(&th, &w0, &g, &b);
                bump(&mut th, &mut w0, &mut g, &mut b, -2.0 * eps);
                let down = predict(&th, &w0, &g, &b);
                for t in 0..steps {
                    col[t] = (up[t * n_out + row] - down[t * n_out + row]) / (2.0 * eps);
                }
            }
            prop_assume!(jac.iter().flatten().all(|v| v.is_finite()));
            let mut want = vec![0.0; p * p];
            for t in 0..steps {
                if c.y_obs[t * n_out + row].is_nan() { continue; }
                for a in 0..p { for b in 0..p { want[a * p + b] += jac[a][t] * jac[b][t]; } }
            }
            prop_assert!(close(&jtj, &want, 1e-6, 1e-8), "row {}: {:?} vs {:?}", row, jtj, want);
            prop_assert_eq!(got.unwrap(), (0..steps).filter(|t| !c.y_obs[t * n_out + row].is_nan()).count());
        }
    }
}

#[test]
fn infinite_recording_is_an_error_not_a_panic() {
    let shape = Shape {
        n_in: 1,
        n_out: 1,
        steps: 2,
    };
    let (x, y) = ([0.5, -0.5], [0.2, f64::INFINITY]);
    let rec = Recording { x: &x, y_obs: &y };
    let mut scratch = vec![0.0; recorded_scratch_len(shape, 0).unwrap()];
    let (mut a, mut b, mut c, mut d) = ([0.0; TAYLOR_TERMS], [0.0], [0.0], [0.0]);
    let r = recorded_gradient(
        &TaylorRule::<f64>::oja(),
        1.0,
        shape,
        &[0.1],
        &rec,
        &Readout {
            gain: &[1.0],
            offset: &[0.0],
        },
        0,
        &mut scratch,
        RecordedGradient {
            theta: &mut a,
            w0: &mut b,
            gain: &mut c,
            offset: &mut d,
        },
    );
    assert!(r.is_err());
}

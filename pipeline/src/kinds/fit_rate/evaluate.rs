//! Scores of a `fit_rate` fit: R^2 on fresh trajectories, and the identifiability report from
//! the Gauss-Newton matrix of the observed activity (see `docs/fit_rate.md`).

use super::fit::{Dataset, Problem};
use crate::error::{kernel_error as kernel_err, RunError};
use crate::fit::identify::{spectrum_report, Identifiability};
use crate::metrics::R2;
use serde::Serialize;
use synplast_kernels::gradient::{forward_scratch_len, loss_gradient_forward, Observation, Shape};
use synplast_kernels::rate::simulate;
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};
use synplast_kernels::TaylorRule;

/// R^2 of the student's weight and activity trajectories against the teacher's.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Evaluation {
    /// R^2 of `W_1 ..= W_T` (columns: synapses; rows: steps of all trajectories).
    pub r2_weights: f64,
    /// R^2 of `y_0 .. y_{T-1}` of every output neuron.
    pub r2_activity: f64,
}

/// Simulates teacher and student from the same `W_0` and inputs and scores the student.
pub fn evaluate(
    p: &Problem,
    teacher: &TaylorRule<f64>,
    student: &TaylorRule<f64>,
    data: &Dataset,
) -> Result<Evaluation, RunError> {
    let Shape { n_in, n_out, steps } = p.shape;
    let mut rw = R2::new(p.n_syn);
    let mut ry = R2::new(n_out);
    let mut w = vec![0.0; p.n_syn];
    let mut wt = vec![0.0; (steps + 1) * p.n_syn];
    let mut ws = vec![0.0; (steps + 1) * p.n_syn];
    let mut ys = vec![0.0; steps * n_out];
    for k in 0..data.n {
        let (w0, x, yt) = data.parts(p, k, &data.y);
        simulate(teacher, p.eta, n_in, w0, x, &mut w, &mut ys, Some(&mut wt))
            .map_err(|e| kernel_err("teacher on evaluation data", e))?;
        simulate(student, p.eta, n_in, w0, x, &mut w, &mut ys, Some(&mut ws))
            .map_err(|e| kernel_err(&format!("fitted rule on evaluation trajectory {k}"), e))?;
        for t in 1..=steps {
            let r = t * p.n_syn..(t + 1) * p.n_syn;
            rw.push(&wt[r.clone()], &ws[r]);
        }
        for t in 0..steps {
            let r = t * n_out..(t + 1) * n_out;
            ry.push(&yt[r.clone()], &ys[r]);
        }
    }
    Ok(Evaluation {
        r2_weights: rw.score(),
        r2_activity: ry.score(),
    })
}

/// Accumulates `J^T J` over the data set with the forward-sensitivity pass at `rule`, and
/// analyses its spectrum over the trainable terms. The same pass gives the mean trajectory
/// loss at `rule` (what [`super::fit::mean_loss`] computes), returned alongside.
pub fn identifiability(
    p: &Problem,
    rule: &TaylorRule<f64>,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
) -> Result<(Identifiability, f64), RunError> {
    let n = TAYLOR_TERMS;
    let mut scratch = vec![
        0.0;
        forward_scratch_len(p.shape, n)
            .map_err(|e| kernel_err("sensitivity buffers", e))?
    ];
    let mut grad = vec![0.0; n];
    let mut jtj = vec![0.0; n * n];
    let mut total_loss = 0.0;
    for k in 0..data.n {
        let (w0, x, yo) = data.parts(p, k, y_obs);
        let obs = Observation { x, y_obs: yo, mask };
        total_loss += loss_gradient_forward(
            rule,
            p.eta,
            p.shape,
            w0,
            &obs,
            &mut scratch,
            &mut grad,
            Some(&mut jtj),
        )
        .map_err(|e| kernel_err(&format!("fitted rule on trajectory {k}"), e))?;
    }
    let observed = mask.iter().sum::<f64>() * (data.n * p.shape.steps) as f64;
    let idx: Vec<usize> = (0..n).filter(|&k| rule.mask[k]).collect();
    let labels: Vec<String> = TERM_LABELS.iter().map(|s| s.to_string()).collect();
    let report = spectrum_report(&jtj, n, &idx, &labels, 1.0 / observed, "observed activity");
    Ok((report, total_loss / data.n as f64))
}

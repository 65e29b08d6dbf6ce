//! CMA-ES, the covariance matrix adaptation evolution strategy (Hansen 2016, "The CMA Evolution
//! Strategy: A Tutorial"), `(mu/mu_w, lambda)` with positive recombination weights.
//!
//! `ask` draws `lambda` candidates `x_k = m + sigma B D z_k`, `z_k ~ N(0, I)`; `tell` ranks them
//! by fitness (lower is better; NaN ranks last) and updates the mean, the evolution paths, the
//! covariance (rank-one and rank-mu) and the step size by cumulative step-size adaptation.
//! Randomness comes from a seeded [`Rng`]: the same seed and fitness values give the same bits.

use crate::linalg::symmetric_eigen;
use crate::rng::Rng;

/// CMA-ES state.
#[derive(Debug, Clone)]
pub struct CmaEs {
    n: usize,
    lambda: usize,
    weights: Vec<f64>,
    mueff: f64,
    cs: f64,
    ds: f64,
    cc: f64,
    c1: f64,
    cmu: f64,
    chi_n: f64,
    mean: Vec<f64>,
    sigma: f64,
    cov: Vec<f64>,
    basis: Vec<f64>,
    scales: Vec<f64>,
    ps: Vec<f64>,
    pc: Vec<f64>,
    rng: Rng,
    generation: u32,
    steps: Vec<Vec<f64>>,
}

impl CmaEs {
    /// A search around `mean` with step size `sigma` and population `lambda` (at least 2).
    pub fn new(mean: Vec<f64>, sigma: f64, lambda: usize, rng: Rng) -> Self {
        let n = mean.len().max(1);
        let lambda = lambda.max(2);
        let mu = lambda / 2;
        let raw: Vec<f64> = (0..mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - ((i + 1) as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let mueff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let nf = n as f64;
        let cs = (mueff + 2.0) / (nf + mueff + 5.0);
        let ds = 1.0 + 2.0 * (((mueff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + cs;
        let cc = (4.0 + mueff / nf) / (nf + 4.0 + 2.0 * mueff / nf);
        let c1 = 2.0 / ((nf + 1.3).powi(2) + mueff);
        let cmu = (1.0 - c1).min(2.0 * (mueff - 2.0 + 1.0 / mueff) / ((nf + 2.0).powi(2) + mueff));
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let mut eye = vec![0.0; n * n];
        for i in 0..n {
            eye[i * n + i] = 1.0;
        }
        Self {
            n,
            lambda,
            weights,
            mueff,
            cs,
            ds,
            cc,
            c1,
            cmu,
            chi_n,
            mean,
            sigma,
            cov: eye.clone(),
            basis: eye,
            scales: vec![1.0; n],
            ps: vec![0.0; n],
            pc: vec![0.0; n],
            rng,
            generation: 0,
            steps: Vec::new(),
        }
    }

    /// The current mean (the search's best estimate).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The current step size.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// Population size.
    pub fn lambda(&self) -> usize {
        self.lambda
    }

    /// Draws the next `lambda` candidates.
    pub fn ask(&mut self) -> Vec<Vec<f64>> {
        let n = self.n;
        self.steps.clear();
        let mut out = Vec::with_capacity(self.lambda);
        for _ in 0..self.lambda {
            let z: Vec<f64> = (0..n).map(|_| self.rng.normal()).collect();
            let y: Vec<f64> = (0..n)
                .map(|r| {
                    (0..n)
                        .map(|c| self.basis[r * n + c] * self.scales[c] * z[c])
                        .sum()
                })
                .collect();
            out.push(
                self.mean
                    .iter()
                    .zip(&y)
                    .map(|(m, yv)| m + self.sigma * yv)
                    .collect(),
            );
            self.steps.push(y);
        }
        out
    }

    /// Updates the distribution from the fitness of the candidates of the last [`Self::ask`],
    /// in the same order.
    pub fn tell(&mut self, fitness: &[f64]) {
        let n = self.n;
        let mut order: Vec<usize> = (0..self.steps.len().min(fitness.len())).collect();
        let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
        order.sort_by(|&a, &b| key(fitness[a]).total_cmp(&key(fitness[b])));
        let mut yw = vec![0.0; n];
        for (w, &k) in self.weights.iter().zip(&order) {
            for (a, b) in yw.iter_mut().zip(&self.steps[k]) {
                *a += w * b;
            }
        }
        for (m, y) in self.mean.iter_mut().zip(&yw) {
            *m += self.sigma * y;
        }
        // C^{-1/2} yw = B D^{-1} B^T yw
        let bt: Vec<f64> = (0..n)
            .map(|c| (0..n).map(|r| self.basis[r * n + c] * yw[r]).sum::<f64>() / self.scales[c])
            .collect();
        let inv_sqrt: Vec<f64> = (0..n)
            .map(|r| (0..n).map(|c| self.basis[r * n + c] * bt[c]).sum())
            .collect();
        let a = (self.cs * (2.0 - self.cs) * self.mueff).sqrt();
        for (p, v) in self.ps.iter_mut().zip(&inv_sqrt) {
            *p = (1.0 - self.cs) * *p + a * v;
        }
        self.generation += 1;
        let ps_norm = self.ps.iter().map(|v| v * v).sum::<f64>().sqrt();
        let denom = (1.0 - (1.0 - self.cs).powi(2 * self.generation as i32)).sqrt();
        let hsig = ps_norm / denom / self.chi_n < 1.4 + 2.0 / (n as f64 + 1.0);
        let hs = if hsig { 1.0 } else { 0.0 };
        let b = (self.cc * (2.0 - self.cc) * self.mueff).sqrt();
        for (p, y) in self.pc.iter_mut().zip(&yw) {
            *p = (1.0 - self.cc) * *p + hs * b * y;
        }
        let keep = 1.0 - self.c1 - self.cmu + (1.0 - hs) * self.c1 * self.cc * (2.0 - self.cc);
        for r in 0..n {
            for c in 0..n {
                let mut rank_mu = 0.0;
                for (w, &k) in self.weights.iter().zip(&order) {
                    rank_mu += w * self.steps[k][r] * self.steps[k][c];
                }
                self.cov[r * n + c] = keep * self.cov[r * n + c]
                    + self.c1 * self.pc[r] * self.pc[c]
                    + self.cmu * rank_mu;
            }
        }
        self.sigma *= ((self.cs / self.ds) * (ps_norm / self.chi_n - 1.0)).exp();
        let (values, vectors) = symmetric_eigen(&self.cov, n);
        for (c, (v, vec)) in values.iter().zip(&vectors).enumerate() {
            self.scales[c] = v.max(1e-300).sqrt();
            for r in 0..n {
                self.basis[r * n + c] = vec[r];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimise(
        f: &dyn Fn(&[f64]) -> f64,
        x0: Vec<f64>,
        sigma: f64,
        lambda: usize,
        gens: usize,
    ) -> (f64, Vec<f64>) {
        let mut es = CmaEs::new(x0, sigma, lambda, Rng::new(11));
        for _ in 0..gens {
            let xs = es.ask();
            let fit: Vec<f64> = xs.iter().map(|x| f(x)).collect();
            es.tell(&fit);
        }
        (f(es.mean()), es.mean().to_vec())
    }

    #[test]
    fn minimises_the_sphere() {
        let sphere = |x: &[f64]| x.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f64>();
        let (f, x) = minimise(&sphere, vec![3.0; 10], 1.0, 10, 400);
        assert!(f < 1e-12, "sphere f = {f:e} at {x:?}");
    }

    #[test]
    fn minimises_rosenbrock() {
        let rosen = |x: &[f64]| {
            x.windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum::<f64>()
        };
        let (f, x) = minimise(&rosen, vec![-1.0; 6], 0.5, 12, 3000);
        assert!(f < 1e-10, "rosenbrock f = {f:e} at {x:?}");
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{x:?}");
    }

    #[test]
    fn nan_fitness_ranks_last_and_runs_are_reproducible() {
        let f = |x: &[f64]| {
            if x[0] > 1.0 {
                f64::NAN
            } else {
                x.iter().map(|v| v * v).sum()
            }
        };
        let (a, xa) = minimise(&f, vec![0.9, 0.9], 0.3, 8, 200);
        let (b, xb) = minimise(&f, vec![0.9, 0.9], 0.3, 8, 200);
        assert_eq!(xa, xb);
        assert!(a.is_finite() && a == b && a < 1e-10, "{a:e}");
    }
}

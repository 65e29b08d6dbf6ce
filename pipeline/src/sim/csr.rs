//! Compressed sparse rows of a random connectivity, shared by the spiking networks.

use crate::rng::Rng;

/// Compressed sparse rows: synapses of presynaptic neuron `i` are `ptr[i]..ptr[i + 1]`.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    /// Row pointers (`n_pre + 1`).
    pub ptr: Vec<u32>,
    /// Targets (global neuron indices).
    pub target: Vec<u32>,
    /// Weights.
    pub w: Vec<f64>,
}

impl Csr {
    /// Fixed-probability connections from `pre` (global indices `pre_first..`) to the targets
    /// `post_first..post_first + n_post`, without autapses, all of weight `w`.
    pub fn random(
        n_pre: usize,
        pre_first: usize,
        n_post: usize,
        post_first: usize,
        p: f64,
        w: f64,
        rng: &mut Rng,
    ) -> Self {
        let mut c = Csr {
            ptr: Vec::with_capacity(n_pre + 1),
            ..Default::default()
        };
        c.ptr.push(0);
        for i in 0..n_pre {
            for j in 0..n_post {
                if pre_first + i != post_first + j && rng.uniform() < p {
                    c.target.push((post_first + j) as u32);
                }
            }
            c.ptr.push(c.target.len() as u32);
        }
        c.w = vec![w; c.target.len()];
        c
    }

    /// The incoming index for targets `post_first..post_first + n_post`: for each target, the
    /// synapse indices onto it and their presynaptic neurons (local to this CSR's rows).
    pub fn incoming(&self, n_post: usize, post_first: usize) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let mut count = vec![0u32; n_post + 1];
        for &t in &self.target {
            count[t as usize - post_first + 1] += 1;
        }
        for k in 0..n_post {
            count[k + 1] += count[k];
        }
        let mut fill = count.clone();
        let mut syn = vec![0u32; self.target.len()];
        let mut pre = vec![0u32; self.target.len()];
        for i in 0..self.ptr.len() - 1 {
            for k in self.ptr[i]..self.ptr[i + 1] {
                let t = self.target[k as usize] as usize - post_first;
                let at = fill[t] as usize;
                syn[at] = k;
                pre[at] = i as u32;
                fill[t] += 1;
            }
        }
        (count, syn, pre)
    }
}

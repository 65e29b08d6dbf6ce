//! Unit tests of [`super`]: hand-computed values per metric.

use super::*;
use synplast_kernels::spiking::poisson_next_step;

const W10: usize = 10 * STEPS_PER_S; // a 10 s window

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn regular_spiking_has_cv_zero_and_the_paper_counts_too_few_isis_as_zero() {
    // Every 100 ms: 100 spikes, 99 equal ISIs.
    let regular: Vec<u32> = (0..100).map(|i| i * 1000).collect();
    // Silent; one spike; 3 spikes (2 ISIs, irregular): all 0 under the paper's rule.
    let two_isis = vec![0, 100, 500];
    // 4 spikes, ISIs 100, 200, 300 steps: mean 200, std sqrt(20000 / 3), CV sqrt(1/6).
    let three_isis = vec![0, 100, 300, 600];
    let t = vec![regular, vec![], vec![7], two_isis, three_isis];
    let cv = cvs(&t);
    let c = (1.0f64 / 6.0).sqrt();
    assert_eq!(cv[..4], [0.0, 0.0, 0.0, 0.0]);
    assert!(close(cv[4], c, 1e-12), "{}", cv[4]);
    // Averaged over all five recorded neurons, zeros included.
    assert!(close(mean(&cv), c / 5.0, 1e-12));
    // Population std of [0, 0, 0, 0, c]: c sqrt(4/25).
    assert!(close(std(&cv), c * 0.4, 1e-12));
}

#[test]
fn poisson_spiking_has_cv_near_one() {
    // Geometric gaps on the 0.1 ms grid at 20 Hz: 2000 ISIs of an (almost) exponential
    // distribution. The sample CV of n exponential ISIs has standard deviation about
    // 1/sqrt(n) (delta method: Var(s/m) = 1/n for mu = sigma, mu_3 = 2 sigma^3,
    // mu_4 = 9 sigma^4) = 0.022; 0.1 is 4.5 of them. The grid shifts the CV by < 1e-3.
    let mut rng = Rng::new(7);
    let p = 20.0 * 1e-4;
    let mut t = vec![];
    let mut s = 0u64;
    while t.len() < 2001 {
        s += poisson_next_step(p, &mut rng);
        t.push(s as u32);
    }
    let cv = cvs(&[t])[0];
    assert!((cv - 1.0).abs() < 0.1, "CV {cv}");
}

#[test]
fn bins_follow_numpy_arange_edges() {
    // 10 s in 100 ms bins: 100 edges, 99 bins; the last edge (9.9 s) closes bin 98, and
    // a spike after it is not counted.
    let c = binned(
        &[
            vec![0, 999, 1000, 98_999],
            vec![99_000],
            vec![99_001, 99_999],
        ],
        W10,
        BIN_BIG,
    );
    assert_eq!(c[0].len(), 99);
    assert_eq!((c[0][0], c[0][1], c[0][98]), (2.0, 1.0, 1.0));
    assert_eq!(c[0].iter().sum::<f64>(), 4.0);
    assert_eq!((c[1][98], c[1].iter().sum::<f64>()), (1.0, 1.0));
    assert_eq!(c[2].iter().sum::<f64>(), 0.0);
    // A partial last bin: 1.05 s in 100 ms bins has ceil(10.5) = 11 edges, 10 bins.
    assert_eq!(binned(&[vec![]], 10_500, BIN_BIG)[0].len(), 10);
}

#[test]
fn fano_is_zero_for_at_most_three_spikes() {
    assert_eq!(fano(&[0.0, 0.0, 3.0, 0.0]), 0.0);
    // [4, 0]: mean 2, variance 4.
    assert_eq!(fano(&[4.0, 0.0]), 2.0);
    // [1, 2, 3]: mean 2, variance 2/3.
    assert!(close(fano(&[1.0, 2.0, 3.0]), 1.0 / 3.0, 1e-15));
}

#[test]
fn auto_cov_by_hand() {
    // Alternating 1, 0 over 1000 bins: r(k) = (1000 - k) / 4 (-1)^k, so
    // |r(k)| / r(0) = 1 - k / 1000 and the mean over lags -50..=50 is
    // (1 + 2 (50 - 1275 / 1000)) / 101 = 98.45 / 101.
    let x: Vec<f64> = (0..1000).map(|i| ((i + 1) % 2) as f64).collect();
    assert!(
        close(auto_cov(&x), 98.45 / 101.0, 1e-12),
        "{}",
        auto_cov(&x)
    );
    // A near-silent neuron (std of one spike in 999 bins is 0.0316 <= 0.05) and a silent
    // one score 1.
    let mut one = vec![0.0; 999];
    one[500] = 1.0;
    assert_eq!(auto_cov(&one), 1.0);
    assert_eq!(auto_cov(&[0.0; 999]), 1.0);
    // A single burst, 2 spikes in one of 999 bins (std 0.063 > 0.05): r(k) = sum of
    // (x_i - m)(x_{i+k} - m) with m = 2/999; for 0 < k <= 50 two of the 999 - k pairs
    // have one end in the burst, the others give m^2: r(k) = (997 - k) m^2 - 2 (2 - m) m.
    let mut burst = vec![0.0; 999];
    burst[500] = 2.0;
    let m = 2.0 / 999.0;
    let r0: f64 = burst.iter().map(|x| (x - m) * (x - m)).sum();
    let side: f64 = (1..=50)
        .map(|k| ((997 - k) as f64 * m * m - 2.0 * (2.0 - m) * m).abs() / r0)
        .sum();
    assert!(close(auto_cov(&burst), (1.0 + 2.0 * side) / 101.0, 1e-12));
}

#[test]
fn fft_of_a_cosine_is_its_amplitude() {
    // pop_n = 0.3 + 0.02 cos(2 pi 7 n / N): only X_7 (and X_{N-7}) is non-zero beside
    // the DC term, |X_7| = 0.02 N / 2, so the single-sided sum is 0.02.
    for n in [100usize, 999] {
        let pop: Vec<f64> = (0..n)
            .map(|i| 0.3 + 0.02 * (std::f64::consts::TAU * 7.0 * i as f64 / n as f64).cos())
            .collect();
        assert!(close(fft_amplitude_sum(&pop), 0.02, 1e-12));
        assert!(close(fft_amplitude_sum(&vec![0.3; n]), 0.0, 1e-12));
    }
    // Two cosines add.
    let n = 200;
    let pop: Vec<f64> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            0.05 * (3.0 * a).cos() + 0.01 * (40.0 * a).sin()
        })
        .collect();
    assert!(close(fft_amplitude_sum(&pop), 0.06, 1e-12));
}

#[test]
fn kl_isi_by_hand() {
    // Every ISI 0.5 s: all mass in bin 49 = [49/99, 50/99); the exponential of rate
    // 1 / 0.5 puts e^{-2 49/99} - e^{-2 50/99} there, so KL = -ln of that = 4.9019556...
    let kl = kl_isi(&[0.5; 10], 5.0);
    let q = (-2.0f64 * 49.0 / 99.0).exp() - (-2.0f64 * 50.0 / 99.0).exp();
    assert!(close(kl, -q.ln(), 1e-12));
    assert!(close(kl, 4.901_955_664_564_968, 1e-9));
    // No ISIs and a (near-)silent population: every p is 0, KL 0.
    assert_eq!(kl_isi(&[], 0.0), 0.0);
    // ISIs above 1 s are clipped into the last bin: two 3 s ISIs and rate 1/3 Hz give
    // -ln(e^{-98/297} - e^{-1/3}).
    let q = (-98.0f64 / 297.0).exp() - (-1.0f64 / 3.0).exp();
    assert!(close(kl_isi(&[3.0, 3.0], 2.0), -q.ln(), 1e-12));
    // Rate at most 0.1 Hz: rate 0.01 Hz whatever the ISIs.
    let q = (-0.01f64 * 49.0 / 99.0).exp() - (-0.01f64 * 50.0 / 99.0).exp();
    assert!(close(kl_isi(&[0.5], 0.05), -q.ln(), 1e-12));
}

fn rows(v: &[&[f64]]) -> Vec<Vec<f64>> {
    v.iter().map(|r| r.to_vec()).collect()
}

#[test]
fn w_blow_skips_the_first_record_and_creep_compares_first_and_last() {
    // First record (t = 0) all saturated: not counted (the paper keeps t_start < t).
    let a = rows(&[&[0.0, 20.0], &[0.0, 1.0], &[1.0, 1.0]]); // 1 of 4 at a bound
    let b = rows(&[&[1.0, 1.0], &[1.0, 1.0], &[20.0, 20.0]]); // 2 of 4
    assert!(close(w_blow(&[&a, &b], 20.0), (0.25 + 0.5) / 2.0, 1e-15));
    assert_eq!(w_blow(&[], 20.0), 0.0);
    assert!(w_blow(&[&a[..1]], 20.0).is_nan());
    // Means 10 -> 1 (a) and 1 -> 20 (b): |2 (1 - 10) / 11| = 18/11, |2 * 19 / 21| = 38/21.
    assert!(close(w_creep(&[&a, &b]), 38.0 / 21.0, 1e-15));
    // Types with start + end <= 0.1 are ignored.
    let tiny = rows(&[&[0.01, 0.01], &[0.08, 0.08]]);
    assert_eq!(w_creep(&[&tiny]), 0.0);
}

fn constant_weights(w: f64) -> Vec<Vec<f64>> {
    vec![vec![w; 4]; 100]
}

#[test]
fn weight_bounds_apply_to_plastic_types_only() {
    let spikes: Vec<Vec<u32>> = (0..10).map(|i| vec![i * 7]).collect();
    let (ee, ei, ie, ii) = (
        constant_weights(0.6),
        constant_weights(0.5),
        constant_weights(4.9),
        constant_weights(7.0),
    );
    let mut input = PaperInput {
        exc: &spikes,
        inh: &spikes,
        window_steps: W10,
        weights: [&ee, &ei, &ie, &ii],
        plastic: [true, true, true, false],
        w_max: 20.0,
        aborted: false,
    };
    let c = PaperConstraints::default();
    let m = paper_metrics(&input, &c);
    assert_eq!((m.weef, m.weif, m.wief, m.wiif), (0.6, 0.5, 4.9, 7.0));
    let verdict =
        |m: &PaperMetrics, n: &str| m.verdicts.pass.iter().find(|p| p.0 == n).map(|p| p.1);
    assert_eq!(verdict(&m, "weef"), Some(false)); // 0.6 > 0.5
    assert_eq!(verdict(&m, "weif"), Some(true)); // bounds inclusive
    assert_eq!(verdict(&m, "wief"), Some(true));
    assert_eq!(verdict(&m, "wiif"), None); // static: not checked (the paper drops it)
    assert_eq!(verdict(&m, "kl_isi"), None); // not among the paper's conditions
    assert!(!m.verdicts.plausible);
    // 10 neurons with one spike each in 10 s: 0.1 Hz.
    assert!(close(m.rate, 0.1, 1e-12));
    assert!(close(m.std_rate_spatial, 0.0, 1e-12));
    assert_eq!(m.w_creep, 0.0);
    assert_eq!(m.w_blow, 0.0);
    // The rate checker stopped the run: every metric NaN, every constraint fails.
    input.aborted = true;
    let m = paper_metrics(&input, &c);
    assert!(m.rate.is_nan() && m.weef.is_nan() && m.auto_cov.is_nan());
    assert!(m.verdicts.pass.iter().all(|p| !p.1));
}

#[test]
fn metric_names_are_the_keys_written() {
    let silent = vec![Vec::new(); 4];
    let w = constant_weights(0.1);
    let input = PaperInput {
        exc: &silent,
        inh: &silent,
        window_steps: W10,
        weights: [&w, &w, &w, &w],
        plastic: [true; 4],
        w_max: 20.0,
        aborted: false,
    };
    let json = serde_json::to_value(paper_metrics(&input, &PaperConstraints::default())).unwrap();
    let numbers: Vec<&str> = json
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.is_number())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut names = METRIC_NAMES.to_vec();
    names.sort_unstable();
    let mut numbers = numbers;
    numbers.sort_unstable();
    assert_eq!(names, numbers);
}

#[test]
fn verdict_names_are_the_names_of_the_verdicts() {
    let spikes: Vec<Vec<u32>> = (0..10).map(|i| vec![i * 7, i * 7 + 500]).collect();
    let w = constant_weights(0.2);
    for plastic in [[true; 4], [false, true, true, false], [false; 4]] {
        for kl in [None, Some([NonNegative(0.0), NonNegative(0.5)])] {
            let c = PaperConstraints {
                kl_isi: kl,
                ..PaperConstraints::default()
            };
            let input = PaperInput {
                exc: &spikes,
                inh: &spikes,
                window_steps: W10,
                weights: [&w, &w, &w, &w],
                plastic,
                w_max: 20.0,
                aborted: false,
            };
            let m = paper_metrics(&input, &c);
            let names: Vec<&str> = m.verdicts.pass.iter().map(|p| p.0.as_str()).collect();
            assert_eq!(names, verdict_names(&c, plastic));
        }
    }
}

#[test]
fn a_silent_population_under_the_papers_rules() {
    let silent = vec![Vec::new(); 20];
    let w = constant_weights(0.1);
    let input = PaperInput {
        exc: &silent,
        inh: &silent,
        window_steps: W10,
        weights: [&w, &w, &w, &w],
        plastic: [true; 4],
        w_max: 20.0,
        aborted: false,
    };
    let m = paper_metrics(&input, &PaperConstraints::default());
    assert_eq!((m.rate, m.cv_isi, m.std_cv), (0.0, 0.0, 0.0));
    assert_eq!(
        (m.auto_cov, m.spatial_fano, m.temporal_fano),
        (1.0, 0.0, 0.0)
    );
    assert_eq!((m.kl_isi, m.fft, m.std_rate_temporal), (0.0, 0.0, 0.0));
    let failed: Vec<&str> = m
        .verdicts
        .pass
        .iter()
        .filter(|p| !p.1)
        .map(|p| p.0.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "rate",
            "cv_isi",
            "spatial_Fano",
            "temporal_Fano",
            "auto_cov",
            "rate_i"
        ]
    );
}

#[test]
fn sampled_synapses_are_equally_spaced_or_seeded() {
    let mut rng = Rng::new(1);
    let e = sampled_synapses(1050, 100, SynapseSample::EquallySpaced, &mut rng);
    assert_eq!(e.len(), 100);
    assert_eq!(&e[..4], &[0, 10, 21, 31]); // i * 1050 / 100
    assert_eq!(e[99], 1039);
    assert_eq!(
        sampled_synapses(7, 100, SynapseSample::EquallySpaced, &mut rng),
        (0..7).collect::<Vec<_>>()
    );
    let draw = |seed| sampled_synapses(5000, 100, SynapseSample::Random, &mut Rng::new(seed));
    let a = draw(3);
    assert_eq!(a, draw(3));
    assert_ne!(a, draw(4));
    assert_eq!(a.len(), 100);
    assert!(a.windows(2).all(|w| w[0] < w[1]) && a[99] < 5000);
}

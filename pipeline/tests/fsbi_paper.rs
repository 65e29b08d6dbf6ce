//! The paper's plausibility metrics and rate checker in the fSBI network (Confavreux et al.
//! 2023; `docs/spiking_fsbi.md`, "The paper's plausibility metrics"): the checker watches the
//! E population from mid-range, sampled synapses are deterministic, `definition` decides, and
//! configs without the new options serialize as before.

use synplast::rng::Rng;
use synplast::sim::fsbi::{
    simulate, validate, Definition, FsbiConfig, FsbiNetwork, PaperRateChecker, PlausibilityConfig,
    RateCheckerKind, SynapseSample,
};
use synplast_kernels::spiking::RateChecker;

/// A tiny network that spikes: 80 E + 20 I, 1000 inputs at p = 0.1, weight 0.1.
fn tiny() -> FsbiConfig {
    serde_json::from_str(
        r#"{"n_exc": 80, "n_inh": 20, "p": 0.1, "w": [0.1, 0.1, 1, 1], "w_max": 20,
            "inputs": 1000, "input_p": 0.1, "input_w": 0.1, "input_rate": [5, 15],
            "delay_ms": 0.8, "eta": 0.01,
            "rules": {"ee": [0.02, 0.02, 0.5, -0.3, -0.3, -1.0],
                      "ie": [0.03, 0.04, -0.3, 0.0, 1.5, 1.0]},
            "learn_s": 0.2, "score_s": 0.5}"#,
    )
    .unwrap()
}

#[test]
fn paper_rate_checker_watches_the_e_population_from_mid_range() {
    // Alone: starts at (0 + 100) / 2; an E population silent while I bursts decays but never
    // leaves (0, 100), where synplast's checker (all neurons, from 0) trips.
    let mut c = PaperRateChecker::new(1000.0, 0.1, 0.0, 100.0);
    assert_eq!(c.avg_hz, 50.0);
    let mut ours = RateChecker {
        tau_ms: 1000.0,
        max_hz: 100.0,
        avg_hz: 0.0,
    };
    let (mut paper_ok, mut ours_ok) = (true, true);
    for _ in 0..20_000 {
        paper_ok &= c.update(0, 80); // no E spike
        ours_ok &= ours.update(20, 100, 0.1); // 20 of 100 neurons (all I) every step
    }
    assert!(paper_ok && c.avg_hz > 0.0 && c.avg_hz < 50.0 * (-1.9f64).exp());
    assert!(!ours_ok);
    // Its steady state is the rate: 1 of 10 neurons every 100 steps (10 ms) is 10 Hz.
    let mut c = PaperRateChecker::new(1000.0, 0.1, 0.0, 100.0);
    for s in 0..200_000 {
        c.update(usize::from(s % 100 == 0), 10);
    }
    assert!((c.avg_hz - 10.0).abs() < 0.06, "{}", c.avg_hz);

    // In the network: the checker's average follows the E spikes only.
    let mut f = tiny();
    f.rate_checker = Some(RateCheckerKind::Paper);
    let mut net = FsbiNetwork::new(&f, &Rng::new(5));
    let mut expect = PaperRateChecker::new(1000.0, 0.1, 0.0, 100.0);
    let (mut e, mut i) = (0usize, 0usize);
    for _ in 0..3000 {
        let spikes = net.step().unwrap();
        let ne = spikes.iter().filter(|&&s| s < 80).count();
        e += ne;
        i += spikes.len() - ne;
        expect.update(ne, 80);
    }
    assert!(e > 0 && i > 0, "the test network must spike (E {e}, I {i})");
    assert_eq!(net.paper_checker.unwrap().avg_hz, expect.avg_hz);
    assert!(net.healthy);
    // Without the option synplast's checker runs (from 0 Hz, all neurons).
    let net = FsbiNetwork::new(&tiny(), &Rng::new(5));
    assert!(net.paper_checker.is_none() && net.checker.avg_hz == 0.0);
}

#[test]
fn the_paper_checker_stops_a_run_whose_e_rate_leaves_its_range() {
    // abort_rate 2 Hz: the paper's checker starts at 1 Hz; synplast's (from 0) would need
    // the whole network above 2 Hz. The E population of the test network fires far above.
    let mut f = tiny();
    f.abort_rate = synplast::config::Positive(2.0);
    f.rate_checker = Some(RateCheckerKind::Paper);
    f.plausibility = Some(PlausibilityConfig::default());
    let o = simulate(&f, 5, |_| true).unwrap().unwrap();
    let m = &o.metrics;
    assert!(m.aborted && m.simulated_s < 0.7);
    let p = m.paper.as_ref().unwrap();
    assert!(p.rate.is_nan() && !p.verdicts.plausible);
    assert!(p.verdicts.pass.iter().all(|v| !v.1));
}

#[test]
fn sampled_synapses_are_deterministic_and_recorded_every_100_ms() {
    let mut f = tiny();
    f.plausibility = Some(PlausibilityConfig {
        synapse_sample: SynapseSample::Random,
        synapses: synplast::config::Count(30),
        ..Default::default()
    });
    let a = simulate(&f, 9, |_| true).unwrap().unwrap();
    let b = simulate(&f, 9, |_| true).unwrap().unwrap();
    let c = simulate(&f, 10, |_| true).unwrap().unwrap();
    let (sa, sb, sc) = (
        a.sampled.as_ref().unwrap(),
        b.sampled.as_ref().unwrap(),
        c.sampled.as_ref().unwrap(),
    );
    assert_eq!(sa, sb);
    assert_ne!(sa.index, sc.index);
    let json = |o: &synplast::sim::fsbi::Outcome| serde_json::to_string(&o.metrics).unwrap();
    assert_eq!(json(&a), json(&b));
    let net = FsbiNetwork::new(&f, &Rng::new(9));
    for k in 0..4 {
        // From substream 2 of the network seed, then substream k.
        let mut rng = Rng::new(9).substream(2).substream(k as u32);
        let nnz = net.proj[k].csr.w.len();
        assert_eq!(sa.index[k], rng.choose(nnz, 30));
        assert_eq!(sa.index[k].len(), 30);
        // 0.5 s of window: records at 0, 100, ..., 400 ms.
        assert_eq!(sa.w[k].len(), 5);
    }
    // The draw does not disturb the network: the spikes are those of a run without it.
    let plain = simulate(&tiny(), 9, |_| true).unwrap().unwrap();
    assert_eq!(plain.times, a.times);
    assert!(plain.sampled.is_none() && plain.metrics.paper.is_none());
    // Equally spaced (the paper's): i * nnz / 100, weights read at the window's last record.
    f.plausibility = Some(PlausibilityConfig::default());
    let e = simulate(&f, 9, |_| true).unwrap().unwrap();
    let se = e.sampled.as_ref().unwrap();
    let nnz = FsbiNetwork::new(&f, &Rng::new(9)).proj[0].csr.w.len();
    let expect: Vec<usize> = (0..100.min(nnz)).map(|i| i * nnz / 100.min(nnz)).collect();
    assert_eq!(se.index[0], expect);
    let last = se.w[0].last().unwrap();
    let weef = last.iter().sum::<f64>() / last.len() as f64;
    assert_eq!(e.metrics.paper.as_ref().unwrap().weef, weef);
}

#[test]
fn definition_decides_pass_and_plausible_and_keeps_the_other() {
    let mut f = tiny();
    f.plausibility = Some(PlausibilityConfig::default());
    let paper = simulate(&f, 3, |_| true).unwrap().unwrap().metrics;
    let p = paper.paper.as_ref().unwrap();
    assert_eq!(paper.pass, p.verdicts.pass);
    assert_eq!(paper.plausible, p.verdicts.plausible);
    assert_eq!(paper.pass[0].0, "rate");
    let ours = paper.synplast.as_ref().unwrap();
    assert_eq!(ours.pass[0].0, "rate_exc");
    assert_eq!(ours.pass.len(), 9);
    // E->I and I->I are static here: their weight bounds are not checked.
    let names: Vec<&str> = paper.pass.iter().map(|v| v.0.as_str()).collect();
    assert!(names.contains(&"weef") && names.contains(&"wief"));
    assert!(!names.contains(&"weif") && !names.contains(&"wiif"));

    f.plausibility.as_mut().unwrap().definition = Definition::Synplast;
    let syn = simulate(&f, 3, |_| true).unwrap().unwrap().metrics;
    assert_eq!(syn.pass, ours.pass);
    assert_eq!(syn.plausible, ours.plausible);
    assert!(syn.synplast.is_none());
    assert_eq!(syn.paper.as_ref().unwrap().verdicts, p.verdicts);

    let none = simulate(&tiny(), 3, |_| true).unwrap().unwrap().metrics;
    assert_eq!(none.pass, ours.pass);
    let v = serde_json::to_value(&none).unwrap();
    assert!(v.get("paper").is_none() && v.get("synplast").is_none());
}

#[test]
fn configs_without_the_options_serialize_as_before_and_bad_ranges_are_refused() {
    let f = tiny();
    let v = serde_json::to_value(&f).unwrap();
    assert!(v.get("rate_checker").is_none() && v.get("plausibility").is_none());
    // A partial section keeps the paper's other values.
    let mut g: FsbiConfig = serde_json::from_value({
        let mut v = v.clone();
        v["plausibility"] = serde_json::json!({"paper": {"rate": [5, 10]}});
        v
    })
    .unwrap();
    let p = g.plausibility.as_ref().unwrap();
    assert_eq!(p.definition, Definition::Paper);
    assert_eq!(p.paper.rate[1].0, 10.0);
    assert_eq!(p.paper.wief[1].0, 5.0);
    assert_eq!(p.recorded[0].0, 1000);
    assert!(validate(&g).is_ok());
    g.plausibility.as_mut().unwrap().paper.w_creep = [
        synplast::config::NonNegative(0.1),
        synplast::config::NonNegative(0.05),
    ];
    let (field, _) = validate(&g).unwrap_err();
    assert_eq!(field, "fsbi.plausibility.paper.w_creep");
    // Unknown keys are refused.
    let mut w = v;
    w["plausibility"] = serde_json::json!({"paper": {"rates": [1, 2]}});
    assert!(serde_json::from_value::<FsbiConfig>(w).is_err());
}

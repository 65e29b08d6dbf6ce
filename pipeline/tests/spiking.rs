//! End to end: a scaled-down COBA network runs, writes its artifacts and repeats to the byte;
//! its spike counts agree with its events and rates.

mod common;

use common::{run_twice_same_bytes, tmp};

#[test]
fn small_coba_network_runs_and_repeats() {
    let d = tmp("coba");
    let cfg = d.join("coba.yaml");
    let text = include_str!("../../experiments/coba_benchmark.yaml")
        .replace("n_exc: 3200", "n_exc: 800")
        .replace("n_inh: 800", "n_inh: 200")
        .replace("p: 0.02", "p: 0.08")
        .replace("duration_ms: 10000", "duration_ms: 1000");
    std::fs::write(&cfg, text).unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    let (re, ri) = (
        m["rate_exc_hz"].as_f64().unwrap(),
        m["rate_inh_hz"].as_f64().unwrap(),
    );
    assert!(re > 1.0 && re < 200.0 && ri > 1.0 && ri < 200.0, "{m}");
    let spikes = m["spikes"].as_u64().unwrap() as f64;
    assert!((spikes - (re * 800.0 + ri * 200.0)).abs() < 1.0, "{m}");
    assert!(m["synaptic_events"].as_u64().unwrap() > 0);
    let w0 = m["mean_w_ee_start"].as_f64().unwrap();
    let w1 = m["mean_w_ee_end"].as_f64().unwrap();
    assert!((w0 - 0.6).abs() < 1e-9, "{w0}");
    assert!(
        w1 != w0 && (0.0..=1.2).contains(&w1),
        "STDP must move the weights: {w1}"
    );
    // Every recorded spike is in spikes.npy (header + 2 f64 per spike).
    let npy = std::fs::read(d.join("a/spikes.npy")).unwrap();
    let header = 10 + u16::from_le_bytes([npy[8], npy[9]]) as usize;
    assert_eq!((npy.len() - header) / 16, spikes as usize);
    for f in [
        "raster.svg",
        "rate.svg",
        "weights_sampled.npy",
        "weights_mean.csv",
        "timing.json",
    ] {
        assert!(d.join("a").join(f).exists(), "{f}");
    }
}

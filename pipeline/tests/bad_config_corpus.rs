//! Every file in `tests/bad_configs/` must exit 2 from `synplast check` and `synplast run`,
//! print `file:line:col: ...` containing the text `EXPECTED.tsv` gives for it, write nothing,
//! and never panic. Every file must have an expectation, and every expectation a file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[test]
fn every_bad_config_exits_2_with_a_clear_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_configs");
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let expected: BTreeMap<&str, &str> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once('\t').expect("file<TAB>expected"))
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus has {} files", files.len());
    let listed: Vec<&str> = expected.keys().copied().collect();
    assert_eq!(files.iter().map(String::as_str).collect::<Vec<_>>(), listed);
    let out_root = std::env::temp_dir().join(format!("synplast-corpus-{}", std::process::id()));
    for name in &files {
        let path = dir.join(name);
        let want = expected[name.as_str()];
        let out = out_root.join(name);
        for args in [
            vec!["check", path.to_str().unwrap()],
            vec![
                "run",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        ] {
            let o = Command::new(env!("CARGO_BIN_EXE_synplast"))
                .args(&args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name} ({}): {err}", args[0]);
            assert!(!err.contains("panicked"), "{name}: {err}");
            let prefix = format!("{}:", path.display());
            let rest = err
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{name}: {err}"));
            let mut parts = rest.splitn(3, ':');
            let (line, col) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(line.parse::<usize>().is_ok_and(|v| v >= 1), "{name}: {err}");
            assert!(col.parse::<usize>().is_ok_and(|v| v >= 1), "{name}: {err}");
            assert!(err.contains(want), "{name}: wanted `{want}` in: {err}");
        }
        assert!(!out.exists(), "{name}: wrote {}", out.display());
    }
}

//! The pipeline's shape, checked from its sources: no file over 800 lines; no import circle
//! among its modules (each top-level module one node, each kind's folder one node); no kind
//! imports another; nothing below the registry names a kind or the command line; only the
//! registry and a kind's own folder name a kind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The kinds: the folders under `src/kinds`.
fn kinds() -> Vec<String> {
    let mut k: Vec<String> = std::fs::read_dir(src().join("kinds"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            p.is_dir()
                .then(|| p.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    k.sort();
    k
}

/// The node a source file belongs to: `kinds::<kind>` for a kind's folder, `kinds` for the
/// registry, else its top-level module (`rundir`, `config`, `cli`, ...); `lib`/`main` for the
/// crate roots.
fn node_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [k, kind, ..] if k == "kinds" => format!("kinds::{kind}"),
        [only] => only.clone(),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// Code lines (comments and doc comments removed; tests kept, they must obey the same rules).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The nodes `text` refers to through `crate::...` paths (and `use crate::{a, b}` lists).
fn references(text: &str, kinds: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code = code(text);
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(list) = rest.strip_prefix('{') {
            list.split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim())
                .collect()
        } else {
            vec![rest]
        };
        for n in names {
            let head: String = n
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if head.is_empty() || head == "self" {
                continue;
            }
            if head == "kinds" {
                let after = &n["kinds".len()..];
                let kind = after
                    .strip_prefix("::")
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                if kinds.contains(&kind) {
                    out.insert(format!("kinds::{kind}"));
                    continue;
                }
            }
            out.insert(head);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let kinds = kinds();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap();
        let node = node_of(rel);
        let text = std::fs::read_to_string(&f).unwrap();
        let refs = references(&text, &kinds);
        let e = g.entry(node.clone()).or_default();
        e.extend(refs.into_iter().filter(|r| *r != node));
    }
    // The registry declares the kinds' modules: `pub mod <kind>;`, so it depends on each.
    for k in &kinds {
        g.entry("kinds".into())
            .or_default()
            .insert(format!("kinds::{k}"));
    }
    g
}

#[test]
fn no_source_file_is_over_800_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 30, "found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 800).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "over 800 lines: {long:?}");
}

#[test]
fn the_module_graph_has_no_circle() {
    let g = graph();
    assert!(g.contains_key("rundir") && g.contains_key("kinds::fit_rate"));
    // Depth-first search with colours; a grey node reached again closes a circle.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        colour.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match colour.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == m).unwrap();
                    let mut c = path[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, colour, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        colour.insert(n.to_string(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for n in g.keys() {
        if colour.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, &g, &mut colour, &mut Vec::new()) {
                panic!("import circle: {}", c.join(" -> "));
            }
        }
    }
}

#[test]
fn dependencies_point_one_way() {
    let g = graph();
    let kinds = kinds();
    // Every kind folder is a registered kind (and the other way round).
    let mut registered: Vec<String> = synplast::kinds::KINDS
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    registered.sort();
    assert_eq!(kinds, registered);
    for (node, deps) in &g {
        let is_kind = node.starts_with("kinds::");
        for d in deps {
            if d == "cli" {
                assert!(node == "main", "{node} depends on the command line");
            }
            if d == "kinds" {
                assert!(
                    node == "cli" || node == "main" || node == "lib",
                    "{node} depends on the registry"
                );
            }
            if d.starts_with("kinds::") {
                assert!(
                    node == "kinds" || node == "lib",
                    "{node} depends on {d}: a kind is named only by the registry (and kinds do not import each other)"
                );
            }
            if is_kind {
                assert!(d != "cli", "{node} depends on the command line");
            }
        }
    }
    // The layers below the kinds never reach up.
    for low in [
        "rundir", "config", "fit", "sim", "history", "error", "kind", "plot", "io",
    ] {
        let deps = &g[low];
        assert!(
            deps.iter()
                .all(|d| d != "cli" && d != "kinds" && !d.starts_with("kinds::")),
            "{low} depends on {deps:?}"
        );
    }
}

#[test]
fn the_reference_scanner_sees_what_it_must() {
    let kinds = kinds();
    let r = references(
        "use crate::kinds::fit_rate::X;\nuse crate::{config, rundir::RunDir};\n// crate::cli\nlet a = crate::sim::fsbi::y;",
        &kinds,
    );
    let want: BTreeSet<String> = ["kinds::fit_rate", "config", "rundir", "sim"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(r, want);
}

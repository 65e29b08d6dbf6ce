//! Mapping between dotted field paths and positions in block-style YAML text.
//!
//! serde-saphyr reports the line and column of a problem; these helpers name the field there
//! (`fit.epochs`), and find the line of a field for problems found after parsing (a value out of
//! range, a cross-field constraint). They read indentation only, which is exact for the block
//! style our experiment files use; for flow style (`{a: 1}`) they give the enclosing key.

/// One `key:` line: its 1-based line number, indentation and key, and for a key of a list
/// item's mapping (`- name: a` and the keys below it) the item's 0-based index in its list.
#[derive(Debug, Clone, PartialEq)]
struct KeyLine {
    line: usize,
    indent: usize,
    key: String,
    item: Option<usize>,
}

fn key_of(line: &str) -> Option<(usize, String, bool)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.is_empty() {
        return None;
    }
    let mut indent = line.len() - trimmed.len();
    let mut rest = trimmed;
    // A list item `- key: v` opens a mapping whose keys sit after the dash.
    let mut dash = false;
    while let Some(r) = rest.strip_prefix("- ") {
        indent += 2;
        rest = r.trim_start();
        dash = true;
    }
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest.find(':')?;
    let key = rest[..end].trim_end_matches(['"', '\'']).trim();
    let after = &rest[end + 1..];
    if key.is_empty() || !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    if key.contains(['{', '[', ',', '#']) {
        return None;
    }
    Some((indent, key.to_string(), dash))
}

fn key_lines(text: &str) -> Vec<KeyLine> {
    // Enclosing keys (line, indent), and per (parent line, indent): items seen, current item.
    let mut parents: Vec<(usize, usize)> = Vec::new();
    let mut items: std::collections::BTreeMap<(usize, usize), (usize, usize)> =
        std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let Some((indent, key, dash)) = key_of(l) else {
            continue;
        };
        while parents.last().is_some_and(|p| p.1 >= indent) {
            parents.pop();
        }
        let at = (parents.last().map_or(0, |p| p.0), indent);
        let item = if dash {
            let e = items.entry(at).or_insert((0, 0));
            e.1 = e.0;
            e.0 += 1;
            Some(e.1)
        } else {
            items.get(&at).map(|e| e.1)
        };
        parents.push((i + 1, indent));
        out.push(KeyLine {
            line: i + 1,
            indent,
            key,
            item,
        });
    }
    out
}

/// The path segments of a stack of keys: `key`, with `[i]` after a key whose child is in
/// list item `i`.
fn segments(stack: &[KeyLine]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in stack {
        if let (Some(i), Some(last)) = (k.item, out.last_mut()) {
            last.push_str(&format!("[{i}]"));
        }
        out.push(k.key.clone());
    }
    out
}

/// The dotted path of the innermost key that starts at or encloses `line` (1-based).
pub fn path_at(text: &str, line: usize) -> String {
    let mut stack: Vec<KeyLine> = Vec::new();
    for kl in key_lines(text) {
        if kl.line > line {
            break;
        }
        while stack.last().is_some_and(|t| t.indent >= kl.indent) {
            stack.pop();
        }
        stack.push(kl);
    }
    // The line itself may be a deeper, keyless continuation; stack is its enclosure.
    segments(&stack).join(".")
}

/// Line and column (1-based) of the key at dotted `path`, or of its deepest existing ancestor;
/// `(1, 1)` when not even the first key exists.
pub fn locate(text: &str, path: &str) -> (usize, usize) {
    let want: Vec<&str> = path.split('.').collect();
    let mut stack: Vec<KeyLine> = Vec::new();
    let mut best: (usize, (usize, usize)) = (0, (1, 1));
    for kl in key_lines(text) {
        while stack.last().is_some_and(|t| t.indent >= kl.indent) {
            stack.pop();
        }
        stack.push(kl);
        let depth = stack.len();
        let matches = depth <= want.len()
            && segments(&stack)
                .iter()
                .zip(&want)
                .enumerate()
                // The last key of the stack has no child yet: its `[i]` is not known.
                .all(|(j, (k, w))| {
                    k == w || (j + 1 == depth && w.split('[').next() == Some(k.as_str()))
                });
        if matches && depth > best.0 {
            let top = &stack[depth - 1];
            best = (depth, (top.line, top.indent + 1));
            if depth == want.len() {
                break;
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: a\nfit:\n  epochs: 3 # c\n  lr: 0.1\ndata:\n  steps: 5\n  nested:\n    deep: 1\ngrid:\n  noise_scale: [0, 1]\n";

    #[test]
    fn paths_and_locations_round_trip() {
        assert_eq!(path_at(DOC, 1), "name");
        assert_eq!(path_at(DOC, 3), "fit.epochs");
        assert_eq!(path_at(DOC, 8), "data.nested.deep");
        assert_eq!(path_at(DOC, 10), "grid.noise_scale");
        assert_eq!(locate(DOC, "fit.lr"), (4, 3));
        assert_eq!(locate(DOC, "data.nested.deep"), (8, 5));
        assert_eq!(locate(DOC, "data.missing"), (5, 1));
        assert_eq!(locate(DOC, "nothing"), (1, 1));
    }

    #[test]
    fn list_items_and_quotes() {
        let doc = "a:\n  - b: 1\n    c: 2\n\"q\": 3\nurl: http://x\n";
        assert_eq!(path_at(doc, 3), "a[0].c");
        assert_eq!(path_at(doc, 4), "q");
        assert_eq!(path_at(doc, 5), "url");
        let list = "v:\n  - name: p\n  - name: q\n    rule:\n      terms: [x]\n    fit: 1\nw: 2\n";
        assert_eq!(path_at(list, 3), "v[1].name");
        assert_eq!(path_at(list, 5), "v[1].rule.terms");
        assert_eq!(locate(list, "v[1].rule.terms"), (5, 7));
        assert_eq!(locate(list, "v[0].name"), (2, 5));
        assert_eq!(locate(list, "v[1].fit"), (6, 5));
        assert_eq!(locate(list, "v[1].missing"), (1, 1));
        assert_eq!(locate(list, "v"), (1, 1));
        assert_eq!(locate(list, "w"), (7, 1));
    }
}

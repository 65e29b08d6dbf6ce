//! Mapping between dotted field paths and positions in block-style YAML text.
//!
//! serde-saphyr reports the line and column of a problem; these helpers name the field there
//! (`fit.epochs`), and find the line of a field for problems found after parsing (a value out of
//! range, a cross-field constraint). They read indentation only, which is exact for the block
//! style our experiment files use; for flow style (`{a: 1}`) they give the enclosing key.

/// One `key:` line: its 1-based line number, indentation and key.
#[derive(Debug, Clone, PartialEq)]
struct KeyLine {
    line: usize,
    indent: usize,
    key: String,
}

fn key_of(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.is_empty() {
        return None;
    }
    let mut indent = line.len() - trimmed.len();
    let mut rest = trimmed;
    // A list item `- key: v` opens a mapping whose keys sit after the dash.
    while let Some(r) = rest.strip_prefix("- ") {
        indent += 2;
        rest = r.trim_start();
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
    Some((indent, key.to_string()))
}

fn key_lines(text: &str) -> Vec<KeyLine> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            key_of(l).map(|(indent, key)| KeyLine {
                line: i + 1,
                indent,
                key,
            })
        })
        .collect()
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
    stack
        .iter()
        .map(|k| k.key.as_str())
        .collect::<Vec<_>>()
        .join(".")
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
        let matches = depth <= want.len() && stack.iter().zip(&want).all(|(k, w)| k.key == *w);
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
        assert_eq!(path_at(doc, 3), "a.c");
        assert_eq!(path_at(doc, 4), "q");
        assert_eq!(path_at(doc, 5), "url");
    }
}

//! Term keys of the Taylor rules: one grammar for the 27-term rule over `x, y, w` (flat index
//! `9a + 3b + c`) and the 81-term reward rule over `x, y, w, r` (flat index
//! `27a + 9b + 3c + d`).
//!
//! A key is `1`, a product of variables with optional powers in any order (`x*y`, `y*x`,
//! `y^2 * w`, `w*y*y`, `r*x^2`), each variable's total power at most 2; or the digits of the
//! index (`110` for `x*y`, `1001` for `x*r`). White space is ignored. Labels are printed in the
//! canonical order (`x`, `y`, `w`, `r`), e.g. `y^2*w`.

/// Variables of the 27-term rule.
pub const RATE_VARS: [&str; 3] = ["x", "y", "w"];
/// Variables of the 81-term reward rule.
pub const REWARD_VARS: [&str; 4] = ["x", "y", "w", "r"];

/// The powers of each variable in `key`, or `None` if it is not a term over `vars`.
pub fn powers(key: &str, vars: &[&str]) -> Option<Vec<usize>> {
    let k: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    if k.len() == vars.len() && k.bytes().all(|b| (b'0'..=b'2').contains(&b)) {
        return Some(k.bytes().map(|b| (b - b'0') as usize).collect());
    }
    let mut pw = vec![0usize; vars.len()];
    if k == "1" {
        return Some(pw);
    }
    for f in k.split('*') {
        let (v, e) = match f.split_once('^') {
            Some((v, e)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                (v, e.parse::<usize>().ok()?)
            }
            Some(_) => return None,
            None => (f, 1),
        };
        let slot = vars.iter().position(|n| *n == v)?;
        pw[slot] = pw[slot].checked_add(e)?;
    }
    if pw.iter().any(|&p| p > 2) {
        return None;
    }
    Some(pw)
}

fn flat(p: &[usize]) -> usize {
    p.iter().fold(0, |acc, &e| 3 * acc + e)
}

/// The label of the term with these powers (`1`, `x*r^2`, ...).
pub fn label(p: &[usize], vars: &[&str]) -> String {
    let parts: Vec<String> = vars
        .iter()
        .zip(p)
        .filter(|(_, e)| **e > 0)
        .map(|(v, &e)| {
            if e == 1 {
                v.to_string()
            } else {
                format!("{v}^{e}")
            }
        })
        .collect();
    if parts.is_empty() {
        "1".into()
    } else {
        parts.join("*")
    }
}

/// A 27-term key's flat index `9a + 3b + c`.
pub fn term_key(key: &str) -> Option<usize> {
    powers(key, &RATE_VARS).map(|p| flat(&p))
}

/// An 81-term reward key's flat index `27a + 9b + 3c + d`.
pub fn reward_term_key(key: &str) -> Option<usize> {
    powers(key, &REWARD_VARS).map(|p| flat(&p))
}

/// The label of reward term `k`, the inverse of [`reward_term_key`].
pub fn reward_term_label(k: usize) -> String {
    label(&[k / 27 % 3, k / 9 % 3, k / 3 % 3, k % 3], &REWARD_VARS)
}

/// The label of 27-term index `k` (as `synplast_kernels::taylor::TERM_LABELS`).
pub fn term_label(k: usize) -> String {
    label(&[k / 9 % 3, k / 3 % 3, k % 3], &RATE_VARS)
}

/// Coefficients of an `N`-term rule from `key: value` pairs, `key` read by `index` (keys
/// already validated; repeated terms add up).
pub fn theta_from<'a, const N: usize>(
    terms: impl IntoIterator<Item = (&'a String, f64)>,
    index: fn(&str) -> Option<usize>,
) -> [f64; N] {
    let mut theta = [0.0; N];
    for (k, v) in terms {
        if let Some(i) = index(k).filter(|&i| i < N) {
            theta[i] += v;
        }
    }
    theta
}

/// A mask of the listed keys of an `N`-term rule, read by `index`; every term when `None`.
pub fn mask_from<const N: usize>(
    list: Option<&[String]>,
    index: fn(&str) -> Option<usize>,
) -> [bool; N] {
    match list {
        None => [true; N],
        Some(list) => {
            let mut m = [false; N];
            for k in list {
                if let Some(i) = index(k).filter(|&i| i < N) {
                    m[i] = true;
                }
            }
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

    #[test]
    fn labels_round_trip_and_match_the_kernels() {
        for k in 0..TAYLOR_TERMS {
            assert_eq!(term_label(k), TERM_LABELS[k]);
            assert_eq!(term_key(TERM_LABELS[k]), Some(k));
        }
        for k in 0..81 {
            assert_eq!(reward_term_key(&reward_term_label(k)), Some(k));
        }
    }

    #[test]
    fn any_factor_order_and_both_forms() {
        assert_eq!(term_key("x*y"), Some(12));
        assert_eq!(term_key("y*x"), Some(12));
        assert_eq!(term_key(" w * y^2 "), Some(7));
        assert_eq!(term_key("y*w*y"), Some(7));
        assert_eq!(term_key("021"), Some(7));
        assert_eq!(term_key("1"), Some(0));
        assert_eq!(reward_term_key("r*x"), Some(28));
        assert_eq!(reward_term_key("1001"), Some(28));
        assert_eq!(reward_term_key("x^2*r"), Some(55));
        for bad in [
            "x*y*z", "300", "x^3", "x*x*x", "", "*", "x*", "x^", "x^-1", "r", "x^1.5", "0001",
        ] {
            assert_eq!(term_key(bad), None, "{bad}");
        }
        for bad in ["q", "x^3*r", "110", "r^3", "x**r"] {
            assert_eq!(reward_term_key(bad), None, "{bad}");
        }
    }
}

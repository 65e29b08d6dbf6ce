//! NumPy arrays from `.npy` and `.npz` files, read with the `npyz` crate (any dimension,
//! float32 or float64, either byte order, C or Fortran order) and `.npz` archives (stored or
//! deflated, as `numpy.savez` and `numpy.savez_compressed` write them) with the `zip` crate.
//! Values come back as `f64` in C (row-major) order. Errors say what is wrong; nothing here
//! panics, whatever the bytes.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

/// Most values accepted in one array (4 GiB of `f64`).
pub const MAX_VALUES: u64 = 500_000_000;

/// An n-dimensional array of `f64`, C order.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, C (row-major) order.
    pub data: Vec<f64>,
}

/// `shape` as `(2, 3)` text.
pub fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

/// Parses a `.npy` file's bytes.
pub fn parse_npy(bytes: &[u8]) -> Result<NdArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    check_header_shape(bytes)?;
    let f = npyz::NpyFile::new(bytes).map_err(|e| format!("malformed .npy header: {e}"))?;
    let shape: Vec<usize> = f
        .shape()
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} is too large")))
        .collect::<Result<_, _>>()?;
    let n = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| {
            format!(
                "shape {} holds more than {MAX_VALUES} values",
                shape_text(&shape)
            )
        })?;
    let width = match f.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float => t.size_field(),
        d => {
            return Err(format!(
                "unsupported dtype {}; write float64 or float32",
                d.descr()
            ))
        }
    };
    // The data must be all there before anything is allocated for them.
    let header_len = bytes.len() as u64 - remaining_after_header(bytes).unwrap_or(0);
    let need = n.saturating_mul(width);
    let have = bytes.len() as u64 - header_len;
    if have != need {
        return Err(format!(
            "the data hold {have} bytes; a {} array of {width}-byte floats needs {need} (a truncated file?)",
            shape_text(&shape)
        ));
    }
    let fortran = f.order() == npyz::Order::Fortran;
    let vals: Vec<f64> = match width {
        8 => f.into_vec::<f64>(),
        4 => f
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        w => {
            return Err(format!(
                "unsupported {w}-byte float; write float64 or float32"
            ))
        }
    }
    .map_err(|e| format!("cannot read the .npy data: {e}"))?;
    let data = if fortran && shape.len() > 1 {
        fortran_to_c(&vals, &shape)
    } else {
        vals
    };
    Ok(NdArray { shape, data })
}

/// Refuses headers a plain float array never has before the header parser sees them: a list
/// (`[`, a structured dtype) or brackets nested deeper than `{...(...)...}`. The parser
/// backtracks exponentially on deeply nested brackets (found by fuzzing: 191 bytes took
/// seconds), so this keeps every header linear to check.
fn check_header_shape(bytes: &[u8]) -> Result<(), String> {
    let (start, len) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => {
            (10usize, u16::from_le_bytes([bytes[8], bytes[9]]) as usize)
        }
        Some(2 | 3) if bytes.len() >= 12 => (
            12usize,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        Some(v) => return Err(format!("unsupported .npy format version {v}")),
        None => return Err("truncated .npy header".into()),
    };
    let header = start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or("truncated .npy header")?;
    let mut depth = 0i32;
    for &b in header {
        match b {
            b'[' => return Err("unsupported .npy header: a list (structured dtype); write a plain float64 or float32 array".into()),
            b'{' | b'(' => {
                depth += 1;
                if depth > 2 {
                    return Err("malformed .npy header: brackets nested too deep".into());
                }
            }
            b'}' | b')' => depth -= 1,
            _ => {}
        }
    }
    // The shape's product must fit before the header parser multiplies it out (it overflows
    // on shapes like (3, 16519310207990832230), found by fuzzing).
    let text = String::from_utf8_lossy(header);
    if let Some(at) = text.find("'shape'") {
        let rest = &text[at + "'shape'".len()..];
        if let Some(open) = rest.find('(') {
            let inner = rest[open + 1..].split(')').next().unwrap_or("");
            let mut n: u64 = 1;
            for d in inner.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let v: u64 = d
                    .parse()
                    .map_err(|_| format!("malformed .npy header: dimension `{d}`"))?;
                n = n
                    .checked_mul(v)
                    .filter(|&n| n <= MAX_VALUES)
                    .ok_or_else(|| {
                        format!("shape ({inner}) holds more than {MAX_VALUES} values")
                    })?;
            }
        }
    }
    Ok(())
}

/// Bytes after the header (the data), from the header length field.
fn remaining_after_header(bytes: &[u8]) -> Option<u64> {
    let (start, len) = match bytes.get(6)? {
        1 => (
            10usize,
            u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize,
        ),
        _ => (
            12usize,
            u32::from_le_bytes([
                *bytes.get(8)?,
                *bytes.get(9)?,
                *bytes.get(10)?,
                *bytes.get(11)?,
            ]) as usize,
        ),
    };
    (bytes.len() as u64).checked_sub(start.checked_add(len)? as u64)
}

/// Reorders Fortran-order values (first index fastest) into C order (last index fastest).
fn fortran_to_c(vals: &[f64], shape: &[usize]) -> Vec<f64> {
    let n = vals.len();
    let mut out = vec![0.0; n];
    let mut idx = vec![0usize; shape.len()];
    for (c, slot) in out.iter_mut().enumerate() {
        // idx: the multi-index of C position c.
        let mut rem = c;
        for k in (0..shape.len()).rev() {
            idx[k] = rem % shape[k].max(1);
            rem /= shape[k].max(1);
        }
        let mut f = 0usize;
        for k in (0..shape.len()).rev() {
            f = f * shape[k] + idx[k];
        }
        *slot = vals[f];
    }
    out
}

/// Parses a `.npz` archive: every `NAME.npy` member as `NAME`.
pub fn parse_npz(bytes: &[u8]) -> Result<BTreeMap<String, NdArray>, String> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        format!("not a readable .npz (zip) archive (truncated, or not an .npz file?): {e}")
    })?;
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z
            .by_index(i)
            .map_err(|e| format!("member {i} of the archive: {e}"))?;
        let name = f.name().to_string();
        let Some(key) = name.strip_suffix(".npy") else {
            continue;
        };
        if f.size() > MAX_VALUES * 8 + 4096 {
            return Err(format!("{name}: {} bytes is too large", f.size()));
        }
        // The declared size is the archive's claim, not a fact: read at most the limit, and
        // let the buffer grow with what actually arrives.
        let mut buf = Vec::new();
        (&mut f)
            .take(MAX_VALUES * 8 + 4096)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{name}: cannot read from the archive (truncated?): {e}"))?;
        let a = parse_npy(&buf).map_err(|e| format!("{name}: {e}"))?;
        out.insert(key.to_string(), a);
    }
    if out.is_empty() {
        return Err("the .npz archive holds no .npy arrays".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::npy_bytes;

    fn with_header(descr: &str, fortran: bool, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        let total = 10 + header.len() + 1;
        header.push_str(&" ".repeat((64 - total % 64) % 64));
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn dtypes_orders_and_dimensions() {
        let data: Vec<f64> = (0..24).map(|v| v as f64 * 0.5).collect();
        let a = parse_npy(&npy_bytes(&[2, 3, 4], &data)).unwrap();
        assert_eq!(
            (a.shape.clone(), a.data.clone()),
            (vec![2, 3, 4], data.clone())
        );
        // Fortran order, float32, big-endian: the same C-order values.
        let mut f = [0.0f32; 24];
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    f[i + 2 * j + 6 * k] = data[i * 12 + j * 4 + k] as f32;
                }
            }
        }
        let body: Vec<u8> = f.iter().flat_map(|v| v.to_be_bytes()).collect();
        let b = with_header(">f4", true, "(2, 3, 4)", &body);
        assert_eq!(parse_npy(&b).unwrap().data, data);
        let one = parse_npy(&npy_bytes(&[5], &data[..5])).unwrap();
        assert_eq!(one.shape, vec![5]);
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let data = [1.0; 6];
        assert!(parse_npy(b"hello").unwrap_err().contains("not a .npy"));
        let full = npy_bytes(&[2, 3], &data);
        let e = parse_npy(&full[..full.len() - 3]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let ints = with_header("<i8", false, "(2,)", &[0u8; 16]);
        assert!(parse_npy(&ints).unwrap_err().contains("float64 or float32"));
        let huge = with_header("<f8", false, "(100000, 100000, 100000)", &[]);
        assert!(parse_npy(&huge).unwrap_err().contains("more than"));
        assert!(parse_npy(&full[..40]).is_err());
        assert!(parse_npz(b"PK not really").is_err());
        // Found by fuzzing: nested brackets made the header parser backtrack for seconds.
        let nested = with_header("<f8", false, &format!("(3,{}", "[".repeat(150)), &[]);
        let t = std::time::Instant::now();
        assert!(parse_npy(&nested).unwrap_err().contains("list"));
        let deep = with_header(
            "<f8",
            false,
            &format!("{}3,{}", "(".repeat(40), ")".repeat(40)),
            &[],
        );
        assert!(parse_npy(&deep).unwrap_err().contains("nested"));
        assert!(t.elapsed().as_secs_f64() < 0.5);
        // Found by fuzzing: a shape whose product overflows.
        let over = with_header("<f8", false, "(3, 16519310207990832230)", &[]);
        assert!(parse_npy(&over).unwrap_err().contains("more than"));
    }

    #[test]
    fn npz_archives_stored_and_deflated() {
        use std::io::Write;
        for method in [
            zip::CompressionMethod::Stored,
            zip::CompressionMethod::Deflated,
        ] {
            let mut buf = Cursor::new(Vec::new());
            {
                let mut w = zip::ZipWriter::new(&mut buf);
                let o = zip::write::SimpleFileOptions::default().compression_method(method);
                w.start_file("x.npy", o).unwrap();
                w.write_all(&npy_bytes(&[2, 2], &[1.0, 2.0, 3.0, 4.0]))
                    .unwrap();
                w.start_file("y.npy", o).unwrap();
                w.write_all(&npy_bytes(&[3], &[5.0, 6.0, 7.0])).unwrap();
                w.finish().unwrap();
            }
            let bytes = buf.into_inner();
            let m = parse_npz(&bytes).unwrap();
            assert_eq!(m["x"].data, vec![1.0, 2.0, 3.0, 4.0]);
            assert_eq!(m["y"].shape, vec![3]);
            // A truncated archive is an error, not a panic.
            assert!(parse_npz(&bytes[..bytes.len() / 2]).is_err());
        }
    }
}

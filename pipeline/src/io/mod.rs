//! Files: atomic writes, `.npy` arrays (written here, read in [`npy`]), CSV tables.

pub mod npy;

use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over the target. A reader never sees a half-written file, and a failed
/// write (a full disk, say) leaves the earlier file as it was and no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and per call, so two writers never share a temporary file.
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{serial}.tmp", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    written
        .and_then(|_| fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
}

/// Encodes a C-ordered `f64` array as NumPy `.npy` (format 1.0, little-endian `<f8`).
pub fn npy_bytes(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_str}, }}");
    // magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A CSV table: a header row and rows of numbers, every column read back to the same `f64`s:
/// integers in a column of whole numbers, shortest round-trip floats in any other.
pub fn csv_bytes(header: &[&str], rows: &[Vec<f64>]) -> Vec<u8> {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    // A column whose every value is a whole number (a count, an index, a 0/1 flag) is written
    // as integers (`fly 1`, not `fly 1.0`); any other column as shortest round-trip floats.
    let whole: Vec<bool> = (0..width)
        .map(|j| {
            rows.iter().all(|r| {
                r.get(j).is_none_or(|v| {
                    v.fract() == 0.0 && v.abs() < 9.0e15 && !(*v == 0.0 && v.is_sign_negative())
                })
            })
        })
        .collect();
    let mut s = header.join(",");
    s.push('\n');
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, v)| {
                if whole[j] {
                    format!("{}", *v as i64)
                } else {
                    format_float(*v)
                }
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s.into_bytes()
}

/// Shortest representation that reads back to the same `f64`; `nan`, `inf`, `-inf` otherwise.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_columns_are_integers_and_the_others_round_trip() {
        let rows = vec![
            vec![1.0, 0.5, 0.0, f64::NAN, 3.0],
            vec![18.0, 2.0, -0.0, 1.0, -4.0],
        ];
        let text = String::from_utf8(csv_bytes(&["fly", "x", "z", "n", "k"], &rows)).unwrap();
        assert_eq!(text, "fly,x,z,n,k\n1,0.5,0.0,nan,3\n18,2.0,-0.0,1.0,-4\n");
        for (line, row) in text.lines().skip(1).zip(&rows) {
            for (cell, v) in line.split(',').zip(row) {
                let back: f64 = cell.parse().unwrap();
                assert!(
                    back.to_bits() == v.to_bits() || back.is_nan() && v.is_nan(),
                    "{cell}"
                );
            }
        }
    }

    #[test]
    fn npy_header_is_aligned_and_parsable() {
        let b = npy_bytes(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(header.contains("'shape': (2, 3)"));
        assert!(header.ends_with('\n'));
        assert_eq!(b.len(), 10 + hlen + 48);
        assert_eq!(&b[10 + hlen..10 + hlen + 8], &1.0f64.to_le_bytes());
        let one_d = npy_bytes(&[4], &[0.0; 4]);
        assert!(std::str::from_utf8(&one_d[10..64])
            .unwrap()
            .contains("'shape': (4,)"));
    }

    #[test]
    fn atomic_write_replaces_content() {
        let dir = std::env::temp_dir().join(format!("synplast-io-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// A dense matrix read from a file: `rows x cols`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Values, row-major.
    pub data: Vec<f64>,
}

/// Largest matrix side accepted from a file.
pub const MAX_MATRIX_SIDE: usize = 20_000;

/// Parses a NumPy `.npy` file holding a 2-D float64 or float32 array (see [`npy::parse_npy`]).
/// Never panics, whatever the bytes; errors say what is wrong.
pub fn parse_npy_matrix(bytes: &[u8]) -> Result<Matrix, String> {
    matrix_from_array(npy::parse_npy(bytes)?)
}

/// A 2-D array (as `.npy` files and the Python package give it) as a [`Matrix`]: an error
/// for any other number of dimensions or a side over [`MAX_MATRIX_SIDE`].
pub fn matrix_from_array(a: npy::NdArray) -> Result<Matrix, String> {
    let [rows, cols] = a.shape[..] else {
        return Err(format!(
            "expected a 2-D array, got {} dimensions",
            a.shape.len()
        ));
    };
    if rows > MAX_MATRIX_SIDE || cols > MAX_MATRIX_SIDE {
        return Err(format!(
            "{rows} x {cols} is larger than {MAX_MATRIX_SIDE} on a side"
        ));
    }
    Ok(Matrix {
        rows,
        cols,
        data: a.data,
    })
}

/// Parses a matrix as CSV text: one row per line, numbers separated by commas (or
/// whitespace); blank lines and lines starting with `#` are skipped. Errors name the line.
pub fn parse_csv_matrix(text: &str) -> Result<Matrix, String> {
    let mut rows = 0;
    let mut cols = 0;
    let mut data = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let row: Vec<f64> = t
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| format!("line {}: `{s}` is not a number", i + 1))
            })
            .collect::<Result<_, _>>()?;
        if rows == 0 {
            cols = row.len();
        } else if row.len() != cols {
            return Err(format!(
                "line {}: {} values, but the first row has {cols}",
                i + 1,
                row.len()
            ));
        }
        rows += 1;
        if rows > MAX_MATRIX_SIDE || cols > MAX_MATRIX_SIDE {
            return Err(format!("larger than {MAX_MATRIX_SIDE} on a side"));
        }
        data.extend(row);
    }
    if rows == 0 {
        return Err("no rows".into());
    }
    Ok(Matrix { rows, cols, data })
}

#[cfg(test)]
mod matrix_tests {
    use super::*;

    #[test]
    fn npy_round_trip_orders_dtypes_and_errors() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = parse_npy_matrix(&npy_bytes(&[2, 3], &data)).unwrap();
        assert_eq!((m.rows, m.cols, m.data.as_slice()), (2, 3, &data[..]));
        // Fortran order, float32.
        let mut b = npy_bytes(&[2, 3], &[0.0; 6]);
        let text = String::from_utf8_lossy(&b[10..]).replace(
            "'<f8', 'fortran_order': False",
            "'<f4', 'fortran_order': True ",
        );
        b.truncate(10);
        let header = &text[..text.find('\n').unwrap() + 1];
        b.extend_from_slice(header.as_bytes());
        for v in [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let m = parse_npy_matrix(&b).unwrap();
        assert_eq!(m.data, data.to_vec());
        assert!(parse_npy_matrix(b"hello")
            .unwrap_err()
            .contains("not a .npy"));
        let short = &npy_bytes(&[2, 3], &data)[..60];
        assert!(parse_npy_matrix(short).is_err());
        let one_d = npy_bytes(&[6], &data);
        assert!(parse_npy_matrix(&one_d).unwrap_err().contains("2-D"));
    }

    #[test]
    fn csv_matrix_parses_and_names_lines() {
        let m = parse_csv_matrix("# A\n-2, 1\n1 -2\n\n").unwrap();
        assert_eq!((m.rows, m.cols, m.data), (2, 2, vec![-2.0, 1.0, 1.0, -2.0]));
        assert!(parse_csv_matrix("1,2\n3\n").unwrap_err().contains("line 2"));
        assert!(parse_csv_matrix("1,z\n").unwrap_err().contains("`z`"));
        assert!(parse_csv_matrix("").is_err());
    }
}

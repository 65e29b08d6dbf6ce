//! What every binding shares: loading a config as the command line does, and reading numpy
//! arrays into the pipeline's [`NdArray`].

use crate::ConfigError;
use numpy::{PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use synplast::io::npy::NdArray;
use synplast::kind::Experiment;

/// A [`ConfigError`] with `msg`.
pub fn config_error(msg: impl ToString) -> PyErr {
    ConfigError::new_err(msg.to_string())
}

/// Parses experiment text (`text` given) or reads the file `path`, then applies overrides, as
/// `synplast check` and `synplast run` do.
pub fn load(
    path: Option<&str>,
    text: Option<&str>,
    name: &str,
    overrides: &[String],
) -> PyResult<Experiment> {
    let exp = match (path, text) {
        (Some(p), _) => synplast::kinds::load(std::path::Path::new(p)),
        (None, Some(t)) => synplast::kinds::parse_str(t, name),
        (None, None) => return Err(config_error("give a config path or text")),
    };
    exp.and_then(|e| e.apply_overrides(overrides))
        .map_err(config_error)
}

/// Reads a numpy array of float32 or float64, C-contiguous (a Fortran-ordered one is refused),
/// into an [`NdArray`] (a copy, so a
/// read-only array, such as one `numpy.load(..., mmap_mode="r")` gives, is fine).
pub fn nd_array(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<NdArray> {
    let a = obj.cast::<PyUntypedArray>().map_err(|_| {
        ConfigError::new_err(format!(
            "{name}: expected a numpy array, got {}",
            obj.get_type()
                .name()
                .map_or("?".to_string(), |n| n.to_string())
        ))
    })?;
    let shape = a.shape().to_vec();
    // `as_slice` also takes a Fortran-ordered array, whose slice is the transpose's row-major
    // order: refuse it rather than read it transposed.
    if !a.is_c_contiguous() {
        return Err(not_contiguous(name));
    }
    let descr = a.dtype().getattr("str")?.extract::<String>()?;
    let data: Vec<f64> = if let Ok(a) = a.cast::<numpy::PyArrayDyn<f64>>() {
        let r = a
            .try_readonly()
            .map_err(|e| ConfigError::new_err(format!("{name}: {e}")))?;
        let s = r.as_slice().map_err(|_| not_contiguous(name))?;
        s.to_vec()
    } else if let Ok(a) = a.cast::<numpy::PyArrayDyn<f32>>() {
        let r = a
            .try_readonly()
            .map_err(|e| ConfigError::new_err(format!("{name}: {e}")))?;
        let s = r.as_slice().map_err(|_| not_contiguous(name))?;
        s.iter().map(|&v| f64::from(v)).collect()
    } else {
        return Err(ConfigError::new_err(format!(
            "{name}: unsupported dtype {descr}; write float64 or float32"
        )));
    };
    Ok(NdArray { shape, data })
}

pub fn not_contiguous(name: &str) -> PyErr {
    ConfigError::new_err(format!(
        "{name}: the array is not C-contiguous; pass numpy.ascontiguousarray({name})"
    ))
}

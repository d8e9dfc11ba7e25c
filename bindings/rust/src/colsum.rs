//! The int8 weight's column sums for asymmetric activations: colsum[n] = Σ_k weight[n, k], the term the zero-point
//! epilogue subtracts (acc − zp[m] · colsum[n]). Host memory, once per weight at load time (`qjit_weight_colsum`;
//! `qjit quantize --weight-colsum` writes the same numbers as `<module>.weight_colsum`).
use crate::error::{check, Error, Result};
use crate::sys;

/// `weight` holds `n` rows of `row_stride` int8 values (`row_stride >= k`); returns the `n` row sums over `k`.
pub fn weight_colsum(weight: &[i8], n: i64, k: i64, row_stride: i64) -> Result<Vec<i32>> {
    if n < 1 || row_stride < 1 || (weight.len() as i128) < (n as i128) * (row_stride as i128) {
        return Err(Error::InvalidArgument(format!(
            "weight must hold n * row_stride = {n} * {row_stride} int8 values (n, row_stride >= 1), got {}",
            weight.len()
        )));
    }
    let mut out = vec![0i32; n as usize];
    // SAFETY: `weight` holds n * row_stride values (checked above), `out` n int32.
    check(unsafe { sys::qjit_weight_colsum(weight.as_ptr(), n, k, row_stride, out.as_mut_ptr()) })?;
    Ok(out)
}

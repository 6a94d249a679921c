//! Numbers in messages.

/// `v` as people write it: plain for everyday magnitudes (`0.05`, `100`), in
/// exponent notation for very large or small ones (`1e12`, `3e-7`), where Rust's `{}`
/// would print hundreds of digits.
pub fn number(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

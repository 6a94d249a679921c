//! Fused single-pass loops for the optimiser's hot path on CPU: the squared gradient
//! norm, and SGD's update (gradient scale, weight decay, momentum, the new value and
//! its finiteness) in one read of each tensor instead of the eight tensor operations,
//! and as many fresh tensors, the same arithmetic takes through libtorch.
//!
//! Every loop does exactly the arithmetic of the tensor-operation path, in the same
//! order and at the tensor's precision (a scalar such as the learning rate is first
//! rounded to that precision, as libtorch does), so both give the same bits; the
//! optimiser falls back to tensor operations for anything a loop does not cover (a GPU
//! tensor, a non-contiguous gradient, another dtype). libtorch's own fused SGD is not
//! reachable through tch, and it updates in place, which the optimiser's transactional
//! step (check the new values, then commit) does not allow.

use std::ops::{Add, Mul, Sub};

use tch::{Device, Kind, Tensor};

/// The float types the loops cover.
pub(crate) trait Real: Copy + Add<Output = Self> + Mul<Output = Self> + Sub<Output = Self> {
    const KIND: Kind;
    fn of(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn finite(self) -> bool;
}

impl Real for f32 {
    const KIND: Kind = Kind::Float;
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Real for f64 {
    const KIND: Kind = Kind::Double;
    fn of(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// Whether the loops can read `t` as a plain `T` array: on the CPU, of `T`'s kind,
/// contiguous.
pub(crate) fn covers<T: Real>(t: &Tensor) -> bool {
    t.defined() && t.device() == Device::Cpu && t.kind() == T::KIND && t.is_contiguous()
}

/// `t`'s elements (the caller checked [`covers`]).
fn values<T: Real>(t: &Tensor) -> &[T] {
    let n = t.numel();
    if n == 0 {
        return &[];
    }
    // SAFETY: `covers` checked a contiguous CPU tensor of T's kind: `numel` values of T
    // from its data pointer (which includes the storage offset), alive while `t` is.
    unsafe { std::slice::from_raw_parts(t.data_ptr() as *const T, n) }
}

/// `t`'s elements, to write (the caller checked [`covers`] and that no other slice of
/// the same memory is alive).
#[allow(clippy::mut_from_ref)]
fn values_mut<T: Real>(t: &Tensor) -> &mut [T] {
    let n = t.numel();
    if n == 0 {
        return &mut [];
    }
    // SAFETY: as in `values`; the caller guarantees exclusive access to the memory.
    unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut T, n) }
}

/// The sum of the squares of `g`'s elements, in float64: eight running sums over the
/// elements' positions modulo 8 (a fixed order, so the same bits every time, which the
/// compiler can keep in vector registers; one running sum would be a chain of dependent
/// additions), added up at the end.
pub(crate) fn square_sum<T: Real>(g: &Tensor) -> f64 {
    const LANES: usize = 8;
    let v = values::<T>(g);
    let mut acc = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            let x = x.to_f64();
            *a += x * x;
        }
    }
    for (a, &x) in acc.iter_mut().zip(rest) {
        let x = x.to_f64();
        *a += x * x;
    }
    acc.iter().sum()
}

/// SGD's hyper-parameters for one parameter tensor, at the tensor's precision.
pub(crate) struct SgdScalars {
    /// The gradient's scale (clipping), if any.
    pub grad_scale: Option<f64>,
    /// Weight decay (0: none).
    pub weight_decay: f64,
    /// Momentum (0: the update is the gradient itself).
    pub momentum: f64,
    /// Learning rate.
    pub lr: f64,
}

/// SGD's new momentum buffer for parameter `p` with gradient `g` and previous buffer
/// `first` (`None` on the first step: the buffer starts as the gradient; with no
/// momentum it is the gradient throughout, the update), as a fresh tensor, and whether
/// every new parameter value is finite. The new values themselves are written by
/// [`sgd_apply`]. All tensors must be [`covers`]ed and of one size.
pub(crate) fn sgd_buffer<T: Real>(p: &Tensor, g: &Tensor, first: Option<&Tensor>, s: &SgdScalars) -> tch::Result<(Tensor, bool)> {
    let buf = Tensor::f_empty(p.size(), (T::KIND, Device::Cpu))?;
    let (pv, gv, out) = (values::<T>(p), values::<T>(g), values_mut::<T>(&buf));
    let scale = s.grad_scale.map(T::of);
    let (wd, mom, lr) = (T::of(s.weight_decay), T::of(s.momentum), T::of(s.lr));
    let decay = s.weight_decay > 0.0;
    // With no momentum the buffer is the (decayed) gradient, as on the first step.
    let prev = first.filter(|_| s.momentum > 0.0).map(values::<T>);
    let mut finite = true;
    for i in 0..out.len() {
        let mut gi = gv[i];
        if let Some(c) = scale {
            gi = gi * c;
        }
        if decay {
            gi = gi + pv[i] * wd;
        }
        let b = match prev {
            Some(f) => f[i] * mom + gi,
            None => gi,
        };
        out[i] = b;
        finite &= (pv[i] - b * lr).finite();
    }
    Ok((buf, finite))
}

/// Writes SGD's new values into `p` in place: `p - lr * buf`, the same arithmetic
/// [`sgd_buffer`] checked.
pub(crate) fn sgd_apply<T: Real>(p: &Tensor, buf: &Tensor, lr: f64) {
    let lr = T::of(lr);
    let bv = values::<T>(buf);
    for (x, &b) in values_mut::<T>(p).iter_mut().zip(bv) {
        *x = *x - b * lr;
    }
}

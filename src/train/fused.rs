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

/// SGD's constants at the tensor's precision.
struct Consts<T> {
    scale: T,
    wd: T,
    mom: T,
    lr: T,
}

impl<T: Real> Consts<T> {
    fn of(s: &SgdScalars) -> Consts<T> {
        Consts { scale: T::of(s.grad_scale.unwrap_or(1.0)), wd: T::of(s.weight_decay), mom: T::of(s.momentum), lr: T::of(s.lr) }
    }
}

/// One element's new momentum buffer: the gradient `g`, scaled (`SCALE`), plus `p`'s
/// decay (`DECAY`), plus the previous buffer `prev` times the momentum (`MOM`; without
/// it the buffer is the decayed gradient). The switches are constants, so each loop
/// below is compiled without branches, in vector instructions.
#[inline(always)]
fn buffer_value<T: Real, const SCALE: bool, const DECAY: bool, const MOM: bool>(p: T, g: T, prev: T, k: &Consts<T>) -> T {
    let mut gi = g;
    if SCALE {
        gi = gi * k.scale;
    }
    if DECAY {
        gi = gi + p * k.wd;
    }
    if MOM {
        prev * k.mom + gi
    } else {
        gi
    }
}

/// The loop of [`sgd_buffer`]: new buffers into `out`, whether every new value is
/// finite (`prev` is not read without `MOM`).
fn buffer_loop<T: Real, const SCALE: bool, const DECAY: bool, const MOM: bool>(pv: &[T], gv: &[T], prev: &[T], out: &mut [T], k: &Consts<T>) -> bool {
    let mut finite = true;
    for (((o, &p), &g), &f) in out.iter_mut().zip(pv).zip(gv).zip(prev) {
        let b = buffer_value::<T, SCALE, DECAY, MOM>(p, g, f, k);
        *o = b;
        finite &= (p - b * k.lr).finite();
    }
    finite
}

/// The loop of [`sgd_in_place`]: new buffers and values written over the old ones,
/// whether every new value is finite.
fn in_place_loop<T: Real, const SCALE: bool, const DECAY: bool, const MOM: bool>(pv: &mut [T], gv: &[T], buf: &mut [T], k: &Consts<T>) -> bool {
    let mut finite = true;
    for ((p, &g), b) in pv.iter_mut().zip(gv).zip(buf.iter_mut()) {
        let nb = buffer_value::<T, SCALE, DECAY, MOM>(*p, g, *b, k);
        *b = nb;
        let np = *p - nb * k.lr;
        *p = np;
        finite &= np.finite();
    }
    finite
}

/// Calls `$f::<T, SCALE, DECAY, MOM>($args)` for the switches' run-time values.
macro_rules! switched {
    ($f:ident, $t:ty, $switches:expr, $($arg:expr),*) => {
        match $switches {
            (false, false, false) => $f::<$t, false, false, false>($($arg),*),
            (false, false, true) => $f::<$t, false, false, true>($($arg),*),
            (false, true, false) => $f::<$t, false, true, false>($($arg),*),
            (false, true, true) => $f::<$t, false, true, true>($($arg),*),
            (true, false, false) => $f::<$t, true, false, false>($($arg),*),
            (true, false, true) => $f::<$t, true, false, true>($($arg),*),
            (true, true, false) => $f::<$t, true, true, false>($($arg),*),
            (true, true, true) => $f::<$t, true, true, true>($($arg),*),
        }
    };
}

/// SGD's new momentum buffer for parameter `p` with gradient `g` and previous buffer
/// `first` (`None` on the first step: the buffer starts as the gradient; with no
/// momentum it is the gradient throughout, the update), as a fresh tensor, and whether
/// every new parameter value is finite. The new values themselves are written by
/// [`sgd_apply`]. All tensors must be [`covers`]ed and of one size.
pub(crate) fn sgd_buffer<T: Real>(p: &Tensor, g: &Tensor, first: Option<&Tensor>, s: &SgdScalars) -> tch::Result<(Tensor, bool)> {
    let buf = Tensor::f_empty(p.size(), (T::KIND, Device::Cpu))?;
    let (pv, gv, out) = (values::<T>(p), values::<T>(g), values_mut::<T>(&buf));
    // With no momentum the buffer is the (decayed) gradient, as on the first step.
    let prev = first.filter(|_| s.momentum > 0.0).map(values::<T>);
    let k = Consts::<T>::of(s);
    let switches = (s.grad_scale.is_some(), s.weight_decay > 0.0, prev.is_some());
    let finite = switched!(buffer_loop, T, switches, pv, gv, prev.unwrap_or(gv), out, &k);
    Ok((buf, finite))
}

/// SGD's step written in place: `buf` becomes the new momentum buffer (as
/// [`sgd_buffer`] computes it from `buf` as the previous one) and `p` the new values
/// (as [`sgd_apply`] writes them), in one read of each tensor; returns whether every
/// new value is finite. When not, `p` and `buf` hold the non-finite values: only for a
/// caller that discards them then. All tensors must be [`covers`]ed, of one size, and
/// distinct.
pub(crate) fn sgd_in_place<T: Real>(p: &Tensor, g: &Tensor, buf: &Tensor, s: &SgdScalars) -> bool {
    let (pv, gv, bv) = (values_mut::<T>(p), values::<T>(g), values_mut::<T>(buf));
    let k = Consts::<T>::of(s);
    let switches = (s.grad_scale.is_some(), s.weight_decay > 0.0, s.momentum > 0.0);
    switched!(in_place_loop, T, switches, pv, gv, bv, &k)
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

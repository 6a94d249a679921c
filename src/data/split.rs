//! The split roles (docs/architecture.md): a fixed test split for datasets without a
//! test file, and the seeded, stratified weight/validation split of the training file.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

use super::Dataset;
use crate::error::{Error, Result};

/// The fraction set aside as the test split when a dataset has no test file.
pub const FIXED_TEST_FRACTION: f64 = 0.2;
/// The seed of that split: fixed, so every run tests on the same samples.
pub const FIXED_TEST_SEED: u64 = 0x7e57_5eed;

/// Splits `0..n` by class so that each class contributes `round(fraction * count)`
/// samples to the second part; both parts are shuffled by `rng`.
pub fn stratified_split<R: Rng>(dataset: &Dataset, fraction: f64, rng: &mut R) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); dataset.classes];
    for (i, &l) in dataset.y.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for mut idx in by_class {
        idx.shuffle(rng);
        let take = (fraction * idx.len() as f64).round() as usize;
        second.extend_from_slice(&idx[..take]);
        first.extend_from_slice(&idx[take..]);
    }
    first.shuffle(rng);
    second.shuffle(rng);
    (first, second)
}

/// The seed of `train_subsample`'s subset: fixed, so every run with the same
/// subsample size sees the same samples.
pub const SUBSAMPLE_SEED: u64 = 0x5b5a_3b1e;

/// Exactly `n` indices of `dataset` (all when `n >= len`), stratified: each class gets
/// its share of `n` rounded by largest remainder, drawn by a generator seeded with
/// [`SUBSAMPLE_SEED`]; returned in ascending order.
pub fn stratified_subset(dataset: &Dataset, n: usize) -> Vec<usize> {
    let total = dataset.len();
    if n >= total {
        return (0..total).collect();
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); dataset.classes];
    for (i, &l) in dataset.y.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    // Largest-remainder apportionment of n over the classes (ties to the lower class).
    let quotas: Vec<f64> = by_class.iter().map(|c| n as f64 * c.len() as f64 / total as f64).collect();
    let mut take: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|&a, &b| (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())).then(a.cmp(&b)));
    let mut left = n - take.iter().sum::<usize>();
    for c in order {
        if left == 0 {
            break;
        }
        if take[c] < by_class[c].len() {
            take[c] += 1;
            left -= 1;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SUBSAMPLE_SEED);
    let mut out = Vec::with_capacity(n);
    for (mut idx, k) in by_class.into_iter().zip(take) {
        idx.shuffle(&mut rng);
        out.extend_from_slice(&idx[..k]);
    }
    out.sort_unstable();
    out
}

/// Reorders the rows of `x` (`[n, features]`, row-major) and `y` in place so that row
/// `i` becomes the former row `order[i]`; `order` must be a permutation of `0..n`. It
/// follows the permutation's cycles with one spare row, so large data is not copied.
pub(crate) fn permute_rows(x: &mut [f32], y: &mut [i64], features: usize, order: &[usize]) {
    let n = y.len();
    debug_assert!(order.len() == n && x.len() == n * features);
    let mut placed = vec![false; n];
    let mut spare = vec![0f32; features];
    for start in 0..n {
        if placed[start] || order[start] == start {
            placed[start] = true;
            continue;
        }
        spare.copy_from_slice(&x[start * features..(start + 1) * features]);
        let spare_y = y[start];
        let mut i = start;
        loop {
            placed[i] = true;
            let src = order[i];
            if src == start {
                x[i * features..(i + 1) * features].copy_from_slice(&spare);
                y[i] = spare_y;
                break;
            }
            x.copy_within(src * features..(src + 1) * features, i * features);
            y[i] = y[src];
            i = src;
        }
    }
}

/// A dataset's training file and test file.
#[derive(Clone, Debug)]
pub struct DataSplits {
    /// The training file (split into weight and validation splits per run).
    pub train: Dataset,
    /// The test file, touched only for final reporting.
    pub test: Dataset,
}

impl DataSplits {
    /// A dataset without a test file: sets aside the fixed test split. The rows are
    /// reordered in place, so the data is never held twice.
    pub fn with_fixed_test(mut all: Dataset, fraction: f64) -> Result<DataSplits> {
        let mut rng = ChaCha8Rng::seed_from_u64(FIXED_TEST_SEED);
        let (train, test) = stratified_split(&all, fraction, &mut rng);
        let n_train = train.len();
        let order: Vec<usize> = train.into_iter().chain(test).collect();
        permute_rows(&mut all.x, &mut all.y, all.features, &order);
        let test = Dataset {
            name: all.name.clone(),
            features: all.features,
            classes: all.classes,
            x: all.x.split_off(n_train * all.features),
            y: all.y.split_off(n_train),
            shape: all.shape,
        };
        all.x.shrink_to_fit();
        all.y.shrink_to_fit();
        Ok(DataSplits { train: all, test })
    }

    /// A SHA-256 digest (hex) of both files' sizes, features and labels: equal
    /// digests mean the same data, so a checkpoint can tell whether a dataset changed
    /// on disk since it was written.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for d in [&self.train, &self.test] {
            for n in [d.features, d.classes, d.len()] {
                h.update((n as u64).to_le_bytes());
            }
            for chunk in d.x.chunks(1 << 16) {
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                h.update(&bytes);
            }
            let labels: Vec<u8> = d.y.iter().flat_map(|v| v.to_le_bytes()).collect();
            h.update(&labels);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// These splits with the training file cut to a fixed stratified subset of `n`
    /// samples ([`stratified_subset`]); the test file stays whole.
    pub fn with_train_subsample(mut self, n: usize) -> Result<DataSplits> {
        if n < 2 {
            return Err(Error::config("train_subsample", format!("{n} is too small: at least 2 samples")));
        }
        if n < self.train.len() {
            self.train = self.train.subset(&stratified_subset(&self.train, n));
        }
        Ok(self)
    }

    /// The weight and validation splits of the training file for a run with `seed`
    /// (`val_fraction` of each class goes to validation).
    pub fn weight_val(&self, val_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(val_fraction > 0.0 && val_fraction < 1.0) {
            return Err(Error::config("val_fraction", format!("{val_fraction} is out of range: allowed (0, 1)")));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(3);
        let (w, v) = stratified_split(&self.train, val_fraction, &mut rng);
        if w.is_empty() || v.is_empty() {
            return Err(Error::Input(format!(
                "the training file ({} samples) is too small for a weight and a validation split",
                self.train.len()
            )));
        }
        Ok((self.train.subset(&w), self.train.subset(&v)))
    }
}

/// A split as tensors on a device.
pub struct SplitTensors {
    /// `[n, F]` float32 raw features.
    pub x: Tensor,
    /// `[n]` int64 labels.
    pub y: Tensor,
}

impl SplitTensors {
    /// Moves `dataset` to `device`.
    pub fn new(dataset: &Dataset, device: Device) -> Result<SplitTensors> {
        let (x, y) = dataset.tensors(device)?;
        Ok(SplitTensors { x, y })
    }

    /// Number of samples.
    pub fn len(&self) -> i64 {
        self.y.size()[0]
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows at `idx` (int64, on any device: moved to the split's first).
    pub fn rows(&self, idx: &Tensor) -> Result<(Tensor, Tensor)> {
        let idx = idx.f_to_device(self.x.device())?;
        Ok((self.x.f_index_select(0, &idx)?, self.y.f_index_select(0, &idx)?))
    }
}

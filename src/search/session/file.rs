//! A session saved whole to one file and loaded back (docs/reliability.md): a
//! safetensors file holding the shared weights, the optimisers' moments, `alpha`, the
//! best architecture's snapshot and the last weight-step batch, with a JSON document
//! for everything else (space, options, RNG state, counters, density, blocks,
//! history). A loaded session continues exactly as the saved one would have: same
//! losses, same draws, bit for bit on the same device with one thread.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{BestArchitecture, HistoryRecord, Session, SessionOptions};
use crate::error::{Error, Result};
use crate::model::dag::Dag;
use crate::model::density::{DagDensity, Pruned};
use crate::model::device::{configure_numerics, parse_device};
use crate::model::network::{DagWeights, Network, Normalization};
use crate::model::space::{Space, SpaceConfig};
use crate::model::supernet::{BlockMasks, Supernet};
use crate::train::optim::{Optimizer, OptimizerState};
use crate::util::tensor_file::{self, TensorFile};

/// The `format` of a saved session's document.
const FORMAT: &str = "densenas-session";
/// Its layout version (bumped when the layout changes).
const FORMAT_VERSION: u32 = 1;

/// The state of a ChaCha8 generator: seed (hex), stream and word position.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RngState {
    seed: String,
    stream: u64,
    /// A `u128`, as a decimal string (JSON numbers stop at 64 bits).
    word_pos: String,
}

impl RngState {
    fn of(rng: &ChaCha8Rng) -> RngState {
        let seed = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        RngState { seed, stream: rng.get_stream(), word_pos: rng.get_word_pos().to_string() }
    }

    fn restore(&self) -> Result<ChaCha8Rng> {
        let bad = || Error::Input("saved session: the RNG state is malformed".into());
        if self.seed.len() != 64 || !self.seed.is_ascii() {
            return Err(bad());
        }
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&self.seed[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos.parse::<u128>().map_err(|_| bad())?);
        Ok(rng)
    }
}

/// The JSON document of a saved session.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionDocument {
    format: String,
    format_version: u32,
    densenas_version: String,
    space: SpaceConfig,
    options: SessionOptions,
    rng: RngState,
    weight_lr: f64,
    progress: f64,
    phase: usize,
    weight_steps: usize,
    weight_optimizer_steps: i32,
    arch_optimizer_steps: i32,
    density: Vec<f64>,
    /// The density's op probabilities given presence, in a typed space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    density_ops: Option<Vec<Vec<f64>>>,
    /// The density's pruned candidates (P-DARTS), when any is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    density_pruned: Option<Pruned>,
    dags: Vec<Dag>,
    history: Vec<HistoryRecord>,
    best: Option<HistoryRecord>,
}

fn named(prefix: &str, tensors: &[Tensor]) -> Vec<(String, Tensor)> {
    tensors.iter().enumerate().map(|(i, t)| (format!("{prefix}.{i}"), t.shallow_clone())).collect()
}

fn optimizer_tensors(prefix: &str, state: &OptimizerState) -> Vec<(String, Tensor)> {
    let mut out = named(&format!("{prefix}.first"), &state.first);
    out.extend(named(&format!("{prefix}.second"), &state.second));
    out
}

impl Session {
    /// The session as the bytes of a saved-session file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (weight_state, arch_state) = (self.weight_opt.state(), self.arch_opt.state());
        let document = SessionDocument {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            densenas_version: crate::VERSION.into(),
            space: self.space.config(),
            options: self.options.clone(),
            rng: RngState::of(&self.rng),
            weight_lr: self.weight_lr,
            progress: self.progress,
            phase: self.phase,
            weight_steps: self.weight_steps,
            weight_optimizer_steps: weight_state.step,
            arch_optimizer_steps: arch_state.step,
            density: self.density.probabilities().to_vec(),
            density_ops: (self.space.ops().len() > 1).then(|| self.density.op_probabilities().to_vec()),
            density_pruned: self.density.pruned().any().then(|| self.density.pruned().clone()),
            dags: self.dags.clone(),
            history: self.history.clone(),
            best: self.best.as_ref().map(|b| b.record.clone()),
        };
        let norm = self.supernet.normalization();
        let mut tensors = vec![
            ("normalization.mean".to_string(), Tensor::f_from_slice(&norm.mean)?),
            ("normalization.std".to_string(), Tensor::f_from_slice(&norm.std)?),
            ("alpha".to_string(), self.alpha.shallow_clone()),
        ];
        tensors.extend(named("supernet", &self.weights));
        tensors.extend(optimizer_tensors("weight_optimizer", &weight_state));
        tensors.extend(optimizer_tensors("arch_optimizer", &arch_state));
        if let Some(best) = &self.best {
            tensors.extend(named("best", &best.network.weights.tensors()));
        }
        if let Some((x, y)) = &self.last_train {
            tensors.push(("last_train.x".into(), x.shallow_clone()));
            tensors.push(("last_train.y".into(), y.shallow_clone()));
        }
        tensor_file::encode(&tensors, &serde_json::to_value(&document)?)
    }

    /// Saves the session to one file at `path` (written atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::util::atomic::write_atomic(path, &self.to_bytes()?)
    }

    /// Loads a session saved with [`Session::save`].
    pub fn load(path: &Path) -> Result<Session> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Session::from_bytes(&bytes, &format!("saved session {}", path.display()))
    }

    /// A session from the bytes of a saved-session file; `what` names the file in
    /// errors. Every part is checked (format, version, shapes, types, finite values), so
    /// a truncated, corrupted or foreign file gets a clear error.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Session> {
        let mut file = tensor_file::decode(bytes, what)?;
        let doc = read_document(&file, what)?;
        restore(doc, &mut file, what).map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("{what}: {m}")),
            other => other,
        })
    }
}

fn read_document(file: &TensorFile, what: &str) -> Result<SessionDocument> {
    let format = file.document.get("format").and_then(|v| v.as_str());
    if format != Some(FORMAT) {
        return Err(Error::Input(format!("{what}: not a saved densenas session (format {format:?})")));
    }
    let version = file.document.get("densenas_version").and_then(|v| v.as_str()).unwrap_or("unknown");
    let layout = file.document.get("format_version").and_then(|v| v.as_u64());
    if version != crate::VERSION || layout != Some(FORMAT_VERSION as u64) {
        return Err(Error::Input(format!(
            "{what}: written by densenas {version} (layout {layout:?}); this is densenas {} (layout {FORMAT_VERSION}), \
             which cannot continue it: use the version that wrote it",
            crate::VERSION
        )));
    }
    serde_json::from_value(file.document.clone()).map_err(|e| Error::Input(format!("{what}: malformed document ({e})")))
}

/// Takes tensor `name`, checks it is finite, and moves it to the session's kind and
/// device (labels stay int64).
fn take(file: &mut TensorFile, name: &str, kind: Kind, device: tch::Device) -> Result<Tensor> {
    let t = file.take(name, "saved session")?;
    if t.kind() != kind {
        return Err(Error::Input(format!("tensor {name:?} is {:?}, the session computes in {kind:?}", t.kind())));
    }
    if t.is_floating_point() && t.numel() > 0 && !bool::try_from(t.f_isfinite()?.f_all()?)? {
        return Err(Error::Input(format!("tensor {name:?} holds non-finite values")));
    }
    Ok(t.f_to_device(device)?)
}

fn take_optimizer(file: &mut TensorFile, prefix: &str, steps: i32, n: usize, adam: bool, kind: Kind, device: tch::Device) -> Result<OptimizerState> {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    if steps > 0 {
        for i in 0..n {
            first.push(take(file, &format!("{prefix}.first.{i}"), kind, device)?);
            if adam {
                second.push(take(file, &format!("{prefix}.second.{i}"), kind, device)?);
            }
        }
    }
    Ok(OptimizerState { step: steps, first, second })
}

fn restore(doc: SessionDocument, file: &mut TensorFile, what: &str) -> Result<Session> {
    let space = Space::new(doc.space)?;
    doc.options.validate(&space)?;
    let device = parse_device(&doc.options.device)?;
    let kind = doc.options.precision.kind();
    let f = space.features() as i64;
    let mean = take(file, "normalization.mean", Kind::Double, tch::Device::Cpu)?;
    let std = take(file, "normalization.std", Kind::Double, tch::Device::Cpu)?;
    if mean.size() != [f] || std.size() != [f] {
        return Err(Error::Input(format!("the normalisation does not have the space's {f} features")));
    }
    let normalization = Normalization { mean: Vec::<f64>::try_from(&mean)?, std: Vec::<f64>::try_from(&std)? };
    if normalization.std.iter().any(|&s| s <= 0.0) {
        return Err(Error::Input("the normalisation has a non-positive standard deviation".into()));
    }
    if !(doc.weight_lr.is_finite() && doc.weight_lr >= 0.0 && (0.0..=1.0).contains(&doc.progress)) {
        return Err(Error::Input("the learning rate or the phase progress is out of range".into()));
    }
    if doc.dags.len() != space.blocks() {
        return Err(Error::Input(format!("{} blocks, the space has {}", doc.dags.len(), space.blocks())));
    }
    let masks = BlockMasks::new(&space, &doc.dags, kind, device)?;
    let mut density = DagDensity::from_probabilities(&space, doc.density, doc.density_ops, doc.options.density.p_min)?;
    if let Some(pruned) = doc.density_pruned {
        density.restore_pruned(pruned)?;
    }

    // The shared weights, made leaves that require grad.
    let scratch = Supernet::new(&space, normalization.clone(), kind, device, &mut ChaCha8Rng::seed_from_u64(0))?;
    let n_params = scratch.parameters().len();
    let params = (0..n_params)
        .map(|i| Ok(take(file, &format!("supernet.{i}"), kind, device)?.set_requires_grad(true)))
        .collect::<Result<Vec<_>>>()?;
    let supernet = scratch.with_parameters(&params)?;
    let weights = supernet.parameters();
    let alpha = take(file, "alpha", kind, device)?;
    if alpha.size() != [space.blocks() as i64] {
        return Err(Error::Input(format!("alpha has shape {:?}, the space has {} blocks", alpha.size(), space.blocks())));
    }
    let alpha = alpha.set_requires_grad(true);

    let mut weight_opt = Optimizer::new(doc.options.weight_optimizer.clone());
    let adam = |o: &Optimizer| o.config().kind == crate::train::optim::OptimizerKind::Adam;
    let state = take_optimizer(file, "weight_optimizer", doc.weight_optimizer_steps, n_params, adam(&weight_opt), kind, device)?;
    weight_opt.set_state(state, &weights)?;
    let mut arch_opt = Optimizer::new(doc.options.arch_optimizer.clone());
    let state = take_optimizer(file, "arch_optimizer", doc.arch_optimizer_steps, 1, adam(&arch_opt), kind, device)?;
    arch_opt.set_state(state, std::slice::from_ref(&alpha))?;

    let best = match doc.best {
        None => None,
        Some(record) => {
            let mut tensors = Vec::new();
            while file.tensors.contains_key(&format!("best.{}", tensors.len())) {
                tensors.push(take(file, &format!("best.{}", tensors.len()), kind, device)?);
            }
            let weights = DagWeights::from_tensors(&space, &record.dag, tensors)?;
            let network = Network { space: space.clone(), dag: record.dag.clone(), normalization: normalization.clone(), weights };
            Some(BestArchitecture { record, network })
        }
    };
    let last_train = match (file.tensors.contains_key("last_train.x"), file.tensors.contains_key("last_train.y")) {
        (false, false) => None,
        (true, true) => {
            let x = take(file, "last_train.x", kind, device)?;
            let y = take(file, "last_train.y", Kind::Int64, device)?;
            let c = space.classes() as i64;
            let labels_ok = y.numel() == 0 || {
                let (lo, hi) = (y.f_min()?.f_int64_value(&[])?, y.f_max()?.f_int64_value(&[])?);
                lo >= 0 && hi < c
            };
            if x.dim() != 2 || x.size()[1] != f || y.size() != [x.size()[0]] || x.size()[0] == 0 || !labels_ok {
                return Err(Error::Input("the last weight-step batch is malformed".into()));
            }
            Some((x, y))
        }
        _ => return Err(Error::Input("the last weight-step batch is incomplete".into())),
    };
    if let Some(name) = file.tensors.keys().next() {
        return Err(Error::Input(format!("unexpected tensor {name:?} (in {what})")));
    }
    // Last: a refused file leaves the process's settings as they were.
    configure_numerics(device, doc.options.precision, doc.options.deterministic)?;
    Ok(Session {
        strategy: doc.options.strategy.build_with(&doc.options.strategy_options),
        rng: doc.rng.restore()?,
        space,
        options: doc.options,
        device,
        kind,
        supernet,
        weights,
        alpha,
        weight_opt,
        arch_opt,
        weight_lr: doc.weight_lr,
        progress: doc.progress,
        last_train,
        density,
        dags: doc.dags,
        masks,
        phase: doc.phase,
        history: doc.history,
        best,
        weight_steps: doc.weight_steps,
        identity_dropout: (0.0, 0.0),
    })
}

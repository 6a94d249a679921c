//! The training layer: the [`optim`]isers (SGD with momentum, Adam, gradient clipping,
//! learning-rate schedules), the loss, evaluation in chunks, and training one DAG from
//! fresh weights (the retraining of a search's best DAG and of its baselines).

mod evaluate;
mod loss;
mod fused;
pub mod optim;
mod trainer;

pub use evaluate::{evaluate, EVAL_CHUNK};
pub use loss::cross_entropy;
pub use trainer::{evaluate_network, train_dag, train_dag_until, TrainConfig, RETRAIN_BASELINE_STREAM, RETRAIN_BEST_STREAM, RETRAIN_CNN_STREAM};

//! The training layer: the [`optim`]isers (SGD with momentum, Adam, gradient clipping,
//! learning-rate schedules), the loss, evaluation in chunks, and training DAGs from
//! fresh weights: the population trainer (`P` DAGs in lockstep; `P = 1` is one network,
//! the retraining of a search's best DAG and of its baselines).

mod evaluate;
mod loss;
mod fused;
pub mod optim;
mod population;
mod request;
mod stacked;
mod standalone;
mod trainer;

pub use evaluate::{evaluate, EVAL_CHUNK};
pub use loss::cross_entropy;
pub use population::{first_epoch_order, train_population, Member, MemberInit, MemberResult, PopulationJob, Seed, DATA_ORDER_STREAM};
pub use request::{MemberReport, TrainRequest, TrainResponse};
pub use standalone::{train_standalone, StandaloneJob, StandaloneOutcome, TrainedMember};
pub use trainer::{evaluate_network, train_dag, train_dag_until, TrainConfig, RETRAIN_BASELINE_STREAM, RETRAIN_BEST_STREAM, RETRAIN_CNN_STREAM};

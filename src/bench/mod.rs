//! Benchmarks (`densenas bench`): the supernet's step throughput and achieved GFLOP/s
//! beside the machine's own float32 matrix-multiply rate, and per strategy the
//! throughput and the memory a step holds.

mod strategies;
mod supernet;

pub use strategies::{measure_peak, run_bench, BenchConfig, BenchRow};
pub use supernet::{matmul_gflops, run_supernet_bench, SupernetBenchConfig, SupernetRow};

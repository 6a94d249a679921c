//! Benchmarks (`densenas bench`): the supernet's step throughput and achieved GFLOP/s
//! beside the machine's own float32 matrix-multiply rate, and per strategy the
//! throughput and the memory a step holds; and the supernet beside the same one in
//! plain PyTorch ([`compare`]); the population trainer beside its members trained one at
//! a time ([`population`]), and beside PyTorch's vmap ensemble ([`compare_population`]).

mod compare;
mod compare_population;
mod population;
mod strategies;
mod supernet;

pub use compare::{run_compare, CompareConfig, CompareRow};
pub use compare_population::{run_compare_population, ComparePopulationConfig, ComparePopulationRow};
pub use population::{run_population_bench, BenchData, PopulationBenchConfig, PopulationRow};
pub use strategies::{measure_peak, run_bench, BenchConfig, BenchRow};
pub use supernet::{matmul_gflops, run_supernet_bench, useful_flops, SupernetBenchConfig, SupernetRow};

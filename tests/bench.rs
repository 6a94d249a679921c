//! The benchmarks run and report coherent figures (their timings are for people to
//! read, not for tests to judge).

use densenas::internal::bench::{matmul_gflops, run_supernet_bench, SupernetBenchConfig};
use densenas::data;

#[test]
fn supernet_bench_counts_the_flops_of_the_batched_path() {
    let data = data::load("digits").unwrap();
    let config = SupernetBenchConfig { blocks: vec![1, 4], widths: vec![16], layers: 3, batch_size: 8, steps: 1, threads: 1, seed: 0, ..Default::default() };
    let mut seen = 0;
    let rows = run_supernet_bench(&config, &data, &mut |_| seen += 1).unwrap();
    assert_eq!((rows.len(), seen), (2, 2));
    for r in &rows {
        // L = 3: |A| = 3 allowed edges; F = 64, C = 10, D = 16, B = 8.
        let forward = 2.0 * 8.0 * 64.0 * 3.0 * 16.0 + 2.0 * r.blocks as f64 * 8.0 * (3.0 * 256.0 + 3.0 * 16.0 * 10.0);
        assert_eq!(r.flops_per_step, 3.0 * forward);
        assert!(r.step_seconds > 0.0 && r.samples_per_second > 0.0 && r.matmul_gflops > 0.0);
        assert!((r.gflops - r.flops_per_step / r.step_seconds / 1e9).abs() < 1e-9 * r.gflops.max(1.0));
        assert!((r.fraction_of_matmul - r.gflops / r.matmul_gflops).abs() < 1e-12);
    }
    assert!(matmul_gflops(64, 2).unwrap() > 0.0);
    let bad = SupernetBenchConfig { widths: vec![], ..config };
    assert!(run_supernet_bench(&bad, &data, &mut |_| {}).is_err());
}

#[test]
fn useful_flops_count_only_the_edges_and_sinks_each_block_has() {
    use densenas::internal::bench::useful_flops;
    use densenas::{Dag, Space, SpaceConfig};
    let space = Space::new(SpaceConfig::new(64, 10, 4, 32)).unwrap();
    let d = |e: &[(usize, usize)]| Dag::new(4, e.to_vec()).unwrap();
    // Block 1: 2 edges, sinks 2 and 3; block 2: no edge, every vertex a sink.
    let dags = [d(&[(0, 1), (1, 2)]), d(&[])];
    let (sinks1, sinks2) = (dags[0].sinks().len() as f64, 4.0);
    assert_eq!(sinks1, 2.0);
    let per_block = 2.0 * 32.0 * 32.0 + sinks1 * 32.0 * 10.0 + sinks2 * 32.0 * 10.0;
    let want = 6.0 * 16.0 * (4.0 * 32.0 * 64.0 + per_block);
    assert_eq!(useful_flops(&space, &dags, 16), want);
    // The supernet bench reports it beside the batched count, and the grouped path's
    // share of the batched path's products.
    let data = densenas::data::load("digits").unwrap();
    let config = densenas::internal::bench::SupernetBenchConfig { blocks: vec![4], widths: vec![16], layers: 4, batch_size: 8, steps: 1, threads: 1, seed: 0, ..Default::default() };
    let rows = densenas::internal::bench::run_supernet_bench(&config, &data, &mut |_| {}).unwrap();
    let r = &rows[0];
    assert!(r.useful_gflops > 0.0 && r.useful_gflops < r.gflops, "{r:?}");
    assert!(r.work_fraction > 0.0 && r.work_fraction < 1.0, "{r:?}");
}

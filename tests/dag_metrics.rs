//! DAG metrics on hand-checked DAGs (disconnected ones included) and DAG validation.

use densenas::{Dag, Space, SpaceConfig};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn chain_metrics() {
    let m = Dag::chain(4).metrics();
    assert_eq!((m.num_edges, m.depth, m.num_sources, m.num_sinks), (3, 4, 1, 1));
    assert!(close(m.mean_skip, 1.0) && close(m.num_paths, 1.0) && close(m.clustering, 0.0));
    // Distances 1,2,3,1,2,1 over 6 connected pairs.
    assert!(close(m.avg_path_length, 10.0 / 6.0));
    assert!(close(m.disconnected_fraction, 0.0));
}

#[test]
fn empty_dag_metrics() {
    let m = Dag::new(3, vec![]).unwrap().metrics();
    assert_eq!((m.num_edges, m.depth, m.num_sources, m.num_sinks), (0, 1, 3, 3));
    assert!(close(m.mean_skip, 0.0) && close(m.num_paths, 3.0) && close(m.clustering, 0.0));
    assert!(close(m.avg_path_length, 0.0) && close(m.disconnected_fraction, 1.0));
}

#[test]
fn full_triangle_metrics() {
    let m = Dag::new(3, vec![(0, 1), (0, 2), (1, 2)]).unwrap().metrics();
    assert_eq!((m.num_edges, m.depth, m.num_sources, m.num_sinks), (3, 3, 1, 1));
    // Paths 0-1-2 and 0-2; skips 1, 2, 1.
    assert!(close(m.num_paths, 2.0) && close(m.mean_skip, 4.0 / 3.0));
    assert!(close(m.clustering, 1.0) && close(m.avg_path_length, 1.0) && close(m.disconnected_fraction, 0.0));
}

#[test]
fn disconnected_dag_metrics() {
    // Two components {0,1,2} (0->2, 1->2) and {3,4} (3->4).
    let m = Dag::new(5, vec![(0, 2), (1, 2), (3, 4)]).unwrap().metrics();
    assert_eq!((m.num_edges, m.depth, m.num_sources, m.num_sinks), (3, 2, 3, 2));
    assert!(close(m.num_paths, 3.0) && close(m.mean_skip, 4.0 / 3.0) && close(m.clustering, 0.0));
    // Connected pairs: (0,1) at 2, (0,2) 1, (1,2) 1, (3,4) 1: 4 of 10 pairs.
    assert!(close(m.avg_path_length, 5.0 / 4.0));
    assert!(close(m.disconnected_fraction, 6.0 / 10.0));
}

#[test]
fn isolated_vertices_and_a_long_skip() {
    // 0 -> 3, with 1 and 2 isolated.
    let m = Dag::new(4, vec![(0, 3)]).unwrap().metrics();
    assert_eq!((m.num_edges, m.depth, m.num_sources, m.num_sinks), (1, 2, 3, 3));
    assert!(close(m.num_paths, 3.0) && close(m.mean_skip, 3.0));
    assert!(close(m.avg_path_length, 1.0) && close(m.disconnected_fraction, 5.0 / 6.0));
}

#[test]
fn diamond_with_clustering() {
    // 0->1, 0->2, 1->3, 2->3, 1->2: undirected triangles {0,1,2} and {1,2,3}.
    let m = Dag::new(4, vec![(0, 1), (0, 2), (1, 3), (2, 3), (1, 2)]).unwrap().metrics();
    assert_eq!((m.depth, m.num_sources, m.num_sinks), (4, 1, 1));
    // Paths: 0-1-3, 0-2-3, 0-1-2-3.
    assert!(close(m.num_paths, 3.0));
    // Local clustering: vertices 0 and 3 have 2 linked neighbours (1.0); 1 and 2 have
    // 3 neighbours with 2 links of 3 (2/3).
    assert!(close(m.clustering, (1.0 + 1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 4.0));
    // Distances: only (0,3) is 2 apart.
    assert!(close(m.avg_path_length, 7.0 / 6.0));
}

#[test]
fn num_paths_grows_exponentially_as_a_float() {
    let mut c = SpaceConfig::new(1, 2, 40, 1);
    c.blocks = 1;
    let sp = Space::new(c).unwrap();
    // The full DAG on n vertices has 2^(n-2) source-to-sink paths.
    let m = Dag::full(&sp).metrics();
    assert_eq!(m.num_paths, 2f64.powi(38));
    assert_eq!(m.depth, 40);
}

#[test]
fn invalid_dags_are_refused() {
    assert!(Dag::new(3, vec![(1, 1)]).unwrap_err().to_string().contains("not a forward edge"));
    assert!(Dag::new(3, vec![(2, 1)]).is_err());
    assert!(Dag::new(3, vec![(0, 3)]).is_err());
    let mut c = SpaceConfig::new(4, 2, 4, 8);
    c.max_skip = Some(1);
    let sp = Space::new(c).unwrap();
    let err = Dag::new(4, vec![(0, 2)]).unwrap().mask(&sp).unwrap_err().to_string();
    assert!(err.contains("max_skip = 1"), "{err}");
    let err = Dag::chain(5).mask(&sp).unwrap_err().to_string();
    assert!(err.contains("5 vertices") && err.contains("4 layers"), "{err}");
    // JSON in, validated.
    let d: Dag = serde_json::from_str(r#"{"layers": 3, "edges": [[0, 2], [0, 1]], "val_accuracy": 0.9}"#).unwrap();
    assert_eq!(d.edges(), &[(0, 1), (0, 2)]);
    assert!(serde_json::from_str::<Dag>(r#"{"layers": 3, "edges": [[2, 0]]}"#).is_err());
}

//! Space configuration: every bad value is an error naming the field and its range;
//! unknown keys are refused; defaults resolve as documented.

use densenas::{SessionOptions, SpaceConfig};

fn err(json: &str) -> String {
    SpaceConfig::from_json(json).unwrap_err().to_string()
}

#[test]
fn valid_config_resolves_defaults() {
    let s = SpaceConfig::from_json(r#"{"features": 64, "classes": 10, "layers": 8, "width": 32}"#).unwrap();
    assert_eq!((s.blocks(), s.max_skip(), s.num_edges()), (8, 7, 28));
    let s = SpaceConfig::from_json(r#"{"features": 64, "classes": 10, "layers": 8, "width": 32, "max_skip": 2, "blocks": 3}"#)
        .unwrap();
    // 7 edges of skip 1, 6 of skip 2.
    assert_eq!((s.blocks(), s.num_edges()), (3, 13));
    assert_eq!(s.edge_index(5, 7), Some(11));
    assert_eq!(s.edge_index(6, 7), Some(12));
    assert_eq!(s.edge_index(4, 7), None);
}

#[test]
fn every_out_of_range_value_names_its_field_and_range() {
    let base = |extra: &str| format!(r#"{{"features": 64, "classes": 10, "layers": 4, "width": 32{extra}}}"#);
    for (extra, field, range) in [
        (r#", "blocks": 0"#, "blocks", "1..=4096"),
        (r#", "max_skip": 4"#, "max_skip", "1..=3"),
        (r#", "max_skip": 0"#, "max_skip", "1..=3"),
        (r#", "max_edges": 7"#, "max_edges", "0..=6"),
        (r#", "min_edges": 3, "max_edges": 2"#, "min_edges", "0..=2"),
    ] {
        let e = err(&base(extra));
        assert!(e.contains(field) && e.contains(range), "{extra}: {e}");
    }
    for (json, field, range) in [
        (r#"{"features": 0, "classes": 10, "layers": 4, "width": 32}"#, "features", "1..="),
        (r#"{"features": 64, "classes": 1, "layers": 4, "width": 32}"#, "classes", "2..="),
        (r#"{"features": 64, "classes": 10, "layers": 0, "width": 32}"#, "layers", "1..=64"),
        (r#"{"features": 64, "classes": 10, "layers": 65, "width": 32}"#, "layers", "1..=64"),
        (r#"{"features": 64, "classes": 10, "layers": 4, "width": 0}"#, "width", "1..=65536"),
    ] {
        let e = err(json);
        assert!(e.contains(field) && e.contains(range), "{json}: {e}");
    }
    let e = err(r#"{"features": 64, "classes": 10, "layers": 64, "width": 65536}"#);
    assert!(e.contains("width") && e.contains("parameters"), "{e}");
}

#[test]
fn unknown_keys_bad_types_and_missing_keys_are_refused() {
    let e = err(r#"{"features": 64, "classes": 10, "layers": 4, "width": 32, "widht": 3}"#);
    assert!(e.contains("unknown field `widht`"), "{e}");
    let e = err(r#"{"features": 64, "classes": 10, "layers": -4, "width": 32}"#);
    assert!(e.contains("invalid value") || e.contains("invalid type"), "{e}");
    let e = err(r#"{"features": 64, "classes": 10, "layers": 4}"#);
    assert!(e.contains("missing field `width`"), "{e}");
    let e = err(r#"{"features": 64, "classes": 10, "layers": 4, "width": 32, "activation": "swish"}"#);
    assert!(e.contains("swish") && e.contains("relu"), "{e}");
    assert!(err("not json").contains("invalid configuration"));
}

#[test]
fn session_options_are_validated() {
    let e = SessionOptions::from_json(r#"{"strategy": "nope"}"#).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("darts"), "{e}");
    let e = SessionOptions::from_json(r#"{"sede": 1}"#).unwrap_err().to_string();
    assert!(e.contains("unknown field `sede`"), "{e}");
    let sp = SpaceConfig::from_json(r#"{"features": 4, "classes": 2, "layers": 3, "width": 4, "blocks": 2}"#).unwrap();
    let mut o = SessionOptions::default();
    o.density.eta = 1.5;
    let e = o.validate(&sp).unwrap_err().to_string();
    assert!(e.contains("density.eta") && e.contains("[0, 1]"), "{e}");
    let mut o = SessionOptions::default();
    o.density.elitism = 2;
    assert!(o.validate(&sp).unwrap_err().to_string().contains("density.elitism"));
    let mut o = SessionOptions::default();
    o.arch_optimizer.lr = f64::NAN;
    assert!(o.validate(&sp).unwrap_err().to_string().contains("arch_optimizer.lr"));
    let mut o = SessionOptions::default();
    o.device = "tpu".into();
    assert!(o.validate(&sp).unwrap_err().to_string().contains("unknown device"));
    let o = SessionOptions::from_json(r#"{"seed": 5, "strategy": "darts"}"#).unwrap();
    assert_eq!(o.seed, 5);
    o.validate(&sp).unwrap();
}

#[test]
fn typed_space_keys_are_checked_and_each_error_names_its_field() {
    let base = |extra: &str| format!(r#"{{"features": 784, "classes": 10, "layers": 4, "width": 784{extra}}}"#);
    for (extra, field, words) in [
        (r#", "shape": [16, 7, 8]"#, "shape", "width is 784"),
        (r#", "ops": ["dense", "conv3x3"]"#, "ops", "need the vertices' `shape`"),
        (r#", "ops": ["dense", "conv7x7"]"#, "ops", "unknown op"),
        (r#", "ops": []"#, "ops", "at least one op"),
        (r#", "ops": ["dense", "dense"]"#, "ops", "listed twice"),
        (r#", "shape": [16, 7, 7], "stem": "conv""#, "input_shape", "needs the input's shape"),
        (r#", "shape": [16, 7, 7], "stem": "conv", "input_shape": [1, 28, 27]"#, "input_shape", "784 features"),
        (r#", "shape": [16, 7, 7], "stem": "conv", "input_shape": [1, 16, 49]"#, "stem", "same whole number"),
        (r#", "stem": "conv", "input_shape": [1, 28, 28]"#, "shape", "conv stem needs"),
    ] {
        let e = err(&base(extra));
        assert!(e.contains(&format!("{field}:")) && e.contains(words), "{extra}: {e}");
    }
    // 784 = 16 * 7 * 7 and 28 / 7 = 4: a patchify stem of stride 4.
    let s = SpaceConfig::from_json(&base(
        r#", "shape": [16, 7, 7], "stem": "conv", "input_shape": [1, 28, 28], "ops": ["dense", "conv3x3", "avgpool3x3", "identity"]"#,
    ))
    .unwrap();
    let g = s.stem_geometry().unwrap();
    assert_eq!((g.kernel, g.stride, g.padding), (4, 4, 0));
    assert!(s.is_typed());
    // An untyped configuration serialises exactly as before (no typed keys).
    let plain = SpaceConfig::from_json(&base("")).unwrap();
    let json = serde_json::to_string(&plain.config()).unwrap();
    for key in ["shape", "ops", "stem", "input_shape"] {
        assert!(!json.contains(key), "{json}");
    }
}

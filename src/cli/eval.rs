//! `densenas eval`: run an exported ONNX model through ONNX Runtime on a dataset's test
//! split (the same one a search on that dataset tests on): accuracy, per-class accuracy
//! and the confusion matrix.

use std::path::PathBuf;

use clap::Args;

use densenas::data;
use densenas::io::ort_runtime::OnnxModel;
use densenas::io::classification::ClassificationReport;
use densenas::{Error, Result};

/// Options of `densenas eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// The exported model (for example a run folder's best.onnx).
    #[arg(long)]
    model: PathBuf,
    /// The dataset spec, as for `densenas search --data`.
    #[arg(long, default_value = "digits")]
    data: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `densenas eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let model = OnnxModel::load(&args.model)?;
    let splits = data::load(&args.data)?;
    let test = &splits.test;
    if model.features() != test.features {
        return Err(Error::Input(format!(
            "{} takes {} input features, but dataset {} has {}",
            args.model.display(),
            model.features(),
            args.data,
            test.features
        )));
    }
    if model.classes() < test.classes {
        return Err(Error::Input(format!(
            "{} has {} outputs, but dataset {} has {} classes",
            args.model.display(),
            model.classes(),
            args.data,
            test.classes
        )));
    }
    let logits = model.logits_all(&test.x, 1024)?;
    let report = ClassificationReport::from_logits(&logits, &test.y, model.classes())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{} on the test split of {} ({} samples)", args.model.display(), args.data, report.samples);
    println!("accuracy {:.2}%", 100.0 * report.accuracy);
    println!("per-class accuracy:");
    for (c, acc) in report.per_class_accuracy.iter().enumerate() {
        let n: usize = report.confusion[c].iter().sum();
        match acc {
            Some(a) => println!("  class {c:>3}: {:>7.2}% of {n}", 100.0 * a),
            None => println!("  class {c:>3}:       - (no sample)"),
        }
    }
    println!("confusion matrix (rows: true class, columns: predicted):");
    let width = report.confusion.iter().flatten().max().map_or(1, |m| m.to_string().len()).max(3);
    print!("{:>5}", "");
    for c in 0..report.confusion.len() {
        print!(" {c:>width$}");
    }
    println!();
    for (c, row) in report.confusion.iter().enumerate() {
        print!("{c:>5}");
        for v in row {
            print!(" {v:>width$}");
        }
        println!();
    }
    Ok(())
}

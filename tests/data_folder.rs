//! The data folder (docs/data.md): `densenas data fetch` from HTTP sources on loopback
//! (a corrupt and a missing file on the first source fall back to the second; every
//! source failing leaves nothing behind), `--from DIR`, `data list`; a dataset named by
//! `--data mnist` read through `$DENSENAS_DATA`, a missing one refused with the command
//! that gets it, a corrupt copy refused; `data export` round trips through the CSV
//! loader; CIFAR-10's archive unpacks to its batches; experiment unit ids follow the
//! data's content, not its path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

mod common;

use densenas::data::registry;
use densenas::experiment::file::Experiment;
use densenas::experiment::plan;

const MNIST_FILES: [&str; 4] =
    ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

/// `densenas ARGS` with the data folder `data`.
fn densenas(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_densenas")).env("DENSENAS_DATA", data).env("OMP_NUM_THREADS", "1").args(args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A static HTTP server on 127.0.0.1 serving `files` (path -> bytes), 404 otherwise;
/// it answers until the test process ends. Returns its base URL.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let files = Arc::clone(&files);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
                let _ = match files.get(&path) {
                    Some(body) => stream
                        .write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes())
                        .and_then(|()| stream.write_all(body)),
                    None => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                };
            });
        }
    });
    base
}

fn mnist_bytes() -> HashMap<String, Vec<u8>> {
    let dir = common::dataset_dir("mnist");
    MNIST_FILES.iter().map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap())).collect()
}

#[test]
fn fetch_falls_back_past_a_corrupt_and_a_missing_file_and_checks_every_file() {
    let good = mnist_bytes();
    let mut bad = good.clone();
    bad.get_mut("train-labels-idx1-ubyte.gz").unwrap()[100] ^= 1;
    bad.remove("t10k-labels-idx1-ubyte.gz");
    let (first, second) = (serve(bad), serve(good.clone()));
    let data = common::temp_dir("fetch");
    let out = densenas(&data, &["data", "fetch", "mnist", "--source", &first, "--source", &second]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{first}train-labels-idx1-ubyte.gz failed: SHA-256")), "{stderr}");
    assert!(stderr.contains(&format!("{first}t10k-labels-idx1-ubyte.gz failed:")) && stderr.contains("404"), "{stderr}");
    assert!(stdout.contains("mnist: ready in"), "{stdout}");
    for f in MNIST_FILES {
        assert_eq!(std::fs::read(data.join("mnist").join(f)).unwrap(), good[f], "{f}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(data.join("mnist")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 5, "the four files and .verified, no temporaries: {leftovers:?}");
    // A second fetch keeps the checked files.
    let out = densenas(&data, &["data", "fetch", "mnist", "--source", "http://127.0.0.1:9/"]);
    assert!(out.status.success() && text(&out).1.matches("already present and checked").count() == 4, "{}", text(&out).1);
    let (stdout, _) = text(&densenas(&data, &["data", "list"]));
    let line = stdout.lines().find(|l| l.starts_with("mnist ")).unwrap();
    assert!(line.contains("present"), "{stdout}");
    assert!(stdout.contains(&data.display().to_string()) && stdout.contains("$DENSENAS_DATA"), "{stdout}");
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_fetch_whose_sources_all_fail_names_each_and_leaves_nothing() {
    let mut bad = mnist_bytes();
    bad.get_mut("train-images-idx3-ubyte.gz").unwrap().truncate(1000);
    let first = serve(bad);
    let second = serve(HashMap::new());
    let data = common::temp_dir("fetch-fails");
    let out = densenas(&data, &["data", "fetch", "mnist", "--source", &first, "--source", &second, "--quiet"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    let error = stderr.lines().find(|l| l.starts_with("densenas: error:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(error.contains("every source failed") && error.contains("served 1000 bytes") && error.contains("404"), "{error}");
    assert!(!data.join("mnist").exists(), "no dataset folder after a failed fetch");
    // An unknown name and a dataset without a public source.
    let (_, e) = text(&densenas(&data, &["data", "fetch", "mnst"]));
    assert!(e.contains("no dataset is called \"mnst\"") && e.contains("fashion-mnist"), "{e}");
    let (_, e) = text(&densenas(&data, &["data", "fetch", "cifar10-jpeg-q75"]));
    assert!(e.contains("no public source") && e.contains("--from DIR"), "{e}");
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn from_a_folder_copies_checked_files_and_refuses_other_bytes() {
    let source = common::temp_dir("from-source");
    for (name, bytes) in mnist_bytes() {
        std::fs::write(source.join(name), bytes).unwrap();
    }
    let data = common::temp_dir("from");
    let out = densenas(&data, &["data", "fetch", "mnist", "--from", source.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", text(&out).1);
    // The dataset by name, read from this data folder: MNIST's known test label counts.
    let csv = data.join("test.csv");
    let out = densenas(&data, &["data", "export", "mnist", "--split", "test", "--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out).1);
    let test = densenas::data::csv::read_csv_file(&csv, "test").unwrap();
    assert_eq!(test.class_counts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // A folder holding other bytes under a file's name.
    let mut wrong = std::fs::read(source.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    wrong[10] ^= 0xff;
    std::fs::write(source.join("t10k-labels-idx1-ubyte.gz"), wrong).unwrap();
    let out = densenas(&data, &["data", "fetch", "mnist", "--from", source.to_str().unwrap(), "--force", "--quiet"]);
    let (_, e) = text(&out);
    assert!(!out.status.success() && e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("SHA-256"), "{e}");
    // What was in place stays, checked.
    assert!(registry::known("mnist").unwrap().files.iter().all(|f| {
        densenas::data::folder::check_file(&data.join("mnist").join(f.name), f).is_ok()
    }));
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::remove_dir_all(&source).unwrap();
}

#[test]
fn a_missing_dataset_says_how_to_get_it_and_a_corrupt_copy_is_refused() {
    let data = common::temp_dir("missing");
    let out = densenas(&data, &["search", "--data", "mnist", "--out", data.join("run").to_str().unwrap()]);
    let (_, e) = text(&out);
    assert!(!out.status.success());
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(e.contains("dataset mnist is not in the data folder") && e.contains("`densenas data fetch mnist`"), "{e}");
    assert!(e.contains(&data.display().to_string()) && e.contains("$DENSENAS_DATA"), "{e}");
    // A copy whose bytes differ from the published file.
    let dir = data.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, mut bytes) in mnist_bytes() {
        if name == "t10k-labels-idx1-ubyte.gz" {
            bytes[20] ^= 1;
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let out = densenas(&data, &["data", "export", "mnist", "--csv", data.join("x.csv").to_str().unwrap()]);
    let (_, e) = text(&out);
    assert!(!out.status.success() && e.contains("not the published data") && e.contains("--force"), "{e}");
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn export_writes_a_split_that_the_csv_loader_reads_back_exactly() {
    let dir = common::temp_dir("export");
    let splits = densenas::data::load("digits").unwrap();
    for (split, name, expected) in [("test", "test.csv", &splits.test), ("train", "train.csv.gz", &splits.train)] {
        let file = dir.join(name);
        let out = densenas(&dir, &["data", "export", "digits", "--split", split, "--csv", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out).1);
        let back = densenas::data::csv::read_csv_file(&file, "back").unwrap();
        assert_eq!((&back.x, &back.y), (&expected.x, &expected.y), "{split}");
    }
    let out = densenas(&dir, &["data", "export", "digits", "--split", "validation", "--csv", "x.csv"]);
    assert!(!out.status.success() && text(&out).1.contains("validation"), "{}", text(&out).1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cifar10s_archive_unpacks_to_its_six_batches() {
    let dir = common::temp_dir("cifar-archive");
    let record = std::fs::read(common::fixture("cifar10_test_first20.bin")).unwrap();
    let archive = dir.join("cifar-10-binary.tar.gz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&archive).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for name in registry::CIFAR_BATCHES.iter().chain(["batches.meta.txt"].iter()) {
        let mut header = tar::Header::new_gnu();
        header.set_size(record.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("cifar-10-batches-bin/{name}"), record.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    let out = dir.join("cifar10");
    std::fs::create_dir_all(&out).unwrap();
    densenas::data::fetch::unpack_cifar(&archive, &out).unwrap();
    let s = densenas::data::load(&format!("cifar:{}", out.display())).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (100, 20));
    assert!(!out.join("batches.meta.txt").exists());
    // An archive without the batches.
    let empty = dir.join("empty.tar.gz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&empty).unwrap(), flate2::Compression::fast());
    tar::Builder::new(gz).into_inner().unwrap().finish().unwrap();
    let e = densenas::data::fetch::unpack_cifar(&empty, &dir.join("none")).unwrap_err().to_string();
    assert!(e.contains("lacks data_batch_1.bin"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn ids(file: &Path) -> Vec<String> {
    plan::stage1(&Experiment::read(file).unwrap()).unwrap().into_iter().map(|u| u.id).collect()
}

fn experiment_in(dir: &Path, csv_bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/d.csv"), csv_bytes).unwrap();
    let file = dir.join("study.json");
    std::fs::write(
        &file,
        r#"{"name": "ids", "datasets": ["csv:data/d.csv", "mnist"], "spaces": [{"layers": 2, "width": 8, "blocks": 2}],
            "strategies": ["darts"], "seeds": [0], "standalone": {"random_dags": 2}, "baselines": ["chain"]}"#,
    )
    .unwrap();
    file
}

#[test]
fn unit_ids_follow_the_datas_content_not_its_path() {
    let root = common::temp_dir("ids");
    let csv = densenas::data::export::to_csv(&densenas::data::load("digits").unwrap().test);
    let a = ids(&experiment_in(&root.join("a"), csv.as_bytes()));
    let b = ids(&experiment_in(&root.join("elsewhere/b"), csv.as_bytes()));
    assert_eq!(a, b, "the same study with its data in another folder");
    let mut changed = csv.clone().into_bytes();
    changed[0] = if changed[0] == b'1' { b'2' } else { b'1' };
    let c = ids(&experiment_in(&root.join("c"), &changed));
    let (csv_units, mnist_units) = a.split_at(a.len() / 2);
    assert!(c[..csv_units.len()].iter().all(|id| !csv_units.contains(id)), "changed data, new ids");
    assert_eq!(&c[csv_units.len()..], mnist_units, "mnist's units keep theirs");
    // A spec whose files are missing cannot be given an id.
    std::fs::remove_file(root.join("c/data/d.csv")).unwrap();
    let e = plan::stage1(&Experiment::read(&root.join("c/study.json")).unwrap()).unwrap_err().to_string();
    assert!(e.contains("d.csv"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}

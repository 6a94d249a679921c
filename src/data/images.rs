//! Image-folder trees (`images:PATH[,TEST]`): `<class>/<image>` files (PNG or JPEG),
//! as a directory or a `.tar` / `.tar.gz` archive of one.
//!
//! Layout rules, applied to the tree at `PATH`:
//! - a tree whose top holds exactly one folder, itself holding folders, is unwrapped
//!   (an archive of `train/` alone, or of a dataset's own top folder);
//! - a tree whose top holds `train/` and `test/` is a training file and a test file,
//!   each a class tree; other top folders beside them are an error;
//! - otherwise the tree is one class tree: the training file, from which the fixed test
//!   split is set aside, unless a second tree `TEST` is given as the test file.
//!
//! In a class tree every folder is a class (classes are indexed in the sorted order of
//! the training file's folder names; a test class must be one of them), every file in a
//! class folder must be a PNG or JPEG image, a class folder without images is an error,
//! files beside the class folders (a README) are ignored, and so are hidden entries
//! (names starting with `.`, and `__MACOSX`). All images must have the same size and
//! the same number of channels: grayscale images give one channel, colour images three
//! (alpha is dropped). Features are channel-major (`C x H x W`), raw values 0..255.
//! Samples are ordered by class, then file name, whether they come from a directory or
//! an archive, so an archive and its unpacked tree give the same dataset.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::file::{open, short_name};
use super::split::{permute_rows, FIXED_TEST_FRACTION};
use super::{DataSplits, Dataset};
use crate::error::{Error, Result};

/// A tree walker's callback: `(path components below the root, is a folder, the
/// file's contents)`.
type Visit<'a> = dyn FnMut(&[String], bool, &mut dyn Read) -> Result<()> + 'a;

/// Where the tree comes from.
enum Source {
    /// A directory.
    Dir(PathBuf),
    /// A tar archive, possibly gzip-compressed.
    Tar(PathBuf),
}

/// An entry of a tree: its path components below the root, and whether it is a folder.
struct Entry {
    parts: Vec<String>,
    is_dir: bool,
}

/// The part of a tree that holds one role's class folders.
struct ClassTree {
    /// Path components of the class tree's root below the source's root.
    root: Vec<String>,
    /// Class folder name -> number of images in it.
    classes: BTreeMap<String, usize>,
}

impl ClassTree {
    fn images(&self) -> usize {
        self.classes.values().sum()
    }
}

fn hidden(name: &str) -> bool {
    name.starts_with('.') || name == "__MACOSX"
}

/// Normal path components as strings (drops `.` and a leading `/`).
fn components(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

impl Source {
    fn new(path: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        Ok(if meta.is_dir() { Source::Dir(path.to_path_buf()) } else { Source::Tar(path.to_path_buf()) })
    }

    fn path(&self) -> &Path {
        match self {
            Source::Dir(p) | Source::Tar(p) => p,
        }
    }

    /// The file a path below the root names, for errors (inside an archive:
    /// `ARCHIVE/inner/path`).
    fn display(&self, parts: &[String]) -> PathBuf {
        let mut p = self.path().to_path_buf();
        p.extend(parts);
        p
    }

    fn tar_error(&self, e: std::io::Error) -> Error {
        Error::data(self.path(), format!("not a readable tar archive: {e}"))
    }

    /// Visits every non-hidden entry: `visit(parts, is_dir, contents)`, where
    /// `contents` reads a file's bytes (for folders it reads nothing). A directory is
    /// walked in sorted order; an archive in its own order.
    fn walk(&self, visit: &mut Visit<'_>) -> Result<()> {
        match self {
            Source::Dir(root) => walk_dir(root, &mut Vec::new(), visit),
            Source::Tar(path) => {
                let file = open(path)?;
                let mut archive = tar::Archive::new(file.reader);
                for entry in archive.entries().map_err(|e| self.tar_error(e))? {
                    let mut entry = entry.map_err(|e| self.tar_error(e))?;
                    let kind = entry.header().entry_type();
                    if !(kind.is_file() || kind.is_dir()) {
                        continue;
                    }
                    let parts = components(&entry.path().map_err(|e| self.tar_error(e))?);
                    if parts.is_empty() || parts.iter().any(|p| hidden(p)) {
                        continue;
                    }
                    visit(&parts, kind.is_dir(), &mut entry)?;
                }
                Ok(())
            }
        }
    }

    /// Every entry of the tree (folders include those only implied by a file's path).
    fn list(&self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut dirs = BTreeSet::new();
        self.walk(&mut |parts, is_dir, _| {
            for k in 1..parts.len() {
                dirs.insert(parts[..k].to_vec());
            }
            if is_dir {
                dirs.insert(parts.to_vec());
            } else {
                entries.push(Entry { parts: parts.to_vec(), is_dir: false });
            }
            Ok(())
        })?;
        entries.extend(dirs.into_iter().map(|parts| Entry { parts, is_dir: true }));
        if entries.is_empty() {
            if let Source::Tar(path) = self {
                // A file too short for a tar header reads as an empty archive.
                return Err(Error::data(path, "not a readable tar archive: it holds no entries"));
            }
        }
        Ok(entries)
    }
}

fn walk_dir(dir: &Path, parts: &mut Vec<String>, visit: &mut Visit<'_>) -> Result<()> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in names {
        if hidden(&name) {
            continue;
        }
        let path = dir.join(&name);
        parts.push(name);
        if path.is_dir() {
            visit(parts, true, &mut std::io::empty())?;
            walk_dir(&path, parts, visit)?;
        } else if path.is_file() {
            let mut file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            visit(parts, false, &mut file)?;
        }
        parts.pop();
    }
    Ok(())
}

/// The folders directly below `root` in `entries`.
fn folders_below(entries: &[Entry], root: &[String]) -> BTreeSet<String> {
    entries
        .iter()
        .filter(|e| e.is_dir && e.parts.len() == root.len() + 1 && e.parts.starts_with(root))
        .map(|e| e.parts[root.len()].clone())
        .collect()
}

/// The class trees of a source: one (`All`) or two (`train/` and `test/`).
enum Layout {
    /// One class tree.
    Single(Vec<String>),
    /// A training and a test class tree.
    Split(Vec<String>, Vec<String>),
}

fn layout(source: &Source, entries: &[Entry]) -> Result<Layout> {
    let mut root: Vec<String> = Vec::new();
    loop {
        let top = folders_below(entries, &root);
        if top.contains("train") && top.contains("test") {
            if top.len() > 2 {
                let others: Vec<&str> = top.iter().map(String::as_str).filter(|n| *n != "train" && *n != "test").collect();
                return Err(Error::data(
                    source.display(&root),
                    format!(
                        "holds train/ and test/ beside other folders ({}): expected only train/ and test/",
                        others.join(", ")
                    ),
                ));
            }
            let with = |name: &str| {
                let mut r = root.clone();
                r.push(name.to_string());
                r
            };
            return Ok(Layout::Split(with("train"), with("test")));
        }
        // A lone folder that holds folders wraps the tree; one that holds only files
        // is a class folder.
        let lone = (top.len() == 1).then(|| {
            let mut r = root.clone();
            r.push(top.into_iter().next().expect("one folder"));
            r
        });
        match lone {
            Some(r) if !folders_below(entries, &r).is_empty() => root = r,
            _ => return Ok(Layout::Single(root)),
        }
    }
}

/// Checks the class tree at `root`: class folders with images only, no nested folders.
fn class_tree(source: &Source, entries: &[Entry], root: Vec<String>) -> Result<ClassTree> {
    let mut classes: BTreeMap<String, usize> = folders_below(entries, &root).into_iter().map(|c| (c, 0)).collect();
    for e in entries.iter().filter(|e| e.parts.starts_with(&root)) {
        let depth = e.parts.len() - root.len();
        if e.is_dir && depth >= 2 {
            return Err(Error::data(
                source.display(&e.parts),
                "a folder inside a class folder: images must lie directly in their class folder",
            ));
        }
        if !e.is_dir && depth == 2 {
            *classes.get_mut(&e.parts[root.len()]).expect("the file's folder is listed") += 1;
        }
    }
    if classes.is_empty() {
        return Err(Error::data(source.display(&root), "holds no class folders: expected <class>/<image> files"));
    }
    if let Some((name, _)) = classes.iter().find(|(_, &n)| n == 0) {
        let mut parts = root.clone();
        parts.push(name.clone());
        return Err(Error::data(source.display(&parts), "empty class folder: it holds no image"));
    }
    Ok(ClassTree { root, classes })
}

/// A role's samples as they are decoded: features, labels and the sort key of each.
#[derive(Default)]
struct Samples {
    x: Vec<f32>,
    y: Vec<i64>,
    names: Vec<String>,
}

impl Samples {
    /// Reorders the samples by (label, file name), in place.
    fn sort(&mut self, features: usize) {
        let mut order: Vec<usize> = (0..self.y.len()).collect();
        order.sort_by(|&a, &b| (self.y[a], &self.names[a]).cmp(&(self.y[b], &self.names[b])));
        permute_rows(&mut self.x, &mut self.y, features, &order);
        self.names.clear();
    }
}

/// The size every image must share, and the first image that set it.
struct Shape {
    channels: usize,
    height: usize,
    width: usize,
    first: PathBuf,
}

/// Decodes one image file into channel-major raw values appended to `out`.
fn decode(bytes: &[u8], path: &Path, shape: &mut Option<Shape>, out: &mut Vec<f32>, reserve: usize) -> Result<()> {
    let img = image::load_from_memory(bytes).map_err(|e| Error::data(path, format!("not a PNG or JPEG image ({e})")))?;
    let channels = if img.color().has_color() { 3 } else { 1 };
    let (width, height) = (img.width() as usize, img.height() as usize);
    match shape {
        None => *shape = Some(Shape { channels, height, width, first: path.to_path_buf() }),
        Some(s) if (s.channels, s.height, s.width) != (channels, height, width) => {
            return Err(Error::data(
                path,
                format!(
                    "mixed image sizes: this image is {channels}x{height}x{width} (channels x height x width) but {} is {}x{}x{}",
                    s.first.display(),
                    s.channels,
                    s.height,
                    s.width
                ),
            ))
        }
        _ => {}
    }
    let hw = height * width;
    if out.capacity() == 0 {
        out.try_reserve_exact(reserve * channels * hw)
            .map_err(|_| Error::data(path, format!("{reserve} images of this size are too large to hold in memory")))?;
    }
    let raw = if channels == 3 { img.into_rgb8().into_raw() } else { img.into_luma8().into_raw() };
    for c in 0..channels {
        out.extend((0..hw).map(|p| raw[p * channels + c] as f32));
    }
    Ok(())
}

/// Decodes the images of `trees` (each with its role's sample buffer) from `source`.
fn decode_trees(
    source: &Source,
    trees: &[&ClassTree],
    samples: &mut [&mut Samples],
    class_index: &BTreeMap<String, usize>,
    shape: &mut Option<Shape>,
) -> Result<()> {
    let mut bytes = Vec::new();
    source.walk(&mut |parts, is_dir, contents| {
        if is_dir {
            return Ok(());
        }
        let Some(t) = trees.iter().position(|t| parts.len() == t.root.len() + 2 && parts.starts_with(&t.root)) else {
            return Ok(()); // a file beside the class folders
        };
        let path = source.display(parts);
        bytes.clear();
        contents.read_to_end(&mut bytes).map_err(|e| Error::data(&path, format!("cannot read: {e}")))?;
        let class = &parts[parts.len() - 2];
        let label = *class_index.get(class).expect("classes were checked");
        let s = &mut *samples[t];
        decode(&bytes, &path, shape, &mut s.x, trees[t].images())?;
        s.y.push(label as i64);
        s.names.push(parts[parts.len() - 1].clone());
        Ok(())
    })
}

/// Checks that the test tree's classes are training classes.
fn check_test_classes(source: &Source, test: &ClassTree, class_index: &BTreeMap<String, usize>) -> Result<()> {
    if let Some(name) = test.classes.keys().find(|c| !class_index.contains_key(*c)) {
        let mut parts = test.root.clone();
        parts.push(name.clone());
        let known: Vec<&str> = class_index.keys().map(String::as_str).collect();
        return Err(Error::data(
            source.display(&parts),
            format!("class folder {name:?} is not one of the training classes ({})", known.join(", ")),
        ));
    }
    Ok(())
}

/// Loads `images:TRAIN[,TEST]` (see the module documentation for the layout rules).
pub fn load_images(train_path: &Path, test_path: Option<&Path>) -> Result<DataSplits> {
    let name = short_name(train_path);
    let train_src = Source::new(train_path)?;
    let train_entries = train_src.list()?;
    let (train_tree, test_part) = match (layout(&train_src, &train_entries)?, test_path) {
        (Layout::Split(tr, te), None) => {
            (class_tree(&train_src, &train_entries, tr)?, Some((None, class_tree(&train_src, &train_entries, te)?)))
        }
        (Layout::Split(..), Some(_)) => {
            return Err(Error::data(train_path, "holds its own train/ and test/ folders: give it alone, without a test tree"))
        }
        (Layout::Single(root), None) => (class_tree(&train_src, &train_entries, root)?, None),
        (Layout::Single(root), Some(tp)) => {
            let test_src = Source::new(tp)?;
            let test_entries = test_src.list()?;
            let test_root = match layout(&test_src, &test_entries)? {
                Layout::Single(r) => r,
                Layout::Split(..) => {
                    return Err(Error::data(tp, "holds train/ and test/ folders: a test tree must be one class tree"))
                }
            };
            let test_tree = class_tree(&test_src, &test_entries, test_root)?;
            (class_tree(&train_src, &train_entries, root)?, Some((Some(test_src), test_tree)))
        }
    };
    if train_tree.classes.len() < 2 {
        return Err(Error::data(
            train_src.display(&train_tree.root),
            format!(
                "found {} class folder(s) with images: a dataset needs at least two (<class>/<image> files)",
                train_tree.classes.len()
            ),
        ));
    }
    let class_index: BTreeMap<String, usize> = train_tree.classes.keys().enumerate().map(|(i, c)| (c.clone(), i)).collect();
    let mut shape = None;
    let mut train = Samples::default();
    let mut test = Samples::default();
    match &test_part {
        None => decode_trees(&train_src, &[&train_tree], &mut [&mut train], &class_index, &mut shape)?,
        Some((None, test_tree)) => {
            check_test_classes(&train_src, test_tree, &class_index)?;
            decode_trees(&train_src, &[&train_tree, test_tree], &mut [&mut train, &mut test], &class_index, &mut shape)?
        }
        Some((Some(test_src), test_tree)) => {
            check_test_classes(test_src, test_tree, &class_index)?;
            decode_trees(&train_src, &[&train_tree], &mut [&mut train], &class_index, &mut shape)?;
            decode_trees(test_src, &[test_tree], &mut [&mut test], &class_index, &mut shape)?;
        }
    }
    let shape = shape.expect("a class tree holds images");
    let features = shape.channels * shape.height * shape.width;
    let classes = class_index.len();
    let dataset = |mut s: Samples| {
        s.sort(features);
        Dataset { name: name.clone(), features, classes, x: s.x, y: s.y, shape: Some([shape.channels, shape.height, shape.width]) }
    };
    let train = dataset(train);
    match test_part {
        None => DataSplits::with_fixed_test(train, FIXED_TEST_FRACTION),
        Some(_) => Ok(DataSplits { train, test: dataset(test) }),
    }
}

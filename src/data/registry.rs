//! The datasets densenas knows by name (docs/data.md): where each one comes from, the
//! files it consists of with their sizes and SHA-256 digests, and the loader spec its
//! folder in the data folder resolves to. `--data mnist` reads
//! `$DENSENAS_DATA/mnist/` through this table; `densenas data fetch mnist` fills it.

use std::path::Path;

/// One file of a known dataset, as its source publishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownFile {
    /// The file's name (in the dataset's folder, and at the end of each source URL).
    pub name: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256 digest (lowercase hex).
    pub sha256: &'static str,
}

/// How a known dataset's folder is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The four MNIST-layout IDX files (`idx:DIR`).
    Idx,
    /// CIFAR-10's binary archive, unpacked into its six batch files (`cifar:DIR`).
    CifarArchive,
    /// Two image-folder archives, training then test (`images:TRAIN,TEST`).
    ImageArchives,
}

/// A dataset known by name.
#[derive(Clone, Copy, Debug)]
pub struct KnownDataset {
    /// The name used with `--data` and `densenas data`.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// The files that are downloaded (and kept) in its folder.
    pub files: &'static [KnownFile],
    /// Base URLs tried in order; a file's URL is the base followed by its name. Empty
    /// for a dataset without a public source (then only `--from DIR` fills it).
    pub sources: &'static [&'static str],
    /// How its folder is read.
    pub layout: Layout,
    /// Its licence and the work to cite.
    pub licence: &'static str,
}

/// The CIFAR-10 batch files that the binary archive unpacks to.
pub const CIFAR_BATCHES: [&str; 6] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];

const IDX_FILES: [&str; 4] =
    ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

/// Every dataset known by name (the embedded `digits` needs no folder and is not here).
pub const KNOWN: &[KnownDataset] = &[
    KnownDataset {
        name: "mnist",
        about: "MNIST handwritten digits, 60,000 + 10,000 images of 28x28 (IDX files)",
        files: &[
            KnownFile { name: IDX_FILES[0], bytes: 9_912_422, sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609" },
            KnownFile { name: IDX_FILES[1], bytes: 28_881, sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c" },
            KnownFile { name: IDX_FILES[2], bytes: 1_648_877, sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6" },
            KnownFile { name: IDX_FILES[3], bytes: 4_542, sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6" },
        ],
        sources: &[
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        layout: Layout::Idx,
        licence: "Y. LeCun, C. Cortes, C. J. C. Burges, The MNIST database; commonly given as CC BY-SA 3.0",
    },
    KnownDataset {
        name: "fashion-mnist",
        about: "Fashion-MNIST clothing images, 60,000 + 10,000 images of 28x28 (IDX files)",
        files: &[
            KnownFile { name: IDX_FILES[0], bytes: 26_421_880, sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84" },
            KnownFile { name: IDX_FILES[1], bytes: 29_515, sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845" },
            KnownFile { name: IDX_FILES[2], bytes: 4_422_102, sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073" },
            KnownFile { name: IDX_FILES[3], bytes: 5_148, sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5" },
        ],
        sources: &[
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        layout: Layout::Idx,
        licence: "H. Xiao, K. Rasul, R. Vollgraf, Fashion-MNIST (2017); MIT licence",
    },
    KnownDataset {
        name: "cifar10",
        about: "CIFAR-10, 50,000 + 10,000 colour images of 32x32 (the binary version, unpacked)",
        files: &[KnownFile {
            name: "cifar-10-binary.tar.gz",
            bytes: 170_052_171,
            sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        }],
        sources: &["https://www.cs.toronto.edu/~kriz/", "https://cave.cs.toronto.edu/kriz/"],
        layout: Layout::CifarArchive,
        licence: "A. Krizhevsky, Learning Multiple Layers of Features from Tiny Images (2009)",
    },
    KnownDataset {
        name: "cifar10-jpeg-q75",
        about: "CIFAR-10 re-encoded as JPEG quality 75 in class folders (lossy; the study's copy)",
        files: &[
            KnownFile {
                name: "cifar10_train_jpeg_q75.tar.gz",
                bytes: 16_192_989,
                sha256: "97d33a94a88272d6655148d7f6cf0e71107dff5df9192a4ac9b1132d9b876490",
            },
            KnownFile {
                name: "cifar10_test_jpeg_q75.tar.gz",
                bytes: 3_241_296,
                sha256: "6c6742ee11da1fcf966baef1dae49a4a91b9f1a10377eca9b65259d51f7bdff3",
            },
        ],
        sources: &[],
        layout: Layout::ImageArchives,
        licence: "A. Krizhevsky (2009), re-encoded; accuracies on it are not comparable with published CIFAR-10 figures",
    },
];

/// The known dataset called `name`.
pub fn known(name: &str) -> Option<&'static KnownDataset> {
    KNOWN.iter().find(|d| d.name == name)
}

/// The names of every known dataset, for messages.
pub fn known_names() -> String {
    KNOWN.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
}

impl KnownDataset {
    /// The files its folder must hold to be read (the downloads, or what they unpack to).
    pub fn required_files(&self) -> Vec<&'static str> {
        match self.layout {
            Layout::CifarArchive => CIFAR_BATCHES.to_vec(),
            _ => self.files.iter().map(|f| f.name).collect(),
        }
    }

    /// The loader spec of its folder `dir`.
    pub fn spec(&self, dir: &Path) -> String {
        let d = dir.display();
        match self.layout {
            Layout::Idx => format!("idx:{d}"),
            Layout::CifarArchive => format!("cifar:{d}"),
            Layout::ImageArchives => {
                format!("images:{},{}", dir.join(self.files[0].name).display(), dir.join(self.files[1].name).display())
            }
        }
    }

    /// A fingerprint of its content as published: the SHA-256 of its files' names and
    /// digests. Files in the data folder are checked against those digests before they
    /// are first read (docs/data.md), so equal fingerprints mean equal data.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for f in self.files {
            h.update(format!("{} {} {}\n", f.name, f.bytes, f.sha256).as_bytes());
        }
        hex(&h.finalize())
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

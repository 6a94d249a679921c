// A dataset's test split as raw feature values, read as densenas's loaders read it:
//   - a CSV file (`csv:` datasets; raw or gzip): numbers, the label last, an optional
//     header line; the digits' test split is written in this form (see README.md);
//   - an MNIST-layout folder (`idx:DIR`): its t10k-images-idx3-ubyte and
//     t10k-labels-idx1-ubyte files, raw or `.gz`, pixel values 0..255.
// Each returns `{ source, x: Float32Array [n * features], y: Int32Array [n], n, features }`.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/** An error about a data file that a person can act on. */
export class DataError extends Error {
  constructor(path, message) {
    super(`${path}: ${message}`);
    this.name = "DataError";
  }
}

function readMaybeGzip(path) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(path, e.code === "ENOENT" ? "no such file" : e.message);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataError(path, `not a readable gzip file (${e.message})`);
    }
  }
  return bytes;
}

/** Reads a CSV file of rows `f_1, ..., f_F, label`. */
export function readCsv(path) {
  const text = readMaybeGzip(path).toString("utf8");
  const x = [];
  const y = [];
  let features = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    const row = fields.map(Number);
    const bad = fields.findIndex((f, k) => f === "" || Number.isNaN(row[k]));
    if (bad >= 0) {
      if (i === 0) continue; // a header
      throw new DataError(path, `line ${i + 1}: ${JSON.stringify(fields[bad])} is not a number`);
    }
    if (row.length < 2) throw new DataError(path, `line ${i + 1}: a row needs at least one feature and a label`);
    const f = row.length - 1;
    if (features === null) features = f;
    else if (f !== features) {
      throw new DataError(path, `line ${i + 1}: ragged row: ${f + 1} columns, but earlier rows have ${features + 1}`);
    }
    const label = row[f];
    if (!Number.isInteger(label) || label < 0) throw new DataError(path, `line ${i + 1}: label ${label} is not a class index`);
    for (let k = 0; k < f; k++) x.push(row[k]);
    y.push(label);
  }
  if (features === null) throw new DataError(path, "no data rows");
  return { source: path, x: Float32Array.from(x), y: Int32Array.from(y), n: y.length, features };
}

function idxFile(dir, stem) {
  for (const name of [stem, `${stem}.gz`]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new DataError(dir, `holds no ${stem} (raw or .gz)`);
}

function idxHeader(bytes, path, magic, dims) {
  if (bytes.length < 4 + 4 * dims || bytes.readUInt32BE(0) !== magic) {
    throw new DataError(path, `not an IDX file of ${dims} dimension(s) of unsigned bytes`);
  }
  const sizes = [];
  for (let d = 0; d < dims; d++) sizes.push(bytes.readUInt32BE(4 + 4 * d));
  const count = sizes.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * dims;
  if (bytes.length !== offset + count) {
    throw new DataError(path, `holds ${bytes.length - offset} data bytes, but its header says ${count}`);
  }
  return { sizes, data: bytes.subarray(offset) };
}

/** Reads the test files of an MNIST-layout folder. */
export function readIdxTest(dir) {
  const imagesPath = idxFile(dir, "t10k-images-idx3-ubyte");
  const labelsPath = idxFile(dir, "t10k-labels-idx1-ubyte");
  const images = idxHeader(readMaybeGzip(imagesPath), imagesPath, 0x00000803, 3);
  const labels = idxHeader(readMaybeGzip(labelsPath), labelsPath, 0x00000801, 1);
  const [n, rows, cols] = images.sizes;
  if (labels.sizes[0] !== n) throw new DataError(labelsPath, `holds ${labels.sizes[0]} labels but ${imagesPath} holds ${n} images`);
  return {
    source: dir,
    x: Float32Array.from(images.data),
    y: Int32Array.from(labels.data),
    n,
    features: rows * cols,
  };
}

/** A test split from a spec: `idx:DIR`, `csv:FILE`, or a CSV file's path. */
export function readTestSplit(spec) {
  if (spec.startsWith("idx:")) return readIdxTest(spec.slice(4));
  return readCsv(spec.startsWith("csv:") ? spec.slice(4) : spec);
}

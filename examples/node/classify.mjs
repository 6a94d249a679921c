#!/usr/bin/env node
// Classify a dataset's test split with a network found by densenas, in Node.js
// through onnxruntime-node, and print the accuracy.
//
//   node classify.mjs RUN_DIR_OR_MODEL --data TEST [--json] [--threads N] [--batch N]
//
// RUN_DIR_OR_MODEL: a run folder (its best.onnx is used, and the accuracy is set beside
// the ONNX Runtime figure of its summary.json) or an .onnx file. TEST: the test split as
// raw feature values: a CSV file (`f_1, ..., f_F, label` per row, optional header,
// raw or gzip) or `idx:DIR` (an MNIST-layout folder's t10k files). The model normalises
// the raw values itself.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

import { argmax, sourcesAndSinks } from "../web/densenas_onnx.mjs";
import { DataError, readTestSplit } from "./datasets.mjs";
import { loadModel, ModelError } from "./model.mjs";

const USAGE = "usage: node classify.mjs RUN_DIR_OR_MODEL --data TEST.csv[.gz]|idx:DIR [--json] [--threads N] [--batch N]";

function fail(message) {
  console.error(`classify: ${message}`);
  process.exit(1);
}

/** Classifies `data` in batches: `{ correct, predictions, perClass }`. */
async function classifyAll(model, data, batch = 1024) {
  const classes = model.info.classes.length;
  const f = data.features;
  const predictions = new Int32Array(data.n);
  const perClass = Array.from({ length: classes }, () => ({ samples: 0, correct: 0 }));
  let correct = 0;
  for (let start = 0; start < data.n; start += batch) {
    const n = Math.min(batch, data.n - start);
    const { logits } = await model.run(data.x.subarray(start * f, (start + n) * f), n);
    for (let i = 0; i < n; i++) {
      const p = argmax(logits.subarray(i * classes, (i + 1) * classes));
      const label = data.y[start + i];
      predictions[start + i] = p;
      if (label < classes) perClass[label].samples += 1;
      if (p === label) {
        correct += 1;
        perClass[label].correct += 1;
      }
    }
  }
  return { correct, predictions, perClass };
}

/** The run folder's summary.json next to a model, if any. */
function runSummary(modelFile) {
  const path = join(dirname(modelFile), "summary.json");
  if (!existsSync(path)) return null;
  try {
    return { path, summary: JSON.parse(readFileSync(path, "utf8")) };
  } catch {
    return null;
  }
}

function describeDag(dag) {
  const typed = dag.ops.some((o) => o !== "dense");
  const edges = dag.edges.map(([i, j], k) => (typed ? `${i}-${j}:${dag.ops[k]}` : `${i}-${j}`));
  return `${dag.layers} vertices, ${dag.edges.length} edges ${edges.join(" ") || "(none)"}`;
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        data: { type: "string" },
        json: { type: "boolean", default: false },
        threads: { type: "string", default: "0" },
        batch: { type: "string", default: "1024" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    fail(`${e.message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1 || !values.data) fail(USAGE);
  const threads = Number(values.threads);
  const batch = Number(values.batch);
  if (!Number.isInteger(threads) || threads < 0) fail(`--threads ${values.threads}: a whole number >= 0`);
  if (!Number.isInteger(batch) || batch < 1) fail(`--batch ${values.batch}: a whole number >= 1`);

  const model = await loadModel(positionals[0], { threads });
  const data = readTestSplit(values.data);
  const { info } = model;
  if (data.features !== info.features) {
    fail(`${model.path} takes ${info.features} input features, but ${data.source} has ${data.features}`);
  }
  const classes = info.classes.length;
  const outOfRange = data.y.findIndex((l) => l >= classes);
  if (outOfRange >= 0) {
    fail(`${data.source}: label ${data.y[outOfRange]} of sample ${outOfRange} is beyond the model's ${classes} classes`);
  }
  const { correct, perClass } = await classifyAll(model, data, batch);
  const accuracy = correct / data.n;
  const run = runSummary(model.path);
  const summaryAccuracy = run?.summary?.onnx?.test_accuracy ?? null;
  const { sources, sinks } = sourcesAndSinks(info.dag);

  if (values.json) {
    const report = {
      model: model.path,
      runtime: model.runtime,
      densenas_version: info.version,
      dag: info.dag,
      sources,
      sinks,
      classes: info.classes,
      operators: info.operators,
      data: data.source,
      samples: data.n,
      correct,
      accuracy,
      per_class_accuracy: perClass.map((c) => (c.samples ? c.correct / c.samples : null)),
      summary_onnx_test_accuracy: summaryAccuracy,
    };
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`model     ${model.path} (densenas ${info.version}, run by ${model.runtime})`);
  console.log(`DAG       ${describeDag(info.dag)}; sources ${sources.join(",")}, sinks ${sinks.join(",")}`);
  console.log(`classes   ${info.classes.join(" ")}`);
  console.log(`operators ${info.operators.join(" ")}`);
  console.log(`data      ${data.source}: ${data.n} samples of ${data.features} features`);
  console.log(`accuracy  ${(100 * accuracy).toFixed(2)}% (${correct}/${data.n})`);
  if (summaryAccuracy !== null) {
    const same = summaryAccuracy === accuracy ? "the same" : "DIFFERENT";
    console.log(`summary   ${run.path}: onnx.test_accuracy ${(100 * summaryAccuracy).toFixed(2)}% (${same})`);
  }
}

main().catch((e) => {
  if (e instanceof ModelError || e instanceof DataError) fail(e.message);
  fail(e.stack || String(e));
});

#!/usr/bin/env node
// A model's logits and probabilities for given feature rows, in onnxruntime-node,
// JSON in and JSON out: the deployment tests compare them with the engine's.
//
//   node logits.mjs CASES.json
//
// CASES.json: `{ "cases": [{ "name": ..., "model": "path/to/model.onnx",
// "rows": n, "features": [n * F raw values] }, ...] }`. Prints `{ "runtime": ...,
// "results": [{ "name", "ok": true, "operators", "logits", "probabilities" } or
// { "name", "ok": false, "error" }] }`: a model that does not load or run is reported
// with its error (naming an operator the runtime lacks), and the other cases still run.

import { readFileSync } from "node:fs";

import { loadModel } from "./model.mjs";

const [file] = process.argv.slice(2);
if (!file) {
  console.error("usage: node logits.mjs CASES.json");
  process.exit(2);
}
const { cases } = JSON.parse(readFileSync(file, "utf8"));
const results = [];
let runtime = "";
for (const c of cases) {
  try {
    const model = await loadModel(c.model, { threads: 1 });
    runtime = model.runtime;
    const { logits, probabilities } = await model.run(Float32Array.from(c.features), c.rows);
    results.push({
      name: c.name,
      ok: true,
      operators: model.info.operators,
      logits: Array.from(logits),
      probabilities: Array.from(probabilities),
    });
  } catch (e) {
    results.push({ name: c.name, ok: false, error: e.message });
  }
}
console.log(JSON.stringify({ runtime, results }));

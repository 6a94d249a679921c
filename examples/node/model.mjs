// Loading a densenas export into onnxruntime-node, with clear errors, and running it.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";

import { ModelError, readDensenasModel } from "../web/densenas_onnx.mjs";

export { ModelError };

/** The model file a path names: a run folder's best.onnx, or the file itself. */
export function modelPath(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ModelError(`no model file at ${path}`);
  }
  if (st.isDirectory()) {
    const file = join(path, "best.onnx");
    try {
      statSync(file);
    } catch {
      throw new ModelError(`${path} holds no best.onnx: is it a densenas run folder?`);
    }
    return file;
  }
  return path;
}

/**
 * Loads a densenas export (a run folder or an .onnx file) into onnxruntime-node:
 * `{ path, info, session, run(x, n) }`, where `info` is what `readDensenasModel`
 * returns and `run` gives `{ logits, probabilities }` (Float32Array, `n * classes`).
 * `threads`: ONNX Runtime's intra-op threads (0: its default).
 */
export async function loadModel(path, { threads = 0 } = {}) {
  const file = modelPath(path);
  const bytes = readFileSync(file);
  const info = readDensenasModel(bytes, file);
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
  } catch (e) {
    throw new ModelError(
      `onnxruntime-node ${ort.env.versions.node} cannot load ${file} (operators ${info.operators.join(", ")}): ${e.message}`,
    );
  }
  const classes = info.classes.length;
  async function run(x, n) {
    if (x.length !== n * info.features) {
      throw new ModelError(`${file} takes ${info.features} features per sample, but got ${x.length} values for ${n} samples`);
    }
    const input = new ort.Tensor("float32", x instanceof Float32Array ? x : Float32Array.from(x), [n, info.features]);
    const out = await session.run({ input });
    const logits = out.logits.data;
    const probabilities = out.probabilities.data;
    if (logits.length !== n * classes) {
      throw new ModelError(`${file} gave ${logits.length} logits for ${n} samples of ${classes} classes`);
    }
    return { logits, probabilities };
  }
  return { path: file, info, session, run, runtime: `onnxruntime-node ${ort.env.versions.node}` };
}

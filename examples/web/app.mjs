// The page: loads a densenas export into onnxruntime-web (WASM), takes a drawing or an
// image file on the pad, turns it into the raw features the network expects
// (preprocess.mjs), and shows the class probabilities and the DAG.
//
// The model comes from `?model=URL` (default `run/best.onnx`, which `densenas serve
// RUN_DIR` serves), or from a file the person chooses or drops on the page.
// `window.densenasPage` exposes the state for scripted checks (headless.mjs).

import { argmax, ModelError, readDensenasModel } from "./densenas_onnx.mjs";
import { drawDag, legend } from "./dag_svg.mjs";
import { features as padFeatures, inputSpec, maxValue } from "./preprocess.mjs";

const ORT_URL = "./node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";
const DEFAULT_MODEL = "run/best.onnx";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const padContext = pad.getContext("2d", { willReadFrequently: true });
const seen = $("seen");

let ort = null;
// `loads` counts finished model loads (successful or not).
const state = { model: null, spec: null, last: null, sequence: 0, error: null, busy: null, loads: 0 };

function status(message, kind = "") {
  const s = $("status");
  s.textContent = message;
  s.className = `status ${kind}`;
  if (kind === "error") state.error = message;
}

async function loadOrt() {
  if (ort) return ort;
  try {
    ort = await import(ORT_URL);
  } catch (e) {
    throw new ModelError(
      `onnxruntime-web did not load from ${ORT_URL} (${e.message}): run \`npm ci\` in examples/web (or scripts/setup-web.sh)`,
    );
  }
  ort.env.wasm.numThreads = 1; // no cross-origin isolation needed
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
  $("runtime").textContent = `onnxruntime-web ${ort.env.versions.web} (WASM)`;
  return ort;
}

/** A densenas export in an onnxruntime-web session: `{ source, info, session, run }`. */
async function createModel(bytes, source) {
  await loadOrt();
  bytes = new Uint8Array(bytes);
  const info = readDensenasModel(bytes, source);
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  } catch (e) {
    throw new ModelError(
      `onnxruntime-web ${ort.env.versions.web} cannot load ${source} (operators ${info.operators.join(", ")}): ${e.message}`,
    );
  }
  const classes = info.classes.length;
  async function run(x, n) {
    if (x.length !== n * info.features) {
      throw new ModelError(`${source} takes ${info.features} features per sample, but got ${x.length} values for ${n}`);
    }
    const out = await session.run({ input: new ort.Tensor("float32", Float32Array.from(x), [n, info.features]) });
    const logits = Array.from(out.logits.data);
    const probabilities = Array.from(out.probabilities.data);
    if (logits.length !== n * classes) throw new ModelError(`${source} gave ${logits.length} logits for ${n} samples`);
    return { logits, probabilities };
  }
  return { source, info, session, run };
}

async function fetchModel(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new ModelError(`cannot fetch ${url} (${e.message})`);
  }
  if (!response.ok) {
    throw new ModelError(
      `no model at ${url} (HTTP ${response.status}): start the page with \`densenas serve RUN_DIR\`, pass ?model=URL, or choose a best.onnx below`,
    );
  }
  return createModel(await response.arrayBuffer(), url);
}

// ---------------------------------------------------------------- the model's panel

function infoRow(dl, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

function showModel(model) {
  const { info } = model;
  const s = info.space;
  const dl = $("model-info");
  dl.replaceChildren();
  infoRow(dl, "file", model.source);
  infoRow(dl, "densenas", info.version);
  infoRow(dl, "classes", `${info.classes.length}: ${info.classes.join(" ")}`);
  const typed = s.shape ? `, maps ${s.shape.join("x")}, stem ${s.stem ?? "dense"}, ops ${(s.ops ?? ["dense"]).join(" ")}` : "";
  infoRow(dl, "space", `${s.layers} layers of width ${s.width}, ${s.activation ?? "relu"}, ${s.aggregation ?? "sum"}, norm ${s.norm ?? "none"}${typed}`);
  infoRow(dl, "input", `${info.features} raw features` + (state.spec ? `, drawn as ${state.spec.note}` : " (not an image: the pad is off)"));
  infoRow(dl, "operators", info.operators.join(" "));
  drawDag($("dag"), info.dag, { stem: s.stem ?? "dense" });
  legend($("legend"), info.dag.ops.length ? info.dag.ops : ["dense"]);

  const bars = $("bars");
  bars.replaceChildren();
  info.classes.forEach((name, c) => {
    const row = document.createElement("div");
    row.className = "bar-row";
    row.dataset.class = String(c);
    row.innerHTML = '<span class="label"></span><div class="track"><div class="fill" style="width:0%"></div></div><span class="value">–</span>';
    row.querySelector(".label").textContent = name;
    row.querySelector(".label").title = name;
    bars.append(row);
  });
  $("prediction").textContent = "–";
  $("prediction").dataset.class = "";
}

function setModel(model) {
  state.model = model;
  state.last = null;
  const select = $("encoding-select");
  state.spec = inputSpec(model.info.features, model.info.inputShape, select.value);
  if (!state.spec && select.value !== "auto") {
    select.value = "auto"; // the forced encoding does not fit this model
    state.spec = inputSpec(model.info.features, model.info.inputShape, "auto");
  }
  if (state.spec) {
    const [gh, gw] = state.spec.grid;
    pad.width = gw * state.spec.scale;
    pad.height = gh * state.spec.scale;
    pad.style.width = `${pad.width}px`;
    pad.style.height = `${pad.height}px`;
    $("encoding").textContent = state.spec.note;
  } else {
    $("encoding").textContent = "This model's input is not an image.";
  }
  clearPad();
  showModel(model);
  status(`Loaded ${model.source}: ${model.info.classes.length} classes, ${model.info.features} input features. Draw on the pad or drop an image.`, "ok");
}

async function loadModel(promise) {
  status("Loading the model…");
  state.error = null;
  try {
    setModel(await promise);
    return { ok: true };
  } catch (e) {
    status(e.message, "error");
    return { ok: false, error: e.message };
  } finally {
    state.loads += 1;
  }
}

// ---------------------------------------------------------------- the pad

function clearPad() {
  padContext.fillStyle = "black";
  padContext.fillRect(0, 0, pad.width, pad.height);
  $("invert").checked = false;
  const sc = seen.getContext("2d");
  sc.fillStyle = "black";
  sc.fillRect(0, 0, seen.width, seen.height);
}

function invertPad() {
  const image = padContext.getImageData(0, 0, pad.width, pad.height);
  const d = image.data;
  for (let p = 0; p < d.length; p += 4) {
    d[p] = 255 - d[p];
    d[p + 1] = 255 - d[p + 1];
    d[p + 2] = 255 - d[p + 2];
  }
  padContext.putImageData(image, 0, 0);
}

function meanLuma() {
  const d = padContext.getImageData(0, 0, pad.width, pad.height).data;
  let sum = 0;
  for (let p = 0; p < d.length; p += 4) sum += 0.2126 * d[p] + 0.7152 * d[p + 1] + 0.0722 * d[p + 2];
  return sum / (d.length / 4);
}

function showSeen(x) {
  const [c, h, w] = state.spec.shape;
  seen.width = w;
  seen.height = h;
  const sc = seen.getContext("2d");
  const image = sc.createImageData(w, h);
  const top = maxValue(state.spec);
  for (let p = 0; p < h * w; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = c === 1 ? x[p] : x[ch * h * w + p];
      image.data[p * 4 + ch] = Math.round((255 * v) / top);
    }
    image.data[p * 4 + 3] = 255;
  }
  sc.putImageData(image, 0, 0);
}

function showPrediction(last) {
  const { classes } = state.model.info;
  const prediction = $("prediction");
  prediction.textContent = classes[last.predicted];
  const p = document.createElement("span");
  p.className = "p";
  p.textContent = `p = ${last.probabilities[last.predicted].toFixed(4)}`;
  prediction.append(p);
  prediction.dataset.class = String(last.predicted);
  for (const row of $("bars").children) {
    const c = Number(row.dataset.class);
    const v = last.probabilities[c];
    row.querySelector(".fill").style.width = `${(100 * v).toFixed(2)}%`;
    row.querySelector(".value").textContent = v.toFixed(4);
    row.dataset.p = String(v);
    row.classList.toggle("top", c === last.predicted);
  }
}

/** Classifies the pad; a request while a run is under way is kept and run after it. */
let pending = null;
async function predict(source) {
  if (!state.model || !state.spec) return;
  if (state.busy) {
    pending = source;
    return state.busy;
  }
  state.busy = (async () => {
    try {
      const x = padFeatures(padContext.getImageData(0, 0, pad.width, pad.height), state.spec);
      const { logits, probabilities } = await state.model.run(x, 1);
      const predicted = argmax(logits);
      state.sequence += 1;
      state.last = {
        sequence: state.sequence,
        source,
        features: Array.from(x),
        logits,
        probabilities,
        predicted,
        className: state.model.info.classes[predicted],
      };
      showSeen(x);
      showPrediction(state.last);
    } catch (e) {
      status(e.message, "error");
    }
  })();
  await state.busy;
  state.busy = null;
  if (pending !== null) {
    const next = pending;
    pending = null;
    await predict(next);
  }
}

let drawing = false;
let scheduled = false;
function stroke(e, begin) {
  const r = pad.getBoundingClientRect();
  const x = ((e.clientX - r.left) * pad.width) / r.width;
  const y = ((e.clientY - r.top) * pad.height) / r.height;
  padContext.strokeStyle = "white";
  padContext.lineWidth = Math.max(1, 0.09 * Math.min(pad.width, pad.height));
  padContext.lineCap = "round";
  padContext.lineJoin = "round";
  if (begin) {
    padContext.beginPath();
    padContext.moveTo(x, y);
  }
  padContext.lineTo(x, y);
  padContext.stroke();
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      predict("drawing");
    });
  }
}

pad.addEventListener("pointerdown", (e) => {
  if (!state.spec) return;
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  stroke(e, true);
});
pad.addEventListener("pointermove", (e) => drawing && stroke(e, false));
const end = () => {
  if (!drawing) return;
  drawing = false;
  predict("drawing");
};
pad.addEventListener("pointerup", end);
pad.addEventListener("pointercancel", end);

$("clear").addEventListener("click", () => {
  clearPad();
  state.last = null;
  if (state.model) showModel(state.model);
});

$("encoding-select").addEventListener("change", () => {
  if (state.model) setModel(state.model);
});

$("invert").addEventListener("change", () => {
  invertPad();
  predict("invert");
});

/** Puts an image file on the pad, stretched to it, and classifies it. */
async function putImage(file) {
  if (!state.model) throw new ModelError("load a model first");
  if (!state.spec) throw new ModelError("this model's input is not an image");
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch (e) {
    throw new ModelError(`${file.name} is not an image this browser can read (${e.message})`);
  }
  clearPad();
  padContext.imageSmoothingEnabled = bitmap.width > pad.width || bitmap.height > pad.height;
  padContext.imageSmoothingQuality = "high";
  padContext.drawImage(bitmap, 0, 0, pad.width, pad.height);
  padContext.imageSmoothingEnabled = true;
  // Grayscale data sets hold bright ink on black: flip dark-on-light pictures.
  if (state.spec.shape[0] === 1 && meanLuma() > 127) {
    invertPad();
    $("invert").checked = true;
  }
  await predict(`image ${file.name}`);
}

async function takeFile(file) {
  try {
    if (/\.onnx$/i.test(file.name)) {
      await loadModel(createModel(await file.arrayBuffer(), file.name));
    } else {
      await putImage(file);
    }
  } catch (e) {
    status(e.message, "error");
  }
}

$("image-file").addEventListener("change", async (e) => {
  const [file] = e.target.files;
  if (file) await takeFile(file);
  e.target.value = "";
});
$("model-file").addEventListener("change", async (e) => {
  const [file] = e.target.files;
  if (file) await loadModel(createModel(await file.arrayBuffer(), file.name));
  e.target.value = "";
});

const wrap = document.querySelector(".pad-wrap");
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  wrap.classList.add("dragging");
});
document.addEventListener("dragleave", () => wrap.classList.remove("dragging"));
document.addEventListener("drop", async (e) => {
  e.preventDefault();
  wrap.classList.remove("dragging");
  const [file] = e.dataTransfer?.files ?? [];
  if (file) await takeFile(file);
});

window.addEventListener("unhandledrejection", (e) => status(`unexpected error: ${e.reason?.message ?? e.reason}`, "error"));

// ---------------------------------------------------------------- start

const modelUrl = new URLSearchParams(location.search).get("model") ?? DEFAULT_MODEL;
const ready = loadModel(fetchModel(modelUrl));

window.densenasPage = {
  /** Resolves to `{ ok, error }` once the first model load has succeeded or failed. */
  ready,
  get state() {
    return state;
  },
  get last() {
    return state.last;
  },
  /** Waits until a classification newer than `sequence` exists, and returns it. */
  async next(sequence, timeoutMs = 20000) {
    const start = performance.now();
    while (!(state.last && state.last.sequence > sequence)) {
      if (state.error) throw new Error(state.error);
      if (performance.now() - start > timeoutMs) throw new Error(`no classification after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return state.last;
  },
  /** A model's logits and probabilities for feature rows, through the page's own
   * loading path and runtime (the model is not shown). */
  async logits(url, x, rows) {
    const model = await fetchModel(url);
    try {
      return { ok: true, operators: model.info.operators, ...(await model.run(x, rows)) };
    } finally {
      await model.session.release();
    }
  },
  /** The ONNX Runtime Web version. */
  runtime: () => (ort ? `onnxruntime-web ${ort.env.versions.web}` : null),
};

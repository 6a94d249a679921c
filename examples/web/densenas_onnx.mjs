// What a densenas export says about itself, read straight from the ONNX file: its
// metadata (`densenas.dag`, `densenas.space`, `densenas.classes`, `densenas.version`,
// `densenas.input_shape`), the operators its graph uses, and its input and output.
//
// ONNX Runtime's JavaScript API does not expose a model's metadata, so this reads the
// few protobuf fields it needs itself (no dependency). The same file serves Node.js
// (examples/node) and the browser (examples/web); each example folder carries a copy,
// so that each stands alone, and the test suite checks the copies are identical.

/** An error about a model file that a person can act on. */
export class ModelError extends Error {
  constructor(message) {
    super(message);
    this.name = "ModelError";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** A protobuf reader over `bytes[start, end)`. */
class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  more() {
    return this.pos < this.end;
  }

  varint() {
    // Up to 64 bits; values beyond 2^53 lose precision, which no field read here has.
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** The next field as `[number, wireType, value]`: a number for varints, a
   * sub-range `[start, end)` for length-delimited fields, null for fixed ones. */
  field() {
    const key = this.varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (number === 0) throw new Error("field number 0");
    switch (wire) {
      case 0:
        return [number, wire, this.varint()];
      case 1:
        this.skip(8);
        return [number, wire, null];
      case 2: {
        const length = this.varint();
        const start = this.pos;
        this.skip(length);
        return [number, wire, [start, start + length]];
      }
      case 5:
        this.skip(4);
        return [number, wire, null];
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }

  skip(n) {
    if (this.pos + n > this.end) throw new Error("truncated field");
    this.pos += n;
  }

  sub([start, end]) {
    return new Reader(this.bytes, start, end);
  }

  string([start, end]) {
    return utf8.decode(this.bytes.subarray(start, end));
  }
}

/** Calls `visit(number, wire, value, reader)` for every field of a message. */
function fields(reader, visit) {
  while (reader.more()) {
    const [number, wire, value] = reader.field();
    visit(number, wire, value, reader);
  }
}

// ValueInfoProto { name = 1; type = 2 } -> TypeProto { tensor_type = 1 } ->
// Tensor { elem_type = 1; shape = 2 } -> TensorShapeProto { dim = 1 } ->
// Dimension { dim_value = 1; dim_param = 2 }.
function valueInfo(r) {
  const info = { name: "", dims: [] };
  fields(r, (n, w, v) => {
    if (n === 1 && w === 2) info.name = r.string(v);
    if (n === 2 && w === 2) {
      fields(r.sub(v), (n2, w2, v2, r2) => {
        if (n2 !== 1 || w2 !== 2) return;
        fields(r2.sub(v2), (n3, w3, v3, r3) => {
          if (n3 !== 2 || w3 !== 2) return;
          fields(r3.sub(v3), (n4, w4, v4, r4) => {
            if (n4 !== 1 || w4 !== 2) return;
            let dim = null;
            fields(r4.sub(v4), (n5, w5, v5, r5) => {
              if (n5 === 1 && w5 === 0) dim = v5;
              if (n5 === 2 && w5 === 2) dim = r5.string(v5);
            });
            info.dims.push(dim);
          });
        });
      });
    }
  });
  return info;
}

/**
 * Reads an ONNX model's header: `{ irVersion, producer, producerVersion, opsets,
 * metadata, operators, inputs, outputs }`. `source` names the file in errors.
 * Throws a ModelError when the bytes are not an ONNX model.
 */
export function readOnnx(bytes, source = "the model") {
  if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
  const model = {
    irVersion: 0,
    producer: "",
    producerVersion: "",
    opsets: [],
    metadata: {},
    operators: [],
    inputs: [],
    outputs: [],
  };
  let graph = null;
  try {
    // ModelProto { ir_version = 1; producer_name = 2; producer_version = 3; graph = 7;
    // opset_import = 8; metadata_props = 14 }.
    const r = new Reader(bytes);
    fields(r, (n, w, v) => {
      if (n === 1 && w === 0) model.irVersion = v;
      else if (n === 2 && w === 2) model.producer = r.string(v);
      else if (n === 3 && w === 2) model.producerVersion = r.string(v);
      else if (n === 7 && w === 2) graph = v;
      else if (n === 8 && w === 2) {
        const opset = { domain: "", version: 0 };
        fields(r.sub(v), (n2, w2, v2, r2) => {
          if (n2 === 1 && w2 === 2) opset.domain = r2.string(v2);
          if (n2 === 2 && w2 === 0) opset.version = v2;
        });
        model.opsets.push(opset);
      } else if (n === 14 && w === 2) {
        let key = "";
        let value = "";
        fields(r.sub(v), (n2, w2, v2, r2) => {
          if (n2 === 1 && w2 === 2) key = r2.string(v2);
          if (n2 === 2 && w2 === 2) value = r2.string(v2);
        });
        model.metadata[key] = value;
      }
    });
    if (graph) {
      // GraphProto { node = 1; input = 11; output = 12 }; NodeProto { op_type = 4 }.
      const operators = new Set();
      const g = r.sub(graph);
      fields(g, (n, w, v) => {
        if (n === 1 && w === 2) {
          fields(g.sub(v), (n2, w2, v2, r2) => {
            if (n2 === 4 && w2 === 2) operators.add(r2.string(v2));
          });
        } else if (n === 11 && w === 2) model.inputs.push(valueInfo(g.sub(v)));
        else if (n === 12 && w === 2) model.outputs.push(valueInfo(g.sub(v)));
      });
      model.operators = [...operators].sort();
    }
  } catch (e) {
    throw new ModelError(`${source} is not an ONNX model (protobuf decoding failed: ${e.message})`);
  }
  if (model.irVersion <= 0 || !graph || model.operators.length === 0) {
    throw new ModelError(`${source} is not an ONNX model (no IR version or no graph)`);
  }
  return model;
}

function metadataJson(model, key, source) {
  try {
    return JSON.parse(model.metadata[key]);
  } catch (e) {
    throw new ModelError(`${source}: its ${key} metadata is not valid JSON (${e.message})`);
  }
}

/**
 * What densenas wrote into an export: `{ version, dag: { layers, edges, ops }, space,
 * classes, features, inputShape, operators, input, outputs }`. Throws a ModelError
 * naming what is missing when the model is not a densenas export.
 */
export function readDensenasModel(bytes, source = "the model") {
  const model = readOnnx(bytes, source);
  const missing = ["densenas.dag", "densenas.space", "densenas.classes", "densenas.version"].filter(
    (k) => !(k in model.metadata),
  );
  if (missing.length > 0) {
    const producer = model.producer ? `made by ${model.producer}` : "of unknown producer";
    throw new ModelError(
      `${source} is not a densenas export (an ONNX model ${producer} without the ${missing.join(", ")} metadata)`,
    );
  }
  const dag = metadataJson(model, "densenas.dag", source);
  const space = metadataJson(model, "densenas.space", source);
  const classes = metadataJson(model, "densenas.classes", source);
  if (!Array.isArray(dag.edges) || !Number.isInteger(dag.layers) || !Array.isArray(classes)) {
    throw new ModelError(`${source}: malformed densenas metadata (DAG ${model.metadata["densenas.dag"]})`);
  }
  const ops = Array.isArray(dag.ops) ? dag.ops : dag.edges.map(() => "dense");
  const input = model.inputs.find((i) => i.name === "input");
  const hasOutputs = ["logits", "probabilities"].every((o) => model.outputs.some((x) => x.name === o));
  if (!input || !hasOutputs) {
    throw new ModelError(`${source}: a densenas export has the input "input" and the outputs "logits" and "probabilities"`);
  }
  const features = typeof input.dims[1] === "number" ? input.dims[1] : space.features;
  let inputShape = null;
  if ("densenas.input_shape" in model.metadata) inputShape = metadataJson(model, "densenas.input_shape", source);
  else if (Array.isArray(space.input_shape)) inputShape = space.input_shape;
  return {
    version: model.metadata["densenas.version"],
    dag: { layers: dag.layers, edges: dag.edges, ops },
    space,
    classes,
    features,
    inputShape,
    operators: model.operators,
    opsets: model.opsets,
    input,
    outputs: model.outputs,
  };
}

/** The sources (vertices without in-edges) and sinks (without out-edges) of a DAG. */
export function sourcesAndSinks(dag) {
  const hasIn = new Set(dag.edges.map(([, j]) => j));
  const hasOut = new Set(dag.edges.map(([i]) => i));
  const all = [...Array(dag.layers).keys()];
  return { sources: all.filter((j) => !hasIn.has(j)), sinks: all.filter((j) => !hasOut.has(j)) };
}

/** The index of the largest value (the first on ties). */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

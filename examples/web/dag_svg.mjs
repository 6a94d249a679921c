// The DAG of a densenas export (its `densenas.dag` metadata) as an SVG picture: the
// input, the vertices 0..L-1 and the output on a line; each edge i -> j an arc above,
// coloured and labelled by its operation in a typed space; the input's arrows into the
// sources and the sinks' arrows into the output below.

import { sourcesAndSinks } from "./densenas_onnx.mjs";

const SVG = "http://www.w3.org/2000/svg";

export const OP_COLOURS = {
  dense: "#2563eb",
  conv3x3: "#dc2626",
  conv5x5: "#9333ea",
  local3x3: "#ea580c",
  avgpool3x3: "#059669",
  maxpool3x3: "#0891b2",
  identity: "#6b7280",
};

function el(name, attributes = {}, text = null) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  if (text !== null) e.textContent = text;
  return e;
}

/** Draws `dag` ({ layers, edges, ops }) into the <svg> element `svg`. */
export function drawDag(svg, dag, { stem = "dense" } = {}) {
  svg.replaceChildren();
  const L = dag.layers;
  const { sources, sinks } = sourcesAndSinks(dag);
  const spacing = 112;
  const width = spacing * (L + 1) + 80;
  const longest = Math.max(1, ...dag.edges.map(([i, j]) => j - i));
  const lift = 34;
  const top = 28 + lift * longest;
  const y = top;
  const height = y + 15 + 62 + 24; // the vertices' radius, the arrows below, the caption
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.maxWidth = `${Math.round(1.3 * width)}px`;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `DAG of ${L} vertices and ${dag.edges.length} edges`);
  const x = (v) => 40 + spacing * (v + 1); // v = -1: input, v = L: output

  const defs = el("defs");
  const colours = new Set(["#334155", ...Object.values(OP_COLOURS)]);
  for (const c of colours) {
    const m = el("marker", {
      id: `arrow-${c.slice(1)}`,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 5,
      markerHeight: 5,
      orient: "auto-start-reverse",
    });
    m.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: c }));
    defs.append(m);
  }
  svg.append(defs);

  const r = 15;
  // Input -> sources and sinks -> output, below the line.
  const below = (from, to, colour, cls) => {
    const x1 = x(from);
    const x2 = x(to);
    const depth = 18 + 10 * Math.min(4, Math.abs(to - from));
    const d = `M ${x1} ${y + r} C ${x1} ${y + r + depth}, ${x2} ${y + r + depth}, ${x2 - (to > from ? 4 : -4)} ${y + r + 2}`;
    svg.append(el("path", { d, class: cls, fill: "none", stroke: colour, "stroke-width": 1.4, "stroke-dasharray": "4 3", "marker-end": `url(#arrow-${colour.slice(1)})` }));
  };
  for (const s of sources) below(-1, s, "#334155", "stem");
  for (const s of sinks) below(s, L, "#334155", "head");

  // Edges i -> j above the line.
  dag.edges.forEach(([i, j], k) => {
    const op = dag.ops?.[k] ?? "dense";
    const colour = OP_COLOURS[op] ?? "#334155";
    const x1 = x(i);
    const x2 = x(j);
    const h = lift * (j - i);
    const d = `M ${x1} ${y - r} C ${x1} ${y - r - h}, ${x2} ${y - r - h}, ${x2} ${y - r - 2}`;
    const path = el("path", { d, class: "edge", "data-edge": `${i}-${j}`, "data-op": op, fill: "none", stroke: colour, "stroke-width": 2, "marker-end": `url(#arrow-${colour.slice(1)})` });
    path.append(el("title", {}, `${i} -> ${j}: ${op}`));
    svg.append(path);
    if (dag.ops?.some((o) => o !== "dense")) {
      svg.append(el("text", { x: (x1 + x2) / 2, y: y - r - 0.75 * h - 3, "text-anchor": "middle", class: "op-label", fill: colour }, op));
    }
  });

  // Vertices.
  const node = (v, label, cls) => {
    const g = el("g", { class: cls });
    if (cls === "vertex") {
      g.append(el("circle", { cx: x(v), cy: y, r, fill: "#f8fafc", stroke: "#0f172a", "stroke-width": 1.5 }));
    } else {
      g.append(el("rect", { x: x(v) - 30, y: y - 13, width: 60, height: 26, rx: 6, fill: "#e2e8f0", stroke: "#0f172a" }));
    }
    g.append(el("text", { x: x(v), y: y + 4.5, "text-anchor": "middle", class: "node-label" }, label));
    svg.append(g);
  };
  node(-1, "input", "io");
  for (let v = 0; v < L; v++) node(v, String(v), "vertex");
  node(L, "output", "io");

  const caption = `${dag.edges.length} edges; sources ${sources.join(", ") || "-"} (stem: ${stem}); sinks ${sinks.join(", ") || "-"}`;
  svg.append(el("text", { x: 12, y: height - 8, class: "caption" }, caption));
}

/** The legend of the ops a DAG uses, as HTML. */
export function legend(container, ops) {
  container.replaceChildren();
  for (const op of [...new Set(ops)].sort()) {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = OP_COLOURS[op] ?? "#334155";
    item.append(swatch, document.createTextNode(op));
    container.append(item);
  }
}

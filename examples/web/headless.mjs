#!/usr/bin/env node
// Drives the page in a headless Chromium (playwright-core with the machine's own
// Chromium, no browser download) and prints what it showed, as JSON:
//
//   node headless.mjs --url http://127.0.0.1:PORT/ [--model-file M.onnx] [--image DIGIT.png]
//       [--draw] [--cases CASES.json] [--screenshot OUT.png] [--chromium PATH]
//
//   --model-file: loads that model through the page's "Choose a best.onnx" input
//            instead of the one the URL names;
//   --image: puts the file on the pad through the page's own file input, and reads
//            back the features, logits, probabilities and the predicted class (from
//            the page's state and from the bar chart it drew);
//   --draw:  draws a stroke on the pad with the mouse, and reads back the same;
//   --cases: runs each case's model (a URL the page can fetch) on its feature rows in
//            the page's onnxruntime-web (`{ "cases": [{ "name", "url", "rows",
//            "features" }] }`), as examples/node/logits.mjs does in Node;
//   --screenshot: the whole page after the image (or drawing) is shown.
// Chromium: --chromium, else $CHROMIUM, else `chromium` or `chromium-browser` on PATH.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    "model-file": { type: "string" },
    image: { type: "string" },
    draw: { type: "boolean", default: false },
    cases: { type: "string" },
    screenshot: { type: "string" },
    chromium: { type: "string" },
    timeout: { type: "string", default: "60000" },
  },
});
if (!args.url) {
  console.error("usage: node headless.mjs --url URL [--image PNG] [--draw] [--cases CASES.json] [--screenshot OUT.png]");
  process.exit(2);
}
const timeout = Number(args.timeout);

function findChromium() {
  const given = args.chromium ?? process.env.CHROMIUM;
  if (given) {
    if (!existsSync(given)) throw new Error(`no Chromium at ${given}`);
    return given;
  }
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    } catch {
      // next
    }
  }
  throw new Error("no chromium on PATH: run scripts/setup-web.sh (Debian's chromium package) or pass --chromium");
}

const report = { url: args.url, chromium: findChromium(), browser: null, console: [] };
const browser = await chromium.launch({
  executablePath: report.chromium,
  headless: true,
  timeout,
  args: ["--disable-dev-shm-usage"], // containers often have a small /dev/shm
});
try {
  report.browser = `Chromium ${browser.version()}`;
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") report.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => report.console.push(`pageerror: ${e.message}`));
  await page.goto(args.url);
  await page.waitForFunction(() => window.densenasPage !== undefined);
  report.load = await page.evaluate(() => window.densenasPage.ready);
  if (args["model-file"]) {
    const loads = await page.evaluate(() => window.densenasPage.state.loads);
    await page.setInputFiles("#model-file", args["model-file"]);
    await page.waitForFunction((n) => window.densenasPage.state.loads > n, loads);
    report.load = await page.evaluate(() => {
      const s = window.densenasPage.state;
      return s.error ? { ok: false, error: s.error } : { ok: true };
    });
  }
  report.status = await page.textContent("#status");
  report.runtime = await page.evaluate(() => window.densenasPage.runtime());
  if (report.load.ok) {
    report.model = await page.evaluate(() => {
      const { info, source } = window.densenasPage.state.model;
      return { source, dag: info.dag, classes: info.classes, operators: info.operators, spec: window.densenasPage.state.spec };
    });
    report.dagPicture = await page.evaluate(() => ({
      edges: [...document.querySelectorAll("#dag path.edge")].map((p) => [p.dataset.edge, p.dataset.op]),
      vertices: document.querySelectorAll("#dag g.vertex").length,
      stems: document.querySelectorAll("#dag path.stem").length,
      heads: document.querySelectorAll("#dag path.head").length,
    }));
  }

  // What the page shows after an input: its state, and the bar chart it drew.
  const shown = async (sequence) => {
    const last = await page.evaluate((s) => window.densenasPage.next(s), sequence);
    const bars = await page.$$eval("#bars .bar-row", (rows) =>
      rows.map((r) => ({ class: Number(r.dataset.class), label: r.querySelector(".label").textContent, p: Number(r.dataset.p), width: r.querySelector(".fill").style.width })),
    );
    const prediction = await page.$eval("#prediction", (e) => ({ class: Number(e.dataset.class), text: e.textContent }));
    return { ...last, bars, prediction, invert: await page.isChecked("#invert") };
  };
  const sequence = () => page.evaluate(() => window.densenasPage.state.sequence);

  if (args.cases) {
    const { cases } = JSON.parse(readFileSync(args.cases, "utf8"));
    report.results = [];
    for (const c of cases) {
      try {
        const r = await page.evaluate(({ url, features, rows }) => window.densenasPage.logits(url, features, rows), c);
        report.results.push({ name: c.name, ...r });
      } catch (e) {
        report.results.push({ name: c.name, ok: false, error: e.message.split("\n")[0] });
      }
    }
  }
  if (args.draw && report.load.ok) {
    const before = await sequence();
    const box = await page.locator("#pad").boundingBox();
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
    // A "7": the top bar, then the diagonal.
    await page.mouse.move(...at(0.25, 0.22));
    await page.mouse.down();
    for (const [fx, fy] of [[0.5, 0.22], [0.75, 0.22], [0.62, 0.5], [0.5, 0.8]]) await page.mouse.move(...at(fx, fy), { steps: 6 });
    await page.mouse.up();
    // Let the last classification of the stroke finish: no new one for 300 ms.
    await page.evaluate(async (s) => {
      const st = window.densenasPage.state;
      let seen = -1;
      let quiet = 0;
      const deadline = performance.now() + 20000;
      while (quiet < 300 || st.sequence <= s || st.busy) {
        if (performance.now() > deadline) throw new Error("the drawing was not classified within 20 s");
        await new Promise((r) => setTimeout(r, 50));
        quiet = st.sequence === seen && !st.busy ? quiet + 50 : 0;
        seen = st.sequence;
      }
    }, before);
    report.drawing = await shown(before);
  }
  if (args.image && report.load.ok) {
    await page.click("#clear");
    const before = await sequence();
    await page.setInputFiles("#image-file", args.image);
    report.image = await shown(before);
  }
  report.status = await page.textContent("#status");
  if (args.screenshot) {
    await page.screenshot({ path: args.screenshot, fullPage: true });
    report.screenshot = args.screenshot;
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));

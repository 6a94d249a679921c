// From the drawing pad to the network's input: the raw feature values a densenas
// loader would have produced for the same picture (the network normalises them itself).
//
// The pad always shows what the network sees, bright ink on black, at `scale` canvas
// pixels per cell of a working grid:
//   - "digits" (the embedded UCI 8x8 digits, features 0..16): the UCI preprocessing,
//     a 32x32 bitmap whose 4x4 blocks are counted; a cell is ink when its mean luma is
//     at least 128;
//   - "pixels" (MNIST IDX files, CIFAR, image folders: features 0..255): one cell per
//     input pixel, its mean value over the cell; one channel is the luma that the
//     images loader computes (Rec. 709 weights in integers, as the `image` crate does),
//     three channels are R, G, B, channel-major (C x H x W).
// An image file is stretched onto the pad (nearest neighbour when it is smaller, so a
// picture at the working size is read back exactly; smoothed when it is larger).

/** Luma of one pixel as the `image` crate's RGB -> L8 conversion computes it. */
export function luma(r, g, b) {
  return Math.floor((2126 * r + 7152 * g + 722 * b) / 10000);
}

/** The largest whole square root. */
function isqrt(n) {
  let s = Math.floor(Math.sqrt(n));
  while (s * s > n) s -= 1;
  while ((s + 1) * (s + 1) <= n) s += 1;
  return s;
}

/**
 * How a model's input is drawn: `{ encoding, shape: [C, H, W], grid: [gh, gw],
 * scale, note }`, or null when its input is not an image (for example a CSV
 * dataset's). `inputShape` is the model's own (metadata) when known, else it is
 * guessed from the width (one or three square channels). `encoding` forces one.
 */
export function inputSpec(features, inputShape = null, encoding = "auto") {
  let shape = inputShape;
  if (!shape) {
    for (const c of [1, 3]) {
      const side = isqrt(Math.floor(features / c));
      if (c * side * side === features) {
        shape = [c, side, side];
        break;
      }
    }
  }
  if (!shape || shape.length !== 3 || shape[0] * shape[1] * shape[2] !== features || ![1, 3].includes(shape[0])) {
    return null;
  }
  const [c, h, w] = shape;
  const isDigits = c === 1 && h === 8 && w === 8;
  const chosen = encoding === "auto" ? (isDigits ? "digits" : "pixels") : encoding;
  if (chosen === "digits" && !isDigits) return null;
  const grid = chosen === "digits" ? [32, 32] : [h, w];
  const scale = Math.max(1, Math.ceil(256 / Math.max(grid[0], grid[1])));
  const note =
    chosen === "digits"
      ? "UCI digits: 32x32 bitmap, ink counted in 4x4 blocks (values 0..16)"
      : `${c === 1 ? "grayscale" : "RGB"} ${h}x${w} pixels (values 0..255)`;
  return { encoding: chosen, shape, grid, scale, note };
}

/** The mean of each channel (R, G, B) and of the luma over each grid cell. */
function cellMeans(imageData, spec) {
  const [gh, gw] = spec.grid;
  const k = spec.scale;
  const { data, width } = imageData;
  const means = new Float64Array(gh * gw * 4);
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let l = 0;
      for (let y = gy * k; y < (gy + 1) * k; y++) {
        for (let x = gx * k; x < (gx + 1) * k; x++) {
          const p = (y * width + x) * 4;
          r += data[p];
          g += data[p + 1];
          b += data[p + 2];
          l += luma(data[p], data[p + 1], data[p + 2]);
        }
      }
      const o = (gy * gw + gx) * 4;
      const n = k * k;
      means[o] = r / n;
      means[o + 1] = g / n;
      means[o + 2] = b / n;
      means[o + 3] = l / n;
    }
  }
  return means;
}

/** The raw features (Float32Array, channel-major) of the pad's pixels. */
export function features(imageData, spec) {
  const means = cellMeans(imageData, spec);
  const [c, h, w] = spec.shape;
  const out = new Float32Array(c * h * w);
  if (spec.encoding === "digits") {
    for (let by = 0; by < 8; by++) {
      for (let bx = 0; bx < 8; bx++) {
        let count = 0;
        for (let y = by * 4; y < by * 4 + 4; y++) {
          for (let x = bx * 4; x < bx * 4 + 4; x++) {
            if (means[(y * 32 + x) * 4 + 3] >= 128) count += 1;
          }
        }
        out[by * 8 + bx] = count;
      }
    }
    return out;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      if (c === 1) out[y * w + x] = Math.round(means[o + 3]);
      else for (let ch = 0; ch < 3; ch++) out[(ch * h + y) * w + x] = Math.round(means[o + ch]);
    }
  }
  return out;
}

/** The largest raw value of an encoding (for drawing the features as a picture). */
export function maxValue(spec) {
  return spec.encoding === "digits" ? 16 : 255;
}

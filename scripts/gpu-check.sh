#!/usr/bin/env bash
# The GPU check, in two halves, for a GPU machine that has CUDA torch 2.11 in Python but
# no Rust toolchain:
#
#   scripts/gpu-check.sh pack   here (no GPU needed): installs the CUDA flavour
#                               (scripts/setup.sh --cuda), builds densenas with the `cuda`
#                               feature and its test binaries, and gathers what the run
#                               needs into gpu-pack/ (ignored by git; about 45 MB).
#   scripts/gpu-check.sh run    on the GPU machine, in a copy of the checkout that holds
#                               gpu-pack/: at most about 8 minutes. Writes its log and the
#                               benchmark's JSON lines into $OUT (default gpu-out/).
#
# The run: (1) the device-parametrised tests on `cuda` (DENSENAS_TEST_DEVICE=cuda): the
# float64 equivalence of the grouped, batched and naive supernets with gradients, the
# finite-difference and strategy-gradient checks, every strategy's determinism (in
# deterministic mode), the numerics options, and the population trainer's company
# independence and float64 equivalence; (2) the supernet benchmark on the GPU,
# L = 6, F = 784 (MNIST), batch 256, k up to 64, D up to 2048, in float32 and in TF32,
# each row beside the matrix-multiply rate of 8192^3 products in the same precision;
# (3) the population bench on the GPU (at most 3 minutes): P networks of L = 4, D = 512
# trained in lockstep on MNIST, batch 256, float32, beside the same members one at a
# time and the 8192^3 matmul rate; (4) the same short search on the digits in float32
# and in TF32, to compare their accuracies.
#
# A dry run of the run half on a machine without a GPU (its mechanics only):
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_PRECISIONS=float32 GPU_CHECK_BLOCKS=1,8 GPU_CHECK_WIDTHS=64 \
#     GPU_CHECK_POPULATIONS=1,4 GPU_CHECK_POPULATION_WIDTH=64 GPU_CHECK_PYTHON=.venv/bin/python scripts/gpu-check.sh run
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=gpu-pack
DEVICE=${GPU_CHECK_DEVICE:-cuda}
PRECISIONS=${GPU_CHECK_PRECISIONS:-float32 tf32}
BLOCKS=${GPU_CHECK_BLOCKS:-1,8,32,64}
WIDTHS=${GPU_CHECK_WIDTHS:-512,1024,2048}
PYTHON=${GPU_CHECK_PYTHON:-python3}
# 1,024 members did not finish within the part's 3 minutes on an H200 (their one-at-a-time
# comparison alone trains 1,024 networks).
POPULATIONS=${GPU_CHECK_POPULATIONS:-1,64,256}
POPULATION_WIDTH=${GPU_CHECK_POPULATION_WIDTH:-512}
# The test binaries that run on the GPU machine (they need neither a compiler nor the
# Python package).
ALL_TESTS=(numerics supernet_equivalence supernet_paths strategy_gradients strategy_session optim_reference population)
# A rerun may take fewer: GPU_CHECK_TESTS="numerics strategy_session" and
# GPU_CHECK_PARTS="tests search" (of: tests supernet population search).
read -r -a TESTS <<< "${GPU_CHECK_TESTS:-${ALL_TESTS[*]}}"
PARTS=${GPU_CHECK_PARTS:-tests supernet population search}
part() { [[ " $PARTS " == *" $1 "* ]]; }

pack() {
  CUDA=1 bash scripts/setup.sh
  cargo build --release --locked --features cuda
  rm -rf "$PACK" && mkdir -p "$PACK/tests" "$PACK/data/mnist"
  cargo test --release --locked --features cuda --no-run --message-format=json 2>/dev/null \
    | .venv/bin/python -c '
import json, sys
wanted = set(sys.argv[1:])
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"] \
            and m["target"]["name"] in wanted:
        print(m["target"]["name"], m["executable"])
' "${TESTS[@]}" | while read -r name exe; do cp "$exe" "$PACK/tests/$name"; done
  cp target/release/densenas "$PACK/"
  [[ -f datasets/mnist/train-images-idx3-ubyte.gz ]] || target/release/densenas data fetch mnist
  cp datasets/mnist/*.gz "$PACK/data/mnist/"
  # Tests find the binary and their data files at the paths of this build.
  echo "$PWD" > "$PACK/build-root"
  ls "$PACK/tests" | wc -l | xargs -I{} echo "gpu-check: packed densenas and {} of ${#TESTS[@]} test binaries into $PACK/ ($(du -sh "$PACK" | cut -f1))"
}

run() {
  local out=${OUT:-gpu-out}
  mkdir -p "$out"
  exec > >(tee "$out/gpu-check.log") 2>&1
  [[ -d $PACK ]] || { echo "gpu-check: no $PACK/: run 'scripts/gpu-check.sh pack' first, and carry it" >&2; exit 1; }
  local torch_lib
  torch_lib=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local ort
  ort=$("$PYTHON" -c 'import glob, os, onnxruntime as o; print((glob.glob(os.path.join(os.path.dirname(o.__file__), "capi", "libonnxruntime.so*")) or [""])[0])' 2>/dev/null || true)
  [[ -n $ort ]] && export ORT_DYLIB_PATH=$ort
  # The build's absolute paths (the binary the CLI tests start, tests/data) lead here.
  # The packed data folder (mnist), for the tests and the bench.
  export DENSENAS_DATA="$PWD/$PACK/data"
  local root
  root=$(cat "$PACK/build-root")
  if [[ ! -e $root ]]; then mkdir -p "$(dirname "$root")" && ln -s "$PWD" "$root"; fi
  [[ -e target/release/densenas ]] || { mkdir -p target/release && ln -s "$PWD/$PACK/densenas" target/release/densenas; }
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
  "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'

  local failed=0
  set -o pipefail
  if part tests; then
    echo "== tests on $DEVICE"
    for t in "${TESTS[@]}"; do
      [[ -x $PACK/tests/$t ]] || { echo "gpu-check: $t was not packed"; failed=1; continue; }
      DENSENAS_TEST_DEVICE=$DEVICE timeout 240 "$PACK/tests/$t" --test-threads 1 2>&1 \
        | grep -E '^test |test result|panicked|error|left|right' || failed=1
    done
  fi

  if part supernet; then
    echo "== supernet bench on $DEVICE (L=6, F=784, batch 256)"
    for precision in $PRECISIONS; do
      timeout 240 "$PACK/densenas" bench --suite supernet --device "$DEVICE" --precision "$precision" --json \
        --data mnist --supernet-blocks "$BLOCKS" --widths "$WIDTHS" --batch-size 256 --steps 20 \
        | tee "$out/bench-$precision.jsonl" || failed=1
    done
  fi

  if part population; then
    echo "== population bench on $DEVICE (L=4, D=$POPULATION_WIDTH, MNIST, batch 256, float32)"
    timeout 180 "$PACK/densenas" bench --suite population --device "$DEVICE" --precision float32 --json \
      --data mnist --populations "$POPULATIONS" --widths "$POPULATION_WIDTH" --batch-sizes 256 --steps 10 \
      | tee "$out/population.jsonl" || failed=1
  fi

  if part search; then
    echo "== the same search in each precision (digits, $DEVICE)"
    for precision in $PRECISIONS; do
      echo "-- $precision"
      timeout 120 "$PACK/densenas" search --device "$DEVICE" --precision "$precision" --blocks 8 --epochs 5 \
        --retrain-epochs 20 --quiet --overwrite --out "/tmp/gpu-check-$precision" | tail -n 6 || failed=1
    done
  fi
  echo "gpu-check: $([[ $failed == 0 ]] && echo passed || echo FAILED)"
  return "$failed"
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: scripts/gpu-check.sh pack|run" >&2; exit 2 ;;
esac

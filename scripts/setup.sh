#!/usr/bin/env bash
# One idempotent set-up step: a Python virtual environment in .venv holding libtorch
# (PyPI torch 2.11.0) and the ONNX Runtime C library, plus two stable links that the
# build and the binaries use:
#   .venv/libtorch            -> site-packages/torch   (LIBTORCH for torch-sys)
#   .venv/libonnxruntime.so   -> onnxruntime's C-API library
# Default: the slim CPU install (torch without its CUDA dependencies, about 1.3 GB).
# `scripts/setup.sh --cuda` (or CUDA=1) installs the full CUDA build instead.
# It also installs the pinned cbindgen CLI into .venv/tools/bin.
# When everything is in place it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
ORT_VERSION=1.32.0
SETUP_REVISION=3
ONNX_VERSION=1.23.2
VENV=${VENV:-.venv}
flavour=cpu
if [[ "${1:-}" == "--cuda" || "${CUDA:-0}" == "1" ]]; then flavour=cuda; fi
stamp="$VENV/.densenas-setup-$flavour-$TORCH_VERSION-$ORT_VERSION-r$SETUP_REVISION"

# cbindgen (pinned) generates include/densenas.h; the tests check the header is fresh.
CBINDGEN_VERSION=0.29.4
if [[ "$("$VENV/tools/bin/cbindgen" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]]; then
  echo "setup: installing cbindgen $CBINDGEN_VERSION into $VENV/tools" >&2
  cargo install --quiet --locked --root "$VENV/tools" cbindgen --version "$CBINDGEN_VERSION"
fi

if [[ -f "$stamp" && -e "$VENV/libtorch/lib/libtorch_cpu.so" && -e "$VENV/libonnxruntime.so" ]]; then
  exit 0
fi

python=${PYTHON:-python3}
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV with $($python --version)" >&2
  "$python" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)

rm -f "$VENV"/.densenas-setup-*
if [[ $flavour == cuda ]]; then
  echo "setup: installing torch==$TORCH_VERSION (full CUDA build, about 2.7 GB)" >&2
  "${pip[@]}" "torch==$TORCH_VERSION"
else
  echo "setup: installing torch==$TORCH_VERSION (slim CPU install, about 1.3 GB)" >&2
  # libtorch_cpu needs libcudart and libcupti even on CPU; nothing else of CUDA.
  "${pip[@]}" --no-deps "torch==$TORCH_VERSION" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
fi
echo "setup: installing onnxruntime==$ORT_VERSION, onnx, numpy, pillow, pytest, scipy" >&2
"${pip[@]}" "onnxruntime==$ORT_VERSION" "onnx==$ONNX_VERSION" numpy pillow pytest scipy

site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn "$(realpath --relative-to="$VENV" "$site/torch")" "$VENV/libtorch"
ort_lib=$(ls "$site"/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
ln -sfn "$(realpath --relative-to="$VENV" "$ort_lib")" "$VENV/libonnxruntime.so"
touch "$stamp"
echo "setup: done ($flavour): libtorch in $VENV/libtorch, ONNX Runtime at $VENV/libonnxruntime.so" >&2

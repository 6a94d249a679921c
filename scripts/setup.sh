#!/usr/bin/env bash
# One idempotent set-up step: a Python virtual environment in .venv holding libtorch
# (PyPI torch 2.11.0) and the ONNX Runtime C library, plus two stable links that the
# build and the binaries use:
#   .venv/libtorch            -> site-packages/torch   (LIBTORCH for torch-sys)
#   .venv/libonnxruntime.so   -> onnxruntime's C-API library
# Default: the slim CPU install (torch without its CUDA dependencies, about 1.3 GB).
# `scripts/setup.sh --cuda` (or CUDA=1) installs the full CUDA build instead.
# The wheels are downloaded into .venv/wheelhouse first and installed from there, so
# that the tests can make fresh environments the same way without the network
# (.venv/wheelhouse/requirements-torch.txt names the torch of this flavour).
# It also installs the pinned cbindgen CLI into .venv/tools/bin, hatchling (which
# builds the Python package), the Python package itself into .venv (editable: the
# checkout's bindings/python, importable from any folder), and, from Debian, what
# `make install` and its tests use: patchelf, pkg-config and CMake; and Ray (the
# package's optional extra `densenas[ray]`, pinned here) for the Ray executor's tests.
# When everything is in place it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
ORT_VERSION=1.32.0
SETUP_REVISION=4
ONNX_VERSION=1.23.2
RAY_VERSION=2.60.0
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

# Debian packages: patchelf (make install rewrites RUNPATHs, make wheel removes one),
# pkg-config and CMake (the install tests build programs with them).
missing=()
for tool in patchelf pkg-config cmake; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
if (( ${#missing[@]} )); then
  sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo > /dev/null || { echo "setup: install ${missing[*]} (Debian packages) first" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]} with apt-get" >&2
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# The Python package, editable, at the crate's version (reinstalled when it changes).
version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
editable_installed() {
  compgen -G "$VENV/lib/python3*/site-packages/densenas-$version.dist-info" > /dev/null
}
install_editable() {
  echo "setup: installing the Python package (editable, bindings/python) into $VENV" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation \
    -e ./bindings/python
}

# Ray with its `default` extra (the Ray executor, python -m densenas.ray_experiment),
# into the wheelhouse first like everything else.
ray_installed() {
  compgen -G "$VENV/lib/python3*/site-packages/ray-$RAY_VERSION.dist-info" > /dev/null
}
install_ray() {
  echo "setup: installing ray[default]==$RAY_VERSION into $VENV" >&2
  "$VENV/bin/python" -m pip download --disable-pip-version-check -q -d "$VENV/wheelhouse" "ray[default]==$RAY_VERSION"
  # pip's resolver reports torch's CUDA requirements, which the slim install leaves
  # out on purpose, as conflicts: that report is dropped, anything else is shown.
  local log
  log=$(mktemp)
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-index --find-links "$VENV/wheelhouse" \
    "ray[default]==$RAY_VERSION" 2> "$log"; then
    cat "$log" >&2; rm -f "$log"; return 1
  fi
  grep -vE "^(torch [0-9.]+ requires |ERROR: pip's dependency resolver does not currently)" "$log" >&2 || true
  rm -f "$log"
}

# The data folder (datasets/, git-ignored; docs/data.md): where the machine keeps
# verified copies of the datasets beside the checkout (developers' machines and CI),
# they are copied in, so the tests and studies find them by name; elsewhere
# `densenas data fetch NAME` downloads them. densenas checks every copy against the
# published SHA-256 digests before it first reads it.
copy_data() {
  local from=$1 to=$2; shift 2
  [[ -d "$from" ]] || return 0
  mkdir -p "datasets/$to"
  local f
  for f in "$@"; do
    [[ -f "datasets/$to/$f" || ! -f "$from/$f" ]] || cp "$from/$f" "datasets/$to/$f"
  done
}
copy_data ../shared/data/mnist mnist \
  train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
copy_data ../shared/data/cifar10 cifar10-jpeg-q75 cifar10_train_jpeg_q75.tar.gz cifar10_test_jpeg_q75.tar.gz

if [[ -f "$stamp" && -e "$VENV/libtorch/lib/libtorch_cpu.so" && -e "$VENV/libonnxruntime.so" ]]; then
  editable_installed || install_editable
  ray_installed || install_ray
  exit 0
fi

python=${PYTHON:-python3}
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV with $($python --version)" >&2
  "$python" -m venv "$VENV"
fi
wheelhouse="$VENV/wheelhouse"
mkdir -p "$wheelhouse"
download=("$VENV/bin/python" -m pip download --disable-pip-version-check -q -d "$wheelhouse")
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-index --find-links "$wheelhouse")

rm -f "$VENV"/.densenas-setup-*
if [[ $flavour == cuda ]]; then
  echo "setup: installing torch==$TORCH_VERSION (full CUDA build, about 2.7 GB)" >&2
  echo "torch==$TORCH_VERSION" > "$wheelhouse/requirements-torch.txt"
  "${download[@]}" -r "$wheelhouse/requirements-torch.txt"
  "${pip[@]}" -r "$wheelhouse/requirements-torch.txt"
else
  echo "setup: installing torch==$TORCH_VERSION (slim CPU install, about 1.3 GB)" >&2
  # libtorch_cpu needs libcudart and libcupti even on CPU; nothing else of CUDA.
  printf '%s\n' "torch==$TORCH_VERSION" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85 \
    > "$wheelhouse/requirements-torch.txt"
  "${download[@]}" --no-deps -r "$wheelhouse/requirements-torch.txt"
  "${pip[@]}" --no-deps -r "$wheelhouse/requirements-torch.txt"
fi
echo "setup: installing onnxruntime==$ORT_VERSION, onnx, numpy, pillow, pytest, scipy, hatchling" >&2
others=("onnxruntime==$ORT_VERSION" "onnx==$ONNX_VERSION" numpy pillow pytest scipy hatchling)
"${download[@]}" "${others[@]}"
"${pip[@]}" "${others[@]}"
install_editable
install_ray

site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn "$(realpath --relative-to="$VENV" "$site/torch")" "$VENV/libtorch"
ort_lib=$(ls "$site"/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
ln -sfn "$(realpath --relative-to="$VENV" "$ort_lib")" "$VENV/libonnxruntime.so"
touch "$stamp"
echo "setup: done ($flavour): libtorch in $VENV/libtorch, ONNX Runtime at $VENV/libonnxruntime.so" >&2

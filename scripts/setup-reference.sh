#!/usr/bin/env bash
# A second virtual environment, .venv-ref, holding the full torch==2.11.0 wheel (with
# its CUDA dependencies, about 5 GB) so that Python can `import torch`: the project's
# own .venv has the slim libtorch install, whose Python module cannot be imported.
# Used only by the PyTorch references (scripts/optim_reference.py, which records the
# optimiser values that tests/optim_reference.rs checks), never by `make test`.
# Idempotent: returns at once when in place.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.11.0
VENV=${VENV_REF:-.venv-ref}
stamp="$VENV/.densenas-reference-$TORCH_VERSION"
if [[ -f "$stamp" ]]; then exit 0; fi
python=${PYTHON:-python3}
[[ -x "$VENV/bin/python" ]] || "$python" -m venv "$VENV"
echo "setup-reference: installing torch==$TORCH_VERSION (full wheel, about 5 GB) into $VENV" >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check -q "torch==$TORCH_VERSION" numpy
"$VENV/bin/python" -c 'import torch; print("setup-reference: torch", torch.__version__)' >&2
touch "$stamp"

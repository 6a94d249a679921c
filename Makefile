# densenas: `make run` (a search on the embedded digits) and `make test` (the whole
# test suite) each do all the set-up a fresh machine needs (scripts/setup.sh).
# CUDA=1 installs the full CUDA torch and builds with the `cuda` feature.

CUDA ?= 0
FEATURES := $(if $(filter 1,$(CUDA)),--features cuda,)
# One libtorch thread: two collapse when the other core is busy (TOOLCHAIN.md).
TEST_ENV := OMP_NUM_THREADS=1
RUN_ARGS ?=

.PHONY: setup build run test clean

setup:
	@CUDA=$(CUDA) bash scripts/setup.sh

build: setup
	cargo build --release --locked $(FEATURES)

run: build
	./target/release/densenas search --out runs/digits $(RUN_ARGS)

test: build
	$(TEST_ENV) cargo test --release --locked $(FEATURES)

clean:
	cargo clean

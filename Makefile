# densenas: `make run` (a search on the embedded digits) and `make test` (the whole
# test suite) each do all the set-up a fresh machine needs (scripts/setup.sh).
# CUDA=1 installs the full CUDA torch and builds with the `cuda` feature.
# `make install PREFIX=... [DESTDIR=...]` installs the C library, its headers, its
# pkg-config and CMake files, the program and the runtime it needs (docs/install.md);
# `make wheel` builds the Python package as a platform wheel into dist/.

CUDA ?= 0
FEATURES := $(if $(filter 1,$(CUDA)),--features cuda,)
# One libtorch thread: two collapse when the other core is busy.
TEST_ENV := OMP_NUM_THREADS=1
RUN_ARGS ?=

.PHONY: setup build run test clean header check-header c-examples c-tests cpp-examples fuzz install uninstall wheel web-setup serve

# The version is written once, in Cargo.toml's [package] table; the SONAME (build.rs),
# the header's defines, the pkg-config and CMake files and the wheel all take it from there.
VERSION := $(shell sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
VERSION_PARTS := $(subst ., ,$(firstword $(subst -, ,$(VERSION))))
PYTHON := .venv/bin/python
PREFIX ?= /usr/local
DESTDIR ?=
DIST ?= $(CURDIR)/dist

CBINDGEN := .venv/tools/bin/cbindgen
LIBDIR ?= $(CURDIR)/target/release
C_BUILD ?= $(CURDIR)/build/c
CFLAGS_STRICT := -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g
CPP_BUILD ?= $(CURDIR)/build/cpp
CXXFLAGS_STRICT := -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude -Ibindings/cpp

setup:
	@CUDA=$(CUDA) bash scripts/setup.sh

build: setup
	cargo build --release --locked $(FEATURES)

run: build
	./target/release/densenas search --out runs/digits --overwrite $(RUN_ARGS)

test: build check-header web-setup
	$(TEST_ENV) cargo test --release --locked $(FEATURES)

# include/densenas.h is generated from src/ffi by the pinned cbindgen and checked in.
# Its version defines live in cbindgen.toml (after_includes), which `make header`
# first sets to Cargo.toml's version.
VERSION_DEFINES := -e 's/^\(\#define DENSENAS_VERSION \).*/\1"$(VERSION)"/' \
  -e 's/^\(\#define DENSENAS_VERSION_MAJOR \).*/\1$(word 1,$(VERSION_PARTS))/' \
  -e 's/^\(\#define DENSENAS_VERSION_MINOR \).*/\1$(word 2,$(VERSION_PARTS))/' \
  -e 's/^\(\#define DENSENAS_VERSION_PATCH \).*/\1$(word 3,$(VERSION_PARTS))/'
header: setup
	sed -i $(VERSION_DEFINES) cbindgen.toml
	$(CBINDGEN) --config cbindgen.toml --output include/densenas.h

check-header: setup
	@sed $(VERSION_DEFINES) cbindgen.toml | cmp -s - cbindgen.toml \
	  || { echo "cbindgen.toml's version defines are not Cargo.toml's $(VERSION): run 'make header' and commit" >&2; exit 1; }
	@$(CBINDGEN) --config cbindgen.toml --output include/densenas.h --verify \
	  || { echo "include/densenas.h is stale: run 'make header' and commit it" >&2; exit 1; }

# Installing: lib/libdensenas.so.$(VERSION) (SONAME, links), include/, lib/pkgconfig/,
# lib/cmake/densenas/, bin/densenas and lib/densenas/ (libtorch, ONNX Runtime, their
# licences) and share/densenas/web (the browser page with the npm files it loads, for
# `densenas serve`), all with $ORIGIN-relative RUNPATHs: the prefix can be moved.
install: build
	@bash scripts/setup-web.sh --npm-only
	$(PYTHON) scripts/install.py install --prefix "$(PREFIX)" --destdir "$(DESTDIR)" --build-dir "$(LIBDIR)"

uninstall: setup
	$(PYTHON) scripts/install.py uninstall --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

# The Python package with libdensenas.so inside, as a platform wheel in $(DIST)
# (hatchling, bindings/python/hatch_build.py); it depends on the torch it was built against.
wheel: build
	$(PYTHON) scripts/wheel.py --build-dir "$(LIBDIR)" --dist "$(DIST)"

# The C examples against libdensenas.so (built by `make build`): plain, and with
# AddressSanitizer and UBSan. The test suite builds and runs them.
c-examples:
	@mkdir -p $(C_BUILD)
	cc $(CFLAGS_STRICT) examples/c/search_digits.c -L$(LIBDIR) -ldensenas -Wl,-rpath,$(LIBDIR) -o $(C_BUILD)/search_digits
	cc $(CFLAGS_STRICT) $(SANITIZE) examples/c/search_digits.c -L$(LIBDIR) -ldensenas -Wl,-rpath,$(LIBDIR) -o $(C_BUILD)/search_digits_asan

# The C reliability test (tests/c/reliability.c): save/load, stops, lengths, divergence,
# and the population training test (tests/c/train.c),
# plain and with AddressSanitizer and UBSan. tests/c_api.rs builds and runs it.
c-tests:
	@mkdir -p $(C_BUILD)
	cc $(CFLAGS_STRICT) tests/c/reliability.c -L$(LIBDIR) -ldensenas -lm -Wl,-rpath,$(LIBDIR) -o $(C_BUILD)/reliability
	cc $(CFLAGS_STRICT) $(SANITIZE) tests/c/reliability.c -L$(LIBDIR) -ldensenas -lm -Wl,-rpath,$(LIBDIR) -o $(C_BUILD)/reliability_asan
	cc $(CFLAGS_STRICT) tests/c/train.c -L$(LIBDIR) -ldensenas -lm -Wl,-rpath,$(LIBDIR) -o $(C_BUILD)/train
	cc $(CFLAGS_STRICT) $(SANITIZE) tests/c/train.c -L$(LIBDIR) -ldensenas -lm -Wl,-rpath,$(LIBDIR) -o $(C_BUILD)/train_asan

# The C++ binding (bindings/cpp/densenas.hpp): its example, and its test built from two
# translation units that both include the header, plain and with AddressSanitizer and
# UBSan. The test suite (tests/bindings.rs) builds and runs them.
CPP_TEST_SOURCES := tests/cpp/main.cpp tests/cpp/session.cpp
cpp-examples:
	@mkdir -p $(CPP_BUILD)
	$(CXX) $(CXXFLAGS_STRICT) examples/cpp/search_digits.cpp -L$(LIBDIR) -ldensenas -Wl,-rpath,$(LIBDIR) -o $(CPP_BUILD)/search_digits
	$(CXX) $(CXXFLAGS_STRICT) -Itests/cpp $(CPP_TEST_SOURCES) -L$(LIBDIR) -ldensenas -Wl,-rpath,$(LIBDIR) -o $(CPP_BUILD)/binding_test
	$(CXX) $(CXXFLAGS_STRICT) $(SANITIZE) -Itests/cpp $(CPP_TEST_SOURCES) -L$(LIBDIR) -ldensenas -Wl,-rpath,$(LIBDIR) -o $(CPP_BUILD)/binding_test_asan

# Coverage-guided fuzzing of the parsers (AFL++ through cargo-afl): FUZZ_SECONDS per
# target (600), FUZZ_JOBS at a time (1), FUZZ_TARGETS (all). See scripts/fuzz.sh.
fuzz:
	@bash scripts/fuzz.sh

# Deploying beyond Python (examples/node, examples/web; tests/web_deploy.rs): Node.js,
# Debian's chromium and the examples' npm packages from their lockfiles, installed when
# missing (scripts/setup-web.sh; fast when in place). `make serve` shows the browser
# example with a run folder's best.onnx (RUN_DIR, default runs/digits from `make run`).
RUN_DIR ?= runs/digits
web-setup:
	@bash scripts/setup-web.sh

serve: build web-setup
	./target/release/densenas serve $(RUN_DIR)

clean:
	cargo clean

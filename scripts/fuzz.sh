#!/usr/bin/env bash
# Coverage-guided fuzzing of densenas's parsers with AFL++ (cargo-afl, stable Rust):
# builds the instrumented targets of fuzz/, runs each for FUZZ_SECONDS (default 600)
# from its seeds (fuzz/seeds/<target>, slices of real files) and the corpus found so far
# (fuzz/corpus/<target>.tar.gz), FUZZ_JOBS targets at a time (default 1: one core each), then
#   - copies every crash and hang into fuzz/crashes/<target>/ (tests/fuzz_replay.rs
#     replays them in `make test`: each one a regression test),
#   - replaces fuzz/corpus/<target>.tar.gz by the minimised queue (afl-cmin: the same
#     coverage; packed, since a corpus is hundreds of similar files),
#   - prints a table: executions, executions/s, corpus, edges covered, crashes, hangs.
#
#   make fuzz                                  (all targets, 10 minutes each)
#   make fuzz FUZZ_SECONDS=60 FUZZ_TARGETS="csv idx"
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-1}
TARGETS=${FUZZ_TARGETS:-"idx cifar images csv gzip space_json options_json session_load"}
AFL_VERSION=0.18.2
OUT=fuzz/out

bash scripts/setup.sh
if [[ "$(cargo afl --version 2>/dev/null)" != "cargo-afl $AFL_VERSION"* ]]; then
  echo "fuzz: installing cargo-afl $AFL_VERSION (builds AFL++)" >&2
  cargo install --locked cargo-afl --version "$AFL_VERSION"
fi
(cd fuzz && cargo afl build --release)
# AFL++'s own tools, as cargo-afl built them (afl-cmin.bash minimises the corpora).
afl_bin=$(ls -d "${XDG_DATA_HOME:-$HOME/.local/share}"/afl.rs/rustc-*/afl.rs-"$AFL_VERSION"/afl/bin | tail -n 1)

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
scratch=$(mktemp -d /dev/shm/densenas-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$OUT"

run_one() {
  local t=$1
  rm -rf "$OUT/$t" "$OUT/$t.in"
  mkdir -p "$OUT/$t.in"
  cp fuzz/seeds/"$t"/* "$OUT/$t.in/"
  if [[ -f "fuzz/corpus/$t.tar.gz" ]]; then tar -xzf "fuzz/corpus/$t.tar.gz" -C "$OUT/$t.in"; fi
  echo "fuzz: $t for $SECONDS_EACH s" >&2
  TMPDIR="$scratch" cargo afl fuzz -V "$SECONDS_EACH" -m 4096 -t 2000 \
    -i "$OUT/$t.in" -o "$OUT/$t" "fuzz/target/release/$t" > "$OUT/$t.log" 2>&1 || {
    echo "fuzz: afl-fuzz failed for $t (see $OUT/$t.log)" >&2
    return 1
  }
}

running=0
for t in $TARGETS; do
  run_one "$t" &
  running=$((running + 1))
  if (( running >= JOBS )); then wait -n; running=$((running - 1)); fi
done
wait

stat() { grep -E "^$2 " "$OUT/$1/default/fuzzer_stats" | sed 's/.*: //'; }
printf "%-13s %8s %12s %9s %7s %9s %8s %6s\n" target seconds executions execs/s corpus edges crashes hangs
for t in $TARGETS; do
  for kind in crashes hangs; do
    for f in "$OUT/$t/default/$kind"/id:*; do
      [[ -e "$f" ]] || continue
      mkdir -p "fuzz/crashes/$t"
      cp "$f" "fuzz/crashes/$t/$kind-$(sha256sum "$f" | cut -c1-16)"
    done
  done
  min="$OUT/$t/min"
  rm -rf "$min"
  if TMPDIR="$scratch" AFL_PATH="$afl_bin" PATH="$afl_bin:$PATH" "$afl_bin/afl-cmin.bash" \
      -i "$OUT/$t/default/queue" -o "$min" -- "fuzz/target/release/$t" > "$OUT/$t.cmin.log" 2>&1; then
    packed="$OUT/$t.packed"
    rm -rf "$packed" && mkdir -p "$packed" fuzz/corpus
    for f in "$min"/*; do cp "$f" "$packed/$(sha256sum "$f" | cut -c1-16)"; done
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$packed" -cf - . | gzip -n -9 \
      > "fuzz/corpus/$t.tar.gz"
  fi
  printf "%-13s %8s %12s %9s %7s %9s %8s %6s\n" "$t" "$(stat "$t" run_time)" "$(stat "$t" execs_done)" \
    "$(stat "$t" execs_per_sec)" "$(ls "$OUT/$t.packed" 2>/dev/null | wc -l)" \
    "$(stat "$t" edges_found)/$(stat "$t" total_edges)" "$(stat "$t" saved_crashes)" "$(stat "$t" saved_hangs)"
done

//! AFL++ target `csv` (see `fuzz/src/targets.rs`).

#[path = "../targets.rs"]
#[allow(dead_code)]
mod targets;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        targets::csv(data);
    });
}

//! No build step. This script exists for its build-dependency (see `Cargo.toml`): host-side
//! crates (proc-macros that Burn's backends use) resolve their features separately from the
//! target's, and only a build-dependency can align them with a whole-workspace build.

fn main() {}

#!/usr/bin/env bash
# Mixed commands: a user who runs the subcommands between reproductions must never get a
# stale number in a table. On a copy of an uninterrupted smoke run:
#   1. train → transfer: softmax1 retrained with another seed; `transfer` must attack the new
#      weights again, and every table's provenance must name the weights now on disk;
#   2. attack --model-file → reproduce: an attack of other weights written where reproduce
#      reads softmax1's; the resumed reproduce must redo it and end with the tables of the
#      uninterrupted run;
#   3. smoke → default in one --out: refused without --force, nothing touched.
#
# usage: .ci/mixed_commands.sh <blindspot binary> <uninterrupted smoke --out> <work dir>
set -euo pipefail
bin=$1 reference=$2 work=$3
mkdir -p "$work"
log="$work/run.log"
run() { "$bin" "$@" --offline >"$log" 2>&1 || { echo "failed: blindspot $*"; tail -20 "$log"; exit 1; }; }

# Every table and figure of an --out is current: the SHA-256 recorded for it and for each of
# its inputs in provenance.json are those of the files on disk; prints how many were checked.
check_provenance() {
  python3 - "$1" <<'EOF'
import hashlib, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
files = json.loads((out / "provenance.json").read_text())["files"]
sha = lambda p: hashlib.sha256((out / p).read_bytes()).hexdigest() if (out / p).exists() else None
bad = [f for f, e in files.items() if sha(f) != e["sha256"]]
bad += [f"{f} <- {s['path']}" for f, e in files.items() for s in e["sources"] if sha(s["path"]) != s["sha256"]]
tables = [p for p in (out / "tables").iterdir()]
unrecorded = [str(p.relative_to(out)) for p in tables if str(p.relative_to(out)) not in files]
if bad or unrecorded:
    sys.exit(f"stale: {bad}, unrecorded: {unrecorded}")
print(f"provenance: {len(files)} files current")
EOF
}

echo "1. train -> transfer"
one="$work/one"
cp -a "$reference" "$one"
old=$(sha256sum "$one/models/softmax1/model.safetensors" | cut -d' ' -f1)
run train --model softmax1 --scale smoke --seed 1 --out "$one"
new=$(sha256sum "$one/models/softmax1/model.safetensors" | cut -d' ' -f1)
[ "$old" != "$new" ] || { echo "retraining with seed 1 gave the same weights"; exit 1; }
run transfer --n-train 20 --n-test 20 --out "$one"
grep -q "attack softmax1.*up to date" "$log" && { echo "transfer reused an attack of the old softmax1"; exit 1; }
for goal in random untargeted; do
  made_on=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['weights_sha256'])" \
    "$one/attacks/softmax1/train-$goal/summary.json")
  [ "$made_on" = "$new" ] || { echo "train-$goal was not made on the new softmax1"; exit 1; }
done
python3 - "$one" "$new" <<'EOF'
import json, pathlib, sys
out, new = pathlib.Path(sys.argv[1]), sys.argv[2]
entry = json.loads((out / "provenance.json").read_text())["files"]["tables/table2.json"]
weights = [s for s in entry["sources"] if s["path"] == "models/softmax1/model.safetensors"]
assert [s["sha256"] for s in weights] == [new], weights
EOF
# Tables that read softmax1 and were not rewritten (Table 1's) are now found stale.
if check_provenance "$one" >/dev/null 2>&1; then
  echo "Table 1 of the old softmax1 passed as current"; exit 1
fi
run reproduce --scale smoke --out "$one"
grep -q "not current" "$one/report/README.md" && { echo "the report lists stale tables after a full reproduce"; exit 1; }
check_provenance "$one"
rm -rf "$one"

echo "2. attack --model-file -> reproduce"
two="$work/two" elsewhere="$work/elsewhere"
cp -a "$reference" "$two"
run train --model softmax1 --scale smoke --seed 1 --out "$elsewhere"
run attack --model-file "$elsewhere/models/softmax1" --split train --goal random --n 20 --out "$two"
run reproduce --scale smoke --out "$two"
# The attack stage, the first to read it, must redo it (later stages then reuse the new one).
grep -m1 "attack softmax1 random" "$log" | grep -q "up to date" && { echo "reproduce reused the other model's attack"; exit 1; }
check_provenance "$two"
python3 - "$reference" "$two" <<'EOF'
import json, math, pathlib, sys
ref, got = map(pathlib.Path, sys.argv[1:])

def same(a, b):
    # Timings aside; a mean read back from summary.json may be one ULP off the in-memory one
    # (serde_json parses f64 without `float_roundtrip`), so numbers agree to 12 digits.
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a if "seconds" not in k)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isfinite(a):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b

for name in ["distortion.json", "table2.json", "table3.json", "table4.json"]:
    a, b = (json.loads((d / "tables" / name).read_text()) for d in (ref, got))
    assert same(a, b), f"{name} differs from the uninterrupted run"
print("tables equal to the uninterrupted run")
EOF

echo "3. smoke -> default in one --out"
before=$(cd "$two" && find tables models attacks -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
if "$bin" reproduce --scale default --out "$two" --offline >"$log" 2>&1; then
  echo "a default run over a smoke --out was not refused"; exit 1
fi
grep -q -- "--force" "$log" || { echo "the refusal does not say how to override it:"; cat "$log"; exit 1; }
after=$(cd "$two" && find tables models attacks -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
[ "$before" = "$after" ] || { echo "the refused run changed files"; exit 1; }
rm -rf "$two" "$elsewhere"
echo "mixed commands: no stale number reached a table"

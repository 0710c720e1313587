#!/usr/bin/env bash
# Kill and resume: `blindspot reproduce --scale smoke` is SIGKILLed at several points (while
# training children run, among the attacks, in the units stage, in the spectral stage), each
# time checked to leave no process behind, then resumed to the end; its tables, checkpoints and
# attacks must equal those of an uninterrupted run.
#
# usage: .ci/kill_resume.sh <blindspot binary> <uninterrupted smoke --out> <work dir>
set -euo pipefail
bin=$1 reference=$2 work=$3
out="$work/resumed"
log="$work/run.log"
mkdir -p "$work"

# Starts a run and SIGKILLs it when its output shows `pattern`; with `children`, checks first
# that training children are running, so that the kill is the one that must not orphan them.
kill_at() {
  local pattern=$1 children=${2:-}
  "$bin" reproduce --scale smoke --out "$out" --offline >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do
    grep -q -- "$pattern" "$log" && break
    kill -0 "$pid" 2>/dev/null || { echo "the run ended before \`$pattern\`:"; tail "$log"; exit 1; }
    sleep 0.1
  done
  grep -q -- "$pattern" "$log" || { echo "no \`$pattern\` in 120 s"; exit 1; }
  if [ -n "$children" ]; then
    pgrep -f -- "train-job.*--out $out" >/dev/null || { echo "no training child at the kill"; exit 1; }
  fi
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  sleep 1 # a child notices its parent's death within 200 ms
  if pgrep -f -- "--out $out" >/dev/null; then
    echo "processes left after killing the run at \`$pattern\`:"
    pgrep -af -- "--out $out"
    exit 1
  fi
  echo "killed at \`$pattern\`: no process left"
}

kill_at "training [0-9]* models" children
kill_at "attack softmax2 untargeted"
kill_at "units: conv layer 1"
kill_at "alexnet Conv. 1"
"$bin" reproduce --scale smoke --out "$out" --offline >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
echo "resumed to the end"

# Same results: every table (timing columns aside), every checkpoint and attack tensor file.
python3 - "$reference" "$out" <<'EOF'
import csv, json, math, pathlib, struct, sys
ref, got = map(pathlib.Path, sys.argv[1:])
timing = ("seconds", "per_second")

def cell(text):
    # Numbers may differ in the last bit: a mean read back from summary.json (serde_json
    # parses f64 without its `float_roundtrip` feature) can be one ULP off the in-memory one.
    try:
        value = float(text)
    except ValueError:
        return text
    return round(value, 12) if math.isfinite(value) else text

def table(path):
    rows = list(csv.reader(path.open()))
    keep = [i for i, h in enumerate(rows[0]) if not any(t in h for t in timing)]
    return [[cell(r[i]) for i in keep] for r in rows]

def tensors(path):
    # Tensor by tensor, bit for bit; not the header's key order (written from a hash map).
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    return {
        k: v if k == "__metadata__"
        else (v["dtype"], v["shape"], body[v["data_offsets"][0] : v["data_offsets"][1]])
        for k, v in header.items()
    }

def files(root, pattern):
    return sorted(p.relative_to(root) for p in root.glob(pattern) if "my-net" not in str(p))

failures, compared = [], 0
for pattern, read in [
    ("tables/*.csv", table),
    ("models/*/model.safetensors", tensors),
    ("attacks/*/*/adversarial.safetensors", tensors),
]:
    names = files(got, pattern)
    if not names:
        failures.append(f"no {pattern} in {got}")
    for name in names:
        compared += 1
        if not (ref / name).exists():
            failures.append(f"{name}: not in the uninterrupted run")
        elif read(ref / name) != read(got / name):
            failures.append(f"{name}: differs from the uninterrupted run")
    failures += [f"{n}: missing after the resume" for n in set(files(ref, pattern)) - set(names)]
if failures:
    sys.exit("\n".join(failures))
print(f"{compared} tables and tensor files identical to the uninterrupted run")
EOF

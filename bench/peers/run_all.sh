#!/usr/bin/env bash
# Run both peer attacks on the given models and print a markdown table.
#
#   bash bench/peers/run_all.sh [OUT_DIR]
#
# Environment (all optional):
#   PY       python of the peers venv (default: the one setup.sh makes)
#   MODELS   model directories (default: results/models/softmax1 results/models/n100-100-10)
#   N        images per run (default 100); N_FOOLBOX overrides it for foolbox2-lbfgs
#   THREADS  torch threads (default 2)
#   INPUTS   inputs file (default: OUT_DIR/inputs-N.safetensors, made by make_inputs.py with SEED, default 0)
#   ATTACKS  default "advertorch-lbfgs foolbox2-lbfgs"
# Writes OUT_DIR/<model>-<attack>.json for every run (default OUT_DIR: /tmp/blindspot-peers).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${1:-/tmp/blindspot-peers}"
PY="${PY:-${BLINDSPOT_PEERS_VENV:-$HOME/.cache/blindspot/peers}/venv/bin/python}"
MODELS="${MODELS:-$ROOT/results/models/softmax1 $ROOT/results/models/n100-100-10}"
N="${N:-100}"
N_FOOLBOX="${N_FOOLBOX:-$N}"
THREADS="${THREADS:-2}"
SEED="${SEED:-0}"
ATTACKS="${ATTACKS:-advertorch-lbfgs foolbox2-lbfgs}"
mkdir -p "$OUT"
INPUTS="${INPUTS:-$OUT/inputs-$N-seed$SEED.safetensors}"
[[ -f "$INPUTS" ]] || "$PY" "$HERE/make_inputs.py" --n "$N" --seed "$SEED" --out "$INPUTS"

jsons=()
for m in $MODELS; do
  name="$(basename "$m")"
  for a in $ATTACKS; do
    n="$N"; [[ "$a" == foolbox2-lbfgs ]] && n="$N_FOOLBOX"
    exact=(); [[ "$name" == softmax* ]] && exact=(--exact)
    "$PY" "$HERE/run_peers.py" --model-dir "$m" --inputs "$INPUTS" --attack "$a" --n "$n" \
      --threads "$THREADS" "${exact[@]}" --json "$OUT/$name-$a.json"
    jsons+=("$OUT/$name-$a.json")
  done
done

"$PY" - "${jsons[@]}" <<'EOF'
import json, sys
print("| model | attack | torch | n | success | mean RMS | median RMS | s/example | evals/example | exact mean RMS | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    r = json.load(open(path))
    fmt = lambda v, f: "-" if v is None else format(v, f)
    ex = r.get("exact", {}).get("mean_rms")
    print(f"| {r['model']} | {r['attack']} | {r['torch_version']} | {r['n']} | {r['success_rate']:.0%} | "
          f"{fmt(r['mean_rms'], '.4f')} | {fmt(r['median_rms'], '.4f')} | {r['seconds_per_example']:.3f} | "
          f"{fmt(r['evaluations_per_example'], '.0f')} | {fmt(ex, '.4f')} | "
          f"{r['loadavg_1min_start']:.1f} |")
EOF

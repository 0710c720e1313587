#!/usr/bin/env bash
# Measures blindspot on a GPU through wgpu, from the folder `cargo xtask device-bundle` made:
# attack images/s on N100-100-10 and the conv net at batches of 1,000 and 10,000 test images,
# seconds per training epoch, and Table 1's distortion column (untargeted and random targets)
# on all 60,000 training images of softmax1 and N100-100-10. Every step runs under its own time
# limit (about 7.5 minutes in all); a step that runs out is recorded as such, not retried.
#
# usage: bash run.sh <results dir> [full|tiny]
# tiny: a few images and a short attack, to check on Mesa's software Vulkan (lavapipe) in CI
# that every step runs and writes its files; its times measure nothing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
res=${1:?usage: run.sh <results dir> [full|tiny]}
size=${2:-full}
mkdir -p "$res/measure"
res=$(cd "$res" && pwd)
table="$res/measure/steps.tsv"
printf 'step\tstatus\tseconds\n' >"$table"

# The Vulkan loader: the system's, else the one carried in debs/.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  for deb in "$here"/debs/*.deb; do
    [ -e "$deb" ] && dpkg-deb -x "$deb" "$here/vulkan"
  done
  export LD_LIBRARY_PATH="$here/vulkan/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
{ nvidia-smi -L 2>/dev/null || true; uname -a; nproc; } >"$res/measure/machine.txt"

case $size in
  full) small=1000 large=10000 train_images=60000 limit_small=40 limit_large=70 limit_epoch=50 limit_table=45
    short=() ;;
  tiny) small=2 large=3 train_images=2 limit_small=240 limit_large=240 limit_epoch=300 limit_table=240
    short=(--candidates 1 --search-steps 2 --max-iterations 5) ;;
  *) echo "size must be full or tiny"; exit 2 ;;
esac

bin="$here/blindspot"
[ -x "$bin" ] || { gzip -dc "$here/blindspot.gz" >"$bin" && chmod +x "$bin"; }
common=(--backend wgpu --data-dir "$here/mnist" --offline --out "$res")
mkdir -p "$res/models"
cp -r "$here/models/." "$res/models/" 2>/dev/null || true

# step <name> <seconds> <command…>: runs it under `timeout`, logs it, records status and time.
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS status
  if timeout "$limit" "$@" >"$res/measure/$name.log" 2>&1; then status=ok
  elif [ $? -eq 124 ]; then status="timed out after ${limit}s"
  else status=failed; fi
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - start))" | tee -a "$table"
}

# keep <attack dir> <name>: the attack's summary (images/s, distortion) under measure/.
keep() { [ -f "$res/attacks/$1/summary.json" ] && cp "$res/attacks/$1/summary.json" "$res/measure/$2.json"; }

for model in softmax1 n100-100-10 conv; do
  [ -f "$res/models/$model/model.json" ] ||
    step "train-$model-smoke" 300 "$bin" train --model "$model" --scale smoke "${common[@]}"
done

for model in n100-100-10 conv; do
  for n in $small $large; do
    limit=$([ "$n" = "$small" ] && echo "$limit_small" || echo "$limit_large")
    step "attack-$model-$n" "$limit" "$bin" attack --model "$model" --split test --n "$n" \
      --batch-size "$n" --workers 1 "${short[@]}" "${common[@]}"
    keep "$model/test-untargeted" "attack-$model-$n"
  done
done

if [ "$size" = full ]; then
  for model in n100-100-10 conv; do
    step "epoch-$model" "$limit_epoch" "$bin" bench --model "$model" --epochs 1 "${common[@]}"
  done
else
  step "epoch-n100-100-10" "$limit_epoch" "$bin" train --model n100-100-10 --scale smoke \
    --epochs 1 --out "$res/tiny-train" --backend wgpu --data-dir "$here/mnist" --offline
fi

for model in softmax1 n100-100-10; do
  for goal in untargeted random; do
    step "table1-$model-$goal" "$limit_table" "$bin" attack --model "$model" --split train \
      --n "$train_images" --goal "$goal" --batch-size 10000 --workers 1 "${short[@]}" "${common[@]}"
    keep "$model/train-$goal" "table1-$model-$goal"
  done
done
echo "results in $res/measure (steps.tsv, one JSON per measured attack)"
# The script fails only when no step worked at all (a device that cannot run wgpu).
grep -q $'\tok\t' "$table"

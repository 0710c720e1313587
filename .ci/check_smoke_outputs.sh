#!/usr/bin/env bash
# Checks the content of a smoke reproduce (`cargo xtask reproduce --scale smoke --out OUT`):
# every table is there, has the rows the smoke scale asks for, and holds finite numbers in
# their range (error rates in [0, 1], distortions > 0, frame bounds 0 ≤ lower ≤ upper, …).
# A number is missing (JSON null, CSV NaN) only where the run had nothing to measure (a row of
# no examples). Prints every failed check and exits 1 if there is one.
#
# Usage: .ci/check_smoke_outputs.sh OUT
set -euo pipefail
out=${1:?usage: $0 OUT (the --out directory of a smoke reproduce)}
command -v jq >/dev/null || { echo "check_smoke_outputs: jq is needed (apt-get install jq)" >&2; exit 2; }

# What `reproduce --scale smoke` asks for (crates/cli/src/cmd/reproduce.rs, crates/models/src/spec.rs).
models='["softmax1","softmax2","softmax3","n100-100-10","n200-200-10","ae400-10","fc","conv","n100-100-10-p1","n123-456-10-p1","n100-100-10-p2"]'
table1='["softmax1","softmax2","softmax3","n100-100-10","n200-200-10","ae400-10"]'
table4='["n100-100-10-p1","n123-456-10-p1","n100-100-10-p2"]'
lbfgs='["softmax1","softmax2","softmax3","n100-100-10"]'
images=20          # training images attacked per model (Table 1, Table 2)
test_images=20     # test images attacked per model (Tables 3, 4)
train_examples=2000
test_examples=1000
lbfgs_iterations=40 # 2 L-BFGS steps of 20 iterations

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# jq definitions shared by the checks: each check prints one line per violation.
defs='
def num: type == "number";
def rate: num and . >= 0 and . <= 1;
def pos: num and . > 0;
def nonneg: num and . >= 0;
def check(cond; msg): if cond then empty else msg end;
# An error rate over `n` examples: k/n for an integer k.
def rate_of($n): rate and (((. * $n) - ((. * $n) | round)) | fabs) < 1e-6;
def meanstd: check(.mean == null or (.mean | num); "mean \(.mean)")
  , check(.std | nonneg; "std \(.std)"), check((.mean == null) == (.n == 0); "mean \(.mean) of \(.n) seeds");
'

# Runs jq program $2 on file $1 (under $out) and records each line it prints as a failure.
check_json() {
  local name=$1 program=$2
  shift 2
  local file="$out/$name" lines
  if [[ ! -s $file ]]; then fail "$name is missing or empty"; return; fi
  if ! lines=$(jq -r "$@" "$defs $program" "$file" 2>&1); then fail "$name: $lines"; return; fi
  while IFS= read -r line; do
    if [[ -n $line ]]; then fail "$name: $line"; fi
  done <<<"$lines"
}

check_json scale.json 'check(.scale == "smoke"; "scale \(.scale)")'

check_json tables/models.json '
  check(map(.id) == $models; "ids \(map(.id))"),
  (.[] | .id as $id
    | check(.train_examples == $train; "\($id): \(.train_examples) training examples"),
      check(.train_error | rate_of($train); "\($id): training error \(.train_error)"),
      check(.test_error | rate_of($test); "\($id): test error \(.test_error)"),
      check(.p1_error | rate; "\($id): P1 error \(.p1_error)"),
      check(.p2_error | rate; "\($id): P2 error \(.p2_error)"),
      check(.target_test_error | pos and . < 1; "\($id): target \(.target_test_error)"),
      check(.train_seconds | nonneg; "\($id): \(.train_seconds) s"))' \
  --argjson models "$models" --argjson train "$train_examples" --argjson test "$test_examples"

check_json tables/distortion.json '
  check(map(.id) == $ids; "ids \(map(.id))"),
  (.[] | .id as $id
    | check(.images == $n; "\($id): \(.images) images"),
      check(.misclassified | num and . >= 0 and . <= $n and . == floor; "\($id): misclassified \(.misclassified)"),
      check(.untargeted_success | rate_of($n); "\($id): untargeted success \(.untargeted_success)"),
      check(.random_success | rate_of($n); "\($id): random-target success \(.random_success)"),
      # Means over the images that needed a perturbation: there is one unless all were misclassified.
      check(.untargeted_mean | pos and . < 1; "\($id): untargeted distortion \(.untargeted_mean)"),
      check(.random_mean | pos and . < 1; "\($id): random-target distortion \(.random_mean)"),
      check(.seconds | nonneg; "\($id): \(.seconds) s"))' \
  --argjson ids "$table1" --argjson n "$images"

check_json tables/lbfgs.json '
  check(map(.id) == $ids; "ids \(map(.id))"),
  (.[] | .id as $id
    | check(.minibatch_test_error | rate_of($test); "\($id): minibatch test error \(.minibatch_test_error)"),
      check(.lbfgs_train_error | rate_of($train); "\($id): L-BFGS training error \(.lbfgs_train_error)"),
      check(.lbfgs_test_error | rate_of($test); "\($id): L-BFGS test error \(.lbfgs_test_error)"),
      check(.lbfgs_iterations == $iterations; "\($id): \(.lbfgs_iterations) iterations"),
      check(.lbfgs_seconds | nonneg; "\($id): \(.lbfgs_seconds) s"))' \
  --argjson ids "$lbfgs" --argjson train "$train_examples" --argjson test "$test_examples" \
  --argjson iterations "$lbfgs_iterations"

# A transfer matrix: the columns asked for, the rows in the order the stage makes them, rates
# over the row's examples, the diagonal at 100% (a model's own successful examples fool it),
# noise of at most its standard deviation after clipping, matched noise at the adversarial
# row's RMS, amplified rows at RMS 0.1 or less after clipping.
transfer_checks='
  def rowname: .perturbation | "\(.kind) \(.model // .stddev)\(if .rms then " to RMS \(.rms)" else "" end)";
  check(.columns == $columns; "columns \(.columns)"),
  check(.seeds == 1; "\(.seeds) seeds"),
  check(.images == $images; "images \(.images)"),
  check([.rows[].perturbation.kind] == $kinds; "rows \([.rows[].perturbation.kind])"),
  (.rows as $rows | .rows[] | rowname as $row | .examples as $k
    | check($k | num and . >= 0 and . <= $n and . == floor; "\($row): \($k) examples"),
      check(.errors | length == ($columns | length); "\($row): \(.errors | length) cells"),
      (.errors[], .distortion | meanstd | "\($row): \(.)"),
      if $k == 0 then
        check(all(.errors[]; .mean == null) and .distortion.mean == null; "\($row): numbers without examples")
      else
        check(all(.errors[]; .mean | rate_of($k)); "\($row): error rates \([.errors[].mean])"),
        check(.distortion.mean | pos and . < 1; "\($row): distortion \(.distortion.mean)"),
        (if .perturbation.kind == "adversarial" then
           ($columns | index($row | ltrimstr("adversarial "))) as $c
           | check($c == null or .errors[$c].mean == 1; "\($row): its own model errs on \(.errors[$c].mean)")
         elif .perturbation.kind == "gaussian" then
           check($k == $n and .distortion.mean <= .perturbation.stddev; "\($row): \($k) images, RMS \(.distortion.mean)")
         elif .perturbation.kind == "matched-gaussian" then
           .perturbation.model as $m
           | ([$rows[] | select(.perturbation == {kind: "adversarial", model: $m})][0]) as $adv
           | check($adv != null and $adv.examples == $k
               and ((.distortion.mean - $adv.distortion.mean) | fabs) <= 1e-5 * $adv.distortion.mean;
               "\($row): RMS \(.distortion.mean), its adversarial examples \($adv.distortion.mean)")
         elif .perturbation.kind == "amplified" then
           check(.distortion.mean <= .perturbation.rms + 1e-6; "\($row): RMS \(.distortion.mean)")
         else empty end)
      end)
'
# Rows: Table 2 the six models' examples, noise of stddev 0.1 and 0.3, noise matched to each
# model; Table 4 the three models' examples, noise of stddev 0.06, the examples amplified, noise
# of stddev 0.1. The untargeted versions have no fixed-noise rows.
kinds() { jq -cn --argjson m "$1" "$2"; }
table2_kinds=$(kinds "$table1" '[$m[] | "adversarial"] + ["gaussian", "gaussian"] + [$m[] | "matched-gaussian"]')
table2u_kinds=$(kinds "$table1" '[$m[] | "adversarial"] + [$m[] | "matched-gaussian"]')
table4_kinds=$(kinds "$table4" '[$m[] | "adversarial"] + ["gaussian"] + [$m[] | "amplified"] + ["gaussian"]')
table4u_kinds=$(kinds "$table4" '[$m[] | "adversarial"] + [$m[] | "amplified"]')
for t in "table2 $table2_kinds" "table2-untargeted $table2u_kinds"; do
  check_json "tables/${t%% *}.json" "$transfer_checks" --argjson columns "$table1" \
    --arg images "first $images training images" --argjson n "$images" --argjson kinds "${t#* }"
done
for t in "table4 $table4_kinds" "table4-untargeted $table4u_kinds"; do
  check_json "tables/${t%% *}.json" "$transfer_checks" --argjson columns "$table4" \
    --arg images "first $test_images test images" --argjson n "$test_images" --argjson kinds "${t#* }"
done

check_json tables/table3.json '
  check(map(.id) == $ids; "ids \(map(.id))"),
  (.[] | .id as $id
    | (.p1_error, .p2_error, .test_error | check(.n == 1 and (.mean | rate); "\($id): error \(.)")),
      (.distortion, .untargeted_distortion | check(.n == 1 and (.mean | pos and . < 1); "\($id): distortion \(.)")))' \
  --argjson ids "$table4"

check_json tables/adversarial_training.json '
  check(length > 0; "no methods"),
  check(any(.[]; .method == "decay"); "no weight-decay baseline"),
  (.[] | .method as $m
    | check(.test_error.n >= 1 and (.test_error.mean | rate_of($test)); "\($m): test error \(.test_error)"),
      check(.train_error.mean | rate; "\($m): training error \(.train_error)"),
      (.test_error, .train_error, .distortion | meanstd | "\($m): \(.)"),
      check(.distortion.mean == null or (.distortion.mean | pos and . < 1); "\($m): distortion \(.distortion.mean)"),
      check(.attacked_images == $n; "\($m): \(.attacked_images) images attacked"),
      check((.train_seconds | nonneg) and (.generation_seconds | nonneg); "\($m): times"))' \
  --argjson test "$test_examples" --argjson n "$test_images"

check_json tables/spectral.json '
  check(.alexnet | length == 8; "\(.alexnet | length) AlexNet layers"),
  check([.mnist[].network] | unique == ($ids + ["conv"] | unique); "networks \([.mnist[].network] | unique)"),
  (.alexnet[], .mnist[] | "\(.network) \(.layer)" as $l
    | check((.lower | nonneg) and (.upper | pos) and .lower <= .upper; "\($l): bounds \(.lower), \(.upper)"),
      check((.grid == null) == (.stride == null) and (.grid == null or (.grid | pos)); "\($l): grid \(.grid), stride \(.stride)"),
      check(.after | pos; "\($l): after \(.after)")),
  check([.certificates[].model] == $ids + ["conv"]; "certificates \([.certificates[].model])"),
  (.certificates[] | .model as $m
    | check(.lipschitz | pos; "\($m): Lipschitz \(.lipschitz)"),
      check(.examples | num and . > 0 and . <= $n; "\($m): \(.examples) examples"),
      check((.certified_mean | nonneg) and (.attack_mean | pos); "\($m): radii \(.certified_mean), \(.attack_mean)"),
      # A certified radius is a lower bound of every successful attack'"'"'s distance.
      check(.violations == 0 and .max_ratio <= 1 and .mean_ratio <= .max_ratio and .mean_ratio >= 0;
        "\($m): \(.violations) violations, ratios \(.mean_ratio), \(.max_ratio)"))' \
  --argjson ids "$table1" --argjson n "$images"

check_json tables/units.json '
  check(length > 0; "no layers"),
  (.[] | "\(.model) layer \(.layer)" as $l
    | check(.width | pos; "\($l): width \(.width)"),
      check(.scores | length > 0; "\($l): no scores"),
      (.scores[] | .score as $s
        | (.groups[] | check((.n | pos) and (.mean | num) and (.std | nonneg) and .ci_low <= .mean and .mean <= .ci_high;
            "\($l) \($s) \(.group): \(.)")),
          (.tests[] | check((.welch_p | rate) and (.mann_whitney_p | rate) and (.auc | rate)
            and (.difference | num) and (.welch_t | num) and (.cohens_d | num);
            "\($l) \($s) \(.a) vs \(.b): \(.)"))))'

check_json report/stages.json '
  check(length > 0; "no stages"),
  (.[] | check((.seconds | nonneg) and (.skipped | type == "boolean"); "stage \(.stage): \(.)"))'

# CSV files: one field per header column on every line, no infinity, and a NaN for each
# number its JSON counterpart (same name) leaves out (null).
for csv in "$out"/tables/*.csv; do
  name=$(basename "$csv" .csv)
  json="$out/tables/$name.json"
  problems=$(awk -F, '
    { line = $0; gsub(/"[^"]*"/, "Q", line); n = split(line, f, ",") }
    NR == 1 { width = n; next }
    n != width { printf "line %d has %d fields, the header %d\n", NR, n, width }
    { for (i = 1; i <= n; i++) { if (f[i] ~ /^-?inf$/) printf "line %d: %s\n", NR, f[i]; if (f[i] == "NaN") nan++ } }
    END { if (NR < 2) print "no rows"; printf "NaN %d\n", nan }' "$csv")
  nan=$(sed -n 's/^NaN //p' <<<"$problems")
  problems=$(grep -v '^NaN ' <<<"$problems" || true)
  if [[ -n $problems ]]; then fail "tables/$name.csv: $problems"; fi
  nulls=0
  if [[ -f $json ]]; then nulls=$(jq '[.. | select(. == null)] | length' "$json"); fi
  [[ $nan == "$nulls" ]] || fail "tables/$name.csv: $nan NaN where $name.json has $nulls nulls"
done
# Row counts of the CSVs against their tables.
rows() { echo $(($(wc -l <"$out/tables/$1.csv") - 1)); }
[[ $(rows models) == $(jq length <<<"$models") ]] || fail "tables/models.csv: $(rows models) rows"
[[ $(rows table2) == $(jq length <<<"$table2_kinds") ]] || fail "tables/table2.csv: $(rows table2) rows"
[[ $(rows table4) == $(jq length <<<"$table4_kinds") ]] || fail "tables/table4.csv: $(rows table4) rows"
[[ $(rows table2-untargeted) == $(jq length <<<"$table2u_kinds") ]] || fail "tables/table2-untargeted.csv: $(rows table2-untargeted) rows"
[[ $(rows table4-untargeted) == $(jq length <<<"$table4u_kinds") ]] || fail "tables/table4-untargeted.csv: $(rows table4-untargeted) rows"
[[ $(rows table3) == 3 ]] || fail "tables/table3.csv: $(rows table3) rows"

readme="$out/report/README.md"
for section in 'Table 1' 'Table 2: cross-model' 'Table 3' 'Table 4: cross-training-set' 'Table 5' 'Figures 5 and 7'; do
  grep -q "$section" "$readme" || fail "report/README.md has no '$section'"
done
if grep -qw 'NaN' "$readme"; then fail "report/README.md shows NaN: $(grep -nw NaN "$readme" | head -3)"; fi
for id in $(jq -r '.[]' <<<"$table1"); do
  for kind in adversarial noise; do
    [[ -s $out/report/figures/$id-$kind.png ]] || fail "report/figures/$id-$kind.png is missing"
  done
done

if ((failures > 0)); then
  echo "check_smoke_outputs: $failures failed checks in $out" >&2
  exit 1
fi
echo "check_smoke_outputs: every table of $out holds what the smoke scale asks for"

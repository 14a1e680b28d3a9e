#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target for FUZZ_SECONDS each (default 180) from its corpus, then
# prints executions and findings per target. A finding is a crash input under
# fuzz/artifacts/<target>/: turn it into a regression test, then delete it.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
SECONDS_PER_TARGET="${FUZZ_SECONDS:-180}"
TARGETS="${FUZZ_TARGETS:-$(cargo fuzz list)}"

python3 seed_corpus.py
cargo fuzz build --release
mkdir -p logs
summary=()
findings_total=0
for target in $TARGETS; do
  echo "== fuzzing $target for ${SECONDS_PER_TARGET}s"
  log="logs/$target.log"
  set +e
  cargo fuzz run --release "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    >"$log" 2>&1
  status=$?
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "corpus/$target" -type f | wc -l)
  findings=$(find "artifacts/$target" -type f 2>/dev/null | wc -l)
  findings_total=$((findings_total + findings))
  if [ "$status" -ne 0 ] && [ "$findings" -eq 0 ]; then
    echo "fuzzer for $target stopped with status $status without a finding; see fuzz/$log"
    exit 1
  fi
  summary+=("| $target | ${executions:-?} | ${per_second:-?} | $corpus | $findings |")
done
echo
echo "| target | executions | per second | corpus | findings |"
echo "| --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${summary[@]}"
if [ "$findings_total" -gt 0 ]; then
  echo "findings: see fuzz/artifacts/ (reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>)"
  exit 1
fi

#!/usr/bin/env bash
# Every performance goal of issues 6 and 16 in one run, on this machine, into one folder:
#   benchmarks/run_all.sh [OUT]        (default runs/bench-<date>; about 30 minutes on 2 cores)
# Start it on an otherwise idle machine: the kernel table and the quiet rows need one. The loaded rows
# start and stop their own busy processes (bounded in time). The README's performance section quotes
# one such folder.
set -euo pipefail
out=${1:-runs/bench-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$out"
log() { echo "# $(date -u +%H:%M:%S) $*" | tee -a "$out/summary.txt"; }
timed() {  # timed NAME CMD...: wall seconds of CMD into summary.txt, its output into NAME.txt
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  "$@" > "$out/$name.txt" 2>&1
  log "$name: $(python -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s wall: $*"
}
busy() {  # one busy process for at most $1 seconds; prints its pid
  timeout "$1" python -c "while True: pass" > /dev/null 2>&1 &
  echo $!
}

log "commit $(git describe --always --dirty), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "$(python -c 'from predsparse.nn.kernels_cpu import instruction_sets; print(instruction_sets())')"
timed kernels python benchmarks/bench_kernels.py --threads 2 --rounds 5 --json "$out/kernels.json"
timed mlp_epoch python benchmarks/bench_mlp_epoch.py --epochs 5 --seeds 3
timed fc_path python benchmarks/bench_fc_path.py --busy 0,1
timed load python benchmarks/bench_load.py --json "$out/load.json"
# whole commands with the defaults a user gets: a sweep serial vs --jobs auto, the demo quiet and loaded
timed sweep_serial predsparse sweep configs/fmnist_density.toml --store "$out/serial.db" --jobs 1 --no-progress
timed sweep_auto predsparse sweep configs/fmnist_density.toml --store "$out/auto.db" --jobs auto --no-progress
timed demo_quiet predsparse demo --out "$out/demo-quiet" --no-progress
pid=$(busy 1800)
timed demo_one_busy predsparse demo --out "$out/demo-busy" --no-progress
kill "$pid" 2> /dev/null || true
cmp <(predsparse report "$out/serial.db" --sweep fmnist-density --pivot network.kind) \
    <(predsparse report "$out/auto.db" --sweep fmnist-density --pivot network.kind) \
    && log "sweep: --jobs 1 and --jobs auto stored the same table" || log "sweep: the tables DIFFER"
log "done"

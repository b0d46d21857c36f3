#!/usr/bin/env bash
# Short paired runs of candidate recipes: same seed, images, budget; judged by evaluate.
cd "$(dirname "$0")/../.."
mkdir -p "${OUT:-/tmp/recipes}"
bin=$HOME/.cache/noisescope-target/release/noisescope
data=../shared/data/fashion-mnist
common="--data $data --schedule linear --channels 16 --multipliers 1,2,4 --dropout 0 --classes 10 --noise-input logsnr --steps 1500 --batch 64 --warmup 200 --ema 0.998 --seed 1 --checkpoint-every 0"
run() { # name, extra options
  local name=$1; shift
  rm -rf ${OUT:-/tmp/recipes}/$name.nsw*
  local start=$(date +%s)
  $bin train $common "$@" --out ${OUT:-/tmp/recipes}/$name.nsw > ${OUT:-/tmp/recipes}/$name.train.log 2>&1
  local took=$(( $(date +%s) - start ))
  local json
  json=$($bin evaluate --model ${OUT:-/tmp/recipes}/$name.nsw --sampler dpmpp-2m-sde --steps 20 --n 1000 --batch 250 --data $data 2>/dev/null)
  echo "$name | $* | train ${took} s | $(python3 -c 'import json,sys; r=json.load(sys.stdin); print("FID %.1f (floor %.2f) / confident %.1f %% (real %.1f %%)" % (r["fid_samples_vs_test"], r["fid_floor_train_vs_test"], 100*r["confident_share_samples"], 100*r["confident_share_test"]))' <<<"$json") | $(tr '\r' '\n' < ${OUT:-/tmp/recipes}/$name.train.log | grep -o 'final loss [0-9.]*' | tail -1)"
}
run baseline --lr 5e-4
run lr2e-3-cosine --lr 2e-3 --lr-decay cosine
run lr2e-3-cosine-minsnr5 --lr 2e-3 --lr-decay cosine --min-snr-gamma 5
echo DONE

#!/usr/bin/env bash
# FID against the number of steps for every sampler and both shipped U-Nets, as in the README.
# Usage: docs/measure/fid-vs-steps.sh [N] > table.md   (N samples per row, default 1000)
# Rows take each sampler's default spacing; SPACINGS=1 adds the spacing comparison at 20 steps.
# Needs a release build (cargo build --release) and ../shared/data/fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000}"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/noisescope-target}/release/noisescope"
data="${NOISESCOPE_DATA:-../shared/data/fashion-mnist}"
rows=(
    "ddpm"
    "ddim --steps 10" "ddim --steps 20" "ddim --steps 50"
    "dpmpp-2m --steps 10" "dpmpp-2m --steps 20" "dpmpp-2m --steps 50"
    "dpmpp-2m-sde --steps 10" "dpmpp-2m-sde --steps 20" "dpmpp-2m-sde --steps 50"
    "euler --steps 10" "euler --steps 20"
    "heun --steps 10" "heun --steps 20"
)
if [[ "${SPACINGS:-0}" == 1 ]]; then
    for sampler in dpmpp-2m-sde dpmpp-2m euler heun; do
        for spacing in leading trailing linspace logsnr; do
            rows+=("$sampler --steps 20 --spacing $spacing")
        done
    done
fi
echo "| sampler | model calls (linear / cosine) | linear: FID / confident | cosine: FID / confident |"
echo "|---|---|---|---|"
for row in "${rows[@]}"; do
    results=()
    calls=()
    for schedule in linear cosine; do
        # shellcheck disable=SC2086
        json=$("$bin" evaluate --schedule "$schedule" --sampler $row --n "$n" --batch 250 \
            --data "$data" 2>/dev/null)
        calls+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["model_calls_per_image"])' <<<"$json")")
        results+=("$(python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.1f / %.1f %%" % (r["fid_samples_vs_test"], 100*r["confident_share_samples"]))' <<<"$json")")
    done
    if [[ "${calls[0]}" == "${calls[1]}" ]]; then call_cell="${calls[0]}"; else call_cell="${calls[0]} / ${calls[1]}"; fi
    echo "| \`--sampler $row\` | $call_cell | ${results[0]} | ${results[1]} |"
done

#!/usr/bin/env bash
# FID against the number of steps for every sampler and both shipped U-Nets, as in the README.
# Usage: docs/measure/fid-vs-steps.sh [N] > table.md   (N samples per row, default 1000)
# Needs a release build (cargo build --release) and ../shared/data/fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000}"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/noisescope-target}/release/noisescope"
data="${NOISESCOPE_DATA:-../shared/data/fashion-mnist}"
rows=(
    "ddpm"
    "ddim --steps 10" "ddim --steps 20" "ddim --steps 50"
    "dpmpp-2m --steps 10 --spacing trailing" "dpmpp-2m --steps 20 --spacing trailing"
    "dpmpp-2m --steps 50 --spacing trailing"
    "dpmpp-2m-sde --steps 10 --spacing trailing" "dpmpp-2m-sde --steps 20 --spacing trailing"
    "dpmpp-2m-sde --steps 50 --spacing trailing"
    "euler --steps 10 --spacing trailing" "euler --steps 20 --spacing trailing"
    "heun --steps 10 --spacing trailing" "heun --steps 20 --spacing trailing"
)
echo "| sampler | model calls | linear: FID / confident | cosine: FID / confident |"
echo "|---|---|---|---|"
for row in "${rows[@]}"; do
    steps=$(sed -n 's/.*--steps \([0-9]*\).*/\1/p' <<<"$row")
    case "$row" in
        ddpm*) calls=1000 ;;
        heun*) calls=$((2 * steps - 1)) ;;
        *) calls=$steps ;;
    esac
    line="| \`--sampler $row\` | $calls |"
    for schedule in linear cosine; do
        # shellcheck disable=SC2086
        json=$("$bin" evaluate --schedule "$schedule" --sampler $row --n "$n" --batch 250 \
            --data "$data" 2>/dev/null)
        line+=$(python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(" %.1f / %.1f %% |" % (r["fid_samples_vs_test"], 100*r["confident_share_samples"]))' <<<"$json")
    done
    echo "$line"
done

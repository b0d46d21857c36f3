#!/usr/bin/env bash
# Everything issue "Models worth teaching with" asks to be measured of a pair of U-Nets:
# unconditional quality with the app's default sampler and with DDPM-1000, the four pairings
# of training and sampling schedule, and the class shares per guidance scale. Prints Markdown.
#   LINEAR=FILE COSINE=FILE [N=1000] [DDPM_N=500] [CLASS_N=100] [GUIDANCE="0 1 2 3"] \
#     docs/measure/models.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-$HOME/.cache/noisescope-target/release/noisescope}
data=../shared/data/fashion-mnist
linear=${LINEAR:-training/unet-linear.nsw}
cosine=${COSINE:-training/unet-cosine.nsw}
n=${N:-1000}
ddpm_n=${DDPM_N:-500}
class_n=${CLASS_N:-100}
guidance=${GUIDANCE:-0 1 2 3}

quality() { # model, extra evaluate options → "FID (ratio) | confident (ratio) | bar"
  "$bin" evaluate --model "$1" --data "$data" "${@:2}" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%.1f (%.1f×) | %.1f %% (%.2f×) | %s" % (r["fid_samples_vs_test"], r["fid_ratio"],
      100 * r["confident_share_samples"], r["confidence_ratio"],
      "meets" if r["passes_quality_bar"] else "misses"))'
}

echo "| model | sampler | samples | FID (× floor) | confident (× real) | bar |"
echo "|---|---|---|---|---|---|"
for m in linear cosine; do
  file=${!m}
  echo "| $m | app default (SDE-DPM-Solver++(2M)-20) | $n | $(quality "$file" --n "$n") |"
  echo "| $m | DDPM-1000 | $ddpm_n | $(quality "$file" --n "$ddpm_n" --sampler ddpm) |"
done
echo
echo "| trained with | sampled with | FID (× floor) | confident (× real) | bar |"
echo "|---|---|---|---|---|"
for m in linear cosine; do
  for s in linear cosine; do
    echo "| $m | $s | $(quality "${!m}" --n "$n" --sampling-schedule "$s") |"
  done
done
echo
echo "| model | guidance w | mean class share | every class at its bar | lowest class |"
echo "|---|---|---|---|---|"
for m in linear cosine; do
  for w in $guidance; do
    "$bin" evaluate --model "${!m}" --per-class --n "$class_n" --guidance "$w" 2>/dev/null |
      python3 -c '
import json, sys
r = json.load(sys.stdin)
low = min(r["classes"], key=lambda c: c["class_share_samples"])
every = all(c["meets_class_bar"] for c in r["classes"])
print("| %s | %s | %.1f %% | %s | %s %.0f %% (real %.0f %%) |" % (sys.argv[1], r["guidance"],
      100 * r["mean_class_share_samples"], "yes" if every else "no", low["class"],
      100 * low["class_share_samples"], 100 * low["class_share_test"]))' "$m"
  done
done

#!/usr/bin/env bash
# Compare this tree's ingest against another revision's on a noisy shared machine: single runs of
# bench/ingest.py, alternated between the two trees, and the collector's own rates (ratio x the
# run's baseline) compared pair by pair. On these machines the baseline swings 2x between runs,
# so a median of each tree's ratios says little; "faster in N of M pairs" says more.
#
#   scripts/bench-ab.sh REV [STORE] [PAIRS]     e.g. scripts/bench-ab.sh HEAD~1 postgresql 8
#
# REV is checked out (detached) in a worktree under ${AB_DIR:-/tmp/homescope-ab}, with this tree's
# compiled extensions copied in (so a revision that changed C needs `setup.py build_ext` there).
# Prints one line a run, then a JSON summary. Nothing else may run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: scripts/bench-ab.sh REV [STORE] [PAIRS]}
STORE=${2:-postgresql}
PAIRS=${3:-4}
PY=$PWD/.venv/bin/python
OTHER=${AB_DIR:-/tmp/homescope-ab}
if [ -d "$OTHER" ]; then git worktree remove --force "$OTHER"; fi
git worktree add --detach "$OTHER" "$REV" >/dev/null
find collector -name '*.so' -exec cp {} "$OTHER/{}" \;
OUT=$(mktemp)
for i in $(seq 1 "$PAIRS"); do
  for side in base this; do
    tree=$PWD; [ "$side" = base ] && tree=$OTHER
    (cd "$tree" && "$PY" bench/ingest.py --reports "${AB_REPORTS:-20000}" --collectors 1 --repeat 1 \
      --stores "$STORE" --json 2>/dev/null) | "$PY" -c "
import json, sys
r = json.load(sys.stdin)[0]
row = {'side': '$side', 'pair': $i, 'ratio': r['ratio'], 'folded_ratio': r['folded_ratio'],
       'rate': round(r['ratio'] * r['baseline_per_s']), 'folded_rate': round(r['folded_ratio'] * r['baseline_per_s']),
       'cpu_us_per_report': r['cpu_us_per_report'], 'lost': r['lost'], 'duplicated': r['duplicated']}
print(json.dumps(row), flush=True)" | tee -a "$OUT"
  done
done
"$PY" - "$OUT" "$REV" "$STORE" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
side = {s: [r for r in rows if r["side"] == s] for s in ("base", "this")}
out = {"rev": sys.argv[2], "store": sys.argv[3], "pairs": len(side["this"])}
for key in ("rate", "folded_rate", "cpu_us_per_report"):
    base, this = (statistics.median(r[key] for r in side[s]) for s in ("base", "this"))
    better = sum((t[key] < b[key]) if key.startswith("cpu") else (t[key] > b[key])
                 for b, t in zip(side["base"], side["this"]))
    out[key] = {"base": base, "this": this, "change_pct": round(100 * (this / base - 1), 1), "better_in": better}
out["lost_or_duplicated"] = sum(r["lost"] + r["duplicated"] for r in rows)
print(json.dumps(out))
EOF
rm -f "$OUT"
git worktree remove --force "$OTHER"

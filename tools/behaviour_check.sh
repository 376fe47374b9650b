#!/usr/bin/env bash
# Same seed -> same metrics on CPU: prints train+eval metrics of a fixed run (no timings).
# Usage: tools/behaviour_check.sh [REPO] [OUT]; compare the printed sha256 lines of two checkouts.
set -e
R=${1:-.}; OUT=${2:-/tmp/recsimu-behaviour}
rm -rf $OUT; mkdir -p $OUT
cd $R
T="deno run -A main.ts"
$T synth --out $OUT/s --sessions 300 --seed 4 --items 80 --categories 6 --quiet
$T train --data $OUT/s/log.csv --out $OUT/m --backend cpu --seed 1 --state-length 6 --min-count 1 --hidden 16 --fc 16 --emb-dim 8 --batch 64 --i2v-epochs 1 --pre-g-epochs 1 --pre-d-epochs 1 --epochs 2 --quiet | python3 -c "import json,sys; d=json.load(sys.stdin); d.pop('seconds'); d.pop('model'); print(json.dumps(d, sort_keys=True))" > $OUT/train.json
$T eval --model $OUT/m --backend cpu --quiet | python3 -c "import json,sys; d=json.load(sys.stdin); [d.pop(k) for k in ('seconds','model','data','versions')]; print(json.dumps(d, sort_keys=True))" > $OUT/eval.json
printf '{"state":[{"item":"i1","feedback":"click"}],"action":"i2"}\n{"state":[],"action":"i3"}\n' > $OUT/q.jsonl
$T predict --model $OUT/m --backend cpu < $OUT/q.jsonl > $OUT/pred.jsonl

python3 -c "import json; h=json.load(open('$OUT/m/history.json')); [e.pop('seconds',None) for e in h]; [e.pop('samplesPerSecond',None) for e in h]; print(json.dumps(h, sort_keys=True))" > $OUT/history.json
sha256sum $OUT/m/weights.bin | cut -d' ' -f1 > $OUT/weights.sha
sha256sum $OUT/train.json $OUT/eval.json $OUT/pred.jsonl $OUT/history.json $OUT/weights.sha

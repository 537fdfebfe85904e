#!/bin/sh
# Back up one library and keep the newest N: backup.sh <hub|node> <dir> <keep> [rsync destination]
# (docs/operations.md, "备份与恢复"). Run with the library's environment (its EnvironmentFile).
set -eu
tier=$1 out=$2 keep=$3 dest=${4:-}
cd "$(dirname "$0")/../.."
py=.venv/bin/python
folder=$($py manage.py "$tier" ops backup --out "$out" | tail -n 1)
$py manage.py "$tier" ops verify --from "$folder" > /dev/null
$py manage.py "$tier" ops prune --out "$out" --keep "$keep"
if [ -n "$dest" ]; then
    # off the host: a backup on the same disk as the database is not a backup
    rsync -a "$folder" "$dest/"
fi
echo "$folder"

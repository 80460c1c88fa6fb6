#!/usr/bin/env bash
# Installs (if missing) and starts a local PostgreSQL server for the test suite,
# then prints the XL_TEST_POSTGRES_URL to export. Debian/Ubuntu only; needs root.
set -euo pipefail

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

read -r version cluster _ < <(pg_lsclusters -h | head -n 1)
pg_ctlcluster "$version" "$cluster" start 2>/dev/null || true
for _ in $(seq 1 30); do
  if su postgres -c "psql -qtAc 'SELECT 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
su postgres -c "psql -qtAc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
echo "postgres://postgres:postgres@127.0.0.1:5432/postgres"

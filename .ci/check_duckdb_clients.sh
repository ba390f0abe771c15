#!/usr/bin/env bash
# Does the published warehouse open anywhere (#18)? Audits the embedded sample into a
# temporary warehouse (or takes WAREHOUSE as $1), publishing household scores, which are kept
# in Parquet files beside the warehouse behind a view (#19), then opens it directly, read-only
# and with no ATTACH, from the repository root, with the project's DuckDB and with DuckDB 1.x
# clients installed from PyPI into throwaway environments (the Python client, and the
# command-line client where PyPI has it), reads every view (the scores' included) and runs
# every query of docs/analyst-queries.md plus its one-line 'what changed' query
# (tests/duckdb_clients.py). Needs PyPI, so it stays out of `make test`: `make check-clients`.
#
#   DUCKDB_CLIENTS="1.5.6 1.2.2 1.1.3 1.0.0"   Python client versions to try (default)
#   DUCKDB_CLI=1.5.6                             duckdb-cli version ('' for none)
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${DUCKDB_CLIENTS:-1.5.6 1.2.2 1.1.3 1.0.0}
cli_version=${DUCKDB_CLI-1.5.6}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/duckdb-clients.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export PREFECT_HOME="$scratch/prefect" PREFECT_API_URL="" PREFECT_LOGGING_LEVEL=WARNING
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 GX_ANALYTICS_ENABLED=false
export PIP_DISABLE_PIP_VERSION_CHECK=1

warehouse=${1:-}
if [[ -z $warehouse ]]; then
    warehouse="$scratch/welfare_audit.duckdb"
    echo "== auditing the embedded sample into $warehouse, with household scores"
    start=$SECONDS
    # the sample's config with household scores published; its input files stay in
    # data/sample, the report and the training cache go where `make run` puts them (data/output)
    sample=$(pwd)/data/sample
    sed -e "s|^path = \"|path = \"$sample/|" -e "s|^directory = \"\.\./output\"|directory = \"$(pwd)/data/output\"|" \
        -e 's|^min_cell_n = 10$|min_cell_n = 10\npublish_household_scores = true|' \
        data/sample/audit.toml >"$scratch/audit.toml"
    grep -q '^publish_household_scores = true' "$scratch/audit.toml"
    WELFARE_AUDIT_PSEUDONYM_KEY=check-clients-key-not-a-secret \
        .venv/bin/welfare-audit run --config "$scratch/audit.toml" --warehouse "$warehouse" \
        >"$scratch/run.log" 2>&1 || { tail -40 "$scratch/run.log"; exit 1; }
    echo "   done in $((SECONDS - start)) s"
fi
python3 - "$warehouse" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as handle:  # DuckDB's documented file header
    print(f"   storage version in the file header: {struct.unpack('<8x4sQ', handle.read(20))[1]}")
PY

failed=()
check() {  # check NAME PYTHON [OPTIONS]: run tests/duckdb_clients.py with that client
    local name=$1 python=$2
    shift 2
    echo "== $name"
    if "$python" tests/duckdb_clients.py "$warehouse" "$@" >"$scratch/check.log" 2>&1; then
        if [[ $name == project* ]]; then cat "$scratch/check.log"; else tail -1 "$scratch/check.log"; fi
    else
        cat "$scratch/check.log"
        failed+=("$name")
    fi
}

# the project's DuckDB answers first; every other client must return as many rows per query
check "project's DuckDB ($(.venv/bin/python -c 'import duckdb; print(duckdb.__version__)'))" \
    .venv/bin/python --write-rows "$scratch/rows.json"
for version in $clients; do
    venv="$scratch/duckdb-$version"
    python3 -m venv "$venv"
    packages=("duckdb==$version" pytz)  # 1.x's Python client returns timestamps through pytz
    cli=()
    if [[ $version == "$cli_version" ]]; then
        packages+=("duckdb-cli==$cli_version")
        cli=(--cli "$venv/bin/duckdb")
    fi
    if ! "$venv/bin/pip" install --quiet "${packages[@]}" >"$scratch/pip.log" 2>&1; then
        cat "$scratch/pip.log"
        failed+=("install duckdb $version")
        continue
    fi
    check "DuckDB $version${cli:+ (Python client and CLI)}" "$venv/bin/python" "${cli[@]}" \
        --expect-rows "$scratch/rows.json"
done

if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "every client opened the warehouse and answered every query"

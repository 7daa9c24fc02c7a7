#!/bin/sh
# Container entry point (compose.yaml): checks that the deployment's mounts are in place, then
# runs the dashboards or one pipeline run. A missing mount stops here with a message naming
# it, before anything starts; exit code 78 (EX_CONFIG) says "fix the configuration".
#
#   pcr-entrypoint dashboard [pcr dashboard options]   the dashboards, with sign-in, on PCR_PORT
#   pcr-entrypoint pipeline  [pcr run options]         load new exports from PCR_EXPORTS_DIR, publish
set -eu

fail() {
    echo "pcr-entrypoint: $*" >&2
    exit 78
}

need_file() {  # what, variable name, path
    [ -n "$3" ] || fail "$2 is not set: it names $1 (see docs/deployment.md)"
    [ -f "$3" ] && [ -r "$3" ] || fail "$1 is not mounted: $2=$3 is not a readable file (mounted secrets must be readable by uid $(id -u); see docs/deployment.md)"
}

command="${1:-}"
[ "$#" -gt 0 ] && shift
case "$command" in
    dashboard)
        need_file "the Streamlit secrets file with the [auth] section" PCR_SECRETS_FILE "${PCR_SECRETS_FILE:-}"
        need_file "the roles file" PCR_ROLES_FILE "${PCR_ROLES_FILE:-}"
        grep -q '^[[:space:]]*\[auth' "$PCR_SECRETS_FILE" \
            || fail "$PCR_SECRETS_FILE has no [auth] section: the dashboards are served to other computers only with sign-in"
        db="${PCR_DB:-${PCR_DATA_DIR:-/data}/pcr.duckdb}"
        [ -f "$db" ] || fail "no published database at $db yet: run the pipeline once (docker compose --profile pipeline run --rm pipeline)"
        exec pcr dashboard --address 0.0.0.0 --port "${PCR_PORT:-8501}" --db "$db" "$@"
        ;;
    pipeline)
        # Without the mounted key `pcr run` would create a new one, and the same clients would
        # hash differently from every earlier export: refuse instead.
        need_file "the HMAC key" PCR_HMAC_KEY_FILE "${PCR_HMAC_KEY_FILE:-}"
        exports="${PCR_EXPORTS_DIR:-/exports}"
        [ -d "$exports" ] || fail "the exports folder is not mounted at $exports (PCR_EXPORTS_DIR)"
        exec pcr run "$exports" "$@"
        ;;
    *)
        fail "usage: pcr-entrypoint dashboard|pipeline [options]"
        ;;
esac

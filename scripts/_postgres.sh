# Make sure a PostgreSQL answers for the tests; install and start Debian's if none does.
# Exports PATCHFLEET_TEST_PG_URL.
pg_ok() { PGCONNECT_TIMEOUT=3 psql "$1" -qAtc 'select 1' >/dev/null 2>&1; }
if [ -z "${PATCHFLEET_TEST_PG_URL:-}" ]; then
  if command -v psql >/dev/null && pg_ok "postgresql://127.0.0.1:5432/test"; then
    export PATCHFLEET_TEST_PG_URL="postgresql+psycopg://127.0.0.1:5432/test"
  else
    apt_install postgresql postgresql-client
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true  # waits until ready
    if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); else as_pg=(sudo -u postgres); fi
    "${as_pg[@]}" psql -qc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'patchfleet')
      THEN CREATE ROLE patchfleet LOGIN SUPERUSER PASSWORD 'patchfleet'; END IF; END\$\$;" >/dev/null
    export PATCHFLEET_TEST_PG_URL="postgresql+psycopg://patchfleet:patchfleet@127.0.0.1:5432/postgres"
  fi
fi

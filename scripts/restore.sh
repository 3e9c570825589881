#!/usr/bin/env bash
# Restore a `scripts/backup.sh` archive into an EMPTY PostgreSQL database and check it: the
# schema brought to the code's head, the ledger rebuilt from its journal, the audit chains
# recomputed. See docs/backup-restore.md.
#
#   scripts/restore.sh ARCHIVE
#
#   DATABASE_URL  the database to restore into: it must exist and hold no tables (create it
#                 with `createdb`); the flask commands afterwards use it too
#   FLASK         the flask command (default: .venv/bin/flask if present, else flask); run
#                 from the project's folder with the app's environment (APP_CONFIG,
#                 SECRET_KEY ...)
#
# Exit status 0 only if the restore and every check passed.
set -euo pipefail

archive=${1:?usage: scripts/restore.sh ARCHIVE}
: "${DATABASE_URL:?set DATABASE_URL to the empty database to restore into}"
url=${DATABASE_URL/postgresql+psycopg:/postgresql:}  # libpq does not know SQLAlchemy's driver
if [ -z "${FLASK:-}" ]; then
  if [ -x .venv/bin/flask ]; then FLASK=.venv/bin/flask; else FLASK=flask; fi
fi

tables=$(psql --no-psqlrc --tuples-only --no-align --dbname="$url" \
  --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "refusing to restore: the database already holds $tables tables" >&2
  exit 2
fi

# One transaction: a failed restore leaves the database empty, not half restored. Data is
# loaded before the triggers are created, so the append-only triggers come back as they were.
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
  --dbname="$url" "$archive"

$FLASK --app app db upgrade
$FLASK --app app ledger check
$FLASK --app app workflows verify-audit
echo "restored $archive and checked it"

#!/usr/bin/env bash
# Back up the card office's PostgreSQL database: one `pg_dump -Fc` archive per run, checked
# readable, then archives older than the retention removed. For cron; see
# docs/backup-restore.md.
#
#   DATABASE_URL      the app's database (postgresql+psycopg://... is accepted as the app
#                     spells it); required
#   BACKUP_DIR        where the archives go (default /var/backups/cardoffice)
#   BACKUP_KEEP_DAYS  archives older than this many days are deleted (default 35; 0 keeps all)
#
# Prints the archive's path. Exit status is not 0 if anything failed; a failed run leaves
# no archive behind (it is written under a temporary name and renamed when complete).
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the database to back up}"
dir=${BACKUP_DIR:-/var/backups/cardoffice}
keep=${BACKUP_KEEP_DAYS:-35}
url=${DATABASE_URL/postgresql+psycopg:/postgresql:}  # libpq does not know SQLAlchemy's driver

mkdir -p "$dir"
archive="$dir/cardoffice-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$archive.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --file="$partial" "$url"
pg_restore --list "$partial" >/dev/null  # the archive is complete and readable
mv "$partial" "$archive"

if [ "$keep" -gt 0 ]; then
  find "$dir" -maxdepth 1 -name 'cardoffice-*.dump' -mtime +"$keep" -delete
fi
echo "$archive"

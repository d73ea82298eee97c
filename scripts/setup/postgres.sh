# Sourced by scripts/test.sh: make a PostgreSQL server available to the tests
# as DRYDOCK_TEST_PG (a libpq URL of a superuser who may create databases).
# If DRYDOCK_TEST_PG is already set, that server is used. Otherwise a
# throwaway Debian PostgreSQL is initialised in a temporary directory, runs
# on a free loopback port as user postgres, and is stopped at exit
# (drydock_pg_stop, registered in cleanup_hooks). TCP connections need the
# password (scram), so tests can check a wrong one; the tests stop and start
# the server with `sh -c "$DRYDOCK_TEST_PG_STOP"` / `"$DRYDOCK_TEST_PG_START"`
# to exercise outages.

drydock_pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

if [ -z "${DRYDOCK_TEST_PG:-}" ]; then
    if ! pg_bin=$(drydock_pg_bin); then
        echo "postgres.sh: installing PostgreSQL"
        if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
        $apt_get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq postgresql >/dev/null
        pg_bin=$(drydock_pg_bin)
    fi
    DRYDOCK_PG_DIR=$(mktemp -d /tmp/drydock-pg.XXXXXX)
    chmod 755 "$DRYDOCK_PG_DIR"
    pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    if [ "$(id -u)" = 0 ]; then chown postgres "$DRYDOCK_PG_DIR"; fi
    as_postgres "$pg_bin/initdb" -D "$DRYDOCK_PG_DIR/data" --auth-local=trust --auth-host=scram-sha-256 -U postgres >/dev/null
    pg_options="-p $pg_port -k $DRYDOCK_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off"
    if [ "$(id -u)" = 0 ]; then run_as="runuser -u postgres --"; else run_as=""; fi
    export DRYDOCK_TEST_PG_START="$run_as $pg_bin/pg_ctl -D $DRYDOCK_PG_DIR/data -o '$pg_options' -l $DRYDOCK_PG_DIR/log -w start"
    export DRYDOCK_TEST_PG_STOP="$run_as $pg_bin/pg_ctl -D $DRYDOCK_PG_DIR/data -m fast -w stop"
    sh -c "$DRYDOCK_TEST_PG_START" >/dev/null
    as_postgres psql -q -h "$DRYDOCK_PG_DIR" -p "$pg_port" -U postgres -c "ALTER USER postgres PASSWORD 'drydock-test'" postgres
    export DRYDOCK_TEST_PG="postgres://postgres:drydock-test@127.0.0.1:$pg_port/postgres"
    export DRYDOCK_PG_DIR
    drydock_pg_stop() {
        as_postgres "$pg_bin/pg_ctl" -D "$DRYDOCK_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$DRYDOCK_PG_DIR"
    }
    cleanup_hooks+=(drydock_pg_stop)
    echo "postgres.sh: PostgreSQL on 127.0.0.1:$pg_port ($DRYDOCK_PG_DIR)"
fi

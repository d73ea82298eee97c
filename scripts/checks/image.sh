#!/usr/bin/env bash
# The service deployment recipes (deploy/), checked offline:
#  1. deploy/drydock.service passes `systemd-analyze verify` without a
#     warning, and its offline security review stays "OK" (exposure <= 2.0).
#  2. An image equivalent to deploy/Dockerfile's is assembled with buildah
#     FROM scratch (no registry here): a stripped `drydock`, the
#     shared libraries ldd lists (what distroless/cc provides), CA
#     certificates, /etc/passwd with the non-root user 65532,
#     /etc/drydock/drydock.toml from deploy/ and a state directory owned by
#     that user; the same user, working directory, entrypoint and command.
#  3. The image's entrypoint and command run under `buildah run --isolation
#     chroot` (loopback listen, token authentication): /api/v1.0/health
#     answers 204, /versions 200, an authenticated request 200 and an
#     anonymous one 401, as user 65532; SIGTERM stops it cleanly and
#     `drydock store check` in the image finds its state file sound.
#  4. The migration job: `drydock db migrate` from the image brings a fresh
#     PostgreSQL database (scripts/setup/postgres.sh's server) to the
#     current schema.
# Installs buildah and systemd (Debian) when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

say() { echo "image: $*"; }
fail() {
    echo "image: FAILED: $*" >&2
    exit 1
}
if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi

cleanup_hooks=()
cleanup() {
    local hook
    for hook in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do "$hook" || true; done
}
trap cleanup EXIT

missing=()
command -v buildah > /dev/null || missing+=(buildah)
command -v systemd-analyze > /dev/null || missing+=(systemd)
command -v curl > /dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq > /dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
fi

WORK=$(mktemp -d /tmp/drydock-image.XXXXXX)
remove_work() { "${sudo[@]}" rm -rf "$WORK"; }
cleanup_hooks+=(remove_work)

# The binary both recipes run: by default the debug binary the tests already
# built, stripped of its debug info (what is checked is the image and the
# unit around it, not the optimiser). DRYDOCK_IMAGE_PROFILE=release builds
# the release binary as the Dockerfile does; on a fresh 2-core machine that
# alone takes about 10 minutes, which would push CI past its 40-minute
# budget.
started=$SECONDS
target=${CARGO_TARGET_DIR:-$ROOT/target}
case "${DRYDOCK_IMAGE_PROFILE:-debug}" in
    release)
        say "building the release binary (cargo build --release -p drydock-http --bin drydock)"
        cargo build --release --locked --quiet -p drydock-http --bin drydock
        BIN=$target/release/drydock
        ;;
    debug)
        say "building the debug binary (cargo build -p drydock-http --bin drydock), stripped"
        cargo build --locked --quiet -p drydock-http --bin drydock
        BIN=$WORK/drydock
        objcopy --strip-debug "$target/debug/drydock" "$BIN"
        ;;
    *) fail "DRYDOCK_IMAGE_PROFILE is release or debug, not $DRYDOCK_IMAGE_PROFILE" ;;
esac
say "build: $((SECONDS - started)) s; binary $(stat -c %s "$BIN") bytes"

# 1. The systemd unit. verify checks that ExecStart's binary exists: a copy
# of the unit points at the binary just built.
sed "s#^ExecStart=/usr/local/bin/drydock #ExecStart=$BIN #" deploy/drydock.service > "$WORK/drydock.service"
grep -q "^ExecStart=$BIN serve" "$WORK/drydock.service" || fail "deploy/drydock.service: no ExecStart=/usr/local/bin/drydock serve line"
verify=$(systemd-analyze verify --man=no "$WORK/drydock.service" 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
# The threshold is in tenths: 20 is an exposure of 2.0 (of 10).
security=$(systemd-analyze security --offline=yes --threshold=20 "$WORK/drydock.service" 2>&1) \
    || fail "the unit's exposure is above 2.0: $security"
say "unit: verify clean; $(echo "$security" | grep -o 'Overall exposure level.*')"

# 2. The image, assembled as deploy/Dockerfile would: its own storage under
# $WORK (vfs: works inside containers and without overlay support).
buildah=("${sudo[@]}" buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
remove_containers() { "${buildah[@]}" rm --all > /dev/null 2>&1; "${buildah[@]}" rmi --all --force > /dev/null 2>&1; }
cleanup_hooks=(remove_containers "${cleanup_hooks[@]}")
UID_IMAGE=65532
ctr=$("${buildah[@]}" from scratch)
# Files go in through the mounted root file system (exact modes and owners).
root=$("${buildah[@]}" mount "$ctr")
as_root() { "${sudo[@]}" "$@"; }
as_root install -D -m 0755 "$BIN" "$root/usr/local/bin/drydock"
libs=$(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
[ -n "$libs" ] || fail "ldd lists no libraries for $BIN"
for lib in $libs; do
    as_root install -D -m "$(stat -L -c %a "$lib")" "$(readlink -f "$lib")" "$root$lib"
done
as_root install -d -m 0755 "$root/etc/drydock" "$root/etc/ssl/certs" "$root/var/lib"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\n' $UID_IMAGE $UID_IMAGE |
    as_root tee "$root/etc/passwd" > /dev/null
printf 'root:x:0:\nnonroot:x:%s:\n' $UID_IMAGE | as_root tee "$root/etc/group" > /dev/null
printf 'passwd: files\ngroup: files\nhosts: files dns\n' | as_root tee "$root/etc/nsswitch.conf" > /dev/null
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    as_root install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
as_root install -m 0644 deploy/drydock.toml "$root/etc/drydock/drydock.toml"
as_root install -d -m 0700 -o $UID_IMAGE -g $UID_IMAGE "$root/var/lib/drydock"
as_root install -d -m 1777 "$root/tmp"
"${buildah[@]}" umount "$ctr" > /dev/null
# The Dockerfile's USER, WORKDIR, VOLUME, EXPOSE, ENTRYPOINT and CMD.
dockerfile_json() { sed -n "s/^$1 //p" deploy/Dockerfile; }
entrypoint=$(dockerfile_json ENTRYPOINT)
command=$(dockerfile_json CMD)
if [ -z "$entrypoint" ] || [ -z "$command" ]; then fail "deploy/Dockerfile has no ENTRYPOINT or CMD line"; fi
grep -qx "USER $UID_IMAGE:$UID_IMAGE" deploy/Dockerfile || fail "deploy/Dockerfile does not run as $UID_IMAGE:$UID_IMAGE"
"${buildah[@]}" config --user "$UID_IMAGE:$UID_IMAGE" --workingdir /var/lib/drydock --volume /var/lib/drydock --port 9000 \
    --entrypoint "$entrypoint" --cmd "$command" "$ctr"
"${buildah[@]}" commit --quiet "$ctr" localhost/drydock:check > /dev/null
image_size=$("${buildah[@]}" images --format '{{.Size}}' localhost/drydock:check)
say "image assembled from scratch: $image_size ($(echo "$libs" | wc -w) libraries)"

# 3. Run the image's entrypoint and command, as the runtime would.
run=$("${buildah[@]}" from localhost/drydock:check)
token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
printf '[[token]]\ntoken = "%s"\nuser = "image-check"\nroles = ["admin"]\n' "$token" > "$WORK/tokens.toml"
"${buildah[@]}" copy --chown "$UID_IMAGE:$UID_IMAGE" --chmod 0600 "$run" "$WORK/tokens.toml" /etc/drydock/tokens.toml > /dev/null
mapfile -t argv < <("${buildah[@]}" inspect --type image localhost/drydock:check |
    python3 -c 'import json, sys; config = json.load(sys.stdin)["OCIv1"]["config"]; print(*config["Entrypoint"] + config["Cmd"], sep="\n")')
[ "${argv[*]}" = "/usr/local/bin/drydock serve --config /etc/drydock/drydock.toml" ] || fail "the image runs ${argv[*]}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log="$WORK/serve.log"
"${buildah[@]}" run --isolation chroot --env "DRYDOCK_LISTEN=127.0.0.1:$port" --env NO_COLOR=1 "$run" -- \
    "${argv[@]}" --auth token --token-file /etc/drydock/tokens.toml > "$log" 2>&1 &
runner=$!
stop_runner() { kill -KILL "$runner" 2> /dev/null; wait "$runner" 2> /dev/null; }
cleanup_hooks=(stop_runner "${cleanup_hooks[@]}")
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
    kill -0 "$runner" 2> /dev/null || fail "the server exited at start: $(cat "$log")"
    curl -s -o /dev/null "$base/api/v1.0/health" && break
    sleep 0.2
done
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$base/api/v1.0/health")" = 204 ] || fail "/api/v1.0/health did not answer 204: $(cat "$log")"
versions=$(curl -sf "$base/versions") || fail "/versions: $(cat "$log")"
echo "$versions" | grep -q '"v1.0"' || fail "/versions answered $versions"
[ "$(code -H "X-Auth-Token: $token" "$base/api/v1.0/tasks")" = 200 ] || fail "an authenticated GET /api/v1.0/tasks was refused"
[ "$(code "$base/api/v1.0/tasks")" = 401 ] || fail "an anonymous GET /api/v1.0/tasks was not refused with 401"
metrics=$(curl -sf -H "X-Auth-Token: $token" "$base/metrics") || fail "an authenticated GET /metrics failed"
echo "$metrics" | grep -q '^drydock_build_info' || fail "/metrics has no drydock_build_info: $metrics"
[ "$(code "$base/metrics")" = 401 ] || fail "an anonymous GET /metrics was not refused with 401"

# The server process: the runner's descendant named drydock.
server=""
pids=$runner
for _ in 1 2 3 4 5; do
    children=""
    for pid in $pids; do children="$children $(pgrep -P "$pid" || true)"; done
    for pid in $children; do [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = drydock ] && server=$pid; done
    [ -n "$server" ] && break
    pids=$children
done
[ -n "$server" ] || fail "cannot find the drydock process under buildah run ($runner)"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$server/status")
[ "$uid" = "$UID_IMAGE" ] || fail "the server runs as uid $uid, not $UID_IMAGE"
say "serving on $base as uid $uid: health 204, /versions, /metrics, token auth 200/401"

kill -TERM "$server"
status=0
wait "$runner" || status=$?
cleanup_hooks=("${cleanup_hooks[@]:1}")
[ "$status" = 0 ] || fail "buildah run exited $status after SIGTERM: $(cat "$log")"
grep -q "shutting down" "$log" || fail "no graceful shutdown in the log: $(cat "$log")"
check=$("${buildah[@]}" run --isolation chroot "$run" -- /usr/local/bin/drydock store check /var/lib/drydock/state.redb 2>&1) \
    || fail "drydock store check in the image: $check"
say "stopped cleanly on SIGTERM; $check"

# 4. The migration job against a fresh PostgreSQL database.
if [ -z "${DRYDOCK_TEST_PG:-}" ]; then
    # shellcheck source=/dev/null
    source scripts/setup/postgres.sh
fi
database="drydock_image_check_$$"
psql -q "$DRYDOCK_TEST_PG" -c "CREATE DATABASE $database" > /dev/null
drop_database() { psql -q "$DRYDOCK_TEST_PG" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" > /dev/null; }
cleanup_hooks=(drop_database "${cleanup_hooks[@]}")
migrated=$("${buildah[@]}" run --isolation chroot --env "DRYDOCK_STORE=${DRYDOCK_TEST_PG%/*}/$database" "$run" -- \
    /usr/local/bin/drydock db migrate 2>&1) || fail "drydock db migrate in the image: $migrated"
echo "$migrated" | grep -q "migrated from schema version 0 to [1-9]" || fail "drydock db migrate said: $migrated"
recorded=$(psql -qtA "${DRYDOCK_TEST_PG%/*}/$database" -c "SELECT count(*) FROM drydock_schema_migrations")
[ "$recorded" -ge 1 ] || fail "no migrations recorded in $database"
say "db migrate from the image: ${migrated#*: }"
say "ok ($((SECONDS - started)) s in all)"

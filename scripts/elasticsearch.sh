#!/usr/bin/env bash
# Provision real Elasticsearch nodes on 127.0.0.1 for casedigest tests, CI and
# developers. See scripts/README-elasticsearch.md.
#
#   elasticsearch.sh start [--port P] [--timeout S]
#                          [--security --user U --password PW
#                           [--reader-user U --reader-password PW]]
#   elasticsearch.sh stop [--port P | --all] [--timeout S]
#   elasticsearch.sh status
#   elasticsearch.sh cluster N [--base-port P] [--timeout S]
#   elasticsearch.sh kill-node PORT
#   elasticsearch.sh restart-node PORT [--timeout S]
#
# stdout carries only the URL(s) printed by start/cluster/restart-node (and the
# table printed by status); every message goes to stderr.
set -euo pipefail

readonly ES_VERSION="8.19.21"
readonly ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
# SHA-512 of elasticsearch-8.19.21.zip (integ-test-zip) as published on Maven
# Central (elasticsearch-8.19.21.zip.sha512) and recomputed with sha512sum.
readonly ES_SHA512="cf6b0a93860d329937ae7f913ec5073b0c726c77639764b93fc83a304aa1dd9d4defcfa2849948eea3b0b47c2065f994908603939fc2a4774c9c4d868c5ec1dd"

readonly CACHE_ROOT="${CASEDIGEST_CACHE:-${HOME:-/root}/.cache/casedigest}"
readonly ES_CACHE="${CACHE_ROOT}/elasticsearch/${ES_VERSION}"
readonly RUN_ROOT="${CASEDIGEST_ES_RUN:-/tmp/casedigest-es}"
readonly DEFAULT_PORT="${CASEDIGEST_ES_PORT:-9200}"
readonly OS_USER="${CASEDIGEST_ES_OS_USER:-casedigest-es}"
readonly JAVA_OPTS="${CASEDIGEST_ES_JAVA_OPTS:--Xms512m -Xmx512m}"
readonly TRANSPORT_OFFSET=100   # transport port = http port + 100
readonly STOP_TIMEOUT_DEFAULT=30
readonly START_TIMEOUT_DEFAULT=120
readonly READER_ROLE="casedigest_reader"

PROG="$(basename "$0")"
readonly PROG

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
Usage:
  $PROG start [--port P] [--timeout S]
              [--security --user U --password PW [--reader-user U --reader-password PW]]
        Start one node on 127.0.0.1:P (default ${DEFAULT_PORT}); prints its URL.
  $PROG stop [--port P | --all] [--timeout S]
        Stop node(s) started by this script (TERM, then KILL after S seconds).
  $PROG status
        List nodes started by this script (port, pid, alive, health).
  $PROG cluster N [--base-port P] [--timeout S]
        Start N nodes forming one cluster on http ports P..P+N-1; prints the
        URLs comma-separated.
  $PROG kill-node PORT
        kill -9 one node (fault tests).
  $PROG restart-node PORT [--timeout S]
        Start a stopped/killed node again with the same settings and data.

Environment: CASEDIGEST_CACHE (download cache, default ~/.cache/casedigest),
CASEDIGEST_ES_RUN (run folders, default /tmp/casedigest-es), CASEDIGEST_ES_PORT
(default port, 9200), CASEDIGEST_ES_JAVA_OPTS (default "-Xms512m -Xmx512m"),
CASEDIGEST_ES_OS_USER (user that runs ES when invoked as root, default
casedigest-es), CASEDIGEST_ES_ZIP (use this local zip instead of Maven; it is
still checked against the pinned SHA-512), ES_JAVA_HOME (JDK to use).
EOF
}

is_root() { [ "$(id -u)" -eq 0 ]; }

now() { date +%s; }

valid_port() {
  [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1024 ] && [ "$1" -le 65535 ]
}

need_port() {
  valid_port "$1" || die "invalid port '$1' (expected 1024..65535)"
  valid_port "$(( $1 + TRANSPORT_OFFSET ))" \
    || die "port $1: transport port $(( $1 + TRANSPORT_OFFSET )) would exceed 65535"
}

need_int() {  # name value
  { [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ]; } || die "$1 must be a positive integer, got '$2'"
}

port_in_use() {  # port -> 0 if something accepts connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------- locking ---
# Per-key advisory locks so concurrent invocations (parallel test workers) do
# not race on the same port or on the download.
# The descriptors are remembered so that they are closed before launching
# Elasticsearch (a daemon inheriting them would hold the locks forever).
LOCK_FDS=()
lock() {  # lockfile
  command -v flock >/dev/null 2>&1 || return 0
  local fd
  exec {fd}>>"$1"
  LOCK_FDS+=("$fd")
  flock "$fd"
}

close_lock_fds() {
  local fd
  for fd in "${LOCK_FDS[@]}"; do
    exec {fd}>&-
  done
}

# ------------------------------------------------------------------- java ---
java_home() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then
    [ -x "${ES_JAVA_HOME}/bin/java" ] || die "ES_JAVA_HOME=${ES_JAVA_HOME} has no bin/java"
    printf '%s\n' "$ES_JAVA_HOME"
    return
  fi
  local java
  java="$(command -v java || true)"
  [ -n "$java" ] || die "java not found on PATH; install OpenJDK 17+ (apt-get install openjdk-17-jre-headless) or set ES_JAVA_HOME"
  java="$(readlink -f "$java")"
  printf '%s\n' "${java%/bin/java}"
}

# ---------------------------------------------------------- distribution ---
dist_dir() { printf '%s\n' "${ES_CACHE}/elasticsearch-${ES_VERSION}"; }

sha512_of() { sha512sum "$1" | awk '{print $1}'; }

ensure_distribution() {
  local dist marker
  dist="$(dist_dir)"
  marker="${dist}/.casedigest-verified"
  if [ -f "$marker" ] && [ -x "${dist}/bin/elasticsearch" ]; then
    return 0
  fi
  mkdir -p "$ES_CACHE" || die "cannot create cache folder ${ES_CACHE}"
  lock "${ES_CACHE}/.lock"
  if [ -f "$marker" ] && [ -x "${dist}/bin/elasticsearch" ]; then
    return 0  # another process finished it while we waited for the lock
  fi

  local tmp zip t0 published actual
  tmp="$(mktemp -d "${ES_CACHE}/.download.XXXXXX")"
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  zip="${tmp}/elasticsearch-${ES_VERSION}.zip"
  t0="$(now)"
  if [ -n "${CASEDIGEST_ES_ZIP:-}" ]; then
    [ -f "$CASEDIGEST_ES_ZIP" ] || die "CASEDIGEST_ES_ZIP=${CASEDIGEST_ES_ZIP} does not exist"
    log "using local archive ${CASEDIGEST_ES_ZIP}"
    cp "$CASEDIGEST_ES_ZIP" "$zip"
  else
    command -v mvn >/dev/null 2>&1 \
      || die "mvn not found; install Maven (apt-get install maven) or set CASEDIGEST_ES_ZIP to a local elasticsearch-${ES_VERSION} integ-test zip"
    log "downloading Elasticsearch ${ES_VERSION} (integ-test-zip, ~107 MB) from Maven into ${tmp}"
    if ! mvn -B -q dependency:copy -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$tmp" >"${tmp}/mvn.log" 2>&1; then
      tail -n 30 "${tmp}/mvn.log" >&2 || true
      die "Maven download of ${ES_ARTIFACT} failed (see output above)"
    fi
    [ -f "$zip" ] || die "Maven did not produce ${zip}"
    # Maven Central also publishes a .sha512; fetch it as a cross-check.
    if mvn -B -q dependency:copy -Dartifact="${ES_ARTIFACT}.sha512" -DoutputDirectory="$tmp" >>"${tmp}/mvn.log" 2>&1 \
       && [ -f "${zip}.sha512" ]; then
      published="$(awk '{print $1; exit}' "${zip}.sha512")"
      [ "$published" = "$ES_SHA512" ] \
        || die "SHA-512 published on Maven Central (${published}) differs from the hash pinned in ${PROG} (${ES_SHA512}); refusing to continue"
    else
      log "note: could not fetch the published .sha512 (only the pinned hash is checked)"
    fi
    log "download took $(( $(now) - t0 )) s"
  fi

  actual="$(sha512_of "$zip")"
  if [ "$actual" != "$ES_SHA512" ]; then
    die "SHA-512 mismatch for elasticsearch-${ES_VERSION}.zip:
  expected (pinned) ${ES_SHA512}
  actual            ${actual}
The download is corrupt or not the pinned artifact. If Maven cached a bad copy,
delete ~/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${ES_VERSION}
and retry."
  fi
  log "SHA-512 verified"

  command -v unzip >/dev/null 2>&1 || die "unzip not found (apt-get install unzip)"
  t0="$(now)"
  rm -rf "$dist"
  unzip -q "$zip" -d "${tmp}/unpack" || die "unzip of ${zip} failed"
  [ -x "${tmp}/unpack/elasticsearch-${ES_VERSION}/bin/elasticsearch" ] \
    || die "unexpected archive layout: no elasticsearch-${ES_VERSION}/bin/elasticsearch"
  printf '%s\n' "$ES_SHA512" >"${tmp}/unpack/elasticsearch-${ES_VERSION}/.casedigest-verified"
  mv "${tmp}/unpack/elasticsearch-${ES_VERSION}" "$dist"
  log "unpacked into ${dist} in $(( $(now) - t0 )) s"
  rm -rf "$tmp"
  trap - EXIT
}

# The home used to run ES. As root, ES runs as $OS_USER, which must be able to
# read the distribution; a cache below a private home (e.g. /root, mode 700)
# is not reachable, so a hard-linked mirror under the run folder is used then.
runtime_home() {
  local dist
  dist="$(dist_dir)"
  if ! is_root || run_as test -x "${dist}/bin/elasticsearch" -a -r "${dist}/lib"; then
    printf '%s\n' "$dist"
    return
  fi
  local mirror="${RUN_ROOT}/.dist/elasticsearch-${ES_VERSION}"
  if [ ! -f "${mirror}/.casedigest-verified" ]; then
    log "${OS_USER} cannot read ${dist}; mirroring it to ${mirror}"
    mkdir -p "${RUN_ROOT}/.dist"
    chmod 755 "${RUN_ROOT}/.dist"
    rm -rf "$mirror" "${mirror}.tmp"
    cp -al "$dist" "${mirror}.tmp" 2>/dev/null || { rm -rf "${mirror}.tmp"; cp -a "$dist" "${mirror}.tmp"; }
    mv "${mirror}.tmp" "$mirror"
  fi
  run_as test -x "${mirror}/bin/elasticsearch" \
    || die "${OS_USER} cannot execute ${mirror}/bin/elasticsearch; set CASEDIGEST_ES_RUN to a world-traversable folder"
  printf '%s\n' "$mirror"
}

# ------------------------------------------------------------------ users ---
ensure_os_user() {
  is_root || return 0
  if ! id -u "$OS_USER" >/dev/null 2>&1; then
    log "creating system user ${OS_USER} (Elasticsearch refuses to run as root)"
    useradd --system --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$OS_USER" \
      || die "could not create system user ${OS_USER}"
  fi
}

# Run a command as the user that owns ES processes (current user if not root).
run_as() {
  if is_root; then
    local cmd
    cmd="$(printf '%q ' "$@")"
    (cd / && su "$OS_USER" -s /bin/bash -c "$cmd")
  else
    "$@"
  fi
}

give_to_es_user() {  # paths...
  is_root || return 0
  chown -R "${OS_USER}:" "$@"
}

ensure_dist_owner() {
  is_root || return 0
  local home="$1"
  if [ "$(stat -c %U "$home")" != "$OS_USER" ] || [ "$(stat -c %U "${home}/lib")" != "$OS_USER" ]; then
    chown -R "${OS_USER}:" "$home"
  fi
}

# ------------------------------------------------------------- run folder ---
node_dir() { printf '%s\n' "${RUN_ROOT}/$1"; }
pid_file() { printf '%s\n' "$(node_dir "$1")/run/es.pid"; }

meta_get() {  # port key
  local f
  f="$(node_dir "$1")/node.meta"
  [ -f "$f" ] || return 0
  sed -n "s/^$2=//p" "$f" | head -n 1
}

node_pid() {  # port -> pid if the pid file exists
  local f
  f="$(pid_file "$1")"
  [ -f "$f" ] || return 0
  tr -dc '0-9' <"$f"
}

# True if the pid in the node's pid file is a live ES process of that node
# (its command line mentions the node's folder, which guards against pid reuse).
node_alive() {  # port
  pid_is_node "$1" "$(node_pid "$1")"
}

pid_is_node() {  # port pid
  local pid="$2"
  [ -n "$pid" ] || return 1
  [ -r "/proc/${pid}/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "$(node_dir "$1")/" || return 1
}

known_ports() {  # ports that have a run folder created by this script
  local d
  [ -d "$RUN_ROOT" ] || return 0
  for d in "$RUN_ROOT"/*/; do
    [ -f "${d}node.meta" ] || continue
    d="${d%/}"
    basename "$d"
  done | sort -n
}

# curl the node; prints HTTP status code, body into file $3 (optional)
http_code() {  # port path [bodyfile]
  local port="$1" path="$2" out="${3:-/dev/null}" cred
  local -a auth=()
  cred="$(node_dir "$port")/.credentials"
  if [ -r "$cred" ]; then
    auth=(--user "$(cat "$cred")")
  fi
  curl -s -o "$out" -w '%{http_code}' --max-time 10 "${auth[@]}" \
    "http://127.0.0.1:${port}${path}" 2>/dev/null || true
}

health_ok() {  # port nodes
  local q="/_cluster/health?wait_for_status=yellow&timeout=1s"
  [ "$2" -gt 1 ] && q="${q}&wait_for_nodes=$2"
  [ "$(http_code "$1" "$q")" = "200" ]
}

health_status() {  # port -> green/yellow/red/http-XXX/down
  local body code status
  body="$(mktemp)"
  code="$(http_code "$1" "/_cluster/health" "$body")"
  if [ "$code" = "200" ]; then
    status="$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' "$body")"
    printf '%s(%s nodes)\n' "${status:-?}" "$(sed -n 's/.*"number_of_nodes":\([0-9]*\).*/\1/p' "$body")"
  elif [ "$code" = "000" ] || [ -z "$code" ]; then
    printf 'down\n'
  else
    printf 'http-%s\n' "$code"
  fi
  rm -f "$body"
}

print_log_tail() {  # port
  local dir f other
  dir="$(node_dir "$1")"
  f="${dir}/logs/$(meta_get "$1" cluster).log"
  if [ -s "$f" ]; then
    log "last 30 lines of ${f}:"
    tail -n 30 "$f" >&2 || true
    # launcher.log repeats the log lines; show only what it has in addition
    # (JVM and launcher errors).
    other="$(grep -v '^\[[0-9]\{4\}-' "${dir}/launcher.log" 2>/dev/null | tail -n 15 || true)"
    if [ -n "$other" ]; then
      log "launcher output (${dir}/launcher.log):"
      printf '%s\n' "$other" >&2
    fi
  elif [ -s "${dir}/launcher.log" ]; then
    log "last 30 lines of ${dir}/launcher.log:"
    tail -n 30 "${dir}/launcher.log" >&2 || true
  else
    log "no log output in ${dir}"
  fi
}

# Write the node's folder, config copy and start script. Args:
#   port cluster_name nodes_total seed_hosts initial_masters security(0/1)
prepare_node() {
  local port="$1" cname="$2" total="$3" seeds="$4" masters="$5" security="$6"
  local dir home jhome tport
  dir="$(node_dir "$port")"
  home="$(runtime_home)"
  jhome="$(java_home)"
  tport=$(( port + TRANSPORT_OFFSET ))

  rm -rf "$dir"
  mkdir -p "$dir"/{data,logs,run,tmp}
  chmod 755 "$RUN_ROOT" "$dir"
  cp -a "${home}/config" "${dir}/config"

  local -a args=(
    -d -p "${dir}/run/es.pid"
    "-Ecluster.name=${cname}"
    "-Enode.name=node-${port}"
    "-Enetwork.host=127.0.0.1"
    "-Ehttp.port=${port}"
    "-Etransport.port=${tport}"
    "-Epath.data=${dir}/data"
    "-Epath.logs=${dir}/logs"
    "-Ecluster.routing.allocation.disk.threshold_enabled=false"
  )
  if [ "$total" -eq 1 ]; then
    args+=("-Ediscovery.type=single-node")
  else
    args+=("-Ediscovery.seed_hosts=${seeds}" "-Ecluster.initial_master_nodes=${masters}")
  fi
  if [ "$security" = "1" ]; then
    args+=(
      "-Expack.security.enabled=true"
      "-Expack.security.http.ssl.enabled=false"
      "-Expack.security.transport.ssl.enabled=false"
    )
  else
    args+=("-Expack.security.enabled=false")
  fi

  {
    printf '#!/usr/bin/env bash\n'
    printf '# Generated by scripts/elasticsearch.sh: starts node %s with the same settings\n' "$port"
    printf '# and data; used by "restart-node". Run it as the user that owns %s.\n' "$dir"
    printf 'set -euo pipefail\n'
    printf 'cd %q\n' "$dir"
    printf 'export ES_JAVA_HOME=%q\n' "$jhome"
    printf 'export ES_PATH_CONF=%q\n' "${dir}/config"
    printf 'export ES_TMPDIR=%q\n' "${dir}/tmp"
    printf 'export ES_JAVA_OPTS=%q\n' "$JAVA_OPTS"
    printf 'exec %q' "${home}/bin/elasticsearch"
    printf ' %q' "${args[@]}"
    printf '\n'
  } >"${dir}/start.sh"
  chmod 755 "${dir}/start.sh"

  {
    printf 'version=%s\n' "$ES_VERSION"
    printf 'cluster=%s\n' "$cname"
    printf 'nodes=%s\n' "$total"
    printf 'security=%s\n' "$security"
    printf 'transport_port=%s\n' "$tport"
  } >"${dir}/node.meta"

  give_to_es_user "${dir}/data" "${dir}/logs" "${dir}/run" "${dir}/tmp" "${dir}/config"
}

# Start a node in the background: start.sh runs "elasticsearch -d", whose
# launcher only returns once the node has started (for a cluster member: has
# joined the cluster, up to discovery.initial_state_timeout), so it is not
# waited for here; wait_healthy bounds launcher and health with one deadline.
declare -A LAUNCHERS=()
launch_node() {  # port
  local port="$1" dir
  dir="$(node_dir "$port")"
  rm -f "$(pid_file "$port")"
  : >"${dir}/launcher.log"
  (close_lock_fds; run_as bash "${dir}/start.sh" </dev/null >>"${dir}/launcher.log" 2>&1) &
  LAUNCHERS[$port]=$!
}

descendants() {  # pid -> pids of all its descendants
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    printf '%s\n' "$child"
    descendants "$child"
  done
}

# Stop launchers still running (and the processes they spawned): TERM, wait up
# to 15 s, then KILL.
kill_launchers() {
  local port pid i
  local -a victims=() left
  for port in "${!LAUNCHERS[@]}"; do
    victims+=("${LAUNCHERS[$port]}")
    mapfile -t -O "${#victims[@]}" victims < <(descendants "${LAUNCHERS[$port]}")
  done
  [ "${#victims[@]}" -gt 0 ] || return 0
  for pid in "${victims[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for (( i = 0; i < 75; i++ )); do
    left=()
    for pid in "${victims[@]}"; do pid_running "$pid" && left+=("$pid"); done
    [ "${#left[@]}" -eq 0 ] && break
    sleep 0.2
  done
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for port in "${!LAUNCHERS[@]}"; do wait "${LAUNCHERS[$port]}" 2>/dev/null || true; done
  LAUNCHERS=()
}

# Print logs, stop what this command started (cleanup=1), and exit.
startup_failed() {  # cleanup message "ports-to-show-logs-of" all-ports...
  local cleanup="$1" msg="$2" show="$3" port; shift 3
  for port in $show; do print_log_tail "$port"; done
  if [ "$cleanup" = "1" ]; then
    log "stopping the node(s) started by this command"
    kill_launchers
    (stop_ports 15 "$@") || true
  fi
  die "$msg"
}

# Wait until every launcher has returned and every port answers yellow/green
# health (with the node count of its cluster), all within one deadline. With
# cleanup=1 the nodes are stopped again on failure, so nothing is left running.
wait_healthy() {  # timeout cleanup(0|1) ports...
  local timeout="$1" cleanup="$2"; shift 2
  local deadline port nodes lpid rc
  local -a pending
  deadline=$(( $(now) + timeout ))
  while :; do
    pending=()
    for port in "$@"; do
      lpid="${LAUNCHERS[$port]:-}"
      if [ -n "$lpid" ]; then
        if pid_running "$lpid"; then
          pending+=("$port")
          continue
        fi
        rc=0
        wait "$lpid" || rc=$?
        unset "LAUNCHERS[$port]"
        if [ "$rc" -ne 0 ]; then
          startup_failed "$cleanup" "Elasticsearch on port ${port} failed to start (launcher exit code ${rc}; run folder $(node_dir "$port"))" "$port" "$@"
        fi
      fi
      if ! node_alive "$port"; then
        startup_failed "$cleanup" "Elasticsearch on port ${port} is not running / exited during startup (run folder $(node_dir "$port"))" "$port" "$@"
      fi
      nodes="$(meta_get "$port" nodes)"
      health_ok "$port" "${nodes:-1}" || pending+=("$port")
    done
    [ "${#pending[@]}" -eq 0 ] && return 0
    if [ "$(now)" -ge "$deadline" ]; then
      startup_failed "$cleanup" "timed out after ${timeout} s waiting for Elasticsearch to start with yellow/green health on port(s) ${pending[*]}" "${pending[*]}" "$@"
    fi
    sleep 1
  done
}

check_port_free() {  # port
  local p
  for p in "$1" "$(( $1 + TRANSPORT_OFFSET ))"; do
    if port_in_use "$p"; then
      die "port ${p} on 127.0.0.1 is already in use by a process not started by this script (or by another node's transport port)"
    fi
  done
}

# --------------------------------------------------------------- commands ---
cmd_start() {
  local port="$DEFAULT_PORT" timeout="$START_TIMEOUT_DEFAULT" security=0
  local user="" password="" ruser="" rpassword=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
      --security) security=1; shift ;;
      --user) user="${2:?--user needs a value}"; shift 2 ;;
      --password) password="${2:?--password needs a value}"; shift 2 ;;
      --reader-user) ruser="${2:?--reader-user needs a value}"; shift 2 ;;
      --reader-password) rpassword="${2:?--reader-password needs a value}"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "start: unknown argument '$1' (see --help)" ;;
    esac
  done
  need_port "$port"
  need_int --timeout "$timeout"
  if [ "$security" = "1" ]; then
    { [ -n "$user" ] && [ -n "$password" ]; } || die "--security needs --user and --password"
    [ "${#password}" -ge 6 ] || die "--password must be at least 6 characters (Elasticsearch file realm rule)"
    if [ -n "$ruser" ] || [ -n "$rpassword" ]; then
      { [ -n "$ruser" ] && [ -n "$rpassword" ]; } || die "--reader-user and --reader-password go together"
      [ "${#rpassword}" -ge 6 ] || die "--reader-password must be at least 6 characters"
      [ "$ruser" != "$user" ] || die "--reader-user must differ from --user"
    fi
  else
    [ -z "$user$password$ruser$rpassword" ] || die "--user/--password/--reader-* need --security"
  fi

  mkdir -p "$RUN_ROOT"
  lock "${RUN_ROOT}/.lock-${port}"
  local dir signature
  dir="$(node_dir "$port")"
  signature="single security=${security} user=${user} reader=${ruser}"
  if node_alive "$port"; then
    if [ "$(cat "${dir}/signature" 2>/dev/null || true)" != "$signature" ] \
       || { [ "$security" = "1" ] && [ "$(cat "${dir}/.credentials" 2>/dev/null || true)" != "${user}:${password}" ]; }; then
      die "a node started by this script is already running on port ${port} with different settings; stop it first ($PROG stop --port ${port})"
    fi
    if health_ok "$port" 1; then
      log "node on port ${port} is already running and healthy"
      printf 'http://127.0.0.1:%s\n' "$port"
      return 0
    fi
    log "node on port ${port} is running but not healthy yet; waiting"
    wait_healthy "$timeout" 0 "$port"
    printf 'http://127.0.0.1:%s\n' "$port"
    return 0
  fi
  check_port_free "$port"

  local t0
  t0="$(now)"
  ensure_distribution
  ensure_os_user
  ensure_dist_owner "$(runtime_home)"
  prepare_node "$port" "casedigest-${port}" 1 "" "" "$security"
  printf '%s\n' "$signature" >"${dir}/signature"

  if [ "$security" = "1" ]; then
    local home jhome
    home="$(runtime_home)"
    jhome="$(java_home)"
    if [ -n "$ruser" ]; then
      cat >>"${dir}/config/roles.yml" <<EOF

# Added by scripts/elasticsearch.sh: read-only access to every index.
${READER_ROLE}:
  cluster: ["monitor"]
  indices:
    - names: ["*"]
      privileges: ["read", "view_index_metadata", "monitor"]
      allow_restricted_indices: false
EOF
    fi
    log "creating file-realm user ${user} (superuser)"
    run_as env ES_JAVA_HOME="$jhome" ES_PATH_CONF="${dir}/config" \
      "${home}/bin/elasticsearch-users" useradd "$user" -p "$password" -r superuser >&2 \
      || die "elasticsearch-users useradd ${user} failed"
    if [ -n "$ruser" ]; then
      log "creating file-realm user ${ruser} (${READER_ROLE}: read-only)"
      run_as env ES_JAVA_HOME="$jhome" ES_PATH_CONF="${dir}/config" \
        "${home}/bin/elasticsearch-users" useradd "$ruser" -p "$rpassword" -r "$READER_ROLE" >&2 \
        || die "elasticsearch-users useradd ${ruser} failed"
    fi
    (umask 077 && printf '%s:%s\n' "$user" "$password" >"${dir}/.credentials")
  fi

  local t1
  t1="$(now)"
  log "starting Elasticsearch ${ES_VERSION} on http://127.0.0.1:${port} (run folder ${dir})"
  launch_node "$port"
  wait_healthy "$timeout" 1 "$port"
  log "node on port ${port} healthy after $(( $(now) - t1 )) s (total $(( $(now) - t0 )) s)"
  printf 'http://127.0.0.1:%s\n' "$port"
}

cmd_cluster() {
  local n="" base="$DEFAULT_PORT" timeout="$START_TIMEOUT_DEFAULT"
  while [ $# -gt 0 ]; do
    case "$1" in
      --base-port) base="${2:?--base-port needs a value}"; shift 2 ;;
      --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      -*) die "cluster: unknown argument '$1' (see --help)" ;;
      *) [ -z "$n" ] || die "cluster: unexpected argument '$1'"; n="$1"; shift ;;
    esac
  done
  [ -n "$n" ] || die "cluster: missing node count (e.g. '$PROG cluster 3')"
  need_int "node count" "$n"
  need_int --timeout "$timeout"
  [ "$n" -le 20 ] || die "cluster: at most 20 nodes"
  local i port ports=() urls=() seeds="" masters="" cname="casedigest-cluster-${base}"
  for (( i = 0; i < n; i++ )); do
    port=$(( base + i ))
    need_port "$port"
    ports+=("$port")
    urls+=("http://127.0.0.1:${port}")
    seeds+="${seeds:+,}127.0.0.1:$(( port + TRANSPORT_OFFSET ))"
    masters+="${masters:+,}node-${port}"
  done
  local joined
  joined="$(IFS=,; printf '%s' "${urls[*]}")"

  mkdir -p "$RUN_ROOT"
  for port in "${ports[@]}"; do lock "${RUN_ROOT}/.lock-${port}"; done

  local running=0
  for port in "${ports[@]}"; do
    if node_alive "$port"; then
      running=$(( running + 1 ))
      if [ "$(meta_get "$port" cluster)" != "$cname" ] || [ "$(meta_get "$port" nodes)" != "$n" ]; then
        die "port ${port} is used by another running node started by this script; stop it first ($PROG stop --port ${port})"
      fi
    fi
  done
  if [ "$running" -eq "$n" ]; then
    log "cluster ${cname} with ${n} nodes is already running"
    wait_healthy "$timeout" 0 "${ports[@]}"
    printf '%s\n' "$joined"
    return 0
  elif [ "$running" -gt 0 ]; then
    die "cluster ${cname} is partially running (${running}/${n} nodes); use restart-node, or stop --all first"
  fi
  for port in "${ports[@]}"; do check_port_free "$port"; done

  local t0
  t0="$(now)"
  ensure_distribution
  ensure_os_user
  ensure_dist_owner "$(runtime_home)"
  for port in "${ports[@]}"; do
    prepare_node "$port" "$cname" "$n" "$seeds" "$masters" 0
    printf 'cluster %s nodes=%s\n' "$cname" "$n" >"$(node_dir "$port")/signature"
  done
  log "starting ${n}-node cluster ${cname} on http ports ${ports[0]}..${ports[$(( n - 1 ))]}"
  for port in "${ports[@]}"; do launch_node "$port"; done
  wait_healthy "$timeout" 1 "${ports[@]}"
  log "cluster healthy with ${n} nodes after $(( $(now) - t0 )) s"
  printf '%s\n' "$joined"
}

# True while any thread of the process is alive (not a zombie). Used after the
# pid's identity was checked: during exit /proc/PID/cmdline becomes empty, and
# the main thread of a JVM turns zombie before the other threads have released
# files and sockets.
pid_running() {  # pid
  local f state
  [ -d "/proc/$1" ] || return 1
  for f in "/proc/$1"/task/*/stat; do
    state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "$f" 2>/dev/null || true)"
    if [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]; then
      return 0
    fi
  done
  return 1
}

stop_ports() {  # timeout ports...
  # Elasticsearch deletes its pid file as soon as shutdown begins, so the
  # pids are remembered here and waited for directly.
  local timeout="$1"; shift
  local port pid deadline i
  local -a ports=() pids=()
  for port in "$@"; do
    if node_alive "$port"; then
      pid="$(node_pid "$port")"
      log "stopping node on port ${port} (pid ${pid})"
      kill -TERM "$pid" 2>/dev/null || true
      ports+=("$port"); pids+=("$pid")
    else
      log "node on port ${port} is not running"
    fi
  done
  [ "${#ports[@]}" -gt 0 ] || return 0
  deadline=$(( $(now) + timeout ))
  while :; do
    local -a left=()
    for i in "${!ports[@]}"; do
      pid_running "${pids[$i]}" && left+=("$i")
    done
    [ "${#left[@]}" -eq 0 ] && break
    if [ "$(now)" -ge "$deadline" ]; then
      for i in "${left[@]}"; do
        log "node on port ${ports[$i]} (pid ${pids[$i]}) did not stop within ${timeout} s; sending KILL"
        kill -KILL "${pids[$i]}" 2>/dev/null || true
      done
      sleep 1
      break
    fi
    sleep 0.2
  done
  for i in "${!ports[@]}"; do
    if pid_running "${pids[$i]}"; then
      die "node on port ${ports[$i]} (pid ${pids[$i]}) is still alive"
    fi
    rm -f "$(pid_file "${ports[$i]}")"
    log "node on port ${ports[$i]} stopped"
  done
}

cmd_stop() {
  local port="" all=0 timeout="$STOP_TIMEOUT_DEFAULT"
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      --all) all=1; shift ;;
      --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) die "stop: unknown argument '$1' (see --help)" ;;
    esac
  done
  need_int --timeout "$timeout"
  if [ "$all" = "1" ]; then
    [ -z "$port" ] || die "stop: use either --port or --all"
    local ports
    mapfile -t ports < <(known_ports)
    if [ "${#ports[@]}" -eq 0 ]; then
      log "no nodes started by this script under ${RUN_ROOT}"
      return 0
    fi
    stop_ports "$timeout" "${ports[@]}"
  else
    port="${port:-$DEFAULT_PORT}"
    need_port "$port"
    if [ ! -f "$(node_dir "$port")/node.meta" ]; then
      log "no node started by this script on port ${port}"
      return 0
    fi
    stop_ports "$timeout" "$port"
  fi
}

cmd_status() {
  [ $# -eq 0 ] || die "status takes no arguments"
  local ports port pid alive health
  mapfile -t ports < <(known_ports)
  if [ "${#ports[@]}" -eq 0 ]; then
    log "no nodes started by this script under ${RUN_ROOT}"
    return 0
  fi
  printf '%-6s %-8s %-5s %-22s %-8s %s\n' PORT PID ALIVE HEALTH SECURITY CLUSTER
  for port in "${ports[@]}"; do
    pid="$(node_pid "$port")"
    if node_alive "$port"; then
      alive=yes
      health="$(health_status "$port")"
    else
      alive=no
      health=-
    fi
    printf '%-6s %-8s %-5s %-22s %-8s %s\n' "$port" "${pid:--}" "$alive" "$health" \
      "$( [ "$(meta_get "$port" security)" = "1" ] && echo on || echo off)" \
      "$(meta_get "$port" cluster) ($(meta_get "$port" nodes) node(s))"
  done
}

cmd_kill_node() {
  [ $# -eq 1 ] || die "usage: $PROG kill-node PORT"
  local port="$1" pid i
  need_port "$port"
  node_alive "$port" || die "no running node started by this script on port ${port}"
  pid="$(node_pid "$port")"
  log "kill -9 node on port ${port} (pid ${pid})"
  kill -KILL "$pid"
  for (( i = 0; i < 100; i++ )); do
    pid_running "$pid" || return 0
    sleep 0.1
  done
  die "node on port ${port} (pid ${pid}) still alive after kill -9"
}

cmd_restart_node() {
  local port="" timeout="$START_TIMEOUT_DEFAULT"
  while [ $# -gt 0 ]; do
    case "$1" in
      --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
      -*) die "restart-node: unknown argument '$1'" ;;
      *) [ -z "$port" ] || die "restart-node: unexpected argument '$1'"; port="$1"; shift ;;
    esac
  done
  [ -n "$port" ] || die "usage: $PROG restart-node PORT [--timeout S]"
  need_port "$port"
  need_int --timeout "$timeout"
  local dir
  dir="$(node_dir "$port")"
  [ -f "${dir}/start.sh" ] || die "no node was started by this script on port ${port} (no ${dir}/start.sh)"
  lock "${RUN_ROOT}/.lock-${port}"
  local cleanup=0
  if node_alive "$port"; then
    log "node on port ${port} is already running"
  else
    check_port_free "$port"
    ensure_os_user
    log "restarting node on port ${port} with its previous settings and data"
    launch_node "$port"
    cleanup=1
  fi
  wait_healthy "$timeout" "$cleanup" "$port"
  printf 'http://127.0.0.1:%s\n' "$port"
}

main() {
  [ $# -ge 1 ] || { usage; exit 2; }
  local cmd="$1"; shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    cluster) cmd_cluster "$@" ;;
    kill-node) cmd_kill_node "$@" ;;
    restart-node) cmd_restart_node "$@" ;;
    -h|--help|help) usage ;;
    *) usage; die "unknown command '${cmd}'" ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# Set up everything Wangge needs on this machine; safe to run again (fast when done).
#
#   scripts/setup.sh          Python venv + package, PostgreSQL/PostGIS, map assets
#   scripts/setup.sh --test   the same, plus Chromium and GDAL for the browser and OGC tests
#   scripts/setup.sh --bench  the same, plus the benchmarks' peers (pgRouting, SedonaDB)
#
# As root on Debian/Ubuntu missing system packages are installed with apt-get;
# otherwise the script says what to install and stops.  With DATABASE_URL set, the
# local PostgreSQL is left alone and only that server is checked.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WITH_TEST=0
WITH_BENCH=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        --bench) WITH_BENCH=1 ;;
        -h | --help)
            sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "[setup] unknown option: $arg (use --test or --help)" >&2
            exit 2
            ;;
    esac
done

say() { echo "[setup] $*"; }
die() {
    echo "[setup] ERROR: $*" >&2
    exit 1
}

# ------------------------------------------------------------------ system packages
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
HAS_APT=0
command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 && HAS_APT=1
APT_UPDATED=0

can_apt() { [ "$IS_ROOT" = 1 ] && [ "$HAS_APT" = 1 ]; }

pkg_installed() {
    [ "$HAS_APT" = 1 ] &&
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# apt_install PKG... : install Debian packages (apt-get update once, first time only),
# after the batch of system packages started beside the Python packages (below).
apt_install() {
    wait_apt_batch
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}

APT_BATCH_PID=""
APT_BATCH_LOG="${TMPDIR:-/tmp}/wangge-setup-apt.$$.log"
wait_apt_batch() {
    [ -n "$APT_BATCH_PID" ] || return 0
    local pid="$APT_BATCH_PID"
    APT_BATCH_PID=""
    if wait "$pid"; then
        APT_UPDATED=1
        say "system packages installed"
    else
        say "apt-get could not install them at once (its output: $APT_BATCH_LOG); each step tries alone"
        return 0
    fi
    rm -f "$APT_BATCH_LOG"
}

pg_version() { # major version of the installed server, newest first; empty if none
    local v=""
    if command -v pg_lsclusters >/dev/null 2>&1; then
        v="$(pg_lsclusters --no-header 2>/dev/null | awk '{print $1}' | sort -n | tail -n1)"
    fi
    if [ -z "$v" ] && [ -d /usr/lib/postgresql ]; then
        v="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
            awk -F/ '{print $5}' | sort -n | tail -n1)"
    fi
    if [ -z "$v" ] && command -v pg_config >/dev/null 2>&1; then
        v="$(pg_config --version 2>/dev/null | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
    fi
    echo "$v"
}

postgis_present() { # postgis_present V
    pkg_installed "postgresql-$1-postgis-3" && return 0
    local share
    for share in "/usr/share/postgresql/$1" "$(pg_config --sharedir 2>/dev/null || true)"; do
        [ -n "$share" ] && [ -f "$share/extension/postgis.control" ] && return 0
    done
    return 1
}

broker_answers() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
redis_answers() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
cjk_font_present() { pkg_installed fonts-wqy-microhei || pkg_installed fonts-noto-cjk; }

NPM_STAMP="maps/node_modules/.wangge-npm-stamp"
map_assets_stale() {
    [ -f maps/package.json ] || return 1
    [ ! -d maps/node_modules ] || [ ! -f "$NPM_STAMP" ] ||
        [ maps/package.json -nt "$NPM_STAMP" ] ||
        { [ -f maps/package-lock.json ] && [ maps/package-lock.json -nt "$NPM_STAMP" ]; }
}

# missing_packages : the Debian packages the steps below would install one by one
missing_packages() {
    local pg
    if [ -z "${DATABASE_URL:-}" ]; then
        pg="$(pg_version)"
        if [ -n "$pg" ] && ! postgis_present "$pg"; then echo "postgresql-$pg-postgis-3"; fi
        if [ -n "$pg" ] && [ "$WITH_BENCH" = 1 ] && ! pkg_installed "postgresql-$pg-pgrouting"; then
            echo "postgresql-$pg-pgrouting"
        fi
    fi
    if [ -z "${WANGGE_BROKER_URL:-}" ] && ! broker_answers && ! pkg_installed rabbitmq-server &&
        ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
        echo rabbitmq-server
    fi
    if ! redis_answers && ! command -v redis-server >/dev/null 2>&1; then echo redis-server; fi
    if [ "$WITH_TEST" = 1 ]; then
        [ -x /usr/bin/chromium ] || echo chromium
        command -v ogr2ogr >/dev/null 2>&1 || echo gdal-bin
    fi
    cjk_font_present || echo fonts-wqy-microhei
    if map_assets_stale && ! command -v npm >/dev/null 2>&1; then echo nodejs npm; fi
}

# What the steps below would install one by one goes to apt-get in one call, in the
# background while the Python packages install: its package lists are read and its
# triggers (man pages, fonts, icons) run once, and its time overlaps uv's (measured from
# the local apt cache: chromium, gdal-bin and the font 11.0 s one by one, 7.1 s at once).
# The first step that needs apt-get or a system package waits for it.
if can_apt; then
    read -r -a BATCH <<<"$(missing_packages | tr '\n' ' ')"
    if [ "${#BATCH[@]}" -gt 0 ]; then
        say "installing ${BATCH[*]} with apt-get, beside the Python packages"
        (apt_install "${BATCH[@]}") >"$APT_BATCH_LOG" 2>&1 &
        APT_BATCH_PID=$!
    fi
fi

# ------------------------------------------------------------------------ Python
python_ok() { # python_ok CMD : CMD is Python >= 3.11
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in python3.11 python3.12 python3.13 python3.14 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

VENV="$ROOT/.venv"
VPY="$VENV/bin/python"

if [ -x "$VPY" ] && python_ok "$VPY"; then
    :
elif [ -e "$VENV" ]; then
    # Never delete it ourselves: it may belong to another user or hold local work.
    die ".venv exists but its Python does not run or is older than 3.11; remove it (rm -rf .venv) and run this again"
else
    PY="$(find_python || true)"
    if [ -z "$PY" ] && can_apt; then
        apt_install python3 python3-venv python3-dev
        PY="$(find_python || true)"
    fi
    [ -n "$PY" ] || die "Python ≥ 3.11 not found. Install it (Debian/Ubuntu: sudo apt-get install python3 python3-venv; or from python.org / pyenv) and run this again."
    say "creating .venv with $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        if can_apt; then
            apt_install python3-venv
            "$PY" -m venv "$VENV" || die "could not create .venv with $PY"
        else
            die "$PY cannot create a virtualenv. Install venv support (Debian/Ubuntu: sudo apt-get install python3-venv) and run this again."
        fi
    fi
fi

STAMP="$VENV/.wangge-install-stamp"
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    # uv (from PyPI, into the venv) resolves and installs the same versions as pip in
    # ~17 s instead of ~76 s (bytecode compiled in both); pip does it when uv cannot.
    say "installing Wangge and its dev tools into .venv (uv pip install -e '.[dev]')"
    if ! { "$VPY" -m pip install --disable-pip-version-check -q uv &&
        "$VENV/bin/uv" pip install --python "$VPY" --compile-bytecode -q -e '.[dev]'; }; then
        say "uv could not install them: pip install -e '.[dev]'"
        "$VPY" -m pip install --disable-pip-version-check -q -e '.[dev]'
    fi
    echo "$WANT" >"$STAMP"
else
    say "Python packages up to date"
fi

# ------------------------------------------------------------ PostgreSQL + PostGIS
wait_apt_batch

if [ -n "${DATABASE_URL:-}" ]; then
    say "DATABASE_URL is set: using that server (it must have PostGIS 3)"
else
    PG_V="$(pg_version)"
    if [ -z "$PG_V" ]; then
        if can_apt; then
            say "no PostgreSQL server installed: installing Debian's postgresql"
            apt_install postgresql
            PG_V="$(pg_version)"
            [ -n "$PG_V" ] || die "postgresql was installed but no server version was found"
        else
            die "PostgreSQL is not installed. Install PostgreSQL ≥ 13 with PostGIS 3: sudo apt-get install postgresql postgresql-15-postgis-3 (use your PostgreSQL version), or set DATABASE_URL to a PostGIS database."
        fi
    fi
    if postgis_present "$PG_V"; then
        say "PostgreSQL $PG_V with PostGIS 3 installed"
    elif can_apt; then
        apt_install "postgresql-$PG_V-postgis-3"
    else
        die "PostGIS is not installed for PostgreSQL $PG_V. Install PostgreSQL ≥ 13 with PostGIS 3: sudo apt-get install postgresql postgresql-$PG_V-postgis-3, or set DATABASE_URL to a PostGIS database."
    fi
fi

# ------------------------------------------------------------ RabbitMQ (the relay's broker)
# The relay (wangge relay, and wangge serve) publishes the outbox to it; its tests skip
# when it does not answer.  With WANGGE_BROKER_URL set, that broker is used instead.
if [ -n "${WANGGE_BROKER_URL:-}" ]; then
    say "WANGGE_BROKER_URL is set: the relay publishes to that broker"
elif broker_answers; then
    say "RabbitMQ answers on 127.0.0.1:5672"
else
    if ! pkg_installed rabbitmq-server && ! command -v rabbitmq-server >/dev/null 2>&1 &&
        [ ! -x /usr/sbin/rabbitmq-server ]; then
        if can_apt; then
            apt_install rabbitmq-server
        else
            say "RabbitMQ missing: the relay cannot deliver alerts and its tests skip (sudo apt-get install rabbitmq-server, or set WANGGE_BROKER_URL)"
        fi
    fi
    if ! broker_answers && [ "$IS_ROOT" = 1 ] && [ -x /usr/sbin/rabbitmq-server ]; then
        say "starting RabbitMQ"
        service rabbitmq-server start >/dev/null 2>&1 ||
            runuser -u rabbitmq -- /usr/sbin/rabbitmq-server -detached >/dev/null 2>&1 ||
            /usr/sbin/rabbitmq-server -detached >/dev/null 2>&1 || true
        for _ in $(seq 1 60); do
            broker_answers && break
            sleep 1
        done
    fi
    if broker_answers; then
        say "RabbitMQ answers on 127.0.0.1:5672"
    else
        say "RabbitMQ does not answer on 127.0.0.1:5672: start it (sudo service rabbitmq-server start); the relay tests skip until then"
    fi
fi

# ------------------------------------------------------------ Redis (shared rate limits)
# With WANGGE_REDIS_URL set, every app server keeps the rate limits' buckets there (several
# servers behind one address share each caller's bound); its tests use the local one and
# skip when it does not answer.
if redis_answers; then
    say "Redis answers on 127.0.0.1:6379"
else
    if ! command -v redis-server >/dev/null 2>&1; then
        if can_apt; then
            apt_install redis-server
        else
            say "Redis missing: the shared rate limits' tests skip (sudo apt-get install redis-server)"
        fi
    fi
    if ! redis_answers && [ "$IS_ROOT" = 1 ] && command -v redis-server >/dev/null 2>&1; then
        say "starting Redis"
        service redis-server start >/dev/null 2>&1 ||
            redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' >/dev/null 2>&1 || true
        for _ in $(seq 1 30); do
            redis_answers && break
            sleep 1
        done
    fi
    if redis_answers; then
        say "Redis answers on 127.0.0.1:6379"
    else
        say "Redis does not answer on 127.0.0.1:6379: start it (sudo service redis-server start); the shared rate limits' tests skip until then"
    fi
fi

# ------------------------------------------------------------ peers (--bench)
if [ "$WITH_BENCH" = 1 ]; then
    "$VENV/bin/pip" install -q -e '.[dev,bench]'
    if [ -z "${DATABASE_URL:-}" ] && [ -n "${PG_V:-}" ]; then
        if pkg_installed "postgresql-$PG_V-pgrouting"; then
            say "pgRouting present"
        elif can_apt; then
            apt_install "postgresql-$PG_V-pgrouting"
        else
            say "pgRouting missing: the shelters benchmark skips its pgRouting peer"
        fi
    fi
fi

# ------------------------------------------------------------ Chromium (--test)
if [ "$WITH_TEST" = 1 ]; then
    if [ -x /usr/bin/chromium ]; then
        say "Chromium present (/usr/bin/chromium)"
    elif can_apt; then
        apt_install chromium
    else
        die "Chromium is needed for the browser tests: sudo apt-get install chromium"
    fi
    # GDAL's command-line tools: the OGC API tests read Wangge with a client nobody here
    # wrote (ogrinfo OAPIF:..., ogr2ogr to a GeoPackage, ogrinfo of a vector tile)
    if command -v ogr2ogr >/dev/null 2>&1; then
        say "GDAL present ($(ogrinfo --version))"
    elif can_apt; then
        apt_install gdal-bin
    else
        say "GDAL missing: the OGC API tests skip (sudo apt-get install gdal-bin)"
    fi
fi

# ------------------------------------------------------------ a CJK font (the basemap's labels)
# The server draws the offline basemap's label glyphs from it (maps/glyphs.py; Noto Sans CJK
# is used instead when installed), and screenshots of Chinese pages show characters with it.
if cjk_font_present; then
    say "CJK font present"
elif can_apt; then
    apt_install fonts-wqy-microhei
else
    say "no CJK font: the basemap's labels fall back to the browser's fonts and screenshots show boxes (sudo apt-get install fonts-wqy-microhei)"
fi

# ------------------------------------------------------------ map assets (npm)
if [ -f maps/package.json ]; then
    if map_assets_stale; then
        if ! command -v npm >/dev/null 2>&1; then
            if can_apt; then
                apt_install nodejs npm
            else
                die "npm is needed for the map assets: install Node.js and npm (Debian/Ubuntu: sudo apt-get install nodejs npm)"
            fi
        fi
        if [ -f maps/package-lock.json ]; then
            say "installing map assets (npm ci in maps/)"
            (cd maps && npm ci --no-audit --no-fund --ignore-scripts)
        else
            say "installing map assets (npm install in maps/; no package-lock.json yet)"
            (cd maps && npm install --no-audit --no-fund --ignore-scripts)
        fi
        mkdir -p maps/node_modules
        touch "$NPM_STAMP"
    else
        say "map assets up to date"
    fi
fi

# ------------------------------------------------------------ database server
"$VPY" -m gis.db.cluster ensure || die "no usable PostGIS database (see the message above)"
say "done"

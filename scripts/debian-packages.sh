# Sourced by scripts/install-*.sh. debian_install NAME SKIPPED PACKAGE...: installs Debian
# packages when this user may (root, or sudo without a password) and returns 0; otherwise
# says loudly why not and what is skipped (SKIPPED), and returns 1. Never exits by itself.
debian_install() {
    name=$1
    skipped=$2
    shift 2
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "*** $name: no apt-get here to install $*: $skipped ***" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ]; then
        as_root=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root="sudo -n"
    else
        echo "*** $name: not root and no password-less sudo: $skipped (apt-get install $*) ***" >&2
        return 1
    fi
    echo "$name: installing Debian's $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    $as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
        || { $as_root apt-get update -q >/dev/null 2>&1 \
            && $as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; } \
        || { echo "*** $name: apt-get could not install $*: $skipped ***" >&2; return 1; }
}

#!/usr/bin/env bash
# Writes docs/configuration.md (and, by scripts/gen-man.sh, docs/switchboard.1)
# from `switchboard --help`, so the settings
# table cannot drift from the code. tests/docs_check.sh fails if it is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/switchboard}
{
cat <<'HEAD'
# Configuration

Every setting can be given three ways; later ones win:

1. a config file: `--config FILE` (or `SWITCHBOARD_CONFIG`), lines of
   `name = value`; names may also be written in snake_case (`jwt_secret`);
   `#` starts a comment at the start of a line or after a space
   (`port = 3000  # the default`); a value in double or single quotes is
   taken as written, `#` and spaces included (`jwt_secret = "a # b"`);
2. an environment variable: `SWITCHBOARD_` + the name in upper case with `_`
   for `-` (`--jwt-secret` → `SWITCHBOARD_JWT_SECRET`);
3. the command line: `--name value` or `--name=value`. An on/off setting
   also takes `--name` alone (on), and its value may follow as a separate
   word or after `=`: `--ws-deflate`, `--ws-deflate true`,
   `--ws-deflate=false` (`true/false`, `1/0`, `yes/no`, `on/off`). A word
   after an on/off flag that is not one of these is not taken as its
   value: `--dev extra` is refused as an unexpected argument.

An unknown setting or a bad value from any of the three stops the server
with exit code 2 and a message naming where the value came from (`on the
command line`, `environment variable SWITCHBOARD_PORT`, `config file
FILE:LINE`). Every number has the range shown after its meaning (`0-65535`);
a value outside it is a bad value, never wrapped or clamped. Times are in
milliseconds unless the name says otherwise. `--host` takes an address or a
name (`localhost`), resolved once at start; a name with several addresses
listens on the first that works. `switchboard --version` prints the version,
the build (release or debug, compiler) and the linked libraries' versions.

| setting | default | meaning |
|---|---|---|
HEAD
"$bin" --help | awk '/^  --/ && !/--config FILE/ && !/^  --version/ {
    flag = $1; rest = $0;
    # Drop the flag, its value placeholder (V) and the padding, whatever the
    # length of the flag: long names push the help text past the column.
    sub(/^  --[^ ]+ /, "", rest); sub(/^V +/, "", rest); sub(/^ +/, "", rest);
    def = rest; sub(/.*\(default: /, "", def); sub(/\)$/, "", def);
    help = rest; sub(/ \(default: [^)]*\)$/, "", help);
    printf "| `%s` | `%s` | %s |\n", flag, def, help }'
cat <<'TAIL'

The JWT secret is required unless `--dev` is given, and must be at least 32
bytes (`openssl rand -hex 32` makes one); a shorter one stops the server
(exit 2) unless `--allow-short-secret true` accepts it, with a warning.
`--dev` is for a first run on your own machine: it listens on 127.0.0.1 only
(unless `--host` is given by any source), uses a built-in secret (logged
with a warning), tells presence to everyone unless `--presence-scope` is
given (the demo chat's users are not friends), answers `POST /api/dev/token`
with short-lived tokens for any user (loopback clients only; without `--dev`
it is 404), makes up an API key for the run when `--api-key` is not set,
and logs the URL to open and the key at start (level `warn`). `--jwt-leeway` widens the token check at connect
only (clock skew between the token's issuer and the server): a connected
socket is disconnected when its token's `exp` passes, leeway or not. With
`--presence-scope friends` (the default),
`user:online`/`user:offline` go only to the user's online friends,
`connection:established` lists only online friends, and `presence:query`
answers `{online: false}` for anyone but a friend or oneself; `all` tells
everyone, batched per `--presence-interval` (docs/events.md explains the
cost). `--tls-cert` and `--tls-key` go together: with them every connection
on `--port` speaks TLS (HTTPS, polling and WSS; plain HTTP gets a 400 that
says so); `SIGHUP` reloads both files ([operations.md](operations.md#tls)).
TAIL
} > docs/configuration.md
# The man page comes from the same --help: one command keeps both current.
scripts/gen-man.sh "$bin"

#!/usr/bin/env bash
# Checks that each layer under src/ includes only the layers DESIGN.md allows
# (section 3). Prints every violation; exits 1 if there is one.
set -u
cd "$(dirname "$0")/.."

declare -A allowed=(
    [core]="core"
    [http]="core http"
    [ws]="core http ws"
    [engineio]="core http ws engineio"
    [socketio]="core engineio socketio hub" # hub: rooms live in the hub (see docs/architecture.md)
    [hub]="core hub"
    [auth]="core auth"
    [store]="core store"
    [features]="core hub store auth socketio features"
    [api]="core http hub store auth features api"
    [cluster]="core hub cluster"
    [hooks]="core http hooks"
    [doors]="core http ws engineio socketio hub auth doors"
    [app]="core http ws engineio socketio hub auth store features api cluster doors hooks app"
)

bad=0
for dir in src/*/; do
    layer=$(basename "$dir")
    ok=${allowed[$layer]:-}
    if [ -z "$ok" ]; then
        echo "check-layers: unknown layer src/$layer (add it to DESIGN.md and this script)"
        bad=1
        continue
    fi
    while IFS= read -r line; do
        file=${line%%:*}
        inc=$(echo "$line" | sed -E 's/.*#include "([^/"]+)\/.*/\1/')
        case " $ok " in
            *" $inc "*) ;;
            *) echo "check-layers: $file includes $inc/ (layer $layer may use: $ok)"; bad=1 ;;
        esac
    done < <(grep -HE '^#include "[^/"]+/' "$dir"*.[ch] 2>/dev/null)
done
[ $bad -eq 0 ] && echo "check-layers: ok"
exit $bad

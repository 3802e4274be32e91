#!/usr/bin/env bash
# Prints the functions include/switchboard.h declares, one a line: the only
# symbols libswitchboard.a keeps global (Makefile), and what
# tests/symbols_check.sh expects nm to find. A declaration is a line that
# names `sb_...(` outside a comment, a typedef and a macro.
set -eu
header=${1:-include/switchboard.h}
sed -e 's|/\*.*\*/||g' "$header" |
    awk '/\/\*/ { c = 1 } !c { print } /\*\// { c = 0 }' |
    grep -vE '^\s*(#|typedef|\})' |
    grep -oE '\b[a-z_][a-z0-9_ *]*\b(sb_[a-z0-9_]+)\(' |
    grep -oE 'sb_[a-z0-9_]+\($' | tr -d '(' | sort -u

#!/usr/bin/env bash
# The man pages the build makes (build/man, from core/portsyncd.8.md,
# exporter/README.md, shm/portsyncd-shmdump.1.md): each renders with
# `man --warnings` without one warning; it has the sections a reader looks for;
# whatis can read its NAME; the .gz that is installed is the same page; and its
# SYNOPSIS names every flag the binary's --help lists, while naming none that
# --help does not know, so a flag added, renamed or dropped in a binary and not
# in its page fails here.
source "$(dirname "$0")/lib.sh"
MAN=$(cd "$BIN/.." && pwd)/man

# help_flags BINARY: the long flags of --help's option lines ("  -h, --help  ...",
# "  --web.listen-address=ADDR  ..."), one per line, "--[no-]x" as "--x"
help_flags() {
    "$BIN/$1" --help | grep -E '^[[:space:]]+-' | sed -E 's/^[[:space:]]+//; s/ {2,}.*//' |
        grep -oE -- '--(\[no-\])?[a-z][a-z0-9.-]*' | sed 's/\[no-\]//' | sort -u
}
# section PAGE TITLE: the text of one section of the rendered page
section() {
    MANWIDTH=200 man -l "$1" 2>/dev/null | col -bx |
        awk -v t="$2" '/^[A-Z]/ { on = ($0 == t); next } on'
}
# has_flag FLAG: the flag as a whole word in stdin ("--shm-name" is not "--shm-name-x")
has_flag() { grep -qE -- "(^|[^a-z0-9.-])$(sed 's/\./\\./g' <<<"$1")([^a-z0-9.-]|$)"; }

for spec in portsyncd:8 portsyncd-exporter:8 portsyncd-shmdump:1; do
    name=${spec%:*} sect=${spec#*:}
    page=$MAN/man$sect/$name.$sect
    if [ ! -f "$page" ]; then
        not_ok "$name($sect): no $page (configured with -DPSM_MAN=OFF?)"
        continue
    fi
    warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    check "$name($sect) renders at 80 columns without a warning: '$warnings'" test -z "$warnings"
    check "$name($sect): the installed .gz is the same page" cmp -s <(gzip -dc "$page.gz") "$page"
    check "$name($sect): .TH names it" grep -qx ".TH \"$name\" \"$sect\" .*" "$page"
    whatis=$(lexgrog "$page" 2>&1) || true
    check "$name($sect): whatis reads its NAME ($whatis)" grep -qF ": \"$name - " <<<"$whatis"
    text=$(MANWIDTH=200 man -l "$page" 2>/dev/null | col -bx)
    for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do
        check "$name($sect) has $s" grep -qx "$s" <<<"$text"
    done

    # The command lines of the SYNOPSIS: those starting with the command or with
    # "[" (its continuations), not the environment or an example client.
    synopsis=$(section "$page" SYNOPSIS | sed 's/\[no-\]//g' |
        awk -v n="$name" '$1 == n || $1 ~ /^\[/')
    flags=$(help_flags "$name")
    check "$name --help lists flags ($(echo $flags | wc -w))" test -n "$flags"
    missing=()
    for f in $flags; do has_flag "$f" <<<"$synopsis" || missing+=("$f"); done
    check "$name($sect): the SYNOPSIS names every flag of --help; missing: ${missing[*]-none}" \
        test ${#missing[@]} -eq 0
    help=$("$BIN/$name" --help | sed 's/\[no-\]//g')
    unknown=()
    for f in $(grep -oE -- '--[a-z][a-z0-9.-]*' <<<"$synopsis" | sort -u); do
        has_flag "$f" <<<"$help" || unknown+=("$f")
    done
    check "$name($sect): the SYNOPSIS names no flag --help lacks; unknown: ${unknown[*]-none}" \
        test ${#unknown[@]} -eq 0
done
finish

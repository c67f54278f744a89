#!/usr/bin/env bash
# Format 1.2 (native buckets) is a compatible change: the tools of format 1.1,
# built here from the repository's history, read this build's segments as they
# read their own, and a 1.1 writer re-attaching to one (a downgrade) leaves a
# segment that this build reads without fault and --check explains.
#
# The 1.1 reader skips the bytes 1.2 gave meaning to (descriptor 48..63, series
# 24..31, header 200..207 were reserved) and finds the classic cells where they
# always were (native cells follow them): --check passes, and its Prometheus
# and OpenMetrics expositions are byte for byte this build's.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
# The commit this format change was made on: libpsmetrics of format 1.1.
REF=826d479070bf98f8e89edb0aff99d2040f266e3d
if ! git -C "$top" cat-file -e "$REF^{commit}" 2>/dev/null; then
    echo "compat: SKIP: commit $REF (format 1.1) is not in this checkout's history"
    exit 77
fi

old=$TMP/v1.1
mkdir -p "$old/obj"
git -C "$top" archive "$REF" shm | tar -x -C "$old"
# The 1.1 library and shmdump, as its CMakeLists.txt built them (no -Werror: another
# compiler's new warnings are not this test's business).
ccold() { cc -std=c11 -O1 -D_GNU_SOURCE -I"$old/shm/include" -I"$old/shm/util/include" "$@"; }
for f in "$old"/shm/*.c "$old"/shm/util/*.c; do
    case $(basename "$f") in shmdump*) continue ;; esac
    ccold -c "$f" -o "$old/obj/$(basename "$f" .c).o" || { not_ok "build 1.1 $(basename "$f")"; finish; }
done
ar rcs "$old/libpsmetrics.a" "$old"/obj/*.o
ccold -o "$old/shmdump" "$old"/shm/shmdump*.c "$old/libpsmetrics.a" -lpthread -lm
# A writer of the 1.1 library: re-attaches, observes into the fixture's latency
# histogram (its classic shape; 1.1 knows nothing else), on a port it has and on
# a new one, and closes.
cat >"$old/observe.c" <<'C'
#include <stdio.h>
#include "psm/writer.h"
int main(int argc, char **argv)
{
    char err[512];
    psm_writer_t *w;
    enum psm_open_result res;
    if (psm_writer_open(&w, &(struct psm_writer_opts){.name = argv[1]}, &res, err, sizeof err)) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    static const double lat[] = {.001, .005, .01, .05, .1, .5, 1};
    static const char *port[] = {"port"};
    struct psm_metric_spec s = {.name = "fixture_event_latency_seconds", .help = "Latency.",
                                .unit = "seconds", .type = PSM_HISTOGRAM, .bucket_count = 7,
                                .bounds = lat, .label_count = 1, .label_names = port};
    int id = psm_metric_register(w, &s, err, sizeof err);
    if (id < 0) {
        fprintf(stderr, "register: %s\n", err);
        return 1;
    }
    psm_histogram_t *h = psm_histogram_resolve(w, id, (const char *[]){"Ethernet0"});
    for (int i = 0; i < 5; i++)
        psm_histogram_observe(h, 0.002);
    psm_histogram_observe(psm_histogram_resolve(w, id, (const char *[]){"Ethernet99"}), 0.002);
    printf("%s\n", res == PSM_OPEN_ATTACHED ? "attached" : "not attached");
    psm_writer_close(w);
    return 0;
}
C
ccold -o "$old/observe" "$old/observe.c" "$old/libpsmetrics.a" -lpthread -lm
check "format 1.1 tools built from $REF" test -x "$old/shmdump" -a -x "$old/observe"
check "they are format 1.1" grep -q 'PSM_VERSION_MINOR   1$' "$old/shm/include/psm/segment.h"

OLD="$old/shmdump"
NEW="$BIN/portsyncd-shmdump"
"$BIN/psm-fixture" --name "$SEG" --close
check "the segment has native buckets (this build's json)" bash -c \
    "'$NEW' --name $SEG --format json | $PY -c 'import json,sys; d=json.load(sys.stdin); m={x[\"name\"]:x for x in d[\"metrics\"]}; assert d[\"segment\"][\"format_minor\"]==2; assert m[\"fixture_event_latency_seconds\"][\"native\"][\"schema\"]==3'"
check "1.1 --check passes on a 1.2 segment" "$OLD" --name "$SEG" --check
"$OLD" --name "$SEG" --format prometheus >"$TMP/old.prom"
"$NEW" --name "$SEG" --format prometheus >"$TMP/new.prom"
check "1.1 Prometheus text is this build's, byte for byte" cmp "$TMP/old.prom" "$TMP/new.prom"
"$OLD" --name "$SEG" --format openmetrics >"$TMP/old.om"
"$NEW" --name "$SEG" --format openmetrics >"$TMP/new.om"
check "1.1 OpenMetrics is this build's, byte for byte" cmp "$TMP/old.om" "$TMP/new.om"
check "1.1 json of the latency histogram holds the same count" bash -c \
    "'$OLD' --name $SEG --format json | $PY -c 'import json,sys; d=json.load(sys.stdin); m={x[\"name\"]:x for x in d[\"metrics\"]}; assert m[\"fixture_event_latency_seconds\"][\"series\"][0][\"count\"]==50'"

# A live 1.2 writer observing into native histograms: the 1.1 reader's snapshots
# stay consistent (its protocol needs only classic bucket, sum, count in that order).
"$BIN/psm-loadgen" --name "$SEG.live" --series 300 --threads 2 --seconds 4 --native 2>"$TMP/loadgen.log" &
track_pid $!
sleep 0.5
live_ok=0
for i in 1 2 3 4 5; do
    "$OLD" --name "$SEG.live" --check >/dev/null 2>>"$TMP/check.log" && live_ok=$((live_ok + 1))
    sleep 0.3
done
expect_eq "1.1 --check passes while a 1.2 writer observes" 5 "$live_ok"

# A downgrade: the 1.1 writer re-attaches to a 1.2 segment whose writer died.
"$BIN/psm-fixture" --name "$SEG"
expect_eq "the 1.1 writer re-attaches" attached "$("$old/observe" "$SEG" 2>&1)"
check "1.1 --check still passes" "$OLD" --name "$SEG" --check
rc=0
"$NEW" --name "$SEG" --check >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_eq "this build's --check fails" 1 "$rc"
check "naming the histogram and the cause: $(cat "$TMP/err")" grep -q \
    'fixture_event_latency_seconds.*native buckets hold fewer observations than its count (55): a writer that keeps no native buckets' "$TMP/err"
"$NEW" --name "$SEG" --format prometheus >"$TMP/new.prom"
check "the classic histogram counts the 1.1 writer's observations" \
    grep -qx 'fixture_event_latency_seconds_count{port="Ethernet0"} 55' "$TMP/new.prom"
check "and the series it made, with classic cells only" \
    grep -qx 'fixture_event_latency_seconds_count{port="Ethernet99"} 1' "$TMP/new.prom"
"$OLD" --name "$SEG" --format prometheus >"$TMP/old.prom"
check "both builds print the same text still" cmp "$TMP/old.prom" "$TMP/new.prom"
finish

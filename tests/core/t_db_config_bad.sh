#!/usr/bin/env bash
# A bad database_config.json or database_global.json is one clear line on
# stderr naming the file, the key, what is there and what was expected; exit
# 2; nothing written to any Redis (the servers the files name are running).
source "$(dirname "$0")/lib.sh"
start_redis
start_redis_named redis2
P="$BIN/portsyncd"
C=$TMP/cfg
mkdir -p "$C"
good() { write_db_config "$C/$1.json" redis redis redis; }
# bad NEEDLE ARGS...: exit 2, exactly one line on stderr, containing NEEDLE
bad() {
    local needle=$1 rc=0
    shift
    "$P" --shm-name "$SEG" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$needle" "$TMP/err"; then
        ok "$(head -c 230 "$TMP/err")"
    else
        not_ok "$* -> exit $rc, $lines lines (expected 2, 1 line with '$needle'): $(cat "$TMP/err")"
    fi
}

bad "$C/none.json: cannot open it: No such file or directory: expected SONiC's database_config.json" \
    --db-config "$C/none.json"
bad "$C: a directory: expected SONiC's database_config.json, a regular file" --db-config "$C"

good broken
sed -i '5s/,$//' "$C/broken.json" # "port": 6379 without its comma
bad "$C/broken.json: line 6, column 30: '}' expected near '\"unix_socket_path\"': expected valid JSON" \
    --db-config "$C/broken.json"
: >"$C/empty.json"
bad "$C/empty.json: line 1, column 0: '[' or '{' expected near end of file: expected valid JSON" \
    --db-config "$C/empty.json"
echo '[1, 2]' >"$C/array.json"
bad "$C/array.json: the top level is an array: expected an object with INSTANCES and DATABASES" \
    --db-config "$C/array.json"

good noinst
sed -i '/"STATE_DB"/s/"instance": "redis"/"instance": "redis3"/' "$C/noinst.json"
bad "$C/noinst.json: DATABASES.STATE_DB.instance is \"redis3\", which INSTANCES does not define: expected one of: \"redis\", \"redis2\"" \
    --db-config "$C/noinst.json"
good nodb
sed -i 's/"STATE_DB"/"STATE_DBX"/' "$C/nodb.json"
bad "$C/nodb.json: DATABASES has no STATE_DB: expected APPL_DB, CONFIG_DB and STATE_DB (it has: \"APPL_DB\", \"ASIC_DB\"" \
    --db-config "$C/nodb.json"
good sep
sed -i '/"APPL_DB"/s/"separator": ":"/"separator": "|"/' "$C/sep.json"
bad "$C/sep.json: DATABASES.APPL_DB.separator is \"|\" (a string): expected \":\" (portsyncd's APPL_DB keys are PORT_TABLE:<name>)" \
    --db-config "$C/sep.json"
good sep2
sed -i '/"STATE_DB"/s/"separator": "|"/"separator": ":"/' "$C/sep2.json"
bad "$C/sep2.json: DATABASES.STATE_DB.separator is \":\" (a string): expected \"|\" (portsyncd's STATE_DB keys are PORT_TABLE|<name>)" \
    --db-config "$C/sep2.json"
good port
sed -i -e '/"unix_socket_path": "'"${SOCK//\//\\/}"'"/d' -e '0,/"port": 6379/s/"port": 6379/"port": "6379"/' "$C/port.json"
bad "$C/port.json: INSTANCES.redis.port is \"6379\" (a string): expected a TCP port (an integer from 1 to 65535)" \
    --db-config "$C/port.json"
good id
sed -i '/"CONFIG_DB"/s/"id": 4/"id": -4/' "$C/id.json"
bad "$C/id.json: DATABASES.CONFIG_DB.id is -4 (an integer): expected a database number (an integer from 0 to 2147483647)" \
    --db-config "$C/id.json"
good rel
sed -i 's|"unix_socket_path": "'"$SOCK"'"|"unix_socket_path": "redis.sock"|' "$C/rel.json"
bad "$C/rel.json: INSTANCES.redis.unix_socket_path is \"redis.sock\": expected an absolute path" \
    --db-config "$C/rel.json"

# database_global.json and --namespace.
G=$C/global.json
cat >"$G" <<'JSON'
{
    "INCLUDES": [
        {"include": "good.json"},
        {"namespace": "asic0", "include": "good.json"},
        {"namespace": "asic1", "include": "../redis1/sonic-db/database_config.json"}
    ],
    "VERSION": "1.0"
}
JSON
good good
bad "$G: no INCLUDES entry has namespace \"asic9\": expected one of: \"asic0\", \"asic1\"" \
    --namespace asic9 --db-global "$G"
bad "$G: INCLUDES[2].include \"../redis1/sonic-db/database_config.json\" (namespace \"asic1\") leads to $C/../redis1/sonic-db/database_config.json: No such file or directory: expected an existing database_config.json" \
    --namespace asic1 --db-global "$G"
bad "$C/none-global.json: cannot open it: No such file or directory: expected SONiC's database_global.json" \
    --namespace asic0 --db-global "$C/none-global.json"
echo '{"INCLUDES": [{"namespace": "asic0" "include": "x"}]}' >"$C/broken-global.json"
bad "$C/broken-global.json: line 1, column 45: '}' expected near '\"include\"': expected valid JSON" \
    --namespace asic0 --db-global "$C/broken-global.json"
echo '{"VERSION": "1.0"}' >"$C/noinc.json"
bad "$C/noinc.json: no INCLUDES: expected an INCLUDES array, one entry per namespace" \
    --namespace asic0 --db-global "$C/noinc.json"
bad "--namespace and --db-config exclude each other" --namespace asic0 --db-config "$C/good.json"
bad "--db-global '$G' needs --namespace" --db-global "$G"
bad "--redis-port needs --redis-host" --redis-port 6379
bad "--namespace '' is empty" --namespace ''

expect_eq "nothing written to the first server" "" "$(keys_on "$SOCK")"
expect_eq "nothing written to the second" "" "$(keys_on "$TMP/redis2.sock")"
check "no segment was made" [ ! -e "/dev/shm/$SEG" ]
# And the good file does work: the same binary, the same servers.
make_ns
start_portsyncd_with --db-config "$C/good.json" --log-output STDERR
check "the good file starts portsyncd" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
check "SIGTERM exits 0" stop_portsyncd
finish

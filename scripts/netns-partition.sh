#!/usr/bin/env bash
# netns-partition.sh: network partition scenario for sentinel_pool.
#
# Puts 3 data nodes + 3 sentinels on 3 "hosts" and 2 client hosts, each its
# own network namespace, cuts the master's host (with one client) off from the
# majority (2 replicas, 2 sentinels, the other client), waits for the
# majority's sentinels to fail over, heals, and reports for each side's pool:
# when it stopped writing to the isolated master, and how many acknowledged
# writes the final master does not have. Runs twice: without, then with
# min-replicas-to-write 1 / min-replicas-max-lag 2 on the data nodes.
#
#   namespace spool-<pid>-sw: bridges br-a, br-b joined by the veth pair
#                             tr-a <-> tr-b (the "trunk" that is cut)
#   br-a (minority side): spool-<pid>-h1  10.77.0.1   master + sentinel
#                         spool-<pid>-c1  10.77.0.11  partition_writer --side minority
#   br-b (majority side): spool-<pid>-h2  10.77.0.2   replica + sentinel
#                         spool-<pid>-h3  10.77.0.3   replica + sentinel
#                         spool-<pid>-c2  10.77.0.12  partition_writer --side majority
#
# Nothing is created in the root namespace: veth pairs are created inside
# spool-<pid>-sw and their far ends moved into the host namespaces, addresses
# and routes exist only there, and the cut is `ip link set tr-a down` inside
# spool-<pid>-sw. Every process is started by pid and stopped by pid; the
# namespaces are deleted on exit, on error and on signals (trap), and by a
# guardian if this script is SIGKILLed. Every wait is bounded.
#
# Usage: scripts/netns-partition.sh [--writer PATH] [--writers N] [--rate R]
#            [--hold S] [--rounds plain,minrep] [--lag S] [--timeout S] [--keep]
#            [--verbose]   (the pools' logs go to the kept work dir)
# Exit: 0 every check held, 1 a check failed, 2 setup error,
#       77 skipped (network namespaces unavailable: not root, no veth/bridge).
# shellcheck disable=SC2016  # wait_until takes eval'd strings in single quotes
# shellcheck disable=SC2317  # cleanup and the predicates run from traps/wait_until
set -uo pipefail
export LC_ALL=C # $EPOCHREALTIME with a '.', plain redis-cli output

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRITER="${PARTITION_WRITER:-$ROOT/build/partition_writer}"
WRITERS=4
RATE=200
HOLD=5    # seconds the partition lasts after the majority's failover
LEAD=2    # steady writing before the cut
TAIL=2    # steady writing after the topology settled
LAG=2     # min-replicas-max-lag of the minrep round
ROUNDS="plain,minrep"
TIMEOUT=300
KEEP=0
VERBOSE=()

usage() {
    sed -n '2,/^# Exit:/p' "${BASH_SOURCE[0]}" | sed -e 's/^# \{0,1\}//'
    echo "      77 skipped (network namespaces unavailable: not root, no veth/bridge)."
}

while [ $# -gt 0 ]; do
    case "$1" in
    --writer) WRITER="$2"; shift 2 ;;
    --writers) WRITERS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    --lag) LAG="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --verbose) VERBOSE=(--verbose); KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "netns-partition: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for v in WRITERS RATE HOLD LAG TIMEOUT; do
    if ! [[ "${!v}" =~ ^[0-9]+$ ]]; then
        echo "netns-partition: --${v,,} needs a non-negative integer" >&2
        exit 2
    fi
done
[[ "$ROUNDS" =~ ^(plain|minrep)(,(plain|minrep))*$ ]] ||
    { echo "netns-partition: --rounds takes plain and/or minrep" >&2; exit 2; }

MAIN=$$
P="spool-$MAIN"
NS_SW="$P-sw" NS_H1="$P-h1" NS_H2="$P-h2" NS_H3="$P-h3" NS_C1="$P-c1" NS_C2="$P-c2"
HOST_NS=("" "$NS_H1" "$NS_H2" "$NS_H3")
HOST_IP=("" 10.77.0.1 10.77.0.2 10.77.0.3)
SENTINELS="10.77.0.1:26379,10.77.0.2:26379,10.77.0.3:26379"
OLD="10.77.0.1:6379"

NSS=()  # namespaces we created
PIDS=() # processes we started
WORK=""
WATCHDOG=""
CLEANED=""
FAILS=0
T0=$EPOCHREALTIME

us() { local t="${1:-$EPOCHREALTIME}"; echo $((${t%.*} * 1000000 + 10#${t#*.})); }
log() { printf '[%7.2fs] %s\n' "$(($(us) - $(us "$T0")))e-6" "$*"; }
# `ip netns add` turns /run/netns into a mount point and leaves it so even
# when it then fails (e.g. in a chroot): undo that on a skip if it was us.
RUN_NETNS_WAS_MOUNT=0
mountpoint -q /run/netns 2>/dev/null && RUN_NETNS_WAS_MOUNT=1
SKIPPED=0
skip() {
    echo "SKIP: network namespaces unavailable: $*"
    SKIPPED=1
    exit 77
}
die() { echo "netns-partition: setup error: $*" >&2; exit 2; }
check() { # check <condition-status> <text>
    if [ "$1" -eq 0 ]; then
        echo "  ok    $2"
    else
        echo "  FAIL  $2"
        FAILS=$((FAILS + 1))
    fi
}

# A pid of ours that has not exited (a zombie has exited).
running() {
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# stop_pids PID...: SIGTERM (SIGCONT too), SIGKILL after 3 s, reap.
stop_pids() {
    local p i
    [ $# -gt 0 ] || return 0
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 30; i++)); do
        local alive=0
        for p in "$@"; do running "$p" && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do running "$p" && kill -KILL "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
    return 0
}

# Kill whatever still runs inside our namespaces (only processes we started
# can be there), then delete them.
delete_namespaces() {
    local ns pid i
    for ns in "$@"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    for ns in "$@"; do
        for ((i = 0; i < 20; i++)); do
            [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
            sleep 0.1
        done
        ip netns del "$ns" 2>/dev/null
    done
}

cleanup() {
    [ -n "$CLEANED" ] && return
    CLEANED=1
    stop_pids "${PIDS[@]}"
    [ ${#NSS[@]} -gt 0 ] && delete_namespaces "${NSS[@]}"
    if [ -n "$WATCHDOG" ]; then
        kill -TERM "$WATCHDOG" 2>/dev/null
        wait "$WATCHDOG" 2>/dev/null
    fi
    local left
    if [ "$SKIPPED" = 1 ] && [ "$RUN_NETNS_WAS_MOUNT" = 0 ] &&
        mountpoint -q /run/netns 2>/dev/null && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
        umount /run/netns 2>/dev/null || umount -l /run/netns 2>/dev/null || true
    fi
    left="$(ip netns list 2>/dev/null | awk '{print $1}' | grep -c "^$P-")"
    [ "$left" -eq 0 ] || echo "netns-partition: WARNING: $left namespaces $P-* left" >&2
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$KEEP" -eq 1 ] || [ "$FAILS" -gt 0 ]; then
            echo "netns-partition: logs kept in $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
}
trap cleanup EXIT
trap 'echo "netns-partition: interrupted" >&2; exit 130' INT TERM HUP

mkns() {
    local err
    err="$(ip netns add "$1" 2>&1)" || return 1
    NSS+=("$1")
    ip -n "$1" link set lo up
}

# ---------------------------------------------------------------------------
# Preconditions: skip where namespaces cannot be made, fail on anything else.
# ---------------------------------------------------------------------------
command -v ip >/dev/null 2>&1 || skip "'ip' (iproute2) not found"
# Leftovers of an earlier run that was SIGKILLed (guardian killed too):
# namespaces spool-<pid>-* whose script no longer runs.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' |
    grep -E '^spool-[0-9]+-(sw|h[123]|c[12]|probe)$'); do
    owner="${ns#spool-}"
    owner="${owner%%-*}"
    if ! kill -0 "$owner" 2>/dev/null; then
        echo "netns-partition: removing $ns left by a dead run (pid $owner)" >&2
        delete_namespaces "$ns"
    fi
done
err="$(ip netns add "$P-probe" 2>&1)" || skip "ip netns add: ${err:-failed} (needs root / CAP_SYS_ADMIN)"
NSS+=("$P-probe")
err="$(ip -n "$P-probe" link add b0 type bridge 2>&1)" || skip "no bridge device: $err"
err="$(ip -n "$P-probe" link add v0 type veth peer name v1 2>&1)" || skip "no veth device: $err"
delete_namespaces "$P-probe"
NSS=()

# The same programs as the test fixture: SENTINEL_POOL_SERVER=valkey-server
# runs the partition on Valkey (its sentinel and CLI are found beside it).
SERVER="${SENTINEL_POOL_SERVER:-redis-server}"
SENTINEL="${SENTINEL_POOL_SENTINEL:-${SERVER%-server}-sentinel}"
CLI="${SERVER%-server}-cli"
for b in "$SERVER" "$SENTINEL" "$CLI" timeout; do
    command -v "$b" >/dev/null 2>&1 || die "$b not found in PATH"
done
[ -x "$WRITER" ] || die "partition_writer not found at $WRITER (build it, or pass --writer PATH)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spool-netns.XXXXXX")" || die "mktemp failed"

# Watchdog and guardian: aborts a run past --timeout; if this script dies
# without cleaning up (SIGKILL), deletes its namespaces and what runs in them.
(
    for ((i = 0; i < TIMEOUT * 5; i++)); do
        if ! kill -0 "$MAIN" 2>/dev/null; then
            for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
                for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
                sleep 0.2
                ip netns del "$ns" 2>/dev/null
            done
            [ "$KEEP" -eq 1 ] || rm -rf "$WORK"
            exit 0
        fi
        sleep 0.2
    done
    echo "netns-partition: watchdog: still running after $TIMEOUT s, aborting" >&2
    kill -TERM "$MAIN" 2>/dev/null
) &
WATCHDOG=$!

# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------
build_network() {
    local ns
    for ns in "$NS_SW" "$NS_H1" "$NS_H2" "$NS_H3" "$NS_C1" "$NS_C2"; do
        mkns "$ns" || die "ip netns add $ns failed"
    done
    ip -n "$NS_SW" link add br-a type bridge || die "bridge br-a"
    ip -n "$NS_SW" link add br-b type bridge || die "bridge br-b"
    ip -n "$NS_SW" link add tr-a type veth peer name tr-b || die "veth tr-a/tr-b"
    ip -n "$NS_SW" link set tr-a master br-a || die "tr-a -> br-a"
    ip -n "$NS_SW" link set tr-b master br-b || die "tr-b -> br-b"
    # attach <namespace> <bridge> <address>
    attach() {
        local port="v-${1##*-}"
        ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$1" || die "veth $port"
        ip -n "$NS_SW" link set "$port" master "$2" up || die "$port -> $2"
        ip -n "$1" addr add "$3/24" dev eth0 || die "address $3 in $1"
        ip -n "$1" link set eth0 up || die "eth0 up in $1"
    }
    attach "$NS_H1" br-a 10.77.0.1
    attach "$NS_C1" br-a 10.77.0.11
    attach "$NS_H2" br-b 10.77.0.2
    attach "$NS_H3" br-b 10.77.0.3
    attach "$NS_C2" br-b 10.77.0.12
    for dev in br-a br-b tr-a tr-b; do ip -n "$NS_SW" link set "$dev" up || die "$dev up"; done
}

cut_link() { ip -n "$NS_SW" link set tr-a down; }
heal_link() { ip -n "$NS_SW" link set tr-a up; }

# ---------------------------------------------------------------------------
# Servers (each inside its host's namespace; `ip netns exec` execs, so $! is
# the server's own pid)
# ---------------------------------------------------------------------------
# rcli <namespace> <ip> <port> ARGS...: one redis-cli call, at most 3 s.
rcli() {
    local ns="$1" host="$2" port="$3"
    shift 3
    timeout -k 1 3 ip netns exec "$ns" "$CLI" -h "$host" -p "$port" "$@" 2>/dev/null | tr -d '\r'
}
# Sentinel i's master as ip:port (empty if no answer).
smaster() {
    rcli "${HOST_NS[$1]}" "${HOST_IP[$1]}" 26379 SENTINEL get-master-addr-by-name mymaster |
        paste -sd: -
}
# ROLE of data node i: master, slave or empty.
role() { rcli "${HOST_NS[$1]}" "${HOST_IP[$1]}" 6379 ROLE | head -1; }
# Field of SENTINEL master mymaster on sentinel i.
sfield() {
    rcli "${HOST_NS[$1]}" "${HOST_IP[$1]}" 26379 SENTINEL master mymaster |
        awk -v k="$2" 'NR % 2 == 1 {key = $0} NR % 2 == 0 && key == k {print; exit}'
}
# Data node index of ip:port, 0 if none.
node_of() {
    local i
    for i in 1 2 3; do [ "$1" = "${HOST_IP[$i]}:6379" ] && { echo "$i"; return; }; done
    echo 0
}

# wait_until <seconds> <command...>: poll every 0.2 s.
# The counter has a name of its own: the commands are eval'd strings that use
# their caller's $i (bash scoping is dynamic).
wait_until() {
    local limit=$(($1 * 5)) _wu
    shift
    for ((_wu = 0; _wu < limit; _wu++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

start_servers() { # start_servers <dir> <minrep 0|1>
    local dir="$1" minrep="$2" i
    for i in 1 2 3; do
        local d="$dir/h$i"
        mkdir -p "$d"
        {
            echo "bind ${HOST_IP[$i]}"
            echo "port 6379"
            echo "protected-mode no"
            echo "daemonize no"
            echo "save \"\""
            echo "appendonly no"
            echo "repl-diskless-sync-delay 0"
            echo "shutdown-timeout 0" # a partitioned master would wait 10 s for its replicas
            echo "dir $d"
            echo "logfile $d/redis.log"
            [ "$i" -gt 1 ] && echo "replicaof 10.77.0.1 6379"
            if [ "$minrep" -eq 1 ]; then
                echo "min-replicas-to-write 1"
                echo "min-replicas-max-lag $LAG"
            fi
        } >"$d/redis.conf"
        ip netns exec "${HOST_NS[$i]}" "$SERVER" "$d/redis.conf" >"$d/stdout" 2>&1 &
        PIDS+=($!)
    done
    for i in 1 2 3; do
        wait_until 10 eval '[ "$(rcli "${HOST_NS[$i]}" "${HOST_IP[$i]}" 6379 PING)" = PONG ]' ||
            die "$SERVER on ${HOST_IP[$i]} does not answer (see $dir/h$i/redis.log)"
    done
    for i in 2 3; do
        wait_until 20 eval 'rcli "${HOST_NS[$i]}" "${HOST_IP[$i]}" 6379 INFO replication |
            grep -q "^master_link_status:up"' ||
            die "replica ${HOST_IP[$i]} did not sync (see $dir/h$i/redis.log)"
    done
    for i in 1 2 3; do
        local d="$dir/s$i"
        mkdir -p "$d"
        {
            echo "bind ${HOST_IP[$i]}"
            echo "port 26379"
            echo "protected-mode no"
            echo "daemonize no"
            echo "dir $d"
            echo "logfile $d/sentinel.log"
            echo "sentinel monitor mymaster 10.77.0.1 6379 2"
            echo "sentinel down-after-milliseconds mymaster 1000"
            echo "sentinel failover-timeout mymaster 10000"
            echo "sentinel parallel-syncs mymaster 1"
        } >"$d/sentinel.conf"
        ip netns exec "${HOST_NS[$i]}" "$SENTINEL" "$d/sentinel.conf" >"$d/stdout" 2>&1 &
        PIDS+=($!)
    done
    for i in 1 2 3; do
        wait_until 30 eval '[ "$(smaster $i)" = "$OLD" ] &&
            [ "$(sfield $i num-slaves)" = 2 ] && [ "$(sfield $i num-other-sentinels)" = 2 ]' ||
            die "sentinel ${HOST_IP[$i]} did not converge (see $dir/s$i/sentinel.log)"
    done
    # Both client hosts reach both sides before the cut.
    [ "$(rcli "$NS_C1" 10.77.0.2 6379 PING)" = PONG ] || die "c1 cannot reach 10.77.0.2"
    [ "$(rcli "$NS_C2" 10.77.0.1 6379 PING)" = PONG ] || die "c2 cannot reach 10.77.0.1"
}

# Field of a RESULT line.
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }
# Numeric comparison that treats "none" as failing.
le() { [ "$1" != none ] && awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }

SUMMARY=()
TIMELINE=()

run_round() { # run_round plain|minrep
    local name="$1" minrep=0 dir="$WORK/$1" i
    [ "$name" = minrep ] && minrep=1
    mkdir -p "$dir"
    echo
    log "=== round '$name': min-replicas-to-write $([ $minrep -eq 1 ] && echo "1, min-replicas-max-lag $LAG" || echo "0 (off)")"
    heal_link
    local first_pid=${#PIDS[@]}
    start_servers "$dir" "$minrep"
    log "topology up: master 10.77.0.1 (minority side), replicas 10.77.0.2, 10.77.0.3, sentinels on all three"

    local marks="$dir/marks" side ns wpid=() sides=(minority majority)
    : >"$marks"
    for side in "${sides[@]}"; do
        ns="$NS_C1"
        [ "$side" = majority ] && ns="$NS_C2"
        ip netns exec "$ns" "$WRITER" --side "$side" --sentinels "$SENTINELS" \
            --writers "$WRITERS" --rate "$RATE" --ready "$dir/ready.$side" --marks "$marks" \
            --max-seconds "$TIMEOUT" "${VERBOSE[@]}" >"$dir/$side.out" 2>"$dir/$side.err" &
        wpid+=($!)
        PIDS+=($!)
    done
    for i in 0 1; do
        wait_until 40 eval '[ -e "$dir/ready.${sides[$i]}" ] || ! running ${wpid[$i]}'
        [ -e "$dir/ready.${sides[$i]}" ] ||
            die "the ${sides[$i]} writers did not start: $(tail -3 "$dir/${sides[$i]}.err")"
    done
    log "writers running on both sides ($WRITERS x $RATE/s each); cutting in $LEAD s"
    sleep "$LEAD"

    local t_cut t_fo t_heal t_set new="" m1 r1
    # The mark follows the command: every write acknowledged after it was
    # acknowledged with the link down (the ip process itself takes ~5 ms).
    cut_link || die "cannot cut the link"
    t_cut=$EPOCHREALTIME
    echo "cut $t_cut" >>"$marks"
    log "CUT: 10.77.0.1 (master) + client c1 isolated from 10.77.0.2, 10.77.0.3 + client c2"

    majority_failed_over() {
        local a b
        a="$(smaster 2)"
        b="$(smaster 3)"
        [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$OLD" ] && [ "$(node_of "$a")" -gt 0 ] &&
            [ "$(role "$(node_of "$a")")" = master ] && new="$a"
    }
    wait_until 60 majority_failed_over || die "the majority's sentinels did not fail over within 60 s"
    t_fo=$EPOCHREALTIME
    echo "failover $t_fo" >>"$marks"
    m1="$(smaster 1)"
    r1="$(role 1)"
    log "majority sentinels promoted $new ($(awk -v a="$(us "$t_fo")" -v b="$(us "$t_cut")" \
        'BEGIN {printf "%.2f", (a - b) / 1e6}') s after the cut); the minority sentinel names ${m1:-nothing}, 10.77.0.1 says ROLE ${r1:-?}"
    log "keeping the partition for $HOLD s"
    sleep "$HOLD"

    heal_link || die "cannot heal the link"
    t_heal=$EPOCHREALTIME
    echo "heal $t_heal" >>"$marks"
    log "HEAL: link restored"
    local ni
    ni="$(node_of "$new")"
    settled() {
        local i
        for i in 1 2 3; do [ "$(smaster "$i")" = "$new" ] || return 1; done
        [ "$(role 1)" = slave ] || return 1
        rcli "$NS_H1" 10.77.0.1 6379 INFO replication | grep -q "^master_link_status:up" ||
            return 1
        [ "$(rcli "${HOST_NS[$ni]}" "${HOST_IP[$ni]}" 6379 INFO replication |
            grep -c '^slave[0-9]*:.*state=online')" -eq 2 ]
    }
    wait_until 90 settled || die "the topology did not settle within 90 s of the heal"
    t_set=$EPOCHREALTIME
    echo "settled $t_set" >>"$marks"
    log "settled: all sentinels name $new, 10.77.0.1 is its replica ($(awk -v a="$(us "$t_set")" \
        -v b="$(us "$t_heal")" 'BEGIN {printf "%.2f", (a - b) / 1e6}') s after the heal)"
    sleep "$TAIL"

    log "stopping the writers; they read their keys back from the final master"
    local rc=() res=()
    for i in 0 1; do kill -TERM "${wpid[$i]}" 2>/dev/null; done
    for i in 0 1; do
        wait_until 60 eval '! running ${wpid[$i]}'
        running "${wpid[$i]}" && kill -KILL "${wpid[$i]}"
        wait "${wpid[$i]}"
        rc[i]=$?
        res[i]="$(grep '^RESULT ' "$dir/${sides[$i]}.out" | tail -1)"
        grep -v '^RESULT ' "$dir/${sides[$i]}.out"
        if [ ${#VERBOSE[@]} -gt 0 ]; then
            echo "   pool log: $dir/${sides[$i]}.err"
        elif [ -s "$dir/${sides[$i]}.err" ]; then
            sed 's/^/   stderr: /' "$dir/${sides[$i]}.err"
        fi
    done
    stop_pids "${PIDS[@]:$first_pid}"
    PIDS=("${PIDS[@]:0:$first_pid}")

    echo "checks ($name):"
    [ "$m1" = "$OLD" ]
    check $? "the minority sentinel still named 10.77.0.1 during the partition (one-sided cut): ${m1:-none}"
    for i in 0 1; do
        local s="${sides[$i]}" r="${res[$i]}"
        [ "${rc[$i]}" -eq 0 ] && [ -n "$r" ]
        check $? "$s writer exited 0 with a read-back (exit ${rc[$i]})"
        [ -n "$r" ] || continue
        [ "$(field "$r" final)" = "$new" ]
        check $? "$s pool ends on the master the sentinels name ($(field "$r" final) vs $new)"
        [ "$(field "$r" lost_other)" = 0 ]
        check $? "$s: no lost write acknowledged by a node other than the isolated master ($(field "$r" lost_other))"
        [ "$(field "$r" mismatch)" = 0 ] && [ "$(field "$r" unknown)" = 0 ]
        check $? "$s: counter == list length, no unknown sequence numbers"
        [ "$(field "$r" first_new_ack_s)" != none ]
        check $? "$s pool wrote on the new master (cut+$(field "$r" first_new_ack_s) s)"
        [ "$(field "$r" old_acks_after_switch)" -le "$WRITERS" ]
        check $? "$s: at most one write per writer on the isolated master after the pool's switch ($(field "$r" old_acks_after_switch))"
    done
    if [ -n "${res[0]}" ]; then
        if [ $minrep -eq 0 ]; then
            [ "$(field "${res[0]}" old_acks_after_cut)" -gt 0 ]
            check $? "plain: the minority pool kept writing to the isolated master ($(field "${res[0]}" old_acks_after_cut) acks after the cut)"
        else
            le "$(field "${res[0]}" old_last_ack_s)" $((LAG + 3))
            check $? "minrep: the isolated master stopped acknowledging within min-replicas-max-lag + 3 s (cut+$(field "${res[0]}" old_last_ack_s) s)"
        fi
    fi
    rel() { awk -v a="$(us "$1")" -v b="$(us "$t_cut")" 'BEGIN {printf "%.2f", (a - b) / 1e6}'; }
    TIMELINE+=("$name: majority failover at $(rel "$t_fo") s, heal at $(rel "$t_heal") s, settled at $(rel "$t_set") s (new master $new)")
    for i in 0 1; do
        SUMMARY+=("$name ${sides[$i]} ${res[$i]:-RESULT none}")
    done
}

print_summary() {
    echo
    echo "=== summary (times in s from the cut; 'none' = never)"
    local t
    for t in "${TIMELINE[@]}"; do echo "$t"; done
    printf '%-7s %-9s %-28s %-11s %-30s %-10s %-11s %s\n' round side \
        "last ack on isolated master" "acks there" "lost: iso-after/before/other" \
        "1st on new" "pool switch" "errors (noreplicas/readonly/timeout/conn/nomaster)"
    local line
    for line in "${SUMMARY[@]}"; do
        local round="${line%% *}" rest="${line#* }"
        local side="${rest%% *}" r="${rest#* }"
        if [ "$r" = "RESULT none" ]; then
            printf '%-7s %-9s (no result)\n' "$round" "$side"
            continue
        fi
        printf '%-7s %-9s %-28s %-11s %-30s %-10s %-11s %s\n' "$round" "$side" \
            "$(field "$r" old_last_ack_s) (heal $(field "$r" old_last_ack_from_heal_s))" \
            "$(field "$r" old_acks_after_cut)" \
            "$(field "$r" lost_old_after_cut)/$(field "$r" lost_old_before_cut)/$(field "$r" lost_other) of $(field "$r" acked)" \
            "$(field "$r" first_new_ack_s)" "$(field "$r" switch_s)" \
            "$(field "$r" err_noreplicas)/$(field "$r" err_readonly)/$(field "$r" err_timeout)/$(field "$r" err_conn)/$(field "$r" err_nomaster)"
    done
}

log "network namespaces $P-{sw,h1,h2,h3,c1,c2}; work dir $WORK"
build_network
IFS=, read -r -a round_list <<<"$ROUNDS"
for rd in "${round_list[@]}"; do run_round "$rd"; done
print_summary
echo
if [ "$FAILS" -gt 0 ]; then
    echo "netns-partition: FAIL: $FAILS checks failed"
    exit 1
fi
echo "netns-partition: PASS"
exit 0

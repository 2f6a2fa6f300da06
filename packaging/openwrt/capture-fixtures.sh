#!/bin/sh
# Record, on a real OpenWrt router, everything the homescope samplers read, in the layout the
# tests load (tests/fixtures/openwrt/<board>-<release>/, see tests/agent/samplers/recorded.py):
# an index.tsv of "kind<TAB>recording<TAB>path-or-argv" lines and one file per recording.
#
#   capture-fixtures.sh [OUTDIR] [SECONDS]
#
# step0 goes to OUTDIR/<board>-<release>/, then after SECONDS (default 60) the counters are
# recorded again in step1/. With RESET_STEP=1 it also restarts Wi-Fi ("wifi down; wifi up",
# which disconnects every station) and records step2-reset/ with the counters reset.
# PING_TARGET=<address> also records the pings to that target.
#
# The recordings hold the home's MAC addresses, hostnames and SSIDs: scrub them before
# committing. Runs with BusyBox ash; needs nothing beyond what the agent itself uses.
set -u

OUT=${1:-/tmp/homescope-fixtures}
WAIT=${2:-60}
PING_TARGET=${PING_TARGET:-}
TOOLS="ubus iw ip bridge brctl batctl ping iperf3 curl"
TOOL_DIRS="/usr/sbin /usr/bin /sbin /bin"
DIR=""

name_of() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_' | tr -s '_' | sed 's/^_//; s/_$//'
}

index() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$DIR/index.tsv"
}

rec_file() {
	_n=$(name_of "$1")
	if [ -f "$1" ] && cat "$1" >"$DIR/$_n" 2>/dev/null; then
		index file "$_n" "$1"
	else
		rm -f "$DIR/$_n"
		index absent - "$1"
	fi
}

rec_dir() {
	if [ -d "$1" ]; then
		_n=$(name_of "$1").ls
		ls -1 "$1" >"$DIR/$_n"
		index dir "$_n" "$1"
	else
		index absent - "$1"
	fi
}

rec_exists() {
	if [ -e "$1" ]; then index exists - "$1"; else index absent - "$1"; fi
}

# rec_cmd ARGV...: the argv is recorded joined by single spaces, as the samplers pass it.
rec_cmd() {
	_what="$*"
	_n=$(name_of "$_what")
	if ! command -v "$1" >/dev/null 2>&1; then
		index nocmd - "$_what"
		return
	fi
	"$@" >"$DIR/$_n" 2>/dev/null
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		index cmd "$_n" "$_what"
	else
		rm -f "$DIR/$_n"
		index fail "exit=$_rc" "$_what"
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

wifi_devices() {
	if have ubus && have jsonfilter; then
		ubus call iwinfo devices 2>/dev/null | jsonfilter -e '@.devices[*]' 2>/dev/null && return
	fi
	have iw && iw dev 2>/dev/null | awk '$1 == "Interface" { print $2 }'
}

iw_type() {
	iw dev "$1" info 2>/dev/null | awk '$1 == "type" { print $2; exit }'
}

wan_device() {
	_wdev=""
	if have ubus && have jsonfilter; then
		_wdev=$(ubus call network.interface.wan status 2>/dev/null | jsonfilter -e '@.l3_device' 2>/dev/null)
	fi
	[ -n "$_wdev" ] || _wdev=$(awk '$2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route)
	printf '%s' "$_wdev"
}

default_gateway() {
	ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "via") { print $(i + 1); exit } }'
}

capture() { # capture DIR SCANS(yes/no)
	DIR=$1
	mkdir -p "$DIR"
	printf '# recorded by capture-fixtures.sh on %s at %s\n# kind\trecording\tpath-or-argv\n' \
		"$(cat /proc/sys/kernel/hostname)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$DIR/index.tsv"
	for tool in $TOOLS; do
		for d in $TOOL_DIRS; do
			rec_exists "$d/$tool"
			[ -e "$d/$tool" ] && break
		done
	done
	for f in /proc/stat /proc/meminfo /proc/loadavg /proc/uptime /proc/self/status /proc/net/dev /proc/net/route \
		/proc/net/arp /etc/openwrt_release /etc/board.json /etc/os-release /proc/sys/kernel/hostname \
		/proc/sys/kernel/osrelease /sys/class/dmi/id/product_name /sys/class/dmi/id/sys_vendor /tmp/dhcp.leases \
		/var/lib/misc/dnsmasq.leases /tmp/resolv.conf.d/resolv.conf.auto /etc/resolv.conf; do
		rec_file "$f"
	done
	for ifc in $(ls /sys/class/net); do
		for leaf in operstate speed address; do rec_file "/sys/class/net/$ifc/$leaf"; done
	done
	rec_dir /sys/class/thermal
	for z in /sys/class/thermal/thermal_zone*; do [ -e "$z/temp" ] && rec_file "$z/temp"; done
	rec_dir /sys/class/hwmon
	for h in /sys/class/hwmon/hwmon*; do
		[ -d "$h" ] || continue
		rec_dir "$h"
		for t in "$h"/temp*_input; do [ -e "$t" ] && rec_file "$t"; done
	done
	rec_cmd ubus list
	rec_cmd ubus call system board
	rec_cmd ubus call network.interface.wan status
	rec_cmd ubus call iwinfo devices
	rec_cmd iw dev
	for dev in $(wifi_devices); do
		arg="{\"device\":\"$dev\"}"
		rec_cmd ubus call iwinfo info "$arg"
		rec_cmd ubus call iwinfo assoclist "$arg"
		rec_cmd ubus call iwinfo survey "$arg"
		rec_cmd iw dev "$dev" station dump
		rec_cmd iw dev "$dev" survey dump
		if [ "$2" = yes ]; then
			rec_cmd ubus call iwinfo scan "$arg"
			if [ "$(iw_type "$dev")" = AP ]; then rec_cmd iw dev "$dev" scan ap-force; else rec_cmd iw dev "$dev" scan; fi
		fi
	done
	if have ubus; then
		for obj in $(ubus list 'hostapd.*' 2>/dev/null); do rec_cmd ubus call "$obj" get_clients; done
	fi
	wan=$(wan_device)
	[ -n "$wan" ] && rec_cmd ip -4 -o addr show dev "$wan"
	rec_cmd ip neigh show
	rec_cmd bridge fdb show
	if [ -d /sys/class/net/br-lan/brif ]; then
		rec_cmd brctl showmacs br-lan
		rec_dir /sys/class/net/br-lan/brif
		for p in /sys/class/net/br-lan/brif/*; do rec_file "$p/port_no"; done
	fi
	rec_cmd batctl o
	rec_cmd batctl tg
	gw=$(default_gateway)
	[ -n "$gw" ] && rec_cmd ping -c 5 -W 1 "$gw"
	[ -n "$PING_TARGET" ] && rec_cmd ping -c 5 -W 1 "$PING_TARGET"
	for addr in $(awk 'NR > 1 && $3 == "0x2" && $6 ~ /^br-/ { print $1 }' /proc/net/arp); do
		rec_cmd ping -c 3 -W 1 "$addr"
	done
}

board=$(cat /tmp/sysinfo/board_name 2>/dev/null || cat /proc/sys/kernel/hostname)
release=$(. /etc/openwrt_release 2>/dev/null && printf '%s' "$DISTRIB_RELEASE")
ROOT="$OUT/$(name_of "${board#*,}")-$(name_of "${release:-unknown}")"
echo "recording step0 into $ROOT" >&2
capture "$ROOT" yes
echo "waiting $WAIT s for the counters to move" >&2
sleep "$WAIT"
capture "$ROOT/step1" no
if [ "${RESET_STEP:-0}" = 1 ] && have wifi; then
	echo "restarting Wi-Fi to reset its counters (stations will reconnect)" >&2
	wifi down && sleep 5 && wifi up && sleep 60
	capture "$ROOT/step2-reset" no
fi
echo "done: $ROOT (scrub MACs, hostnames and SSIDs before committing)" >&2

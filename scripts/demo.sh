#!/usr/bin/env bash
# Bring up a working homescope on this machine: a private Mosquitto on loopback, the
# collector on SQLite, an emulated fleet and one real agent sampling this machine.
# Ctrl-C stops everything. DEMO_SECONDS=N stops after N seconds (for unattended checks).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DIR=.demo
HOMES=${DEMO_HOMES:-20}
DAYS=${DEMO_DAYS:-7}
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
mkdir -p "$DIR"

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQTT_PORT=${DEMO_MQTT_PORT:-$(free_port)}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
PASSWORD_FILE="$DIR/admin-password"
[ -s "$PASSWORD_FILE" ] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(9))' > "$PASSWORD_FILE"
PASSWORD=$(cat "$PASSWORD_FILE")

cat > "$DIR/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
user $(id -un)
persistence true
persistence_location $PWD/$DIR/
log_dest file $PWD/$DIR/mosquitto.log
CONF

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo; echo "stopping demo..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$MOSQUITTO" -c "$DIR/mosquitto.conf" & pids+=($!)
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$MQTT_PORT") 2>/dev/null && break; sleep 0.1; done

# Profiles are evaluated every 30 s in the demo (operators' default: after each 15-minute window).
printf '[schedule]\nevaluate_every_s = 30\n\n[areas]\nmin_group = 3  # a 20-home demo; keep the default (10) or more in service\n' > "$DIR/profiles.toml"
# The demo's offer catalogue: the shipped one without quiet hours, so its campaign is delivered at any hour.
sed -e 's/^quiet_start_hour = 21/quiet_start_hour = 0/' -e 's/^quiet_end_hour = 9/quiet_end_hour = 0/' \
  collector/marketing/offers.toml > "$DIR/offers.toml"
HOMESCOPE_USERS="admin:$PASSWORD" HOMESCOPE_PROFILES_CONFIG="$DIR/profiles.toml" HOMESCOPE_OFFERS="$DIR/offers.toml" \
  HOMESCOPE_API_TOKENS="$PASSWORD-$PASSWORD-campaign" HOMESCOPE_SENDER="file:$PWD/$DIR/drop" HOMESCOPE_DELIVER_EVERY_S=1 \
  "$VENV/bin/homescope-collector" serve \
  --db "sqlite:///$DIR/homescope.db" --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --http "127.0.0.1:$HTTP_PORT" \
  > "$DIR/collector.log" 2>&1 & pids+=($!)
for _ in $(seq 600); do (echo > /dev/tcp/127.0.0.1/"$HTTP_PORT") 2>/dev/null && break; sleep 0.1; done
if ! (echo > /dev/tcp/127.0.0.1/"$HTTP_PORT") 2>/dev/null; then
  echo "the collector did not start; see $DIR/collector.log:"; tail -20 "$DIR/collector.log"; exit 1
fi

# A week of history for a persona-mixed fleet (gamers, video families, SOHO, poor Wi-Fi, ...) and its
# CRM export, so the Homes and Areas pages have labels, offers and warnings to show.
echo "back-filling $DAYS days of $HOMES persona homes through the broker (progress: $DIR/backfill.log)..."
# Few areas (DEMO_AREAS, default 3: 4, 8 and 8 of the 20 homes), so each passes the area view's minimum group.
AREAS=${DEMO_AREAS:-3}
"$VENV/bin/homescope-emulator" run --homes "$HOMES" --days "$DAYS" --prefix home --areas "$AREAS" --mqtt "mqtt://127.0.0.1:$MQTT_PORT" \
  --unclassified 20 --crm "$DIR/crm.csv" --truth "$DIR/truth.json" > "$DIR/backfill.log" 2>&1 || echo "back-fill incomplete; see $DIR/backfill.log"
"$VENV/bin/homescope-collector" import-subscribers "$DIR/crm.csv" --db "sqlite:///$DIR/homescope.db" || true

# A mesh campaign on every flagged home, delivered to $DIR/drop, answered by the emulated households.
"$VENV/bin/python" scripts/demo_campaign.py --api "http://127.0.0.1:$HTTP_PORT" --token "$PASSWORD-$PASSWORD-campaign" \
  --db "sqlite:///$DIR/homescope.db" --drop "$DIR/drop" --out "$DIR" --config "$DIR/profiles.toml" > "$DIR/campaign.log" 2>&1 &
# The live emulator continues the same persona homes (same ids, personas and CRM rows).
"$VENV/bin/homescope-emulator" run --homes "$HOMES" --personas mix --prefix home --areas "$AREAS" \
  --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --interval 5 --unclassified 20 > "$DIR/emulator.log" 2>&1 & pids+=($!)

# A report of the back-filled days in the archive (/reports): evaluate now, then report.
"$VENV/bin/homescope-collector" evaluate --db "sqlite:///$DIR/homescope.db" --config "$DIR/profiles.toml" \
  > "$DIR/report.log" 2>&1 || true
"$VENV/bin/homescope-collector" report --db "sqlite:///$DIR/homescope.db" --config "$DIR/profiles.toml" --archive --out "$DIR/report" \
  --from "$(date -u -d "-$((${DAYS%.*} - 1)) days" +%F)" --to "$(date -u +%F)" >> "$DIR/report.log" 2>&1 \
  || echo "the report of the back-filled days failed; see $DIR/report.log"
# The demo's real agent sends nothing off this machine: no pings, scans or capacity tests.
cat > "$DIR/agent.toml" <<CONF
[agent]
disabled_samplers = ["quality", "neighbours"]
dpi_interface = ""
CONF
"$VENV/bin/homescope-agent" run --config "$DIR/agent.toml" --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --interval 10 --no-jitter \
  --spool "$DIR/agent-outbox.db" > "$DIR/agent.log" 2>&1 & pids+=($!)

cat <<MSG

  homescope is running.
    operator page:  http://127.0.0.1:$HTTP_PORT/     user: admin   password: $PASSWORD
    home profiles:  http://127.0.0.1:$HTTP_PORT/homes  and /areas  (evaluated every 30 s; truth: $DIR/truth.json)
    marketing:      http://127.0.0.1:$HTTP_PORT/marketing  (a demo campaign with results within a minute; $DIR/campaign.log;
                    then a report with its campaigns section in /reports)
    field view:     http://127.0.0.1:$HTTP_PORT/installer  (phone-first: find a home, "measure now", record a visit)
    reports:        http://127.0.0.1:$HTTP_PORT/reports  (the back-filled days; files also in $DIR/report/)
    DPI domains:    http://127.0.0.1:$HTTP_PORT/dpi/unclassified  (domains the fleet could not classify, shown at >= 5 homes;
                    assign one a category: the next reports count it there)
    REST API:       http://127.0.0.1:$HTTP_PORT/api/v1/gateways  (sign in first, or a token:
                    $VENV/bin/homescope-collector token create demo --role analyst --db sqlite:///$DIR/homescope.db)
    security:       /admin (users, sessions, tokens), /security/events; docs/security.md
    broker:         mqtt://127.0.0.1:$MQTT_PORT  ($HOMES emulated homes + this machine's real agent)
    logs:           $DIR/*.log
  Press Ctrl-C to stop.

MSG
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else wait -n "${pids[@]}" || true; fi

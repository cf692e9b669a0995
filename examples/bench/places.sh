#!/usr/bin/env sh
# One place per module, on the coordinator (run once; the coordinator keeps places in its
# places.yaml). labgrid-client reads the coordinator from -x or LG_COORDINATOR.
set -eu
: "${LG_COORDINATOR:=coordinator.bench.example:20408}"
export LG_COORDINATOR

labgrid-client -p xbee-1 create
labgrid-client -p xbee-1 add-match 'bench-a/xbee-1/*'   # EXPORTER/GROUP/CLASS[/NAME]
labgrid-client -p xbee-1 set-tags module=xbee3-cat1 firmware=3100C

# labgrid-client -p xbee-2 create
# labgrid-client -p xbee-2 add-match 'bench-a/xbee-2/*'

labgrid-client places                # the places
labgrid-client -p xbee-1 show        # its resources: a NetworkSerialPort (and a power port)

#!/usr/bin/env bash
# One night on a bench (docs/nightly.md): the suites against the bench's modules, the Allure
# report added to the history kept between nights, and the report published. cron, the
# systemd service and the CI workflow in this folder all run this script.
#
#   examples/nightly/nightly.sh suites/ --device /dev/ttyUSB0 --profile profiles/cat1-att.yaml
#
# The arguments go to pytest as they are. The environment:
#   XBEE_HIL_PYTHON   the Python that has xbee-hil installed (default .venv/bin/python)
#   XBEE_HIL_HISTORY  where the Allure history is kept between nights, outside the checkout
#                     (e.g. /var/lib/xbee-hil/allure-history.jsonl); empty: only in reports/
#   XBEE_HIL_PUBLISH  a folder a web server serves: each night lands in <UTC time>/ and
#                     `latest` points at it; empty: nothing is published
#   XBEE_HIL_ALLURE   the Allure command (default: the version tox -e report pins, via npx)
# Exit status: pytest's (the report is built and published also when tests failed).
set -uo pipefail
cd "$(dirname "$0")/../.."

python=${XBEE_HIL_PYTHON:-.venv/bin/python}
read -r -a allure <<<"${XBEE_HIL_ALLURE:-npx --yes allure@3.18.0}"
history=reports/history/allure-history.jsonl  # allurerc.json's historyPath
keep=${XBEE_HIL_HISTORY:-}
publish=${XBEE_HIL_PUBLISH:-}

mkdir -p reports/history
if [[ -n $keep && -s $keep ]]; then
  cp -- "$keep" "$history"
fi

"$python" -m pytest --clean-alluredir --junitxml reports/junit.xml "$@"
status=$?

if ! "${allure[@]}" generate --config allurerc.json --output reports/allure-report \
  reports/allure-results; then
  echo "nightly: the Allure report was not built; the history is left as it was" >&2
  exit $((status ? status : 1))
fi
if [[ -n $keep ]]; then
  mkdir -p -- "$(dirname -- "$keep")"
  cp -- "$history" "$keep.tmp" && mv -- "$keep.tmp" "$keep"
fi
if [[ -n $publish ]]; then
  night=$(date -u +%Y-%m-%dT%H%MZ)
  mkdir -p -- "$publish/$night"
  cp -- reports/allure-report/index.html "$publish/$night/index.html"
  for extra in reports/matrix.html reports/matrix.md reports/junit.xml; do
    if [[ -f $extra ]]; then cp -- "$extra" "$publish/$night/"; fi
  done
  ln -sfn -- "$night" "$publish/latest"
  echo "nightly: published $publish/$night/index.html"
fi
exit "$status"

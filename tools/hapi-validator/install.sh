#!/usr/bin/env bash
# Installs the HAPI profile validator that `fhir-adapter validate` runs: builds the jar with Maven
# (HAPI FHIR and its dependencies go to Maven's cache, ~/.m2) and fetches the FHIR packages it
# loads from the npm registry into packages/. Needs Java 17 or later, Maven and npm. Safe to run
# again: a step whose result is already there is skipped.
#
#   bash tools/hapi-validator/install.sh                     # the validator and mCODE 4.0.0
#   bash tools/hapi-validator/install.sh --with-terminology  # and hl7.terminology.r4 as well
set -euo pipefail
cd "$(dirname "$0")"

# The FHIR packages, pinned by version and by the SHA-1 the registry publishes for each tarball.
# hl7.fhir.us.mcode 4.0.0: the mCODE profiles, extensions and value sets.
PACKAGES="hl7.fhir.us.mcode 4.0.0 b1d877a4ef642106699c6431b1f6d9fb5c52ea97"
# hl7.terminology.r4 7.0.1: HL7 code systems and value sets beyond the R4 core (mCODE names 6.2.0,
# which the registry does not serve). Optional: it changes no finding on fhir-adapter's output and
# adds seconds to every start (README, Validation).
case "${1:-}" in
  "") ;;
  --with-terminology)
    PACKAGES="$PACKAGES
hl7.terminology.r4 7.0.1 821279c60ef8564f7bd61403738de1a3dd26afda" ;;
  *) echo "usage: $0 [--with-terminology]" >&2; exit 2 ;;
esac

# Build when the jar is missing or older than its sources.
if [ ! -f target/hapi-validator.jar ] || [ -n "$(find pom.xml src -newer target/hapi-validator.jar -print -quit)" ]; then
  mvn -q -B package
fi

mkdir -p packages
echo "$PACKAGES" | while read -r name version sha1; do
  file="packages/$name-$version.tgz"
  if [ ! -f "$file" ]; then
    (cd packages && npm pack --silent "$name@$version" >/dev/null)
  fi
  if ! echo "$sha1  $file" | sha1sum --quiet -c -; then
    echo "$file: checksum mismatch (expected SHA-1 $sha1); delete it and run again" >&2
    exit 1
  fi
done
echo "hapi-validator installed: target/hapi-validator.jar and $(ls packages/*.tgz | wc -l) FHIR package(s) in $(pwd)/packages" >&2

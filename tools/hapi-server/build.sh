#!/usr/bin/env bash
# Builds the HAPI FHIR test server (target/hapi-server.jar) and fetches the FHIR packages it
# installs (build/packages/*.tgz, from the npm registry). Safe to run again: each step is skipped
# when its output is already there and newer than its inputs. Needs Java 17+, Maven and npm.
set -euo pipefail
cd "$(dirname "$0")"

jar=target/hapi-server.jar
if [ ! -f "$jar" ] || [ -n "$(find pom.xml src -newer "$jar" -print -quit)" ]; then
  mvn -q -B package -DskipTests
fi

# mCODE 4.0.0. Its dependencies are not fetched: US Core 6.1.0 is not on the npm registry, and the
# server installs packages with no network (see README, "A local HAPI FHIR server").
mkdir -p build/packages
for package in hl7.fhir.us.mcode@4.0.0; do
  file="build/packages/$(echo "$package" | tr '@' '-').tgz"
  if [ ! -s "$file" ]; then
    (cd build/packages && npm pack --silent "$package" >/dev/null)
  fi
done
echo "built $PWD/$jar; packages: $(ls build/packages | tr '\n' ' ')"

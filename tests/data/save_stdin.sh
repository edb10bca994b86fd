#!/bin/sh
# Copy stdin to the file $1 (the alert tests check the event it was given).
cat >"$1"

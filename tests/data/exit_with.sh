#!/bin/sh
# Say on stderr that it fails, then exit with status $1.
echo "output before failing" 
echo "failing with $1" >&2
exit "$1"

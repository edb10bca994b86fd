#!/bin/sh
# A program that ignores SIGTERM and leaves a child behind (which ignores it
# too): only SIGKILL to the whole process group stops both.  $1: a file for
# the child's pid.
trap '' TERM
sleep 1000 &
echo $! >"$1"
while :; do sleep 1; done

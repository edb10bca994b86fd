#!/bin/sh
# Print each argument on a line of its own, in brackets, and exit 0: the
# fence tests check what a program run by drover receives.
for a in "$@"; do
    printf '[%s]\n' "$a"
done
exit 0

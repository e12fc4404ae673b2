#!/usr/bin/python3
# Python's json.load of a COCO file: prints the seconds and the peak resident memory.
# (`focalab bench` runs it: compiled into focalab at build time, written to a temporary file and
# run with /usr/bin/python3 or $FOCALAB_PYTHON.)
import json, resource, sys, time
t = time.perf_counter()
with open(sys.argv[1]) as f:
    d = json.load(f)
seconds = time.perf_counter() - t
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, len(d["annotations"]))

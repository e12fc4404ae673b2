#!/usr/bin/python3
# pycocotools on the same files, when it is installed: prints the seconds of
# COCO() + loadRes + evaluate + accumulate + summarize.
# (`focalab bench` runs it: compiled into focalab at build time, written to a temporary file and
# run with /usr/bin/python3 or $FOCALAB_PYTHON.)
import sys, time, contextlib, io
try:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError:
    print("missing"); sys.exit(0)
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); ev = COCOeval(gt, gt.loadRes(sys.argv[2]), "bbox")
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(time.perf_counter() - t0, ev.stats[0])

"""`focalab eval-json` equals COCOeval on random cases.

Usage: /usr/bin/python3 eval_json_parity.py FOCALAB [--cases N] [--seed S]

Generates N random ground-truth / results pairs that exercise every rule of COCOeval (bbox):
crowd GTs, GT `area` different from the box area and spanning the small / medium / large ranges,
more than 100 detections on an image (maxDets), tied scores, integer boxes (IoU ties at the
thresholds), images without GT or without detections, categories without GT, non-contiguous
category ids, detections of categories the GT does not have, GT id 0 and repeated GT ids; and
the COCO-val-shaped pair `focalab bench eval --keep` generates (harness/eval/coco_synth). Each
is scored by `focalab eval-json --json` and by cocoeval_reference.py (and by pycocotools when it
is importable); the 12 stats and the per-class AP must agree within 1e-6.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import cocoeval_reference  # noqa: E402  (needs numpy)
except ImportError as e:
    print(f"SKIPPED: {e} (apt-get install python3-numpy); eval-json parity not checked")
    sys.exit(77)  # ctest: SKIP_RETURN_CODE

TOL = 1e-6
NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def random_box(rng, integer):
    w = rng.choice([rng.uniform(2, 30), rng.uniform(30, 100), rng.uniform(100, 300)])
    h = w * rng.uniform(0.4, 2.5)
    x, y = rng.uniform(0, 500), rng.uniform(0, 400)
    box = [x, y, w, h]
    return [float(round(v)) if integer else v for v in box]


def jitter(rng, box, amount, integer):
    x, y, w, h = box
    out = [x + rng.uniform(-amount, amount) * w, y + rng.uniform(-amount, amount) * h,
           w * rng.uniform(1 - amount, 1 + amount), h * rng.uniform(1 - amount, 1 + amount)]
    return [float(round(v)) if integer else v for v in out]


def make_case(rng):
    integer = rng.random() < 0.4
    n_images = rng.randint(1, 12)
    image_ids = rng.sample(range(1, 1000000), n_images)
    cat_ids = sorted(rng.sample(range(1, 100), rng.randint(1, 6)))
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"} for i in image_ids]
    categories = [{"id": c, "name": f"c{c}"} for c in cat_ids]
    annotations, results = [], []
    next_id = rng.choice([0, 1, 1, 1])  # sometimes a GT with id 0
    gt_cats = [c for c in cat_ids if rng.random() < 0.8] or cat_ids[:1]
    for im in image_ids:
        if rng.random() < 0.15:
            n_gt = 0
        else:
            n_gt = rng.randint(1, 8)
        gts = []
        for _ in range(n_gt):
            box = random_box(rng, integer)
            area = box[2] * box[3] * (1.0 if rng.random() < 0.5 else rng.uniform(0.4, 1.0))
            a = {"id": next_id, "image_id": im, "category_id": rng.choice(gt_cats),
                 "bbox": box, "area": area, "iscrowd": 1 if rng.random() < 0.1 else 0}
            next_id += 1
            annotations.append(a)
            gts.append(a)
        n_dt = rng.choice([0, rng.randint(1, 20), rng.randint(90, 130)]) if rng.random() < 0.9 else 0
        for j in range(n_dt):
            if gts and rng.random() < 0.6:
                g = rng.choice(gts)
                box = jitter(rng, g["bbox"], rng.choice([0.0, 0.05, 0.15, 0.3]), integer)
                cat = g["category_id"] if rng.random() < 0.85 else rng.choice(cat_ids)
            else:
                box = random_box(rng, integer)
                cat = rng.choice(cat_ids)
            if rng.random() < 0.03:
                cat = 999  # not a GT category: skipped
            score = rng.random()
            if rng.random() < 0.3:
                score = round(score, 1)  # ties
            results.append({"image_id": im, "category_id": cat, "bbox": box, "score": score})
    if annotations and rng.random() < 0.1:
        dup = dict(rng.choice(annotations))  # a repeated id: the later annotation wins
        dup["bbox"] = random_box(rng, integer)
        dup["area"] = dup["bbox"][2] * dup["bbox"][3]
        annotations.append(dup)
    rng.shuffle(annotations)
    if not results:
        results.append({"image_id": image_ids[0], "category_id": cat_ids[0],
                        "bbox": [0.0, 0.0, 5.0, 5.0], "score": 0.5})
    return {"images": images, "categories": categories, "annotations": annotations}, results


def main():
    focalab = sys.argv[1]
    n = int(sys.argv[sys.argv.index("--cases") + 1]) if "--cases" in sys.argv else 40
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 2017
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
        have_pycocotools = True
    except ImportError:
        have_pycocotools = False
    rng = random.Random(seed)
    failures = 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(n + 1):
            gt_path, dt_path = f"{tmp}/gt{case}.json", f"{tmp}/dt{case}.json"
            if case < n:
                gt, dt = make_case(rng)
                with open(gt_path, "w") as f:
                    json.dump(gt, f)
                with open(dt_path, "w") as f:
                    json.dump(dt, f)
            else:
                # the last case: the COCO-val-shaped pair `focalab bench eval` times, on 150 images
                kept = f"{tmp}/bench"
                bench = subprocess.run([focalab, "bench", "eval", "--images", "150", "--dets", "40",
                                        "--threads", "1", "--keep", kept],
                                       capture_output=True, text=True)
                if bench.returncode != 0:
                    print(f"bench eval --keep exited {bench.returncode}: {bench.stderr}")
                    failures += 1
                    continue
                gt_path, dt_path = f"{kept}/gt.json", f"{kept}/dt.json"
                with open(gt_path) as f:
                    gt = json.load(f)
                with open(dt_path) as f:
                    dt = json.load(f)
            out = subprocess.run([focalab, "eval-json", "--gt", gt_path, "--dt", dt_path, "--json"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"case {case}: focalab exited {out.returncode}: {out.stderr}")
                failures += 1
                continue
            got = json.loads(out.stdout)
            want, per_class = cocoeval_reference.evaluate(gt, dt)
            refs = [("reference", want, per_class)]
            if have_pycocotools:
                coco = COCO(gt_path)
                ev = COCOeval(coco, coco.loadRes(dt_path), "bbox")
                ev.evaluate(), ev.accumulate(), ev.summarize()
                refs.append(("pycocotools", list(ev.stats), None))
            for name, stats, classes in refs:
                for i, key in enumerate(NAMES):
                    diff = abs(got[key] - stats[i])
                    worst = max(worst, diff)
                    if diff > TOL:
                        print(f"case {case} ({name}): {key} focalab {got[key]} vs {stats[i]}")
                        failures += 1
                if classes is not None:
                    for k, c in enumerate(got["per_class"]):
                        if abs(c["AP"] - classes[k]) > TOL:
                            print(f"case {case} ({name}): class {c['category_id']} AP "
                                  f"{c['AP']} vs {classes[k]}")
                            failures += 1
    print(f"eval_json_parity: {n} random cases and bench eval's, largest difference {worst:.2e}, "
          f"{'with' if have_pycocotools else 'without'} pycocotools, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

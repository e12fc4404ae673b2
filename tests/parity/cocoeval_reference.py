"""COCOeval (bbox) as pycocotools 2.0 computes it, for focalab's evaluator tests.

pycocotools is not packaged for Debian 12, so the parity test needs its semantics in a form that
runs on Debian's python3-numpy. This module is a from-scratch restatement of the algorithm of
pycocotools' COCO (index, loadRes) and COCOeval (evaluate, accumulate, summarize) for bounding
boxes, numpy where pycocotools uses numpy (linspace thresholds, mergesort, cumsum,
searchsorted, mean), so that every comparison decides alike and results agree to ~1e-15. When pycocotools is
importable, eval_json_parity.py checks against it as well.

    stats, per_class_ap = evaluate(gt_dict, results_list)
"""
from collections import defaultdict

import numpy as np


def _bbox_iou(dts, gts, iscrowd):
    """maskApi.c bbIou: boxes [x, y, w, h]; crowd GT: intersection over the detection's area."""
    ious = np.zeros((len(dts), len(gts)))
    for d, db in enumerate(dts):
        da = db[2] * db[3]
        for g, gb in enumerate(gts):
            w = min(db[2] + db[0], gb[2] + gb[0]) - max(db[0], gb[0])
            if w <= 0:
                continue
            h = min(db[3] + db[1], gb[3] + gb[1]) - max(db[1], gb[1])
            if h <= 0:
                continue
            i = w * h
            u = da if iscrowd[g] else da + gb[2] * gb[3] - i
            ious[d, g] = i / u
    return ious


def evaluate(gt, results):
    # --- COCO(gt) index and loadRes(results)
    anns_by_id = {a["id"]: a for a in gt.get("annotations", [])}
    gt_by_image = defaultdict(list)
    for a in gt.get("annotations", []):
        gt_by_image[a["image_id"]].append(a)
    image_ids = sorted({im["id"] for im in gt["images"]})
    cat_ids = sorted({c["id"] for c in gt["categories"]})
    assert {r["image_id"] for r in results} <= set(image_ids), "results name unknown images"
    dts_all = []
    for i, r in enumerate(results):
        d = dict(r)
        d["area"] = r["bbox"][2] * r["bbox"][3]
        d["id"] = i + 1
        d["iscrowd"] = 0
        dts_all.append(d)
    dt_by_image = defaultdict(list)
    for d in dts_all:
        dt_by_image[d["image_id"]].append(d)

    # --- COCOeval._prepare: annotations in image order, then file order, through their ids
    cat_set = set(cat_ids)
    gts = [anns_by_id[a["id"]] for im in image_ids for a in gt_by_image.get(im, [])
           if a["category_id"] in cat_set]
    dts = [d for im in image_ids for d in dt_by_image.get(im, []) if d["category_id"] in cat_set]
    G, D = defaultdict(list), defaultdict(list)
    for g in gts:
        G[g["image_id"], g["category_id"]].append(g)
    for d in dts:
        D[d["image_id"], d["category_id"]].append(d)

    iou_thrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    rec_thrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
    max_dets = [1, 10, 100]
    area_rngs = [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]]
    T, R, K, A, M = len(iou_thrs), len(rec_thrs), len(cat_ids), len(area_rngs), len(max_dets)

    def ious_of(img, cat):
        g, d = G[img, cat], D[img, cat]
        if not g and not d:
            return []
        order = np.argsort([-x["score"] for x in d], kind="mergesort")
        d = [d[i] for i in order][:max_dets[-1]]
        if not g or not d:
            return []
        return _bbox_iou([x["bbox"] for x in d], [x["bbox"] for x in g],
                         [int(x.get("iscrowd", 0)) for x in g])

    def evaluate_img(img, cat, rng, ious):
        g, d = G[img, cat], D[img, cat]
        if not g and not d:
            return None
        ignore = [1 if (x.get("iscrowd", 0) or x["area"] < rng[0] or x["area"] > rng[1]) else 0
                  for x in g]
        gind = np.argsort(ignore, kind="mergesort")
        g = [g[i] for i in gind]
        g_ig = np.array([ignore[i] for i in gind])
        dind = np.argsort([-x["score"] for x in d], kind="mergesort")
        d = [d[i] for i in dind[0:max_dets[-1]]]
        crowd = [int(x.get("iscrowd", 0)) for x in g]
        if len(ious) > 0:
            ious = ious[:, gind]
        gtm = np.zeros((T, len(g)))
        dtm = np.zeros((T, len(d)))
        dt_ig = np.zeros((T, len(d)))
        if len(ious) > 0:
            for t, thr in enumerate(iou_thrs):
                for di, det in enumerate(d):
                    best, m = min([thr, 1 - 1e-10]), -1
                    for gi in range(len(g)):
                        if gtm[t, gi] > 0 and not crowd[gi]:
                            continue
                        if m > -1 and g_ig[m] == 0 and g_ig[gi] == 1:
                            break
                        if ious[di, gi] < best:
                            continue
                        best, m = ious[di, gi], gi
                    if m == -1:
                        continue
                    dt_ig[t, di] = g_ig[m]
                    dtm[t, di] = g[m]["id"]
                    gtm[t, m] = det["id"]
        out_of_range = np.array([x["area"] < rng[0] or x["area"] > rng[1] for x in d])
        out_of_range = out_of_range.reshape((1, len(d)))
        dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(out_of_range, T, 0)))
        return {"scores": [x["score"] for x in d], "dtm": dtm, "dt_ig": dt_ig, "g_ig": g_ig}

    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, cat in enumerate(cat_ids):
        ious = {img: ious_of(img, cat) for img in image_ids}
        for a, rng in enumerate(area_rngs):
            E = [evaluate_img(img, cat, rng, ious[img]) for img in image_ids]
            E = [e for e in E if e is not None]
            if not E:
                continue
            for m, md in enumerate(max_dets):
                scores = np.concatenate([e["scores"][0:md] for e in E])
                inds = np.argsort(-scores, kind="mergesort")
                dtm = np.concatenate([e["dtm"][:, 0:md] for e in E], axis=1)[:, inds]
                dt_ig = np.concatenate([e["dt_ig"][:, 0:md] for e in E], axis=1)[:, inds]
                g_ig = np.concatenate([e["g_ig"] for e in E])
                npig = np.count_nonzero(g_ig == 0)
                if npig == 0:
                    continue
                tps = np.logical_and(dtm, np.logical_not(dt_ig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = (tp / (fp + tp + np.spacing(1))).tolist()
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    q = [0.0] * R
                    for ri, pi in enumerate(np.searchsorted(rc, rec_thrs, side="left")):
                        if pi >= nd:
                            break
                        q[ri] = pr[pi]
                    precision[t, :, k, a, m] = np.array(q)

    def mean(s):
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    stats = [
        mean(precision[:, :, :, 0, 2]),
        mean(precision[np.where(iou_thrs == .5)[0]][:, :, :, 0, 2]),
        mean(precision[np.where(iou_thrs == .75)[0]][:, :, :, 0, 2]),
        mean(precision[:, :, :, 1, 2]), mean(precision[:, :, :, 2, 2]),
        mean(precision[:, :, :, 3, 2]),
        mean(recall[:, :, 0, 0]), mean(recall[:, :, 0, 1]), mean(recall[:, :, 0, 2]),
        mean(recall[:, :, 1, 2]), mean(recall[:, :, 2, 2]), mean(recall[:, :, 3, 2]),
    ]
    per_class = [mean(precision[:, :, k, 0, 2]) for k in range(K)]
    return stats, per_class

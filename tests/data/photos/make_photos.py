"""Builds a small COCO-format dataset of real photographs for the end-to-end test of COCO
training (tests/cli/coco_train_test.sh), from the sample photographs Debian ships with
scikit-image (package python3-skimage, /usr/lib/python3/dist-packages/skimage/data).

  /usr/bin/python3 tests/data/photos/make_photos.py SKIMAGE_DATA_DIR OUT_DIR

Writes OUT_DIR/images/*.jpg — JPEGs of different sizes (300 to 741 pixels wide) and kinds: RGB,
grayscale (camera), CMYK with an Adobe marker (coffee), progressive (motorcycle) — and
OUT_DIR/instances.json with boxes drawn by hand on the photographs (x, y, w, h in pixels) and
COCO's category ids (person 1, motorcycle 4, cat 17, cup 47) plus one outside COCO (rocket 99),
so that the ids are not contiguous."""
import json
import os
import sys

from PIL import Image

src, out = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/images", exist_ok=True)

categories = [(1, "person"), (4, "motorcycle"), (17, "cat"), (47, "cup"), (99, "rocket")]
# file, conversion, boxes [(category id, [x, y, w, h])]
photos = [
    ("astronaut.png", "RGB", [(1, [20, 15, 345, 497]), (99, [352, 0, 118, 285])]),
    ("camera.png", "L", [(1, [0, 65, 335, 447])]),
    ("chelsea.png", "RGB", [(17, [0, 0, 420, 300])]),
    ("coffee.png", "CMYK", [(47, [170, 20, 255, 290])]),
    ("motorcycle_left.png", "progressive", [(4, [92, 70, 593, 380])]),
    ("rocket.jpg", "RGB", [(99, [300, 125, 40, 285])]),
]

images, annotations = [], []
for image_id, (name, kind, boxes) in enumerate(photos, start=1):
    im = Image.open(f"{src}/{name}")
    file_name = os.path.splitext(name)[0] + ".jpg"
    if kind == "progressive":
        im.convert("RGB").save(f"{out}/images/{file_name}", quality=90, progressive=True)
    else:
        im.convert(kind).save(f"{out}/images/{file_name}", quality=90)
    images.append({"id": image_id, "file_name": file_name, "width": im.width,
                   "height": im.height})
    for category_id, bbox in boxes:
        annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                            "category_id": category_id, "bbox": bbox,
                            "area": bbox[2] * bbox[3], "iscrowd": 0})

with open(f"{out}/instances.json", "w") as f:
    json.dump({"images": images, "annotations": annotations,
               "categories": [{"id": i, "name": n} for i, n in categories]}, f)
print(f"{len(images)} photographs, {len(annotations)} boxes -> {out}")

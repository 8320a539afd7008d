"""ISBI 2012 reference: an ilastik-style random forest on the same labels as the U-Net benchmarks.

    python benchmarks/isbi_forest.py [--labels scribbles|full] [--coverage 0.02] [--samples N]

Needs scikit-learn (`pip install scikit-learn`); segstudio itself does not use it.
The issue's speed targets are set against a random forest (0.70 held-out mIoU
with scribbles, 0.73 with full masks); this script measures one on exactly the
strokes `isbi_scribbles.py` trains on (slices 00-04), or on the full masks of
slices 00-19 (`--labels full`, a random sample of `--samples` pixels), and scores
it on slices 20-29 like the other scripts. Features: ilastik's default set, 49 per
pixel (Gaussian smoothing at 7 scales; Laplacian of Gaussian, gradient
magnitude, difference of Gaussians, structure-tensor and Hessian eigenvalues at
the 6 scales from 0.7). 100 trees, as ilastik.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ISBI  # noqa: E402
from isbi_scribbles import isbi_strokes  # noqa: E402

SCALES = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _eigenvalues(xx: np.ndarray, xy: np.ndarray, yy: np.ndarray) -> list[np.ndarray]:
    """Both eigenvalues of the symmetric 2x2 matrices [[xx, xy], [xy, yy]], larger first."""
    mean, spread = (xx + yy) / 2, np.sqrt(((xx - yy) / 2) ** 2 + xy**2)
    return [mean + spread, mean - spread]


def features(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 in 0..1 -> (H * W, 49) float32."""
    out = [_blur(image, SCALES[0])]
    for sigma in SCALES[1:]:
        smooth = _blur(image, sigma)
        dx, dy = cv2.Sobel(smooth, -1, 1, 0, ksize=3), cv2.Sobel(smooth, -1, 0, 1, ksize=3)
        inner = _blur(image, sigma / 2)
        ix, iy = cv2.Sobel(inner, -1, 1, 0, ksize=3), cv2.Sobel(inner, -1, 0, 1, ksize=3)
        structure = _eigenvalues(_blur(ix * ix, sigma), _blur(ix * iy, sigma),
                                 _blur(iy * iy, sigma))
        hessian = _eigenvalues(cv2.Sobel(smooth, -1, 2, 0, ksize=3),
                               cv2.Sobel(smooth, -1, 1, 1, ksize=3),
                               cv2.Sobel(smooth, -1, 0, 2, ksize=3))
        out += [smooth, cv2.Laplacian(smooth, -1, ksize=3), np.hypot(dx, dy),
                smooth - _blur(image, 0.66 * sigma), *structure, *hessian]
    return np.stack(out, axis=-1).reshape(-1, len(out)).astype(np.float32)


def slice_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Slice n as float32 in 0..1 and its truth (0 membrane, 1 cell)."""
    image = cv2.imread(str(ISBI / "images" / f"{n:02d}.png"), cv2.IMREAD_GRAYSCALE)
    truth = cv2.imread(str(ISBI / "masks" / f"{n:02d}.png"), cv2.IMREAD_GRAYSCALE)
    return image.astype(np.float32) / 255, (truth > 0).astype(np.uint8)


def training_pixels(args) -> tuple[np.ndarray, np.ndarray, float]:
    """Features and labels of the labelled training pixels, and the labelled fraction."""
    rng = np.random.default_rng(0)
    xs, ys, covered = [], [], []
    slices = range(5) if args.labels == "scribbles" else range(20)
    for n in slices:
        image, truth = slice_arrays(n)
        labels = isbi_strokes(truth, args.coverage, seed=n) if args.labels == "scribbles" else truth
        flat = labels.reshape(-1)
        picked = np.flatnonzero(flat != 255)
        covered.append(picked.size / flat.size)
        if args.labels == "full":
            picked = rng.choice(picked, args.samples // len(slices), replace=False)
        xs.append(features(image)[picked])
        ys.append(flat[picked])
    return np.concatenate(xs), np.concatenate(ys), float(np.mean(covered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", choices=("scribbles", "full"), default="scribbles")
    parser.add_argument("--coverage", type=float, default=0.02)
    parser.add_argument("--samples", type=int, default=200_000,
                        help="training pixels sampled from the full masks (--labels full)")
    parser.add_argument("--trees", type=int, default=100)
    args = parser.parse_args()
    from sklearn.ensemble import RandomForestClassifier

    from segstudio.ml.metrics import ConfusionMatrix

    started = time.perf_counter()
    x, y, covered = training_pixels(args)
    forest = RandomForestClassifier(n_estimators=args.trees, n_jobs=-1, random_state=0)
    forest.fit(x, y)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    confusion = ConfusionMatrix(2)
    for n in range(20, 30):
        image, truth = slice_arrays(n)
        confusion.update(forest.predict(features(image)).reshape(truth.shape), truth)
    predict_s = time.perf_counter() - started
    iou = confusion.iou()
    result = {
        "benchmark": "isbi_forest", "labels": args.labels,
        "labelled_fraction": round(covered, 4), "training_pixels": int(y.size),
        "held_out_miou": round(float(iou.mean()), 4),
        "iou": {"membrane": round(float(iou[0]), 4), "cell": round(float(iou[1]), 4)},
        "train_seconds": round(train_s, 1), "predict_seconds": round(predict_s, 1),
    }
    print(f"random forest, {args.labels}: held-out mIoU {result['held_out_miou']:.4f}, "
          f"IoU {result['iou']}; features + training {train_s:.1f} s on {y.size} pixels, "
          f"prediction of 20-29 {predict_s:.1f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

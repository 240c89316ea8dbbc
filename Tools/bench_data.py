#!/usr/bin/env python3
"""The benchmark's synthetic datasets: by default 60,000 train and 10,000 test 8-bit grayscale 28x28 images in
10 classes; with --side 32 --channels 3 --train 50000, CIFAR-sized RGB images (the ResNet-20 rows).

Writes, under OUT (default data/bench-synthetic):
  train/<class>/NNNNN.png, test/<class>/NNNNN.png   for lrt (`--data OUT`)
  arrays.npz                                        the same pixels for the peers: uint8 train_images [60000, 28, 28]
                                                    ([N, side, side, 3] for RGB), train_labels [60000], test_images
                                                    [10000, 28, 28], test_labels [10000]
  stamp.json                                        what was generated; a folder with the same stamp is reused

Each class has a fixed random template of side/4 x side/4 pixels (per channel), upscaled to side x side, so the
classes are learnable; every image is its class's template at a random contrast, shifted by up to 3 pixels, plus
uniform noise. Deterministic from --seed. The PNGs are written with Tools/make_mnist.py's encoder.

  python3 Tools/bench_data.py [--out data/bench-synthetic] [--seed 5] [--side 28] [--channels 1] [--train N] [--test N]

`Tools/bench_data.py loader …` runs the loader benchmark instead (Tools/bench_loader.py: lrt's decode-and-batch
rate cold and cached against Pillow and torchvision on MNIST's PNGs, its share of a training step, peak RSS).
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_mnist import png_bytes, write_split  # noqa: E402

VERSION = 1
CLASSES = 10


def generate(generator, count, templates):
    """(uint8 images [count, side, side] or [count, side, side, channels], uint8 labels [count]) drawn from the
    class templates ([class, side, side] or [class, side, side, channels])."""
    shape = templates.shape[1:]
    labels = generator.integers(0, CLASSES, count).astype(np.uint8)
    contrast = generator.uniform(0.1, 0.35, (count,) + (1,) * len(shape)).astype(np.float32)
    noise = generator.uniform(0, 170, (count,) + shape).astype(np.float32)
    images = np.empty((count,) + shape, np.uint8)
    shifts = generator.integers(-3, 4, (count, 2))
    for index in range(count):
        template = np.roll(templates[labels[index]], tuple(shifts[index]), axis=(0, 1))  # [side, side(, c)], 0-255
        images[index] = np.clip(template * contrast[index] + noise[index], 0, 255).astype(np.uint8)
    return images, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/bench-synthetic", help="folder to create or reuse")
    parser.add_argument("--seed", type=int, default=5, help="seed of the generator (default: 5)")
    parser.add_argument("--train", type=int, default=60000, help="training images (default: 60000)")
    parser.add_argument("--test", type=int, default=10000, help="test images (default: 10000)")
    parser.add_argument("--side", type=int, default=28, help="image height and width, a multiple of 4 (default: 28)")
    parser.add_argument("--channels", type=int, default=1, choices=[1, 3], help="1: grayscale (default), 3: RGB")
    arguments = parser.parse_args()
    if arguments.side < 8 or arguments.side % 4:
        parser.error(f"--side {arguments.side} must be a multiple of 4 from 8 up")
    for option, count in (("--train", arguments.train), ("--test", arguments.test)):
        if count < CLASSES:
            parser.error(f"{option} {count} must be at least {CLASSES}")
    out = arguments.out.rstrip("/") or "/"
    stamp = {"version": VERSION, "seed": arguments.seed, "train": arguments.train, "test": arguments.test}
    if (arguments.side, arguments.channels) != (28, 1):  # the default data keeps its stamp (and is reused)
        stamp.update(side=arguments.side, channels=arguments.channels)
    try:
        with open(os.path.join(out, "stamp.json")) as file:
            if json.load(file) == stamp:
                print(f"reusing {out} ({arguments.train} train, {arguments.test} test images, seed {arguments.seed})")
                return
    except (OSError, ValueError):
        pass

    start = time.monotonic()
    generator = np.random.default_rng(arguments.seed)
    coarse_side = arguments.side // 4
    if arguments.channels == 1:
        coarse = generator.random((CLASSES, coarse_side, coarse_side)) > 0.5
        templates = np.kron(coarse, np.ones((4, 4))).astype(np.float32) * 255  # [class, side, side]
    else:
        coarse = generator.random((CLASSES, coarse_side, coarse_side, arguments.channels)) > 0.5
        templates = np.kron(coarse, np.ones((4, 4, 1))).astype(np.float32) * 255  # [class, side, side, channels]
    train_images, train_labels = generate(generator, arguments.train, templates)
    test_images, test_labels = generate(generator, arguments.test, templates)
    # Build beside OUT, then move into place, so an interrupted run leaves nothing half-written under OUT.
    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    for split, images, labels in (("train", train_images, train_labels), ("test", test_images, test_labels)):
        counts = write_split(os.path.join(partial, split), images, labels)
        if (counts == 0).any():
            sys.exit(f"bench_data.py: the {split} split has an empty class; use more images")
    np.savez(os.path.join(partial, "arrays.npz"), train_images=train_images, train_labels=train_labels,
             test_images=test_images, test_labels=test_labels)
    with open(os.path.join(partial, "stamp.json"), "w") as file:
        json.dump(stamp, file)
    if os.path.lexists(out):
        shutil.rmtree(out) if os.path.isdir(out) and not os.path.islink(out) else os.remove(out)
    os.replace(partial, out)
    print(f"wrote {out} ({arguments.train} train, {arguments.test} test images) in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["loader"]:
        import bench_loader
        sys.argv = [sys.argv[0]] + sys.argv[2:]
        bench_loader.main()
    else:
        main()

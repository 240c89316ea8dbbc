#!/usr/bin/env python3
"""Measures lrt's image loader against Pillow and torchvision, in one run: rounds interleaved, medians reported.

On MNIST's 60,000 training PNGs (Tools/make_mnist.py's layout, e.g. --mnist data/mnist):
  lrt cold        `lrt eval --split train` of a checkpoint trained without a cache: list, decode (all cores), batch
                  and a 7,850-weight model's forward pass (negligible), timed from the outside
  lrt cached      the same with a checkpoint trained with --cache: the images come from the HDF5 cache
  Pillow loop     Image.open(path).convert("L") per file, stacked into float32 batches of 32 / 255, one process
  torchvision     datasets.ImageFolder (Grayscale, ToTensor) through a DataLoader with 2 workers, batch 32
Then lrt's loader share of a training step (the epoch line's `loader X% of step time (work Y%)`) for the cnn
built-in on --step-images training images, and the peak RSS of one epoch of MNIST training (`lrt train --model mlp`,
/usr/bin/time -v) for this lrt and for --before (an lrt built before images were kept as bytes), if given.

The files are read once before the rounds, so every system reads them from the page cache. The machine may be
shared: the ratios are the result, the absolute rates depend on the load. Prints one JSON object.

    Tools/.venv/bin/python Tools/bench_loader.py --lrt .build/release/lrt --mnist data/mnist [--before OLD_LRT]

torchvision: its pip wheel may be built for CUDA; its C++ operators are not needed here, so the registration of
their meta kernels (torchvision._meta_registrations) is skipped when the extension does not load.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types

TINY_MODEL = json.dumps({"class_name": "Sequential", "config": {"name": "tiny", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [None, 28, 28, 1]}},
    {"class_name": "Flatten", "config": {}},
    {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]}})


def run(command, **keywords):
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, **keywords)
    if result.returncode != 0:
        sys.exit(f"bench_loader.py: {' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return result, time.monotonic() - started


def image_paths(root):
    paths = []
    for folder, _, names in sorted(os.walk(root)):
        paths += [os.path.join(folder, name) for name in sorted(names) if name.endswith(".png")]
    return paths


def pillow_loop(paths):
    import numpy as np
    from PIL import Image

    batch, count = [], 0
    for path in paths:
        with Image.open(path) as image:
            batch.append(np.asarray(image.convert("L")))
        if len(batch) == 32:
            _ = np.stack(batch).astype(np.float32) / 255
            count += len(batch)
            batch = []
    if batch:
        count += len(np.stack(batch))
    return count


def import_torchvision():
    try:
        import torchvision  # noqa: F401
    except RuntimeError:
        for name in [name for name in sys.modules if name.startswith("torchvision")]:
            del sys.modules[name]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torchvision  # noqa: F401
    from torchvision import datasets, transforms
    import torch
    return torch, torchvision, datasets, transforms


def torchvision_loader(root):
    torch, _, datasets, transforms = import_torchvision()
    dataset = datasets.ImageFolder(root, transform=transforms.Compose([transforms.Grayscale(), transforms.ToTensor()]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, num_workers=2, shuffle=False)
    return sum(len(labels) for _, labels in loader)


def peak_rss(command):
    """Peak resident set size in MiB of `command` (/usr/bin/time -v)."""
    result, seconds = run(["/usr/bin/time", "-v"] + command)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return int(match.group(1)) / 1024, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrt", default=".build/release/lrt", help="the lrt to measure (default .build/release/lrt)")
    parser.add_argument("--before", help="an lrt from before images were kept as bytes, for the peak-RSS comparison")
    parser.add_argument("--mnist", default="data/mnist", help="MNIST as PNG folders (train/, test/)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--step-images", type=int, default=6000, help="training images for the loader-share run")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: torchvision,pillow,share,rss")
    arguments = parser.parse_args()
    skip = set(filter(None, arguments.skip.split(",")))
    lrt = os.path.abspath(arguments.lrt)
    train = os.path.join(arguments.mnist, "train")
    paths = image_paths(train)
    if len(paths) != 60000:
        print(f"note: {train} has {len(paths)} PNGs, not MNIST's 60,000", file=sys.stderr)
    for path in paths:  # into the page cache, for every system alike
        with open(path, "rb") as file:
            file.read()
    work = tempfile.mkdtemp(prefix="bench-loader-")
    try:
        model = os.path.join(work, "tiny.json")
        with open(model, "w") as file:
            file.write(TINY_MODEL)
        common = ["--model", model, "--data", arguments.mnist, "--epochs", "1", "--validation-split", "0", "--batch-size", "256"]
        run([lrt, "train"] + common + ["--out", os.path.join(work, "plain.h5")])
        run([lrt, "train"] + common + ["--out", os.path.join(work, "cached.h5"), "--cache", os.path.join(work, "cache.h5")])

        def lrt_eval(checkpoint):
            result, seconds = run([lrt, "eval", os.path.join(work, checkpoint), "--split", "train", "--json"])
            report = json.loads(result.stdout)
            return report["count"], seconds

        systems = {"lrt_cold": lambda: lrt_eval("plain.h5"), "lrt_cached": lambda: lrt_eval("cached.h5")}
        if "pillow" not in skip:
            systems["pillow_loop"] = lambda: (pillow_loop(paths), None)
        if "torchvision" not in skip:
            systems["torchvision_2_workers"] = lambda: (torchvision_loader(train), None)
        rates = {name: [] for name in systems}
        for _ in range(arguments.rounds):
            for name, measure in systems.items():
                started = time.monotonic()
                count, seconds = measure()
                rates[name].append(count / (seconds if seconds is not None else time.monotonic() - started))
        result = {"images": len(paths), "rounds": arguments.rounds,
                  "images_per_second": {name: statistics.median(values) for name, values in rates.items()},
                  "all_rates": rates}
        medians = result["images_per_second"]
        if "torchvision_2_workers" in medians:
            result["lrt_cold_over_torchvision"] = medians["lrt_cold"] / medians["torchvision_2_workers"]
            result["lrt_cached_over_torchvision"] = medians["lrt_cached"] / medians["torchvision_2_workers"]
        if "pillow_loop" in medians:
            result["lrt_cold_over_pillow"] = medians["lrt_cold"] / medians["pillow_loop"]

        if "share" not in skip:
            small = os.path.join(work, "small")
            os.makedirs(os.path.join(small, "train"))
            per_class = {}
            for path in paths:
                label = os.path.basename(os.path.dirname(path))
                if per_class.get(label, 0) < arguments.step_images // 10:
                    per_class[label] = per_class.get(label, 0) + 1
                    os.makedirs(os.path.join(small, "train", label), exist_ok=True)
                    os.symlink(os.path.abspath(path), os.path.join(small, "train", label, os.path.basename(path)))
            shares = []
            for _ in range(arguments.rounds):
                outcome, _ = run([lrt, "train", "--model", "cnn", "--data", small, "--epochs", "1", "--validation-split", "0",
                                  "--out", os.path.join(work, "cnn.h5")])
                match = re.search(r"loader ([0-9.]+)% of step time \(work ([0-9.]+)%\)", outcome.stderr)
                speed = re.search(r"([0-9.]+) img/s", outcome.stderr)
                shares.append((float(match.group(1)), float(match.group(2)), float(speed.group(1))))
            result["cnn_step"] = {"images": sum(per_class.values()),
                                  "loader_wait_percent": statistics.median(s[0] for s in shares),
                                  "loader_work_percent": statistics.median(s[1] for s in shares),
                                  "images_per_second": statistics.median(s[2] for s in shares)}

        if "rss" not in skip:
            binaries = {"lrt": lrt} | ({"before": os.path.abspath(arguments.before)} if arguments.before else {})
            measured = {name: [] for name in binaries}
            for _ in range(max(1, arguments.rounds - 1)):
                for name, binary in binaries.items():
                    output = os.path.join(work, f"rss-{name}.h5")
                    if os.path.exists(output):
                        os.remove(output)
                    rss, seconds = peak_rss([binary, "train", "--model", "mlp", "--data", arguments.mnist, "--epochs", "1",
                                             "--out", output])
                    measured[name].append(rss)
            result["peak_rss_mib"] = {name: statistics.median(values) for name, values in measured.items()}
            if arguments.before:
                result["peak_rss_over_before"] = result["peak_rss_mib"]["lrt"] / result["peak_rss_mib"]["before"]
        print(json.dumps(result, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

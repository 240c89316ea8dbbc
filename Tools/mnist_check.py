#!/usr/bin/env python3
"""Checks the README's MNIST claim for the sample CNN: Samples/models/cnn-mnist.json, trained by lrt with the paper's
layer rates, SGD momentum 0.9 and the README's recipe (3 epochs, batch 128, learning rate 0.05 decayed to zero by the
cosine schedule over 1407 steps, seed 0), reaches at least 98.8% test accuracy on the 10,000 MNIST test images.

  python3 Tools/mnist_check.py --lrt .build/debug/lrt --idx ../shared/data/mnist [--python Tools/.venv/bin/python]

The PNG folders are made by Tools/make_mnist.py from the four gzipped IDX files (each checked against its SHA-256),
with a Python that has numpy (--python; default this one), into a temporary folder that is removed afterwards.
Exits 0 when the accuracy is reached, 1 when it is not or the run fails.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 0.988
RECIPE = ["--epochs", "3", "--batch-size", "128", "--learning-rate", "0.05", "--momentum", "0.9", "--layer-rates", "paper",
          "--schedule", "cosine", "--step-size", "1407", "--step-unit", "step", "--seed", "0"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lrt", required=True, help="the lrt binary")
    parser.add_argument("--idx", required=True, help="folder with MNIST's four gzipped IDX files")
    parser.add_argument("--python", default=sys.executable, help="a Python with numpy, for Tools/make_mnist.py")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lrt-mnist-") as work:
        data = os.path.join(work, "mnist")
        subprocess.run([arguments.python, os.path.join(ROOT, "Tools", "make_mnist.py"), "--idx", arguments.idx, "--out", data],
                       check=True, stdout=subprocess.DEVNULL)
        # All 60,000 training images, as the README claim was measured (no validation split held out).
        command = [arguments.lrt, "train", "--model", os.path.join(ROOT, "Samples", "models", "cnn-mnist.json"),
                   "--validation-split", "0",
                   "--data", data, "--out", os.path.join(work, "cnn.h5")] + RECIPE
        print("$ " + " ".join(command), flush=True)
        run = subprocess.run(command, capture_output=True, text=True)
        print(run.stderr.strip())
        found = re.search(r"test accuracy ([0-9.]+)", run.stdout)
        if run.returncode != 0 or not found:
            sys.exit(f"mnist check: lrt train failed (exit status {run.returncode}): {run.stdout.strip()}")
        accuracy = float(found.group(1))
        verdict = "reached" if accuracy >= TARGET else "NOT reached"
        print(f"mnist check: cnn-mnist test accuracy {accuracy:.4f} after 3 epochs; target {TARGET} {verdict}")
        sys.exit(0 if accuracy >= TARGET else 1)


if __name__ == "__main__":
    main()

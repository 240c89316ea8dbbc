#!/usr/bin/env python3
"""Reads the TensorBoard event files `lrt train --tensorboard DIR` writes with TensorBoard's own
EventAccumulator, and checks every scalar's tag, step and value against the run's checkpoint.

    python3 Tools/tensorboard_check.py [--lrt PATH] [--venv DIR] [--work DIR]

The run: a small MLP on Samples/digits, 2 epochs of batch 64 (23 steps each, validation split 0.1),
--log-every 5, then `lrt resume --epochs 3` of the same checkpoint into the same folder. Expected, in
Keras's layout: DIR/train holds epoch_loss, epoch_accuracy, epoch_learning_rate at steps 0, 1, 2 (the
0-based epoch) and batch_loss, multiplier/<layer>, gradient_norm/<layer> at every telemetry step;
DIR/validation holds epoch_loss and epoch_accuracy (the val_ metrics). Values must equal the
checkpoint's float32 history and telemetry exactly (both are float32 of the same doubles), and no step
may appear twice after the resume. Then a run that records every step and saves every 40 is killed (-9) mid-epoch
and resumed with a bare `lrt resume`: the resumed run cuts the killed run's event files back to the lengths its
checkpoint recorded, so the files themselves, read without TensorBoard's purge of orphaned events, must hold each
step and each epoch once.

TensorBoard, h5py and numpy come from PyPI into a virtual environment, by default
Tools/.venv-tensorboard (git-ignored). When that cannot be done (no network, no venv module) the check
prints SKIP and why, and exits 0; a mismatch exits 1. Takes about 30 s with a debug build.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ["tensorboard", "h5py", "numpy"]
MODEL = {"class_name": "Sequential", "config": {"name": "digits_mlp", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [None, 8, 8, 1]}},
    {"class_name": "Flatten", "config": {}},
    {"class_name": "Dense", "config": {"units": 32, "activation": "relu"}},
    {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]}}


def ensure_venv(venv):
    """A Python with TensorBoard and h5py, or None and the reason."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import tensorboard, h5py, numpy"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, None
    print(f"installing {', '.join(PACKAGES)} into {venv} …", flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True, capture_output=True, text=True)
    except (subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        return None, f"cannot install {', '.join(PACKAGES)} into {venv}: {detail.strip().splitlines()[-1] if detail.strip() else error}"
    if subprocess.run(check, capture_output=True).returncode != 0:
        return None, f"tensorboard and h5py do not import in {venv}"
    return python, None


def find_lrt(given):
    if given:
        return pathlib.Path(given).resolve()
    candidates = [path for pattern in (".build*/release/lrt", ".build*/debug/lrt") for path in REPOSITORY.glob(pattern)]
    candidates = [path for path in candidates if path.is_file() and os.access(path, os.X_OK)]
    if candidates:
        return max(candidates, key=lambda path: path.stat().st_mtime)
    subprocess.run(["swift", "build", "--product", "lrt"], cwd=REPOSITORY, check=True)
    return REPOSITORY / ".build" / "debug" / "lrt"


def check(work, run="run", board="tb", purge=True):
    """Runs inside the venv: compares the event files in work/<board> with work/<run>.h5 (purge: as TensorBoard
    shows them, dropping events orphaned by a restart; otherwise as the files hold them). Returns problems."""
    import logging

    import h5py
    import numpy
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # the purge of the killed run's orphans is expected
    problems = []
    with h5py.File(work / f"{run}.h5", "r") as checkpoint:
        history = {name: checkpoint["lrt/history"][name][()] for name in checkpoint["lrt/history"].attrs["metric_names"]}
        telemetry = checkpoint["lrt/history/telemetry"]
        names = [str(name) for name in telemetry.attrs["names"]]
        steps = telemetry["steps"][()]
        multipliers, gradient_norms = telemetry["multipliers"][()], telemetry["gradient_norms"][()]
        losses = telemetry["losses"][()]

    def expect(folder, tag, want_steps, want_values):
        accumulator = EventAccumulator(str(work / board / folder), size_guidance={"scalars": 0}, purge_orphaned_data=purge)
        accumulator.Reload()
        if tag not in accumulator.Tags()["scalars"]:
            problems.append(f"{folder}: no scalar {tag} (tags: {sorted(accumulator.Tags()['scalars'])})")
            return
        events = accumulator.Scalars(tag)
        got_steps = [event.step for event in events]
        if got_steps != [int(step) for step in want_steps]:
            problems.append(f"{folder}/{tag}: steps {got_steps}, expected {list(map(int, want_steps))}")
            return
        for event, value in zip(events, want_values):
            if numpy.float32(event.value) != numpy.float32(value):
                problems.append(f"{folder}/{tag} step {event.step}: {event.value!r}, expected {float(value)!r}")

    epochs = len(history["loss"])
    for tag, metric in [("epoch_loss", "loss"), ("epoch_accuracy", "accuracy"), ("epoch_learning_rate", "learning_rate")]:
        expect("train", tag, range(epochs), history[metric])
    for tag, metric in [("epoch_loss", "val_loss"), ("epoch_accuracy", "val_accuracy")]:
        expect("validation", tag, range(epochs), history[metric])
    expect("train", "batch_loss", steps, losses)
    for column, name in enumerate(names):
        expect("train", f"multiplier/{name}", steps, multipliers[:, column])
        expect("train", f"gradient_norm/{name}", steps, gradient_norms[:, column])
    print(f"{board}: checked {len(steps)} telemetry steps × {len(names)} layers and {epochs} epochs{'' if purge else ', unpurged'}")
    return problems


def orphaned_steps(work, run, board):
    """How many batch_loss events the event files hold past the checkpoint's global step (read without purging)."""
    import h5py
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with h5py.File(work / f"{run}.h5", "r") as checkpoint:
        global_step = int(checkpoint["lrt/training"].attrs["global_step"])
    accumulator = EventAccumulator(str(work / board / "train"), size_guidance={"scalars": 0}, purge_orphaned_data=False)
    accumulator.Reload()
    return sum(1 for event in accumulator.Scalars("batch_loss") if event.step > global_step)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrt")
    parser.add_argument("--venv", default=str(REPOSITORY / "Tools" / ".venv-tensorboard"))
    parser.add_argument("--work")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument("--orphans", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.inside:
        work = pathlib.Path(arguments.inside)
        if arguments.orphans:
            print(orphaned_steps(work, "crash", "crash-tb"))
            return
        problems = check(work) + check(work, "crash", "crash-tb", purge=False)
        for problem in problems:
            print("MISMATCH:", problem)
        sys.exit(1 if problems else 0)

    python, reason = ensure_venv(pathlib.Path(arguments.venv))
    if python is None:
        print(f"SKIP: {reason}")
        return
    lrt = find_lrt(arguments.lrt)
    work = pathlib.Path(arguments.work or tempfile.mkdtemp(prefix="lrt-tensorboard-"))
    shutil.rmtree(work / "tb", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / "model.json").write_text(json.dumps(MODEL))
    common = ["--tensorboard", str(work / "tb"), "--log-every", "5"]
    subprocess.run([str(lrt), "train", "--model", str(work / "model.json"), "--data", str(REPOSITORY / "Samples" / "digits"),
                    "--epochs", "2", "--batch-size", "64", "--seed", "4", "--out", str(work / "run.h5"), "--quiet",
                    "--overwrite", *common], check=True)
    subprocess.run([str(lrt), "resume", str(work / "run.h5"), "--epochs", "3", "--quiet"], check=True)
    # kill -9 a run that saves every 40 steps and records every step: the event files then hold steps past the
    # checkpoint (or, killed between its epoch's events and its epoch-end save, an epoch past it), which the resumed
    # run cuts off before writing them again; the files must hold each once.
    crash = [str(lrt), "train", "--model", str(work / "model.json"), "--data", str(REPOSITORY / "Samples" / "digits"),
             "--epochs", "3", "--batch-size", "8", "--seed", "4", "--out", str(work / "crash.h5"), "--quiet", "--overwrite",
             "--tensorboard", str(work / "crash-tb"), "--log-every", "1", "--save-every", "40"]
    for delay in (0.1, 0.3, 0.7, 1.2):  # until the kill lands between two saves
        shutil.rmtree(work / "crash-tb", ignore_errors=True)
        (work / "crash.h5").unlink(missing_ok=True)
        process = subprocess.Popen(crash)
        deadline = time.monotonic() + 120
        while not (work / "crash.h5").exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        time.sleep(delay)
        process.kill()
        process.wait()
        orphans = subprocess.run([str(python), __file__, "--inside", str(work), "--orphans"], capture_output=True, text=True, check=True)
        count = int(orphans.stdout.strip())
        print(f"killed run ({delay} s after its first save): {count} batch_loss events past the checkpoint")
        if count > 0:
            break
    else:
        print("note: no kill landed between two saves; the resume below does not exercise dropping orphans")
    subprocess.run([str(lrt), "resume", str(work / "crash.h5"), "--quiet"], check=True)
    result = subprocess.run([str(python), __file__, "--inside", str(work)])
    if result.returncode == 0:
        print("tensorboard_check: every scalar matches the checkpoint")
        if not arguments.work:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()

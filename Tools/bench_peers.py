#!/usr/bin/env python3
"""One peer measurement for Tools/bench, in its own process: PyTorch (CPU) or Keras 3 on JAX, training one epoch
or inference, on the benchmark's synthetic data (Tools/bench_data.py's arrays.npz). Prints one JSON object.

  Tools/.venv/bin/python Tools/bench_peers.py --framework torch|keras --model mlp|cnn --task train|infer \
      [--data data/bench-synthetic] [--batch-size 128] [--learning-rate 0.01] [--momentum 0.9] [--seed 0]

Models, as Samples/models/mnist-mlp.json and cnn-mnist.json describe them:
  mlp  Input[28,28,1] - Flatten - Dense 512 relu - Dense 256 relu - Dense 10 softmax
  cnn  Input[28,28,1] - Conv2D 32 3x3 relu - MaxPooling2D 2 - Conv2D 64 3x3 relu - MaxPooling2D 2 - Flatten
       - Dense 128 relu - Dense 10 softmax          (valid padding, stride 1; pooling stride 2)

What is timed (the same work lrt times: gather, forward, loss, backward, update, loss and accuracy sums):
  train  one epoch over all training images in mini-batches (the last one partial), SGD with momentum. Before the
         clock starts: loading, model build, and a warm-up of 3 steps (128, 128 and 96 images, the shapes the
         epoch uses) on the same model, which pays for Keras/XLA compilation and PyTorch's first-call setup.
         PyTorch: a DataLoader-free loop over tensors shuffled once before the clock. Keras: `model.fit(x, y,
         batch_size, epochs=1, shuffle=True)`, wall clock around the call. After the clock: the test split's
         loss and accuracy (lrt validates after each epoch too).
  infer  forward passes over all 60,000 training images in batches of 1000 (eval mode, no gradients), with loss
         and accuracy (as `lrt eval` computes them), after one untimed warm-up batch. Weights are freshly
         initialized: speed does not depend on their values. PyTorch: `model(x[i:i+1000])` under
         `torch.inference_mode()`; Keras: `model.predict(x, batch_size=1000)`.
  sgemm  float32 1024x1024x1024 products (torch.mm; a jitted jnp.dot for keras): the peer's own GFLOP/s ceiling,
         beside `lrt doctor`'s. Median of 20 after 3 warm-ups.
Threads: PyTorch torch.set_num_threads(2); XLA uses its default pool (one thread per core, 2 here).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

WARMUP_BATCHES = (128, 128, 96)
SGEMM_SIZE = 1024


def time_sgemm(multiply):
    """Median GFLOP/s of multiply() (one SGEMM_SIZE-cubed product, finished when it returns) over 20 calls."""
    for _ in range(3):
        multiply()
    times = []
    for _ in range(20):
        started = time.perf_counter()
        multiply()
        times.append(time.perf_counter() - started)
    return 2 * SGEMM_SIZE ** 3 / sorted(times)[len(times) // 2] / 1e9


def load(data, task):
    """(train images float32 [N, 28, 28, 1] in [0, 1], int64 labels [N], test images, test labels); the test split
    only for training, as lrt loads it then."""
    arrays = np.load(os.path.join(data, "arrays.npz"))

    def images(name):  # uint8 [N, 28, 28] -> float32 [N, 28, 28, 1] / 255, as lrt scales pixels
        return (arrays[name].astype(np.float32) / np.float32(255))[..., None]

    train = (images("train_images"), arrays["train_labels"].astype(np.int64))
    test = (images("test_images"), arrays["test_labels"].astype(np.int64)) if task == "train" else (None, None)
    return train + test


def run_torch(arguments):
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(arguments.seed)

    def tensors(images, labels):
        # [N, 28, 28, 1] with one channel has the same memory as NCHW [N, 1, 28, 28], PyTorch's layout.
        return torch.from_numpy(images).reshape(-1, 1, 28, 28), torch.from_numpy(labels)

    if arguments.task == "sgemm":
        a, b = torch.rand(SGEMM_SIZE, SGEMM_SIZE), torch.rand(SGEMM_SIZE, SGEMM_SIZE)
        return {"framework": "torch", "version": torch.__version__, "threads": torch.get_num_threads(),
                "sgemm_gflops": time_sgemm(lambda: torch.mm(a, b))}
    train_images, train_labels, test_images, test_labels = load(arguments.data, arguments.task)
    x, y = tensors(train_images, train_labels)
    del train_images
    if arguments.model == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                              nn.Linear(256, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_function = nn.CrossEntropyLoss()  # softmax + cross-entropy on logits, as lrt fuses them
    result = {"framework": "torch", "version": torch.__version__, "threads": torch.get_num_threads(),
              "parameters": sum(parameter.numel() for parameter in model.parameters())}

    if arguments.task == "train":
        optimizer = torch.optim.SGD(model.parameters(), lr=arguments.learning_rate, momentum=arguments.momentum)

        def step(images, labels):
            logits = model(images)
            loss = loss_function(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.detach() * labels.shape[0], (logits.detach().argmax(1) == labels).sum()

        model.train()
        start = 0
        for size in WARMUP_BATCHES:
            step(x[start:start + size], y[start:start + size])
            start += size
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(arguments.seed))
        shuffled_x, shuffled_y = x[order], y[order]
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
        started = time.perf_counter()
        for start in range(0, x.shape[0], arguments.batch_size):
            batch_loss, batch_correct = step(shuffled_x[start:start + arguments.batch_size],
                                             shuffled_y[start:start + arguments.batch_size])
            loss_sum += batch_loss
            correct += batch_correct
        seconds = time.perf_counter() - started
        result.update(count=x.shape[0], seconds=seconds, images_per_second=x.shape[0] / seconds,
                      loss=loss_sum.item() / x.shape[0], accuracy=correct.item() / x.shape[0])
        del shuffled_x, shuffled_y
        test_x, test_y = tensors(test_images, test_labels)
        val_loss, val_correct = evaluate_torch(model, loss_function, test_x, test_y, 1000)
        result.update(val_loss=val_loss / test_x.shape[0], val_accuracy=val_correct / test_x.shape[0])
    else:
        evaluate_torch(model, loss_function, x[:1000], y[:1000], 1000)  # warm-up
        started = time.perf_counter()
        loss_sum, correct = evaluate_torch(model, loss_function, x, y, arguments.infer_batch_size)
        seconds = time.perf_counter() - started
        result.update(count=x.shape[0], seconds=seconds, images_per_second=x.shape[0] / seconds,
                      loss=loss_sum / x.shape[0], accuracy=correct / x.shape[0])
    return result


def evaluate_torch(model, loss_function, x, y, batch_size):
    """(summed loss, correct count) of model on x, y in eval mode without gradients."""
    import torch

    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            images, labels = x[start:start + batch_size], y[start:start + batch_size]
            logits = model(images)
            loss_sum += loss_function(logits, labels).item() * labels.shape[0]
            correct += (logits.argmax(1) == labels).sum().item()
    return loss_sum, correct


def run_keras(arguments):
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import keras
    from keras import layers

    keras.utils.set_random_seed(arguments.seed)
    if arguments.task == "sgemm":
        a = jax.random.uniform(jax.random.key(0), (SGEMM_SIZE, SGEMM_SIZE))
        b = jax.random.uniform(jax.random.key(1), (SGEMM_SIZE, SGEMM_SIZE))
        product = jax.jit(jax.numpy.dot)
        return {"framework": "jax", "version": f"jax {jax.__version__}",
                "sgemm_gflops": time_sgemm(lambda: product(a, b).block_until_ready())}
    train_images, train_labels, test_images, test_labels = load(arguments.data, arguments.task)
    if arguments.model == "mlp":
        stack = [layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dense(256, activation="relu"),
                 layers.Dense(10, activation="softmax")]
    else:
        stack = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                 layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                 layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    model = keras.Sequential([keras.Input(shape=(28, 28, 1))] + stack)
    result = {"framework": "keras", "version": f"keras {keras.__version__}, jax {jax.__version__}",
              "backend": keras.backend.backend(), "devices": [str(device) for device in jax.devices()],
              "parameters": model.count_params()}
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=arguments.learning_rate, momentum=arguments.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    if arguments.task == "train":
        warmup = sum(WARMUP_BATCHES)
        model.fit(train_images[:warmup], train_labels[:warmup], batch_size=arguments.batch_size, epochs=1,
                  shuffle=False, verbose=0)
        started = time.perf_counter()
        history = model.fit(train_images, train_labels, batch_size=arguments.batch_size, epochs=1, shuffle=True,
                            verbose=0)
        seconds = time.perf_counter() - started
        count = train_images.shape[0]
        result.update(count=count, seconds=seconds, images_per_second=count / seconds,
                      loss=history.history["loss"][-1], accuracy=history.history["accuracy"][-1])
        val_loss, val_accuracy = model.evaluate(test_images, test_labels, batch_size=1000, verbose=0)
        result.update(val_loss=val_loss, val_accuracy=val_accuracy)
    else:
        model.predict(train_images[:1000], batch_size=1000, verbose=0)  # warm-up: compiles the predict step
        started = time.perf_counter()
        probabilities = model.predict(train_images, batch_size=arguments.infer_batch_size, verbose=0)
        picked = probabilities[np.arange(len(train_labels)), train_labels]
        loss = float(-np.log(np.maximum(picked, 1e-7)).mean())
        accuracy = float((probabilities.argmax(1) == train_labels).mean())
        seconds = time.perf_counter() - started
        count = train_images.shape[0]
        result.update(count=count, seconds=seconds, images_per_second=count / seconds, loss=loss, accuracy=accuracy)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", required=True, choices=["torch", "keras"])
    parser.add_argument("--model", required=True, choices=["mlp", "cnn"])
    parser.add_argument("--task", required=True, choices=["train", "infer", "sgemm"])
    parser.add_argument("--data", default="data/bench-synthetic", help="folder with Tools/bench_data.py's arrays.npz")
    parser.add_argument("--batch-size", type=int, default=128, help="training mini-batch (default: 128)")
    parser.add_argument("--infer-batch-size", type=int, default=1000, help="inference batch (default: 1000)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    if arguments.task != "sgemm" and not os.path.isfile(os.path.join(arguments.data, "arrays.npz")):
        sys.exit(f"bench_peers.py: {arguments.data}/arrays.npz is missing; run Tools/bench_data.py --out {arguments.data}")
    result = run_torch(arguments) if arguments.framework == "torch" else run_keras(arguments)
    result.update(model=arguments.model, task=arguments.task)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

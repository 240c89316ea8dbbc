#!/usr/bin/env python3
"""One peer measurement for Tools/bench, in its own process: PyTorch (CPU) or Keras 3 on JAX, training one epoch
or inference, on the benchmark's synthetic data (Tools/bench_data.py's arrays.npz). Prints one JSON object.

  Tools/.venv/bin/python Tools/bench_peers.py --framework torch|keras --model mlp|cnn|resnet20 --task train|infer \
      [--data data/bench-synthetic] [--batch-size 128] [--learning-rate 0.01] [--momentum 0.9] [--seed 0]

Models, as Samples/models/mnist-mlp.json and cnn-mnist.json and `lrt models resnet20` describe them:
  mlp       Input[28,28,1] - Flatten - Dense 512 relu - Dense 256 relu - Dense 10 softmax
  cnn       Input[28,28,1] - Conv2D 32 3x3 relu - MaxPooling2D 2 - Conv2D 64 3x3 relu - MaxPooling2D 2 - Flatten
            - Dense 128 relu - Dense 10 softmax          (valid padding, stride 1; pooling stride 2)
  resnet20  Input[32,32,3] - conv 3x3 16 - BN - ReLU - 3 stages of 3 basic blocks (conv 3x3 - BN - ReLU - conv 3x3
            - BN, + shortcut, ReLU) with 16, 32, 64 filters, stride 2 first in stages 2 and 3 - global average pool
            - Dense 10 (He et al. 2016, CIFAR). Shortcut option B: 1x1 conv stride 2 + BN where the shape changes,
            identity elsewhere. Convolutions without bias, He-normal kernels; BN momentum 0.9 (PyTorch's 0.1),
            epsilon 1e-5. Same shapes and parameter count in both; the padding of the stride-2 3x3 convolutions
            differs as the frameworks define it (PyTorch 1 pixel each side, Keras "same" 0 before and 1 after).
            Data: Tools/bench_data.py --side 32 --channels 3 (50,000 train images).

What is timed (the same work lrt times: gather, forward, loss, backward, update, loss and accuracy sums):
  train  one epoch over all training images in mini-batches (the last one partial), SGD with momentum. Before the
         clock starts: loading, model build, and a warm-up of 3 steps (128, 128 and the last batch's 96 images, 80
         for resnet20: the shapes the epoch uses) on the same model, which pays for Keras/XLA compilation and
         PyTorch's first-call setup.
         PyTorch: a DataLoader-free loop over tensors shuffled once before the clock. Keras: `model.fit(x, y,
         batch_size, epochs=1, shuffle=True)`, wall clock around the call. After the clock: the test split's
         loss and accuracy (lrt validates after each epoch too).
  infer  forward passes over all training images (60,000; 50,000 for resnet20) in batches of 1000 (eval mode, no
         gradients), with loss and accuracy (as `lrt eval` computes them), after one untimed warm-up batch. Weights
         are freshly initialized: speed does not depend on their values. PyTorch: `model(x[i:i+1000])` under
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

SGEMM_SIZE = 1024


def warmup_batches(count, batch_size):
    """The warm-up steps' sizes: two full batches and the epoch's last one (96 of 60,000 images at 128, 80 of 50,000)."""
    return (batch_size, batch_size, count % batch_size or batch_size)


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
    """(train images float32 [N, height, width, channels] in [0, 1], int64 labels [N], test images, test labels);
    the test split only for training, as lrt loads it then."""
    arrays = np.load(os.path.join(data, "arrays.npz"))

    def images(name):  # uint8 [N, h, w] (gray) or [N, h, w, c] -> float32 [N, h, w, c] / 255, as lrt scales pixels
        pixels = arrays[name].astype(np.float32) / np.float32(255)
        return pixels[..., None] if pixels.ndim == 3 else pixels

    train = (images("train_images"), arrays["train_labels"].astype(np.int64))
    test = (images("test_images"), arrays["test_labels"].astype(np.int64)) if task == "train" else (None, None)
    return train + test


def run_torch(arguments):
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(arguments.seed)

    def tensors(images, labels):
        # NHWC [N, h, w, c] -> NCHW [N, c, h, w], PyTorch's layout (a reshape when c = 1, a copy otherwise).
        return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)

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
    elif arguments.model == "resnet20":
        model = torch_resnet20(x.shape[1], 10)
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_function = nn.CrossEntropyLoss()  # softmax + cross-entropy on logits, as lrt fuses them
    result = {"framework": "torch", "version": torch.__version__, "threads": torch.get_num_threads(),
              # Weights and BatchNormalization's moving statistics, as Keras's count_params and `lrt models` count.
              "parameters": sum(parameter.numel() for parameter in model.parameters())
              + sum(buffer.numel() for buffer in model.buffers() if buffer.is_floating_point())}

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
        for size in warmup_batches(x.shape[0], arguments.batch_size):
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


def torch_resnet20(channels, classes):
    """He et al.'s CIFAR ResNet-20 with option B shortcuts, as `lrt models resnet20` (see the docstring)."""
    from torch import nn

    def conv_bn(inputs, outputs, kernel, stride):
        convolution = nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=kernel // 2, bias=False)
        nn.init.kaiming_normal_(convolution.weight, nonlinearity="relu")
        return [convolution, nn.BatchNorm2d(outputs, momentum=0.1, eps=1e-5)]

    class BasicBlock(nn.Module):
        def __init__(self, inputs, outputs, stride):
            super().__init__()
            self.residual = nn.Sequential(*conv_bn(inputs, outputs, 3, stride), nn.ReLU(),
                                          *conv_bn(outputs, outputs, 3, 1))
            changes = stride != 1 or inputs != outputs
            self.shortcut = nn.Sequential(*conv_bn(inputs, outputs, 1, stride)) if changes else nn.Identity()
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.residual(x) + self.shortcut(x))

    layers = [*conv_bn(channels, 16, 3, 1), nn.ReLU()]
    inputs = 16
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(BasicBlock(inputs, filters, 2 if stage > 0 and block == 0 else 1))
            inputs = filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


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
    if arguments.model == "resnet20":
        # The reference Tools/architecture_check.py checks `lrt models resnet20` against.
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from architecture_check import cifar_resnet
        model = cifar_resnet(20)(train_images.shape[1:], 10)
    else:
        if arguments.model == "mlp":
            stack = [layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dense(256, activation="relu"),
                     layers.Dense(10, activation="softmax")]
        else:
            stack = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                     layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                     layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
        model = keras.Sequential([keras.Input(shape=train_images.shape[1:])] + stack)
    result = {"framework": "keras", "version": f"keras {keras.__version__}, jax {jax.__version__}",
              "backend": keras.backend.backend(), "devices": [str(device) for device in jax.devices()],
              "parameters": model.count_params()}
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=arguments.learning_rate, momentum=arguments.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    if arguments.task == "train":
        warmup = sum(warmup_batches(train_images.shape[0], arguments.batch_size))
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
    parser.add_argument("--model", required=True, choices=["mlp", "cnn", "resnet20"])
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

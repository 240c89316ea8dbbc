#!/usr/bin/env python3
"""Makes a corpus of broken files from a real lrt checkpoint, to check that lrt refuses each
one with a clear one-line error (or loads it with a warning) and never crashes.

    python3 Tools/make_broken_corpus.py --from CHECKPOINT.h5 --out DIR [--flips 64] [--cuts 48]

CHECKPOINT must be an lrt checkpoint with an optimizer that keeps a slot (SGD with momentum)
and training state, e.g. from `lrt train --epochs 1`. DIR receives one file per case and
`manifest.json`: [{"file", "case", "expect"}], where expect is

    error    lrt must refuse it: exit status 1, one `Error: …` line on stderr (NaN or
             infinite weights, integer or big-endian weights, data in other files:
             external storage, external links, virtual datasets);
    warning  lrt must load it and note a conversion (float16 or float64 weights);
    loads    lrt must load it;
    any      either of error or loads (bit flips that may hit only weight values).

In every case lrt must not crash and must print nothing else on stderr (no HDF5 error dump).
Tests/LRTFormatTests/BrokenCorpusTests.swift runs `lrt inspect` on every file when h5py is
importable. Needs h5py and numpy (`python3 -m venv Tools/.venv && Tools/.venv/bin/pip install
h5py numpy`; Tools/.venv is ignored by git and used by the tests when present). `secret.bin` and
`secret.h5` in DIR are the targets of the external references, not corpus files.

`--flips-only N` writes only N single bit flips (for the long runs that look for files crashing
or hanging libhdf5 itself, e.g. `--flips-only 1500`).
"""

import argparse
import json
import pathlib
import random
import shutil
import sys
import zlib

import h5py
import numpy

STRING = h5py.string_dtype("utf-8")


class Corpus:
    def __init__(self, source, out):
        self.source = pathlib.Path(source)
        self.out = pathlib.Path(out)
        self.bytes = self.source.read_bytes()
        self.entries = []
        with h5py.File(self.source, "r") as file:
            self.layers = [name for name in file["model_weights"].attrs["layer_names"]]
            self.weighted = [name for name in self.layers
                             if file[f"model_weights/{name}"].attrs["weight_names"].size > 0]
            first = self.weighted[0]
            self.weight_names = [name for name in file[f"model_weights/{first}"].attrs["weight_names"]]
            self.kernel = f"model_weights/{first}/{self.weight_names[0]}"
            self.bias = f"model_weights/{first}/{self.weight_names[1]}"
            self.kernel_shape = file[self.kernel].shape
            self.model_config = json.loads(file.attrs["model_config"])
            self.slot = file["lrt/optimizer"].attrs["slot_names"][0]
            self.parameter = f"{first}.{self.weight_names[0].split('/')[-1]}"
            self.metrics = list(file["lrt/history"].attrs["metric_names"])
            self.epoch = int(file["lrt/training"].attrs["epoch"])
            self.has_telemetry = "lrt/history/telemetry" in file
        assert self.slot, "the checkpoint's optimizer must keep a slot (use --momentum above 0)"

    def add(self, name, expect, data=None):
        path = self.out / name
        if data is not None:
            path.write_bytes(data)
        self.entries.append({"file": name, "case": name.rsplit(".", 1)[0], "expect": expect})
        return path

    def edit(self, name, expect, change):
        """A copy of the checkpoint changed by `change(file)` through h5py."""
        path = self.out / name
        shutil.copyfile(self.source, path)
        with h5py.File(path, "r+") as file:
            change(file)
        self.add(name, expect)

    def write(self):
        (self.out / "manifest.json").write_text(json.dumps(self.entries, indent=1) + "\n")


def replace(group, name, data=None, **options):
    """Replaces dataset `name` of `group` (h5py create_dataset arguments)."""
    if name in group:
        del group[name]
    return group.create_dataset(name, data=data, **options)


def set_config(file, change):
    config = json.loads(file.attrs["model_config"])
    change(config)
    file.attrs["model_config"] = json.dumps(config)


def layers_of(config):
    return config["config"]["layers"]


def metadata_cases(corpus):
    c = corpus
    edit = c.edit
    # The root and the model config.
    edit("model_config_missing.h5", "error", lambda f: f.attrs.__delitem__("model_config"))
    edit("model_config_not_json.h5", "error", lambda f: f.attrs.__setitem__("model_config", "{\"class_name\": \"Sequential\", "))
    edit("model_config_deeply_nested.h5", "error", lambda f: f.attrs.__setitem__("model_config", "[" * 100000 + "]" * 100000))
    edit("model_config_number.h5", "error", lambda f: f.attrs.__setitem__("model_config", numpy.int64(7)))
    edit("model_config_too_large.h5", "error",
         lambda f: f.attrs.__setitem__("model_config", json.dumps({"class_name": "Sequential", "pad": "x" * (17 << 20)})))
    edit("model_config_duplicate_key.h5", "error",
         lambda f: f.attrs.__setitem__("model_config", f.attrs["model_config"].replace('"class_name"', '"class_name": "Other", "class_name"', 1)))
    edit("model_config_invalid_utf8.h5", "error", lambda f: f.attrs.__setitem__("model_config", numpy.bytes_(b"{\"\xff\xfe\": 1}")))
    edit("model_config_unknown_class.h5", "error",
         lambda f: set_config(f, lambda cfg: layers_of(cfg).__setitem__(1, {"class_name": "LSTM", "config": {"units": 4}})))
    edit("model_config_functional.h5", "error",
         lambda f: set_config(f, lambda cfg: cfg.__setitem__("class_name", "Functional")))
    edit("model_config_no_layers.h5", "error", lambda f: set_config(f, lambda cfg: cfg["config"].__setitem__("layers", [])))
    edit("model_config_layers_not_list.h5", "error", lambda f: set_config(f, lambda cfg: cfg["config"].__setitem__("layers", {"a": 1})))

    def huge_dense(cfg):
        for layer in layers_of(cfg):
            if layer["class_name"] == "Dense":
                layer["config"]["units"] = 1 << 20
    edit("model_config_huge_dense.h5", "error", lambda f: set_config(f, huge_dense))

    def huge_input(cfg):
        first = layers_of(cfg)[0]["config"]
        for key in ("batch_shape", "batch_input_shape"):
            if key in first:
                first[key] = [None, 1 << 20, 1 << 20, 1 << 10]
    edit("model_config_huge_input.h5", "error", lambda f: set_config(f, huge_input))
    edit("model_config_negative_units.h5", "error",
         lambda f: set_config(f, lambda cfg: [layer["config"].__setitem__("units", -3) for layer in layers_of(cfg) if layer["class_name"] == "Dense"]))
    edit("model_config_units_string.h5", "error",
         lambda f: set_config(f, lambda cfg: [layer["config"].__setitem__("units", "ten") for layer in layers_of(cfg) if layer["class_name"] == "Dense"]))
    edit("model_config_duplicate_layer_names.h5", "error",
         lambda f: set_config(f, lambda cfg: [layer["config"].__setitem__("name", "same") for layer in layers_of(cfg)[1:]]))

    # model_weights.
    edit("model_weights_missing.h5", "error", lambda f: f.__delitem__("model_weights"))
    edit("model_weights_is_dataset.h5", "error", lambda f: (f.__delitem__("model_weights"), f.create_dataset("model_weights", data=[1.0])))
    edit("layer_names_missing.h5", "error", lambda f: f["model_weights"].attrs.__delitem__("layer_names"))
    edit("layer_names_numbers.h5", "error", lambda f: f["model_weights"].attrs.__setitem__("layer_names", numpy.arange(3)))
    edit("layer_names_unknown_layer.h5", "error",
         lambda f: f["model_weights"].attrs.__setitem__("layer_names", numpy.array(c.layers + ["ghost"], dtype=STRING)))
    edit("layer_names_duplicate.h5", "error",
         lambda f: f["model_weights"].attrs.__setitem__("layer_names", numpy.array(c.layers + [c.weighted[0]], dtype=STRING)))
    edit("layer_names_without_weighted_layer.h5", "error",
         lambda f: f["model_weights"].attrs.__setitem__("layer_names", numpy.array([n for n in c.layers if n != c.weighted[-1]], dtype=STRING)))
    edit("layer_names_2d.h5", "error",
         lambda f: f["model_weights"].attrs.__setitem__("layer_names", numpy.array([c.layers, c.layers], dtype=STRING)))
    edit("layer_group_missing.h5", "error", lambda f: f["model_weights"].__delitem__(c.weighted[0]))
    group = f"model_weights/{c.weighted[0]}"
    edit("weight_names_missing.h5", "error", lambda f: f[group].attrs.__delitem__("weight_names"))
    edit("weight_names_duplicate.h5", "error",
         lambda f: f[group].attrs.__setitem__("weight_names", numpy.array([c.weight_names[0], c.weight_names[0]], dtype=STRING)))
    edit("weight_names_unknown_weight.h5", "error",
         lambda f: f[group].attrs.__setitem__("weight_names", numpy.array([c.weight_names[0], c.weight_names[1] + "_gamma"], dtype=STRING)))
    edit("weight_names_one_missing.h5", "error",
         lambda f: f[group].attrs.__setitem__("weight_names", numpy.array(c.weight_names[:1], dtype=STRING)))
    edit("weight_names_path_escape.h5", "error",
         lambda f: f[group].attrs.__setitem__("weight_names", numpy.array(["../../lrt/optimizer/step", c.weight_names[1]], dtype=STRING)))
    edit("weight_names_empty_string.h5", "error",
         lambda f: f[group].attrs.__setitem__("weight_names", numpy.array(["", c.weight_names[1]], dtype=STRING)))

    # Weight datasets.
    kernel = c.kernel
    shape = c.kernel_shape
    edit("weight_missing.h5", "error", lambda f: f.__delitem__(kernel))
    edit("weight_wrong_shape.h5", "error", lambda f: replace(f, kernel, numpy.zeros((shape[0] + 1,) + shape[1:], numpy.float32)))
    edit("weight_wrong_rank.h5", "error", lambda f: replace(f, kernel, numpy.zeros(int(numpy.prod(shape)), numpy.float32)))
    edit("weight_scalar.h5", "error", lambda f: replace(f, kernel, numpy.float32(1)))
    edit("weight_strings.h5", "error", lambda f: replace(f, kernel, numpy.full(shape, "x", dtype=object), dtype=STRING))
    edit("weight_compound.h5", "error",
         lambda f: replace(f, kernel, numpy.zeros(shape, dtype=[("real", "<f4"), ("imaginary", "<f4")])))
    edit("weight_huge_declared_shape.h5", "error", lambda f: replace(f, kernel, shape=(1 << 20, 1 << 20), dtype="<f4"))
    edit("weight_huge_matching_rows.h5", "error", lambda f: replace(f, kernel, shape=(shape[0], 1 << 30), dtype="<f4"))
    edit("weight_rank_9.h5", "error", lambda f: replace(f, kernel, shape=(1,) * 9, dtype="<f4"))
    edit("weight_is_group.h5", "error", lambda f: (f.__delitem__(kernel), f.create_group(kernel)))
    # float16 and float64 are converted with a note; integers and big-endian floats are refused.
    edit("weight_float64.h5", "warning", lambda f: replace(f, kernel, numpy.asarray(f[kernel][()], numpy.float64)))
    edit("weight_float16.h5", "warning", lambda f: replace(f, kernel, numpy.asarray(f[kernel][()], numpy.float16)))
    edit("weight_int32.h5", "error", lambda f: replace(f, kernel, numpy.ones(shape, numpy.int32)))
    edit("weight_uint8.h5", "error", lambda f: replace(f, kernel, numpy.ones(shape, numpy.uint8)))
    edit("weight_big_endian.h5", "error", lambda f: replace(f, kernel, numpy.asarray(f[kernel][()], ">f4")))
    # Non-finite weights are refused (they loaded with only a warning).
    edit("weight_nan.h5", "error", lambda f: f[kernel].__setitem__((0,) * len(shape), numpy.nan))
    edit("weight_infinite.h5", "error", lambda f: f[c.bias].__setitem__(0, numpy.inf))
    edit("weight_all_nan.h5", "error", lambda f: f[kernel].__setitem__(..., numpy.nan))
    # Data outside the file: lrt reads only the file it was given.
    secret = c.out / "secret.bin"
    secret.write_bytes(numpy.full(shape, 0.25, numpy.float32).tobytes())
    with h5py.File(c.out / "secret.h5", "w") as file:
        file["kernel"] = numpy.full(shape, 0.5, numpy.float32)
    edit("weight_external_storage.h5", "error",
         lambda f: replace(f, kernel, shape=shape, dtype="<f4", external=[(str(secret), 0, secret.stat().st_size)]))
    edit("weight_external_storage_relative.h5", "error",
         lambda f: replace(f, kernel, shape=shape, dtype="<f4", external=[("secret.bin", 0, secret.stat().st_size)]))
    edit("weight_external_link.h5", "error", lambda f: (f.__delitem__(kernel), f.__setitem__(kernel, h5py.ExternalLink("secret.h5", "/kernel"))))
    edit("group_external_link.h5", "error",
         lambda f: (f.__delitem__(f"model_weights/{c.weighted[0]}"),
                    f.__setitem__(f"model_weights/{c.weighted[0]}", h5py.ExternalLink("secret.h5", "/"))))

    def virtual_kernel(f):
        layout = h5py.VirtualLayout(shape=shape, dtype="<f4")
        layout[...] = h5py.VirtualSource("secret.h5", "kernel", shape=shape)
        del f[kernel]
        f.create_virtual_dataset(kernel, layout)
    edit("weight_virtual_dataset.h5", "error", virtual_kernel)

    # The lrt group.
    edit("lrt_format_other.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format", "other-checkpoint"))
    edit("lrt_format_missing.h5", "error", lambda f: f["lrt"].attrs.__delitem__("format"))
    edit("lrt_format_number.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format", 1))
    edit("lrt_version_missing.h5", "error", lambda f: f["lrt"].attrs.__delitem__("format_version"))
    edit("lrt_version_newer.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format_version", numpy.int64(2)))
    edit("lrt_version_zero.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format_version", numpy.int64(0)))
    edit("lrt_version_negative.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format_version", numpy.int64(-1)))
    edit("lrt_version_string.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format_version", "1"))
    edit("lrt_version_float.h5", "error", lambda f: f["lrt"].attrs.__setitem__("format_version", 1.5))
    edit("lrt_is_dataset.h5", "error", lambda f: (f.__delitem__("lrt"), f.create_dataset("lrt", data=[1])))

    # The optimizer.
    optimizer = "lrt/optimizer"
    slot = f"{optimizer}/{c.slot}/{c.parameter}"

    def set_optimizer_config(change):
        def apply(f):
            config = json.loads(f[optimizer].attrs["config"])
            change(config)
            f[optimizer].attrs["config"] = json.dumps(config)
        return apply
    edit("optimizer_config_missing.h5", "error", lambda f: f[optimizer].attrs.__delitem__("config"))
    edit("optimizer_config_not_json.h5", "error", lambda f: f[optimizer].attrs.__setitem__("config", "{{{"))
    edit("optimizer_config_unknown_class.h5", "error", set_optimizer_config(lambda cfg: cfg.__setitem__("class_name", "Shampoo")))
    edit("optimizer_config_momentum_2.h5", "error", set_optimizer_config(lambda cfg: cfg["config"].__setitem__("momentum", 2.0)))
    edit("optimizer_config_rate_negative.h5", "error", set_optimizer_config(lambda cfg: cfg["config"].__setitem__("learning_rate", -1)))
    edit("optimizer_config_unknown_option.h5", "error", set_optimizer_config(lambda cfg: cfg["config"].__setitem__("warp_factor", 9)))
    edit("optimizer_step_negative.h5", "error", lambda f: f[optimizer].attrs.__setitem__("step", numpy.int64(-5)))
    edit("optimizer_step_huge.h5", "error", lambda f: f[optimizer].attrs.__setitem__("step", numpy.int64(1 << 62)))
    edit("optimizer_step_string.h5", "error", lambda f: f[optimizer].attrs.__setitem__("step", "ten"))
    edit("optimizer_slot_names_missing.h5", "error", lambda f: f[optimizer].attrs.__delitem__("slot_names"))
    edit("optimizer_slot_names_wrong.h5", "error",
         lambda f: f[optimizer].attrs.__setitem__("slot_names", numpy.array(["velocity"], dtype=STRING)))
    edit("optimizer_slot_group_missing.h5", "error", lambda f: f[optimizer].__delitem__(c.slot))
    edit("optimizer_slot_wrong_shape.h5", "error", lambda f: replace(f, slot, numpy.zeros((2, 2, 2), numpy.float32)))
    edit("optimizer_slot_huge_shape.h5", "error", lambda f: replace(f, slot, shape=(1 << 16, 1 << 16), dtype="<f4"))
    edit("optimizer_slot_strings.h5", "error", lambda f: replace(f, slot, numpy.full(shape, "x", dtype=object), dtype=STRING))
    edit("optimizer_slot_unknown_parameter.h5", "error",
         lambda f: f[f"{optimizer}/{c.slot}"].create_dataset("ghost.kernel", data=numpy.zeros(3, numpy.float32)))
    edit("optimizer_slot_nan.h5", "error", lambda f: f[slot].__setitem__((0,) * len(shape), numpy.nan))
    edit("optimizer_slot_external_link.h5", "error", lambda f: (f.__delitem__(slot), f.__setitem__(slot, h5py.ExternalLink("secret.h5", "/kernel"))))
    edit("optimizer_extra_member.h5", "error", lambda f: f[optimizer].create_dataset("notes", data=[1.0]))
    edit("optimizer_multipliers_missing.h5", "error", lambda f: f[optimizer].__delitem__("layer_rate_multipliers"))
    edit("optimizer_multipliers_length.h5", "error",
         lambda f: replace(f[optimizer], "layer_rate_multipliers", numpy.ones(len(c.weighted) + 3, numpy.float32)))
    edit("optimizer_multipliers_nan.h5", "error",
         lambda f: replace(f[optimizer], "layer_rate_multipliers", numpy.full(len(c.weighted), numpy.nan, numpy.float32)))
    edit("optimizer_multipliers_negative.h5", "error",
         lambda f: replace(f[optimizer], "layer_rate_multipliers", numpy.full(len(c.weighted), -2, numpy.float32)))
    edit("optimizer_multipliers_2d.h5", "error",
         lambda f: replace(f[optimizer], "layer_rate_multipliers", numpy.ones((len(c.weighted), 1), numpy.float32)))
    edit("optimizer_rate_layers_unknown.h5", "error",
         lambda f: f[optimizer].attrs.__setitem__("layer_rate_layers", numpy.array(["ghost"] * len(c.weighted), dtype=STRING)))
    edit("optimizer_scalar_state_not_json.h5", "error", lambda f: f[optimizer].attrs.__setitem__("scalar_state", "[1, 2"))
    edit("optimizer_scalar_state_wrong_version.h5", "error",
         lambda f: f[optimizer].attrs.__setitem__("scalar_state", json.dumps({"version": 99})))

    # The training state.
    training = "lrt/training"

    def attr(name, value):
        return lambda f: f[training].attrs.__setitem__(name, value)
    edit("training_epoch_negative.h5", "error", attr("epoch", numpy.int64(-1)))
    edit("training_epoch_huge.h5", "error", attr("epoch", numpy.int64(1 << 40)))
    edit("training_epoch_string.h5", "error", attr("epoch", "three"))
    edit("training_epoch_float.h5", "error", attr("epoch", 2.5))
    edit("training_epoch_array.h5", "error", attr("epoch", numpy.array([1, 2], numpy.int64)))
    edit("training_epoch_missing.h5", "error", lambda f: f[training].attrs.__delitem__("epoch"))
    edit("training_global_step_negative.h5", "error", attr("global_step", numpy.int64(-7)))
    edit("training_position_negative.h5", "error", attr("position", numpy.int64(-1)))
    edit("training_position_huge.h5", "error", attr("position", numpy.int64(1 << 50)))
    edit("training_position_beyond_order.h5", "error",
         lambda f: (replace(f[training], "epoch_order", numpy.arange(4, dtype=numpy.int64)), f[training].attrs.__setitem__("position", numpy.int64(5))))
    edit("training_batch_size_zero.h5", "error", attr("batch_size", numpy.int64(0)))
    edit("training_batch_size_huge.h5", "error", attr("batch_size", numpy.int64(1 << 40)))
    edit("training_epoch_seen_beyond_order.h5", "error", attr("epoch_seen", numpy.int64(1 << 20)))
    edit("training_epoch_correct_beyond_seen.h5", "error",
         lambda f: (f[training].attrs.__setitem__("epoch_seen", numpy.int64(0)), f[training].attrs.__setitem__("epoch_correct", numpy.int64(3))))
    edit("training_loss_sum_nan.h5", "error", attr("epoch_loss_sum", numpy.nan))
    edit("training_loss_sum_negative.h5", "error", attr("epoch_loss_sum", -1.0))
    edit("training_seed_string.h5", "error", attr("seed", "zero"))
    edit("training_generator_state_missing.h5", "error", lambda f: f[training].attrs.__delitem__("generator_state"))
    order = f"{training}/epoch_order"
    edit("epoch_order_missing.h5", "error", lambda f: f.__delitem__(order))
    edit("epoch_order_duplicates.h5", "error", lambda f: replace(f, order, numpy.array([0, 1, 1, 3], numpy.int64)))
    edit("epoch_order_out_of_range.h5", "error", lambda f: replace(f, order, numpy.array([0, 1, 2, 99], numpy.int64)))
    edit("epoch_order_negative.h5", "error", lambda f: replace(f, order, numpy.array([0, -1, 2, 3], numpy.int64)))
    edit("epoch_order_2d.h5", "error", lambda f: replace(f, order, numpy.zeros((2, 2), numpy.int64)))
    edit("epoch_order_floats.h5", "error", lambda f: replace(f, order, numpy.array([0.0, 1.0, 2.0], numpy.float32)))
    edit("epoch_order_huge_declared.h5", "error", lambda f: replace(f, order, shape=(1 << 30,), dtype="<i8"))
    edit("epoch_order_strings.h5", "error", lambda f: replace(f, order, numpy.array(["a", "b"], dtype=object), dtype=STRING))
    edit("dataset_group_missing.h5", "error", lambda f: f.__delitem__("lrt/dataset"))
    edit("dataset_root_missing.h5", "error", lambda f: f["lrt/dataset"].attrs.__delitem__("root"))
    edit("class_names_missing.h5", "error", lambda f: f["lrt/dataset"].attrs.__delitem__("class_names"))
    edit("class_names_count.h5", "error",
         lambda f: f["lrt/dataset"].attrs.__setitem__("class_names", numpy.array(["a"] * 1 + ["b", "c", "d", "e", "f", "g"], dtype=STRING)))
    edit("class_names_duplicates.h5", "error",
         lambda f: f["lrt/dataset"].attrs.__setitem__("class_names",
                                                     numpy.array(["same"] * len(f["lrt/dataset"].attrs["class_names"]), dtype=STRING)))
    history = "lrt/history"
    metric = f"{history}/{c.metrics[0]}"
    edit("history_group_missing.h5", "error", lambda f: f.__delitem__(history))
    edit("history_metric_missing.h5", "error", lambda f: f.__delitem__(metric))
    edit("history_metric_wrong_length.h5", "error", lambda f: replace(f, metric, numpy.zeros(c.epoch + 5, numpy.float32)))
    edit("history_metric_huge_declared.h5", "error", lambda f: replace(f, metric, shape=(1 << 30,), dtype="<f4"))
    edit("history_metric_strings.h5", "error",
         lambda f: replace(f, metric, numpy.array(["x"] * c.epoch, dtype=object), dtype=STRING))
    edit("history_names_duplicate.h5", "error",
         lambda f: f[history].attrs.__setitem__("metric_names", numpy.array(c.metrics + c.metrics[:1], dtype=STRING)))
    edit("history_extra_member.h5", "error", lambda f: f[history].create_dataset("unlisted", data=numpy.zeros(c.epoch, numpy.float32)))

    if c.has_telemetry:
        telemetry = "lrt/history/telemetry"
        edit("telemetry_table_wrong_shape.h5", "error", lambda f: replace(f[telemetry], "multipliers", numpy.ones((2, 99), numpy.float32)))
        edit("telemetry_table_missing.h5", "error", lambda f: f[telemetry].__delitem__("weight_norms"))
        edit("telemetry_step_beyond_global_step.h5", "error",
             lambda f: replace(f[telemetry], "steps", numpy.full(f[f"{telemetry}/steps"].shape, 1 << 40, numpy.int64)))
        edit("telemetry_huge_declared.h5", "error", lambda f: replace(f[telemetry], "steps", shape=(1 << 30,), dtype="<i8"))
        edit("telemetry_names_duplicate.h5", "error",
             lambda f: f[telemetry].attrs.__setitem__("names", numpy.array(["same"] * max(2, len(f[telemetry].attrs["names"])), dtype=STRING)))
        edit("telemetry_extra_member.h5", "error", lambda f: f[telemetry].create_dataset("notes", data=[1.0]))


def flip_cases(corpus, flips):
    """Single bit flips at seeded offsets; some hit only weight values and still load. Returns the generator."""
    data = corpus.bytes
    rng = random.Random(1234)
    for index in range(flips):
        offset = rng.randrange(len(data))
        bit = rng.randrange(8)
        flipped = bytearray(data)
        flipped[offset] ^= 1 << bit
        corpus.add(f"bitflip_{index:04d}_at_{offset}_bit_{bit}.h5", "any", bytes(flipped))
    return rng


def byte_cases(corpus, cuts, flips):
    c = corpus
    data = c.bytes
    c.add("empty.h5", "error", b"")
    c.add("text.h5", "error", b"model_config = {}\n")
    c.add("random_bytes.h5", "error", random.Random(1).randbytes(4096))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU" \
        + b"\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82"
    c.add("png_renamed.h5", "error", png)
    c.add("gzipped_checkpoint.h5", "error", zlib.compress(data))
    c.add("signature_only.h5", "error", data[:8] + b"\x00" * 64)
    c.add("signature_then_garbage.h5", "error", data[:8] + random.Random(2).randbytes(len(data) - 8))
    # An HDF5 file from another program, and one that only looks like a Keras file.
    with h5py.File(c.out / "other_program.h5", "w") as file:
        file["temperature"] = numpy.arange(10.0)
        file.attrs["instrument"] = "thermometer"
    c.add("other_program.h5", "error")
    with h5py.File(c.out / "keras_config_only.h5", "w") as file:
        file.attrs["model_config"] = json.dumps(c.model_config)
    c.add("keras_config_only.h5", "error")
    # Truncations: the first bytes finely (superblock, root header), then evenly.
    offsets = sorted(set(list(range(0, min(len(data), 512), 32)) + [len(data) * k // cuts for k in range(cuts)] + [len(data) - 1]))
    for offset in offsets:
        c.add(f"truncated_at_{offset}.h5", "error", data[:offset])
    rng = flip_cases(c, flips)
    # Runs of zeros over metadata-sized regions.
    for index in range(8):
        offset = rng.randrange(len(data) - 64)
        zeroed = bytearray(data)
        zeroed[offset:offset + 64] = b"\x00" * 64
        c.add(f"zeroed_{index}_at_{offset}.h5", "any", bytes(zeroed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="a real lrt checkpoint (SGD with momentum, training state)")
    parser.add_argument("--out", required=True, help="folder for the corpus (created; existing files are replaced)")
    parser.add_argument("--flips", type=int, default=64, help="bit-flipped copies (default 64)")
    parser.add_argument("--cuts", type=int, default=48, help="evenly spaced truncations (default 48, plus 16 in the first 512 bytes)")
    parser.add_argument("--flips-only", type=int, default=None, help="write only this many bit flips (seeded), nothing else")
    arguments = parser.parse_args()
    out = pathlib.Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(arguments.source, out)
    if arguments.flips_only is not None:
        flip_cases(corpus, arguments.flips_only)
    else:
        metadata_cases(corpus)
        byte_cases(corpus, arguments.cuts, arguments.flips)
    corpus.write()
    counts = {}
    for entry in corpus.entries:
        counts[entry["expect"]] = counts.get(entry["expect"], 0) + 1
    print(f"wrote {len(corpus.entries)} files to {out} ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})")


if __name__ == "__main__":
    sys.exit(main())

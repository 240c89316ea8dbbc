#!/usr/bin/env python3
"""Checks an HDF5 file against the lrt checkpoint layout (Schemas/checkpoint-layout.json).

    python3 Tools/validate_checkpoint.py FILE.h5 [FILE.h5 ...] [--quiet]

Prints one line per problem ("problem: /lrt/training@position: 12 exceeds 10 (the length of
/lrt/training/epoch_order)"), warnings for suspicious but loadable content (NaN weights), and
what it found (format, weights, compression). Exit status: 0 when every file conforms, 1 when
one has problems, 2 when the tool cannot run (no h5py).

It needs h5py and numpy; with the `jsonschema` package it also checks model_config and the
optimizer config against Schemas/model-config.schema.json and optimizer-config.schema.json
(without it, those are only parsed). It checks the layout, dtypes, shapes and the invariants
the layout states; lrt's loader (`lrt inspect FILE`) remains the final word on whether lrt can
use a file (it also rebuilds the model from its config).
"""

import json
import math
import pathlib
import re
import sys

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "Schemas"

try:
    import h5py
    import numpy
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"validate_checkpoint: needs h5py and numpy ({error}); pip install h5py", file=sys.stderr)
    sys.exit(2)


class Report:
    """Problems, warnings and notes about one file."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        self.warnings = []
        self.notes = []

    def problem(self, where, text):
        self.problems.append(f"{where}: {text}")

    def warning(self, where, text):
        self.warnings.append(f"{where}: {text}")


def dtype_name(dtype):
    """The layout's name for a numpy dtype: string, float32, float64, int64, int32, …"""
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU" or dtype.kind == "O":
        return "string"
    return dtype.name


def dtype_matches(expected, dtype):
    actual = dtype_name(dtype)
    if expected == "string":
        return actual == "string"
    if expected == "integer":
        return dtype.kind in "iu"
    if expected == "number":
        return dtype.kind in "iuf"
    return actual == expected


def as_text(value):
    if isinstance(value, bytes):
        return value.decode("utf8")
    return str(value)


class Validator:
    def __init__(self, file, report, layout):
        self.file = file
        self.report = report
        self.layout = layout

    # References: '/group@attribute' (its value, or its strings) and '/group/*' (members).

    def attribute(self, reference):
        path, name = reference.split("@", 1)
        if path not in self.file or name not in self.file[path].attrs:
            return None
        return self.file[path].attrs[name]

    def strings(self, reference):
        if reference.endswith("/*"):
            path = reference[:-2]
            node = self.file.get(path)
            return list(node.keys()) if isinstance(node, h5py.Group) else []
        value = self.attribute(reference)
        if value is None:
            return []
        if isinstance(value, numpy.ndarray):
            if value.size == 0:
                return []
            if dtype_name(value.dtype) != "string":
                return []
            return [as_text(entry) for entry in value.reshape(-1)]
        if isinstance(value, (str, bytes)):
            return [as_text(value)]
        return []

    def resolve(self, bound, bindings):
        """A number from a reference object, or the bound itself."""
        if isinstance(bound, dict):
            if "attribute" in bound:
                value = self.attribute(bound["attribute"].format(**bindings))
                try:
                    return int(numpy.asarray(value).reshape(-1)[0]) if value is not None else None
                except (TypeError, ValueError, IndexError):
                    return None
            if "length_of" in bound:
                reference = bound["length_of"].format(**bindings)
                if "@" in reference:
                    return len(self.strings(reference))
                node = self.file.get(reference)
                return node.shape[0] if isinstance(node, h5py.Dataset) and node.shape else None
            return None
        return bound

    def parameter_shape(self, parameter):
        """The shape of model weight '<layer>.<weight>' in /model_weights."""
        if "." not in parameter:
            return None
        layer, weight = parameter.rsplit(".", 1)
        for name in self.strings(f"/model_weights/{layer}@weight_names"):
            short = name.split("/")[-1].split(":")[0]
            node = self.file.get(f"/model_weights/{layer}/{name}")
            if short == weight and isinstance(node, h5py.Dataset):
                return node.shape
        return None

    # Expanding templated paths.

    def expand(self, entry):
        """(path, bindings) for every instance of a templated entry."""
        instances = [({}, entry["path"])]
        for placeholder, reference in entry.get("for_each", {}).items():
            expanded = []
            for bindings, path in instances:
                for value in self.strings(reference.format(**bindings)):
                    new = dict(bindings, **{placeholder: value})
                    expanded.append((new, path))
            instances = expanded
        result = []
        for bindings, path in instances:
            try:
                result.append((path.format(**bindings), bindings))
            except (KeyError, IndexError, ValueError):
                continue
        return result

    def required(self, entry, path):
        parent = path.rsplit("/", 1)[0] or "/"
        if "required_with" in entry:
            return entry["required_with"] in self.file
        return entry.get("required", False) and (parent == "/" or parent in self.file)

    # Checks.

    def check(self):
        for entry in self.layout["objects"]:
            for path, bindings in self.expand(entry):
                exists = path == "/" or path in self.file
                if not exists:
                    if self.required(entry, path):
                        self.report.problem(path, f"missing {entry['kind']}")
                    continue
                node = self.file[path] if path != "/" else self.file
                kind = "group" if isinstance(node, h5py.Group) else "dataset"
                if kind != entry["kind"]:
                    self.report.problem(path, f"is a {kind}, expected a {entry['kind']}")
                    continue
                for name, spec in entry.get("attributes", {}).items():
                    self.check_attribute(node, path, name, spec, bindings)
                if kind == "dataset":
                    self.check_dataset(node, path, entry, bindings)
        for group, members in self.layout.get("closed_groups", {}).items():
            if group.startswith("$") or group not in self.file:
                continue
            allowed = set()
            for member in members:
                if isinstance(member, dict):
                    allowed.update(self.strings(member["each_of"]))
                else:
                    allowed.add(member)
            for name in self.file[group]:
                if name not in allowed:
                    self.report.problem(f"{group}/{name}", f"is not part of the lrt format (expected {sorted(allowed)})")

    def check_attribute(self, node, path, name, spec, bindings):
        where = f"{path}@{name}"
        if name not in node.attrs:
            if spec.get("required"):
                self.report.problem(where, "missing attribute")
            return
        try:
            value = node.attrs[name]
        except Exception as error:  # h5py cannot read it (unusual type)
            self.report.problem(where, f"unreadable ({error})")
            return
        array = numpy.asarray(value) if not isinstance(value, (str, bytes)) else None
        dtype = node.attrs.get_id(name).dtype
        shape = node.attrs.get_id(name).shape
        expected = spec.get("dtype")
        empty_list = name in ("weight_names",) and shape == (0,)
        if expected and not dtype_matches(expected, dtype) and not empty_list:
            self.report.problem(where, f"has type {dtype_name(dtype)}, expected {expected}")
            return
        wanted_shape = spec.get("shape")
        if wanted_shape == "scalar" and shape not in ((), (1,)):
            self.report.problem(where, f"has shape {list(shape)}, expected a scalar")
            return
        if wanted_shape == "vector" and len(shape) != 1:
            self.report.problem(where, f"has shape {list(shape)}, expected one axis")
            return
        if expected == "string":
            strings = self.strings(f"{path}@{name}") if path != "/" else [as_text(v) for v in numpy.asarray(value).reshape(-1)]
            if spec.get("unique") and len(set(strings)) != len(strings):
                duplicates = sorted({s for s in strings if strings.count(s) > 1})
                self.report.problem(where, f"repeats {duplicates}")
            if "equals" in spec and strings != [spec["equals"]]:
                self.report.problem(where, f"is {strings}, expected '{spec['equals']}'")
            if "json" in spec and strings:
                self.check_json(where, strings[0], spec)
            return
        if array is not None and array.size == 1:
            number = array.reshape(-1)[0].item()
            if spec.get("finite") and isinstance(number, float) and not math.isfinite(number):
                self.report.problem(where, f"is {number}, expected a finite number")
            self.check_range(where, number, spec, bindings)
            if "equals" in spec and number != spec["equals"]:
                self.report.problem(where, f"is {number}, expected {spec['equals']}")

    def check_range(self, where, number, spec, bindings):
        for key, compare, words in (("minimum", lambda a, b: a < b, "is below"), ("maximum", lambda a, b: a > b, "exceeds")):
            if key not in spec:
                continue
            bound = self.resolve(spec[key], bindings)
            if bound is None:
                continue
            if compare(number, bound):
                source = spec[key]
                detail = ""
                if isinstance(source, dict):
                    detail = f" ({'the length of ' + source['length_of'] if 'length_of' in source else source.get('attribute')})"
                self.report.problem(where, f"{number} {words} {bound}{detail}")

    def check_json(self, where, text, spec):
        limit = spec.get("max_bytes")
        if limit and len(text.encode("utf8")) > limit:
            self.report.problem(where, f"holds {len(text.encode('utf8'))} bytes, more than the {limit} lrt reads")
            return
        try:
            document = json.loads(text)
        except ValueError as error:
            self.report.problem(where, f"is not valid JSON ({error})")
            return
        if spec["json"] == "any":
            return
        try:
            import jsonschema
        except ImportError:
            if "jsonschema" not in " ".join(self.report.notes):
                self.report.notes.append("jsonschema is not installed: JSON configs were parsed but not checked against Schemas/")
            return
        schema = json.loads((SCHEMAS / spec["json"]).read_text())
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))[:5]:
            location = "/".join(str(part) for part in error.absolute_path) or "(top)"
            self.report.problem(where, f"JSON at {location}: {error.message[:200]}")

    def check_dataset(self, node, path, entry, bindings):
        expected = entry.get("dtype")
        if expected and not dtype_matches(expected, node.dtype):
            self.report.problem(path, f"has type {dtype_name(node.dtype)}, expected {expected}")
            return
        shape = entry.get("shape")
        wanted = None
        if isinstance(shape, dict) and "parameter" in shape:
            wanted = self.parameter_shape(shape["parameter"].format(**bindings))
            if wanted is None:
                self.report.problem(path, f"names parameter '{shape['parameter'].format(**bindings)}', which /model_weights does not hold")
                return
        elif isinstance(shape, list):
            wanted = tuple(self.resolve(dimension, bindings) for dimension in shape)
        if wanted is not None:
            if len(wanted) != len(node.shape) or any(w is not None and w != a for w, a in zip(wanted, node.shape)):
                self.report.problem(path, f"has shape {list(node.shape)}, expected {[w if w is not None else 'any' for w in wanted]}")
                return
        if "maximum_length" in entry and node.shape and node.shape[0] > entry["maximum_length"]:
            self.report.problem(path, f"holds {node.shape[0]} entries, more than the {entry['maximum_length']} lrt reads")
            return
        if node.size > 1 << 26:
            self.report.notes.append(f"{path}: {node.size} elements, values not checked")
            return
        try:
            values = node[()]
        except Exception as error:
            self.report.problem(path, f"unreadable ({error})")
            return
        values = numpy.asarray(values)
        if entry.get("finite") and values.dtype.kind == "f" and not numpy.all(numpy.isfinite(values)):
            text = "contains NaN or infinite values"
            (self.report.problem if entry["finite"] == "error" else self.report.warning)(path, text)
        if "minimum" in entry and values.size and values.dtype.kind in "iuf" and numpy.nanmin(values) < entry["minimum"]:
            self.report.problem(path, f"holds {numpy.nanmin(values)}, below {entry['minimum']}")
        if entry.get("permutation"):
            if values.size and (values.min() < 0 or values.max() >= values.size or len(numpy.unique(values)) != values.size):
                self.report.problem(path, f"is not a permutation of 0..<{values.size} (duplicates or out-of-range indices)")

    # Facts beyond the layout: what wrote the file, weights against model_config.

    def describe(self):
        version = self.attribute("/lrt@format_version")
        if "lrt" in self.file:
            self.report.notes.append(f"lrt checkpoint, format_version {version}")
        else:
            keras = self.attribute("/@keras_version")
            self.report.notes.append(f"Keras legacy .h5 (keras_version {as_text(keras) if keras is not None else '?'}), no /lrt group")
        if version is not None:
            try:
                if int(numpy.asarray(version).reshape(-1)[0]) > self.layout["format_version"]:
                    self.report.problem("/lrt@format_version", f"{version} is newer than this layout ({self.layout['format_version']})")
            except (TypeError, ValueError):
                pass
        compressed = []
        weights = []
        if isinstance(self.file.get("model_weights"), h5py.Group):
            def visit(name, node):
                if isinstance(node, h5py.Dataset):
                    weights.append(name)
                    if node.compression:
                        compressed.append(f"{node.compression} {node.compression_opts}")
            self.file["model_weights"].visititems(visit)
        if compressed:
            kinds = sorted(set(compressed))
            self.report.notes.append(f"{len(compressed)} of {len(weights)} weight datasets compressed ({', '.join(kinds)})")
        else:
            self.report.notes.append(f"{len(weights)} weight datasets, uncompressed")
        self.check_weights_against_config()

    def check_weights_against_config(self):
        """The dimensions model_config states outright: Dense units, Conv2D filters and kernel_size."""
        text = self.attribute("/@model_config")
        try:
            config = json.loads(as_text(text))
            layers = config["config"]["layers"] if isinstance(config["config"], dict) else config["config"]
        except (TypeError, ValueError, KeyError):
            return
        for layer in layers if isinstance(layers, list) else []:
            if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
                continue
            options = layer["config"]
            name = options.get("name")
            expected = {}
            if layer.get("class_name") == "Dense" and isinstance(options.get("units"), int):
                expected = {"kernel": (None, options["units"]), "bias": (options["units"],)}
            elif layer.get("class_name") == "Conv2D" and isinstance(options.get("filters"), int):
                size = options.get("kernel_size")
                size = [size, size] if isinstance(size, int) else size
                if isinstance(size, list) and len(size) == 2:
                    expected = {"kernel": (size[0], size[1], None, options["filters"]), "bias": (options["filters"],)}
            for weight_name in self.strings(f"/model_weights/{name}@weight_names") if name else []:
                short = weight_name.split("/")[-1].split(":")[0]
                node = self.file.get(f"/model_weights/{name}/{weight_name}")
                if short in expected and isinstance(node, h5py.Dataset):
                    wanted = expected[short]
                    if len(wanted) != len(node.shape) or any(w is not None and w != a for w, a in zip(wanted, node.shape)):
                        self.report.problem(f"/model_weights/{name}/{weight_name}",
                                            f"has shape {list(node.shape)} but model_config's {layer['class_name']} '{name}' needs {[w if w is not None else 'any' for w in wanted]}")


def validate(path, layout):
    report = Report(path)
    try:
        file = h5py.File(path, "r")
    except Exception as error:
        report.problem(path, f"cannot be opened as HDF5 ({str(error).splitlines()[0]})")
        return report
    with file:
        validator = Validator(file, report, layout)
        try:
            validator.describe()
            validator.check()
        except Exception as error:  # damaged beyond what the checks expect
            report.problem("/", f"cannot be read ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")
    return report


def main(arguments):
    quiet = "--quiet" in arguments
    paths = [argument for argument in arguments if argument != "--quiet"]
    if not paths or "-h" in paths or "--help" in paths:
        print(__doc__.strip())
        return 0 if paths else 2
    layout = json.loads((SCHEMAS / "checkpoint-layout.json").read_text())
    status = 0
    for path in paths:
        report = validate(path, layout)
        if not quiet:
            for note in report.notes:
                print(f"{path}: {note}")
        for warning in report.warnings:
            print(f"{path}: warning: {warning}")
        for problem in report.problems:
            print(f"{path}: problem: {problem}")
        if report.problems:
            status = 1
        elif not quiet:
            print(f"{path}: conforms to the lrt checkpoint layout v{layout['format_version']}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Reference values for Tests/LRTOptimizersTests, from an independent NumPy implementation.

Written from the published algorithms, not from lrt's Swift code:

* torch.optim documentation (the "Algorithm" boxes of SGD, Adagrad, RMSprop, Adam, AdamW),
  with AMSGrad's maximum over the raw second moment as torch's code takes it
  (pytorch/pytorch#142323);
* Singh, De, Zhang, Goldstein, Taylor 2015 (the layer-wise multiplier 1 + log(1 + 1/||g_l||));
* You, Gitman, Ginsburg 2017 (LARS) in the form of NVIDIA apex LARC (global rate outside
  the momentum); You et al. 2019 (LAMB, Algorithm 2);
* torch.optim.lr_scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
  ReduceLROnPlateau) and Caffe's "inv" policy.

Everything runs in float64 from float32 starting values and gradients (which are written to the
fixture, so Swift uses exactly the same numbers). The choices lrt documents are mirrored here:
the paper's multiplier uses the raw gradient (before clipping and decay) and scales the rate of
the whole step; AdamW's decoupled decay is scaled by the global rate only; clipping comes before
coupled decay; global-norm clipping scales by c/||g|| only when ||g|| > c.

Usage: python3 Tools/optimizer_reference.py  (rewrites Tests/LRTOptimizersTests/Fixtures/OptimizerReference.swift)
"""

import fnmatch
import json
import math
import os

import numpy as np

STEPS = 10
STEPS_PER_EPOCH = 3

# The fixed problem: two layers, kernel [3, 2] + bias [2], and a kernel [2, 1] without bias.
LAYERS = [
    ("dense", [("kernel", (3, 2)), ("bias", (2,))]),
    ("dense_1", [("kernel", (2, 1))]),
]
PATHS = [f"{layer}.{weight}" for layer, weights in LAYERS for weight, _ in weights]
SHAPES = {f"{layer}.{weight}": shape for layer, weights in LAYERS for weight, shape in weights}
# Gradient scales per tensor, so that the layers' norms (and the paper's multipliers) differ.
GRADIENT_SCALES = {"dense.kernel": 0.4, "dense.bias": 0.03, "dense_1.kernel": 0.004}


def f32(values):
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def initial_values():
    values = {}
    for tensor, path in enumerate(PATHS):
        count = int(np.prod(SHAPES[path]))
        i = np.arange(count)
        values[path] = f32((-1.0) ** i * (0.2 + 0.6 * np.abs(np.sin(1.3 * i + 0.7 * tensor + 0.4))))
    return values


def gradients(step):
    """The gradients of the 1-based `step`."""
    result = {}
    for tensor, path in enumerate(PATHS):
        count = int(np.prod(SHAPES[path]))
        i = np.arange(count)
        scale = GRADIENT_SCALES[path]
        result[path] = f32(scale * (np.sin(0.9 * step + 1.7 * i + 0.5 * tensor) + 0.3 * np.cos(2.3 * step * (i + 1))))
    return result


def norm(x):
    return math.sqrt(float(np.sum(np.asarray(x) ** 2)))


def excluded(path, patterns):
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


# ---------------------------------------------------------------- schedules (rate at 0-based step k in epoch e)

def schedule_rate(spec, k, e, state):
    kind = spec["kind"]
    if kind == "constant":
        return spec["lr"]
    if kind == "step":  # StepLR: lr * gamma ** (n // step_size)
        n = e if spec.get("unit", "epoch") == "epoch" else k
        return spec["lr"] * spec["gamma"] ** (n // spec["step_size"])
    if kind == "multistep":  # MultiStepLR: lr * gamma ** bisect_right(milestones, epoch)
        passed = sum(1 for milestone in spec["milestones"] if milestone <= e)
        return spec["lr"] * spec["gamma"] ** passed
    if kind == "exponential":  # ExponentialLR: lr * gamma ** epoch
        return spec["lr"] * spec["gamma"] ** e
    if kind == "inverse":  # Caffe inv: base_lr * (1 + gamma * iter) ^ (-power)
        return spec["lr"] * (1 + spec["gamma"] * k) ** (-spec["power"])
    if kind == "cosine":  # CosineAnnealingLR closed form, held at eta_min after T_max
        n = e if spec.get("unit", "epoch") == "epoch" else k
        t = min(n, spec["period"])
        return spec["minimum"] + (spec["lr"] - spec["minimum"]) * (1 + math.cos(math.pi * t / spec["period"])) / 2
    if kind == "warmup":  # LinearLR(start_factor, end_factor=1, total_iters=N), multiplied onto the inner schedule
        factor = 1.0 if k >= spec["steps"] else spec["start"] + (1 - spec["start"]) * k / spec["steps"]
        return factor * schedule_rate(spec["inner"], k, e, state)
    if kind == "plateau":
        return state["plateau"]["lr"]
    raise ValueError(kind)


def plateau_spec(spec):
    while spec["kind"] == "warmup":
        spec = spec["inner"]
    return spec if spec["kind"] == "plateau" else None


def plateau_step(spec, plateau, metric):
    """torch.optim.lr_scheduler.ReduceLROnPlateau.step, without its 1e-8 minimum change."""
    best = plateau["best"]
    if not math.isfinite(metric):
        better = False
    elif best is None:
        better = True
    elif spec["mode"] == "min" and spec["threshold_mode"] == "rel":
        better = metric < best * (1 - spec["threshold"])
    elif spec["mode"] == "min":
        better = metric < best - spec["threshold"]
    elif spec["threshold_mode"] == "rel":
        better = metric > best * (spec["threshold"] + 1)
    else:
        better = metric > best + spec["threshold"]
    if better:
        plateau["best"] = metric
        plateau["bad"] = 0
    else:
        plateau["bad"] += 1
    if plateau["cooldown"] > 0:
        plateau["cooldown"] -= 1
        plateau["bad"] = 0
    if plateau["bad"] > spec["patience"]:
        plateau["lr"] = max(plateau["lr"] * spec["factor"], spec["min_lr"])
        plateau["cooldown"] = spec["cooldown"]
        plateau["bad"] = 0


def schedule_json(spec):
    kind = spec["kind"]
    if kind == "constant":
        return {"class_name": "Constant", "config": {"learning_rate": spec["lr"]}}
    if kind == "step":
        return {"class_name": "Step", "config": {"learning_rate": spec["lr"], "gamma": spec["gamma"],
                                                 "step_size": spec["step_size"], "unit": spec.get("unit", "epoch")}}
    if kind == "multistep":
        return {"class_name": "MultiStep", "config": {"learning_rate": spec["lr"], "gamma": spec["gamma"],
                                                      "milestones": spec["milestones"]}}
    if kind == "exponential":
        return {"class_name": "Exponential", "config": {"learning_rate": spec["lr"], "gamma": spec["gamma"]}}
    if kind == "inverse":
        return {"class_name": "Inverse", "config": {"learning_rate": spec["lr"], "gamma": spec["gamma"], "power": spec["power"]}}
    if kind == "cosine":
        return {"class_name": "Cosine", "config": {"learning_rate": spec["lr"], "minimum_learning_rate": spec["minimum"],
                                                   "period": spec["period"], "unit": spec.get("unit", "epoch")}}
    if kind == "warmup":
        return {"class_name": "Warmup", "config": {"steps": spec["steps"], "start_factor": spec["start"],
                                                   "schedule": schedule_json(spec["inner"])}}
    if kind == "plateau":
        return {"class_name": "ReduceOnPlateau", "config": {
            "learning_rate": spec["lr"], "monitor": spec["monitor"], "mode": spec["mode"], "factor": spec["factor"],
            "patience": spec["patience"], "threshold": spec["threshold"], "threshold_mode": spec["threshold_mode"],
            "cooldown": spec["cooldown"], "minimum_learning_rate": spec["min_lr"]}}
    raise ValueError(kind)


def schedule_rates(spec, steps, metrics=None):
    """Rates of `steps` updates; with metrics, one value is fed after each epoch."""
    plateau = plateau_spec(spec)
    state = {"plateau": {"lr": plateau["lr"], "best": None, "bad": 0, "cooldown": 0}} if plateau else {}
    rates = []
    for k in range(steps):
        e = k // STEPS_PER_EPOCH
        rates.append(schedule_rate(spec, k, e, state))
        if (k + 1) % STEPS_PER_EPOCH == 0 and plateau and metrics is not None:
            plateau_step(plateau, state["plateau"], metrics[e])
    return rates


# ---------------------------------------------------------------- base rules, as torch.optim's algorithm boxes
# Each takes the parameter p, the gradient g the rule sees, its state dict, the learning rate lr
# of this step (the global rate times the paper's multiplier) and the 1-based step t; returns the new p.

def torch_sgd(p, g, state, lr, t, momentum=0.0, nesterov=False):
    if momentum != 0:
        if "b" in state:
            state["b"] = momentum * state["b"] + g  # dampening 0
        else:
            state["b"] = g.copy()
        g = g + momentum * state["b"] if nesterov else state["b"]
    return p - lr * g


def torch_adagrad(p, g, state, lr, t, initial_accumulator_value=0.0, eps=1e-10, lr_decay=0.0):
    if "sum" not in state:
        state["sum"] = np.full_like(p, initial_accumulator_value)
    clr = lr / (1 + (t - 1) * lr_decay)
    state["sum"] = state["sum"] + g * g
    return p - clr * g / (np.sqrt(state["sum"]) + eps)


def torch_rmsprop(p, g, state, lr, t, alpha=0.99, eps=1e-8, momentum=0.0, centered=False):
    v = state.get("v", np.zeros_like(p))
    v = alpha * v + (1 - alpha) * g * g
    state["v"] = v
    v_tilde = v
    if centered:
        g_ave = alpha * state.get("g_ave", np.zeros_like(p)) + (1 - alpha) * g
        state["g_ave"] = g_ave
        v_tilde = v_tilde - g_ave ** 2
    if momentum > 0:
        b = momentum * state.get("b", np.zeros_like(p)) + g / (np.sqrt(v_tilde) + eps)
        state["b"] = b
        return p - lr * b
    return p - lr * g / (np.sqrt(v_tilde) + eps)


def torch_adam(p, g, state, lr, t, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False):
    m = beta1 * state.get("m", np.zeros_like(p)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(p)) + (1 - beta2) * g * g
    state["m"], state["v"] = m, v
    m_hat = m / (1 - beta1 ** t)
    if amsgrad:
        v_max = np.maximum(state.get("v_max", np.zeros_like(p)), v)
        state["v_max"] = v_max
        denominator = np.sqrt(v_max) / math.sqrt(1 - beta2 ** t) + eps
    else:
        denominator = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
    return p - lr * m_hat / denominator


def lars_larc(p, g, state, lr, t, momentum, nesterov, eta, eps, wd, adapt):
    """You et al. 2017 with apex LARC's placement of the global rate (after the momentum)."""
    if adapt:
        w_norm, g_norm = norm(p), norm(g)
        local = eta * w_norm / (g_norm + wd * w_norm + eps) if w_norm > 0 and g_norm > 0 else 1.0
    else:
        local = 1.0
    scaled = local * (g + wd * p)
    return torch_sgd(p, scaled, state, lr, t, momentum, nesterov), local


def lamb_algorithm2(p, g, state, lr, t, beta1, beta2, eps, wd, adapt):
    """You et al. 2019, Algorithm 2, phi = identity."""
    m = beta1 * state.get("m", np.zeros_like(p)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(p)) + (1 - beta2) * g * g
    state["m"], state["v"] = m, v
    r = (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    u = r + wd * p
    ratio = 1.0
    if adapt:
        w_norm, u_norm = norm(p), norm(u)
        if w_norm > 0 and u_norm > 0:
            ratio = w_norm / u_norm
    return p - lr * ratio * u, ratio


# ---------------------------------------------------------------- whole optimizer runs

def paper_multiplier(gradient_norm, layer_rates):
    if layer_rates == "off" or not math.isfinite(gradient_norm) or gradient_norm == 0:
        return 1.0
    return 1 + math.log(1 + 1 / max(gradient_norm, 1e-12))


def run(case, steps):
    params = initial_values()
    states = {path: {} for path in PATHS}
    rule = case["rule"]
    wd = case.get("weight_decay", 0.0)
    mode = case.get("mode", "coupled")
    wd_excluded = case.get("exclude_from_weight_decay", [])
    adapt_excluded = case.get("exclude_from_layer_adaptation", wd_excluded)
    layer_rates = case.get("layer_rates", "paper")
    per_tensor = case.get("per_tensor", False)
    for t in range(1, steps + 1):
        k = t - 1
        lr = schedule_rate(case["schedule"], k, k // STEPS_PER_EPOCH, {})
        raw = gradients(t)
        # the paper's multipliers, from the raw gradients
        multipliers = {}
        for layer, weights in LAYERS:
            paths = [f"{layer}.{w}" for w, _ in weights]
            if per_tensor:
                for path in paths:
                    multipliers[path] = paper_multiplier(norm(raw[path]), layer_rates)
            else:
                m = paper_multiplier(math.sqrt(sum(norm(raw[path]) ** 2 for path in paths)), layer_rates)
                for path in paths:
                    multipliers[path] = m
        # clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_ before the step)
        grads = dict(raw)
        if "global_clipnorm" in case:
            total = math.sqrt(sum(norm(g) ** 2 for g in grads.values()))
            if total > case["global_clipnorm"]:
                grads = {path: g * (case["global_clipnorm"] / total) for path, g in grads.items()}
        if "clipvalue" in case:
            c = case["clipvalue"]
            grads = {path: np.clip(g, -c, c) for path, g in grads.items()}
        for path in PATHS:
            p, g, state = params[path], grads[path], states[path]
            decay = 0.0 if excluded(path, wd_excluded) else wd
            step_lr = lr * multipliers[path]
            if rule == "lars":
                params[path], _ = lars_larc(p, g, state, step_lr, t, case.get("momentum", 0.9), case.get("nesterov", False),
                                            case["trust_coefficient"], case.get("epsilon", 1e-8), decay,
                                            not excluded(path, adapt_excluded))
                continue
            if rule == "lamb":
                params[path], _ = lamb_algorithm2(p, g, state, step_lr, t, case.get("beta_1", 0.9), case.get("beta_2", 0.999),
                                                  case.get("epsilon", 1e-6), decay, not excluded(path, adapt_excluded))
                continue
            if mode == "coupled":
                g = g + decay * p  # torch's weight_decay: L2 into the gradient
            elif mode == "decoupled":
                p = p - lr * decay * p  # AdamW: theta <- theta - gamma*lambda*theta, by the global rate only
            if rule == "sgd":
                params[path] = torch_sgd(p, g, state, step_lr, t, case.get("momentum", 0.0), case.get("nesterov", False))
            elif rule == "adagrad":
                params[path] = torch_adagrad(p, g, state, step_lr, t, case.get("initial_accumulator_value", 0.0),
                                             case.get("epsilon", 1e-10), case.get("lr_decay", 0.0))
            elif rule == "rmsprop":
                params[path] = torch_rmsprop(p, g, state, step_lr, t, case.get("rho", 0.99), case.get("epsilon", 1e-8),
                                             case.get("momentum", 0.0), case.get("centered", False))
            elif rule in ("adam", "adamw"):
                params[path] = torch_adam(p, g, state, step_lr, t, case.get("beta_1", 0.9), case.get("beta_2", 0.999),
                                          case.get("epsilon", 1e-8), case.get("amsgrad", False))
            else:
                raise ValueError(rule)
    return params


CLASS_NAMES = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW",
               "lars": "LARS", "lamb": "LAMB"}
RULE_KEYS = {
    "sgd": ["momentum", "nesterov"],
    "adagrad": ["initial_accumulator_value", "epsilon", "lr_decay"],
    "rmsprop": ["rho", "epsilon", "momentum", "centered"],
    "adam": ["beta_1", "beta_2", "epsilon", "amsgrad"],
    "adamw": ["beta_1", "beta_2", "epsilon", "amsgrad"],
    "lars": ["momentum", "nesterov", "trust_coefficient", "epsilon", "exclude_from_layer_adaptation"],
    "lamb": ["beta_1", "beta_2", "epsilon", "exclude_from_layer_adaptation"],
}


def optimizer_json(case):
    """The optimizer config lrt reads (Optimizer.make(config:)), with only what the case sets."""
    config = {key: case[key] for key in RULE_KEYS[case["rule"]] if key in case}
    for key in ["weight_decay", "exclude_from_weight_decay", "global_clipnorm", "clipvalue"]:
        if key in case:
            config[key] = case[key]
    if "mode" in case:
        config["weight_decay_mode"] = case["mode"]
    config["learning_rate"] = schedule_json(case["schedule"])
    config["layer_rates"] = case.get("layer_rates", "paper")
    if case.get("per_tensor"):
        config["layer_rates_per_tensor"] = True
    return {"class_name": CLASS_NAMES[case["rule"]], "config": config}


def constant(lr):
    return {"kind": "constant", "lr": lr}


def optimizer_cases():
    cases = []
    base = [
        ("sgd", {"rule": "sgd", "schedule": constant(0.1)}),
        ("sgd_momentum", {"rule": "sgd", "momentum": 0.9, "schedule": constant(0.05)}),
        ("sgd_nesterov", {"rule": "sgd", "momentum": 0.9, "nesterov": True, "schedule": constant(0.05)}),
        ("adagrad", {"rule": "adagrad", "initial_accumulator_value": 0.1, "lr_decay": 0.05, "schedule": constant(0.1)}),
        ("rmsprop", {"rule": "rmsprop", "schedule": constant(0.01)}),
        ("rmsprop_centered_momentum", {"rule": "rmsprop", "rho": 0.9, "momentum": 0.9, "centered": True,
                                       "schedule": constant(0.01)}),
        ("adam", {"rule": "adam", "schedule": constant(0.01)}),
        ("adam_amsgrad", {"rule": "adam", "beta_2": 0.9, "amsgrad": True, "schedule": constant(0.01)}),
        ("adamw", {"rule": "adamw", "weight_decay": 0.1, "mode": "decoupled", "schedule": constant(0.01)}),
        ("lars", {"rule": "lars", "momentum": 0.9, "trust_coefficient": 0.02, "weight_decay": 0.01, "mode": "coupled",
                  "exclude_from_weight_decay": ["*.bias", "*.gamma", "*.beta"], "schedule": constant(0.5)}),
        ("lamb", {"rule": "lamb", "weight_decay": 0.01, "mode": "in_update",
                  "exclude_from_weight_decay": ["*.bias", "*.gamma", "*.beta"], "schedule": constant(0.01)}),
    ]
    for name, case in base:
        for layer_rates in ["off", "paper"]:
            cases.append((f"{name}_{layer_rates}", dict(case, layer_rates=layer_rates)))
    cases += [
        ("adam_paper_per_tensor", {"rule": "adam", "schedule": constant(0.01), "per_tensor": True}),
        ("sgd_paper_per_tensor", {"rule": "sgd", "momentum": 0.5, "schedule": constant(0.1), "per_tensor": True}),
        ("lars_nesterov_all_adapted", {"rule": "lars", "momentum": 0.9, "nesterov": True, "trust_coefficient": 0.02,
                                       "epsilon": 1e-6, "weight_decay": 0.01, "mode": "coupled",
                                       "exclude_from_weight_decay": [], "exclude_from_layer_adaptation": [],
                                       "schedule": constant(0.5), "layer_rates": "off"}),
        ("lamb_adapt_bias_no_decay_kernel", {"rule": "lamb", "weight_decay": 0.05, "mode": "in_update",
                                             "exclude_from_weight_decay": ["dense_1.*"],
                                             "exclude_from_layer_adaptation": ["dense.kernel"],
                                             "schedule": constant(0.01), "layer_rates": "paper"}),
        ("sgd_coupled_decay_excluding_bias", {"rule": "sgd", "momentum": 0.9, "weight_decay": 0.05, "mode": "coupled",
                                              "exclude_from_weight_decay": ["*.bias"], "schedule": constant(0.05)}),
        ("sgd_decoupled_decay", {"rule": "sgd", "weight_decay": 0.5, "mode": "decoupled", "schedule": constant(0.1)}),
        ("adam_coupled_decay", {"rule": "adam", "weight_decay": 0.05, "mode": "coupled", "schedule": constant(0.01)}),
        ("adamw_paper_excluding_second_layer", {"rule": "adamw", "weight_decay": 0.1, "mode": "decoupled",
                                                "exclude_from_weight_decay": ["dense_1.*"], "schedule": constant(0.01)}),
        ("adam_global_clipnorm", {"rule": "adam", "global_clipnorm": 0.2, "schedule": constant(0.01)}),
        ("sgd_global_clipnorm_off", {"rule": "sgd", "momentum": 0.9, "global_clipnorm": 0.2, "schedule": constant(0.05),
                                     "layer_rates": "off"}),
        ("sgd_clipvalue", {"rule": "sgd", "momentum": 0.9, "clipvalue": 0.1, "schedule": constant(0.05)}),
        ("sgd_clipvalue_then_coupled_decay", {"rule": "sgd", "clipvalue": 0.1, "weight_decay": 0.5, "mode": "coupled",
                                              "schedule": constant(0.05)}),
        ("adam_global_clipnorm_then_coupled_decay", {"rule": "adam", "global_clipnorm": 0.2, "weight_decay": 0.5,
                                                     "mode": "coupled", "schedule": constant(0.01), "layer_rates": "off"}),
        ("sgd_warmup_cosine", {"rule": "sgd", "momentum": 0.9, "schedule": {
            "kind": "warmup", "steps": 4, "start": 0.1,
            "inner": {"kind": "cosine", "lr": 0.1, "minimum": 0.01, "period": 3}}}),
        ("rmsprop_step_by_steps", {"rule": "rmsprop", "schedule": {"kind": "step", "lr": 0.01, "gamma": 0.5,
                                                                   "step_size": 4, "unit": "step"}}),
        ("adagrad_per_tensor_inverse", {"rule": "adagrad", "per_tensor": True, "schedule": {
            "kind": "inverse", "lr": 0.1, "gamma": 0.2, "power": 0.75}}),
    ]
    return cases


def schedule_cases():
    return [
        ("constant", constant(0.1), None, None),
        ("step_epochs", {"kind": "step", "lr": 0.1, "gamma": 0.5, "step_size": 2}, None, None),
        ("step_steps", {"kind": "step", "lr": 0.1, "gamma": 0.5, "step_size": 7, "unit": "step"}, None, None),
        ("multistep", {"kind": "multistep", "lr": 0.1, "gamma": 0.3, "milestones": [2, 5, 7]}, None, None),
        ("exponential", {"kind": "exponential", "lr": 0.1, "gamma": 0.8}, None, None),
        ("inverse", {"kind": "inverse", "lr": 0.01, "gamma": 0.1, "power": 0.75}, None, None),
        ("cosine_epochs", {"kind": "cosine", "lr": 0.1, "minimum": 0.01, "period": 6}, None, None),
        ("cosine_steps", {"kind": "cosine", "lr": 0.1, "minimum": 0.0, "period": 20, "unit": "step"}, None, None),
        ("warmup_from_zero", {"kind": "warmup", "steps": 5, "start": 0.0, "inner": constant(0.1)}, None, None),
        ("warmup_start_factor_step", {"kind": "warmup", "steps": 8, "start": 0.25,
                                      "inner": {"kind": "step", "lr": 0.2, "gamma": 0.5, "step_size": 2}}, None, None),
        ("warmup_multistep", {"kind": "warmup", "steps": 4, "start": 0.5,
                              "inner": {"kind": "multistep", "lr": 0.1, "gamma": 0.1, "milestones": [3, 6]}}, None, None),
        ("plateau_min_rel", {"kind": "plateau", "lr": 0.1, "monitor": "val_loss", "mode": "min", "factor": 0.5,
                             "patience": 2, "threshold": 0.01, "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0},
         "val_loss", [1.0, 0.8, 0.79, 0.795, 0.80, 0.70, 0.695, 0.699, 0.7, 0.71, 0.5, 0.6]),
        ("plateau_max_abs_cooldown", {"kind": "plateau", "lr": 0.1, "monitor": "val_accuracy", "mode": "max",
                                      "factor": 0.3, "patience": 1, "threshold": 0.01, "threshold_mode": "abs",
                                      "cooldown": 2, "min_lr": 0.005},
         "val_accuracy", [0.5, 0.6, 0.605, 0.6, 0.61, 0.62, 0.7, 0.69, 0.7, 0.705, 0.7, 0.7]),
        ("plateau_min_abs_warmup", {"kind": "warmup", "steps": 5, "start": 0.2, "inner": {
            "kind": "plateau", "lr": 0.05, "monitor": "val_loss", "mode": "min", "factor": 0.1, "patience": 0,
            "threshold": 0.05, "threshold_mode": "abs", "cooldown": 1, "min_lr": 0.0}},
         "val_loss", [2.0, 1.9, 1.97, 1.5, 1.49, 1.2, 1.3, 1.0, 0.99, 0.98, 0.9, 0.8]),
    ]


# ---------------------------------------------------------------- Swift output

def swift_floats(values):
    return "[" + ", ".join(repr(float(v)) for v in np.asarray(values).ravel()) + "]"


def swift_tensors(tensors):
    return "[" + ", ".join(f'"{path}": {swift_floats(tensors[path])}' for path in PATHS) + "]"


def swift_string(text):
    assert '"#' not in text
    return '#"' + text + '"#'


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    output = os.path.join(here, "..", "Tests", "LRTOptimizersTests", "Fixtures", "OptimizerReference.swift")
    lines = [
        "// Generated by Tools/optimizer_reference.py — do not edit; rerun the script instead.",
        "// Reference values from an independent NumPy (float64) implementation of torch.optim's",
        "// algorithms, the paper's multiplier, LARS, LAMB and the schedules.",
        "",
        "enum OptimizerReference {",
        f"    static let stepsPerEpoch = {STEPS_PER_EPOCH}",
        "    /// The problem: layer `dense` (kernel [3, 2], bias [2]) and `dense_1` (kernel [2, 1]).",
        "    static let shapes: [String: [Int]] = [" + ", ".join(f'"{p}": {list(SHAPES[p])}' for p in PATHS) + "]",
        f"    static let paths = {json.dumps(PATHS)}",
        "    static let initialValues: [String: [Float]] = " + swift_tensors(initial_values()),
        "    /// The gradients of steps 1 through " + str(STEPS) + ".",
        "    static let gradients: [[String: [Float]]] = [",
    ]
    for step in range(1, STEPS + 1):
        lines.append("        " + swift_tensors(gradients(step)) + ",")
    lines.append("    ]")
    lines.append("")
    lines.append("    /// Parameters after 1 and after " + str(STEPS) + " steps of each optimizer config.")
    lines.append("    static let optimizerCases: [ReferenceOptimizerCase] = [")
    for name, case in optimizer_cases():
        lines.append(f'        ReferenceOptimizerCase(name: "{name}", config: {swift_string(json.dumps(optimizer_json(case)))},')
        lines.append(f"            afterOne: {swift_tensors(run(case, 1))},")
        lines.append(f"            afterTen: {swift_tensors(run(case, STEPS))}),")
    lines.append("    ]")
    lines.append("")
    lines.append("    /// Rates of 36 updates (epoch = step / stepsPerEpoch); with a metric, one value is fed after each epoch.")
    lines.append("    static let scheduleCases: [ReferenceScheduleCase] = [")
    for name, spec, metric, metrics in schedule_cases():
        rates = schedule_rates(spec, 36, metrics)
        metric_text = f'"{metric}"' if metric else "nil"
        lines.append(f'        ReferenceScheduleCase(name: "{name}", config: {swift_string(json.dumps(schedule_json(spec)))},')
        lines.append(f"            metric: {metric_text}, metrics: {swift_floats(metrics) if metrics else '[]'},")
        lines.append(f"            rates: {swift_floats(rates)}),")
    lines.append("    ]")
    lines.append("}")
    with open(output, "w") as file:
        file.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.normpath(output)}: {len(optimizer_cases())} optimizer cases, {len(schedule_cases())} schedule cases")


if __name__ == "__main__":
    main()

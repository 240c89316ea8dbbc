"""The report of Tools/reproduce: docs/REPRODUCTION.md and docs/figures/, from the run JSON files only.

Every number in the report is computed here from the recorded results; nothing is typed by hand.
"""
import datetime
import glob
import json
import math
import os
import statistics

# Two-sided 5% critical values of Student's t, by degrees of freedom.
T_CRITICAL = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def load_runs(out, study):
    runs = []
    for path in sorted(glob.glob(os.path.join(out, "runs", study["name"], "*.json"))):
        with open(path) as handle:
            runs.append(json.load(handle))
    return runs


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt_pm(values, scale=100.0, digits=2, suffix=""):
    m, s = mean_std(values)
    if m is None:
        return "–"
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}{suffix}"


def paired(differences):
    """Mean, standard deviation, t statistic and sign counts of paired differences."""
    n = len(differences)
    if n == 0:
        return None
    mean = statistics.mean(differences)
    sd = statistics.stdev(differences) if n > 1 else float("nan")
    if n > 1 and sd > 0:
        t = mean / (sd / math.sqrt(n))
    elif n > 1 and mean != 0:
        t = math.copysign(math.inf, mean)
    else:
        t = float("nan")
    return dict(n=n, mean=mean, sd=sd, t=t, wins=sum(d > 0 for d in differences), losses=sum(d < 0 for d in differences))


def final_accuracy(run):
    return run["test_per_epoch"][-1]["test_accuracy"] if run["status"] == "ok" and run["test_per_epoch"] else None


def final_loss(run):
    return run["test_per_epoch"][-1]["test_loss"] if run["status"] == "ok" and run["test_per_epoch"] else None


def complete(run):
    return run["status"] == "ok" and len(run["history"]) == run["epochs_requested"] and bool(run["test_per_epoch"])


def has_test_curve(run):
    return len(run["test_per_epoch"]) == len(run["history"]) and len(run["history"]) > 0


def curve(run, source):
    """Accuracy per epoch: the test split's (measured after every epoch) or the validation split's."""
    if source == "test":
        return [t["test_accuracy"] for t in run["test_per_epoch"]]
    return [h.get("val_accuracy") for h in run["history"]]


def to_target(run, target, source):
    """(epoch, training seconds) at which the curve's accuracy first reaches target, or None."""
    seconds = 0.0
    for index, accuracy in enumerate(curve(run, source)):
        if index < len(run["history"]):
            seconds += run["history"][index].get("seconds", 0.0)
        if accuracy is not None and accuracy >= target:
            return index + 1, seconds
    return None


def pair_label(rule, rates):
    return f"{rule} + {rates}" if rule not in ("lars", "lamb") else rule


class Study:
    """One study's results, organized by pair."""

    def __init__(self, study, out, grid, rate, tuning_of, extensions):
        self.study = study
        self.runs = load_runs(out, study)
        self.tune = {}
        self.final = {}
        self.defaults = {}  # (rule, layer rates, learning rate) -> the default candidate's seeded runs
        for run in self.runs:
            key = (run["rule"], run["layer_rates"])
            if run["phase"] == "default":
                self.defaults.setdefault(key + (run["learning_rate"],), []).append(run)
                continue
            (self.tune if run["phase"] == "tune" else self.final).setdefault(key, []).append(run)
        self.grid, self.rate, self.tuning_of, self.extensions = grid, rate, tuning_of, extensions
        finals = [r for runs in self.final.values() for r in runs if complete(r)]
        self.source = "test" if finals and all(has_test_curve(r) for r in finals) else "validation"

    def tuned(self, rule, rates):
        """(best run or None, tune runs sorted by rate, whether tuning finished, edge flag)."""
        exponents, results, chosen = self.tuning_of(self.study, rule, rates)
        runs = [r for r in results if r is not None]
        if not runs:
            return None, runs, False, False
        finished = chosen is not None
        if finished:
            best = results[exponents.index(chosen)]
        else:
            best = max(runs, key=lambda r: (r["history"][-1].get("val_accuracy", 0) if r["status"] == "ok" and r["history"] else 0))
        edge = finished and (chosen == exponents[0] or chosen == exponents[-1])
        return best, runs, finished, edge

    def finals(self, rule, rates):
        return sorted((r for r in self.final.get((rule, rates), []) if complete(r)), key=lambda r: r["seed"])

    def paired_finals(self, rule):
        """The finished seeded runs of `rule` with `off` and with `paper`, by seed, and the seeds both have."""
        off = {r["seed"]: r for r in self.finals(rule, "off")}
        paper = {r["seed"]: r for r in self.finals(rule, "paper")}
        return off, paper, sorted(set(off) & set(paper))



def rate_sweep(loaded, rule, rates, within=None):
    """{learning rate: {study: validation accuracy of its tuning run}} and {study: best tuning accuracy}, over the
    studies that tuned this pair (only those named in within, when given); a diverged or failed tuning run counts
    as 0, as in the selection."""
    sweep, best = {}, {}
    for s in loaded:
        if within is not None and s.study["name"] not in within:
            continue
        runs = s.tune.get((rule, rates), [])
        accuracies = [run["history"][-1].get("val_accuracy", 0.0) if run["status"] == "ok" and run["history"] else 0.0
                      for run in runs]
        if not accuracies or max(accuracies) - min(accuracies) < 0.005 or not s.tuned(rule, rates)[2]:
            continue  # still tuning, or no rate trains (a network at chance): it says nothing about which rate is better
        for run, accuracy in zip(runs, accuracies):
            sweep.setdefault(run["learning_rate"], {})[s.study["name"]] = accuracy
            best[s.study["name"]] = max(best.get(s.study["name"], 0.0), accuracy)
    return dict(sorted(sweep.items())), best


def common_sweeps(loaded, rule):
    """The off and paper sweeps of one rule over the same studies (those where both trained), so they compare."""
    both = set(rate_sweep(loaded, rule, "off")[1]) & set(rate_sweep(loaded, rule, "paper")[1])
    return {rates: rate_sweep(loaded, rule, rates, both) for rates in ("off", "paper")}


def shortfalls(sweep, best, learning_rate):
    """Per study, how far (accuracy, 0..1) the tuning run at this rate fell below that study's best rate."""
    for key, row in sweep.items():
        if math.isclose(key, learning_rate, rel_tol=0.01):
            return {study: best[study] - accuracy for study, accuracy in row.items()}
    return {}

def figure_setup(root):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 8, "figure.dpi": 110})
    return plt


COLORS = {"off": "#1f77b4", "paper": "#d62728", "lars": "#2ca02c", "lamb": "#9467bd"}


def curves(runs, x_seconds, source):
    """Mean and min/max accuracy per epoch over complete runs, x in epochs or mean training seconds."""
    complete_runs = [r for r in runs if complete(r)]
    if not complete_runs:
        return None
    epochs = min(len(curve(r, source)) for r in complete_runs)
    ys = [[curve(r, source)[i] for r in complete_runs] for i in range(epochs)]
    if x_seconds:
        xs = []
        for i in range(epochs):
            xs.append(statistics.mean(sum(h.get("seconds", 0) for h in r["history"][:i + 1]) for r in complete_runs))
    else:
        xs = list(range(1, epochs + 1))
    return xs, [statistics.mean(y) for y in ys], [min(y) for y in ys], [max(y) for y in ys]


def plot_accuracy(plt, s, path, x_seconds):
    rules = [r for r in dict.fromkeys(rule for rule, _ in s.study["pairs"]) if r not in ("lars", "lamb")]
    references = [r for r in dict.fromkeys(rule for rule, _ in s.study["pairs"]) if r in ("lars", "lamb")]
    panels = rules + (["references"] if references else [])
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.5 * rows), squeeze=False, sharey=True)
    drawn = False
    for index, panel in enumerate(panels):
        axis = axes[index // columns][index % columns]
        series = [(rates, (panel, rates)) for rates in ("off", "paper")] if panel != "references" \
            else [(rule, (rule, "off")) for rule in references]
        for name, key in series:
            c = curves(s.final.get(key, []), x_seconds, s.source)
            if c is None:
                continue
            xs, mean, low, high = c
            n = len([r for r in s.final.get(key, []) if complete(r)])
            axis.plot(xs, [100 * v for v in mean], marker="o", markersize=2.5, color=COLORS.get(name, None),
                      label=f"{name} (n={n})")
            axis.fill_between(xs, [100 * v for v in low], [100 * v for v in high], color=COLORS.get(name, None), alpha=0.2)
            drawn = True
        axis.set_title(panel if panel != "references" else "LARS / LAMB (layer-wise references)")
        axis.set_xlabel("training seconds (mean over seeds)" if x_seconds else "epoch")
        if not x_seconds:
            from matplotlib.ticker import MaxNLocator
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if index % columns == 0:
            axis.set_ylabel(f"{s.source} accuracy (%)")
        if axis.lines:
            axis.legend(loc="lower right")
    for index in range(len(panels), rows * columns):
        axes[index // columns][index % columns].axis("off")
    all_values = [100 * v for key in s.final for r in s.final[key] if complete(r) for v in curve(r, s.source) if v is not None]
    if all_values:
        top = max(all_values)
        best_final = sorted(all_values)[len(all_values) // 4]
        axes[0][0].set_ylim(max(0, min(best_final, top - 10) - 1), min(100, top + 0.5))
    figure.suptitle(f"{s.study['label']}: {s.source} accuracy per {'training second' if x_seconds else 'epoch'}, "
                    f"mean over seeds, band = min..max (tuned rate per pair)")
    figure.tight_layout()
    if drawn:
        figure.savefig(path)
    plt.close(figure)
    return drawn


def pick_run(s, preferred_rules, rates):
    for rule in preferred_rules:
        runs = s.finals(rule, rates)
        if runs:
            return runs[0]
    return None


def plot_telemetry(plt, run, key, path, title, log_scale):
    telemetry = run.get("telemetry") or {}
    if not telemetry:
        return False
    figure, axis = plt.subplots(figsize=(6.5, 3.4))
    colormap = plt.get_cmap("viridis")
    names = list(telemetry)
    for index, name in enumerate(names):
        entry = telemetry[name]
        steps = [st for st, v in zip(entry["step"], entry[key]) if v is not None]
        values = [v for v in entry[key] if v is not None]
        axis.plot(steps, values, color=colormap(index / max(1, len(names) - 1)), label=name, linewidth=0.9)
    if log_scale:
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel(key.replace("_", " "))
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=6, ncol=2 if len(names) > 6 else 1, loc="best")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def plot_gradient_pairs(plt, s, path):
    rules = [r for r in ("sgd", "momentum", "adam") if s.finals(r, "off") and s.finals(r, "paper")]
    if not rules:
        return None
    figure, axes = plt.subplots(len(rules), 2, figsize=(9, 2.8 * len(rules)), squeeze=False, sharey="row")
    colormap = plt.get_cmap("viridis")
    for row, rule in enumerate(rules):
        for column, rates in enumerate(("off", "paper")):
            run = s.finals(rule, rates)[0]
            axis = axes[row][column]
            names = list(run["telemetry"])
            for index, name in enumerate(names):
                entry = run["telemetry"][name]
                points = [(st, v) for st, v in zip(entry["step"], entry["gradient_norm"]) if v is not None and v > 0]
                axis.plot([p[0] for p in points], [p[1] for p in points], linewidth=0.8,
                          color=colormap(index / max(1, len(names) - 1)), label=name)
            axis.set_yscale("log")
            axis.set_title(f"{rule} + {rates}, lr {run['learning_rate']:.3g}, seed {run['seed']}")
            axis.set_xlabel("step")
            axis.grid(alpha=0.3)
            if column == 0:
                axis.set_ylabel("layer gradient norm ‖g_l‖₂")
            if row == 0 and column == 1:
                axis.legend(fontsize=5.5, ncol=2, loc="best")
    figure.suptitle(f"{s.study['label']}: each layer's raw gradient norm, without (left) and with (right) the rule")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return rules


def plot_with_lrt(lrt, s, rule, path):
    """The `rule` pair's first seeded runs drawn by `lrt plot` (accuracy, each layer's multiplier and gradient norm),
    from JSON-lines logs written out of their run files; False when there is no such pair or no working lrt binary."""
    import subprocess
    import tempfile
    if not (s.finals(rule, "off") and s.finals(rule, "paper")) or not os.path.exists(lrt):
        return False
    with tempfile.TemporaryDirectory() as folder:
        logs, labels = [], []
        for rates in ("off", "paper"):
            run = s.finals(rule, rates)[0]
            records = []
            for entry in run.get("history", []):
                metrics = {k: v for k, v in entry.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")
                           and isinstance(v, (int, float))}
                records.append(dict(type="epoch", epoch=entry["epoch"], **metrics))
            steps = {}
            for name, entry in (run.get("telemetry") or {}).items():
                for index, step in enumerate(entry["step"]):
                    layer = {"name": name}
                    for key in ("gradient_norm", "multiplier", "weight_norm", "update_norm"):
                        value = entry.get(key, [None] * (index + 1))[index]
                        if isinstance(value, (int, float)) and math.isfinite(value):
                            layer[key] = value
                    steps.setdefault(step, []).append(layer)
            records += [dict(type="telemetry", step=step, layers=layers) for step, layers in sorted(steps.items())]
            log = os.path.join(folder, f"{rule}-{rates}.jsonl")
            with open(log, "w") as handle:
                handle.writelines(json.dumps(record) + "\n" for record in records)
            logs.append(log)
            labels += ["--label", f"{rule} + {rates}, lr {run['learning_rate']:.3g}, seed {run['seed']}"]
        command = [lrt, "plot", *logs, *labels, "--panels", "accuracy,multipliers,gradient-norms", "--title",
                   f"{s.study['label']}: {rule} without and with the rule (lrt plot)", "--out", path, "--overwrite"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"warning: lrt plot failed for {s.study['name']}: {result.stderr.strip()}")
            return False
    return True


def layer_summary(run):
    """Per layer: median gradient norm and median multiplier over the run's telemetry, first and last quarter."""
    rows = []
    for name, entry in (run.get("telemetry") or {}).items():
        g = [v for v in entry["gradient_norm"] if v is not None]
        m = [v for v in entry["multiplier"] if v is not None]
        if not g:
            continue
        quarter = max(1, len(g) // 4)
        rows.append(dict(name=name, g_first=statistics.median(g[:quarter]), g_last=statistics.median(g[-quarter:]),
                         m_median=statistics.median(m) if m else None, m_max=max(m) if m else None, m_min=min(m) if m else None))
    return rows


def fmt_seconds(runs, study):
    values = [h["seconds"] for r in runs if r["study"] == study and r["status"] == "ok" and not r.get("reused_from")
              for h in r["history"] if "seconds" in h]
    if not values:
        return "(no run)"
    return f"median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f})"


def write(root, out, studies, args, rate, grid, rules, targets, tuning_of, extensions):
    docs = os.path.abspath(args.report_out)
    lrt = args.lrt if os.path.isabs(args.lrt) else os.path.join(root, args.lrt)
    figure_folder = "figures/quick" if args.quick else "figures"
    report_name = "REPRODUCTION-quick.md" if args.quick else "REPRODUCTION.md"
    figures = os.path.join(docs, figure_folder)
    os.makedirs(figures, exist_ok=True)
    plt = figure_setup(root)
    setup = {}
    if os.path.exists(os.path.join(out, "setup.json")):
        with open(os.path.join(out, "setup.json")) as handle:
            setup = json.load(handle)
    lines = []
    w = lines.append
    loaded = [Study(study, out, grid, rate, tuning_of, extensions) for study in studies]
    all_runs = [r for s in loaded for r in s.runs]
    relative_out = os.path.relpath(out, root)
    w("# Does the layer-specific adaptive rate help? A reproduction on lrt")
    w("")
    w(f"*Generated by `Tools/reproduce --report` from the {len(all_runs)} run files under `{relative_out}/runs/` "
      f"(generated {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}). "
      "Every number below is computed from those files; none is typed by hand.*")
    w("")
    w("Paper: Singh, De, Zhang, Goldstein, Taylor (2015), *Layer-Specific Adaptive Learning Rates for Deep Networks*: "
      "layer l steps with t·m_l, m_l = 1 + log(1 + 1/‖g_l‖₂), on top of any base rule. lrt: `--layer-rates paper|off`.")
    w("")
    # ---------------------------------------------------------------- setup
    w("## Setup")
    w("")
    if setup:
        w(f"- **Machine**: {setup.get('machine')}, {setup.get('cores')} cores, shared with other jobs (see *Load and time* below); "
          f"lrt {setup.get('lrt_version')} (release build), {setup.get('jobs')} runs at a time, "
          f"{setup.get('threads')} thread(s) each (OMP_NUM_THREADS/OPENBLAS_NUM_THREADS).")
        for name, data in setup.get("datasets", {}).items():
            w(f"- **Data `{name}`**: {data['description']}. Tuning reads `{data['tune']}` (train + validation, no test folder), "
              f"the seeded runs read `{data['final']}`.")
    w("- **Pairs**: each base rule (torch.optim formulas, lrt defaults otherwise: momentum 0.9 for momentum/nesterov, "
      "Adam β = (0.9, 0.999), RMSProp ρ = 0.99, no weight decay, batch 32, constant rate) with `--layer-rates off` and `paper`, "
      "everything else equal; LARS (trust coefficient 0.001, momentum 0.9) and LAMB (weight decay 0.01, lrt's default) with "
      "`--layer-rates off` as layer-wise references.")
    w(f"- **Tuning**: for every (network, rule, layer rates) separately, a log grid of learning rates in half-decade steps "
      f"(10^(k/2)); one run per rate with seed 0 for the study's tuning epochs; the rate with the best validation accuracy "
      f"of the last epoch wins (ties: lower validation loss; a diverged run counts as 0). When the best rate is on an edge "
      f"of the grid, the grid is extended by one half decade on that side, at most {extensions} times. The test set is "
      f"never read during tuning (the tuning folder has no test split).")
    w("- **Seeded runs**: the tuned rate of each pair with seeds " +
      ", ".join(sorted({str(sd) for s in studies for sd in s['seeds']})) +
      " (seed 0 was the tuning seed); the seed sets the weights and the data order. Paper and off share the seeds, so "
      "comparisons are paired. " +
      ("Each run trains one epoch per lrt process (`lrt train --epochs 1`, then `lrt resume --epochs k`), so the test "
       "split, which lrt evaluates once at the end of a run, is measured after every epoch; these per-epoch test numbers "
       "are reported, never used to choose anything." if setup.get("test_curves") else
       "Each run is one `lrt train` process; lrt evaluates the test split once, after the last epoch (the reported test "
       "accuracy), and the validation split after every epoch (the curves and epochs to target); the test numbers are "
       "reported, never used to choose anything."))
    w("")
    w("| study | network | data | pairs | grid points | tuning epochs | epochs per seeded run | seeds |")
    w("|---|---|---|---|---|---|---|---|")
    for s in loaded:
        st = s.study
        points = st.get("grid_points") or len(rules["sgd"][1])
        w(f"| {st['name']} | {st['label']} | {st['data']} | {len(st['pairs'])} | {points} (+ up to {extensions} edge extensions) | "
          f"{st['tune_epochs']} | {st['epochs']} | {len(st['seeds'])} |")
    w("")
    w("Rate grids (before extensions; powers of ten): " + "; ".join(
        f"{name} 10^{points[0]:g}…10^{points[-1]:g}" for name, (_, points) in rules.items()) + ".")
    w("")
    # ---------------------------------------------------------------- status
    w("## What finished")
    w("")
    w("| study | tuning runs done | pairs tuned | seeded runs done / planned | diverged or failed runs |")
    w("|---|---|---|---|---|")
    unfinished = []
    for s in loaded:
        tune_runs = sum(len(v) for v in s.tune.values())
        tuned_pairs = sum(1 for rule, rates in s.study["pairs"] if s.final.get((rule, rates)))
        planned = len(s.study["pairs"]) * len(s.study["seeds"])
        done = sum(len(s.finals(rule, rates)) for rule, rates in s.study["pairs"])
        bad = sum(1 for r in s.runs if r["status"] != "ok")
        w(f"| {s.study['name']} | {tune_runs} | {tuned_pairs} / {len(s.study['pairs'])} | {done} / {planned} | {bad} |")
        if done < planned:
            unfinished.append((s.study["name"], done, planned))
    w("")
    if setup.get("invocations"):
        w("Invocations that produced these results (from `setup.json`):")
        w("")
        for invocation in setup["invocations"]:
            text = invocation.get("command") or ("Tools/reproduce" + (f" --only {','.join(invocation['only'])}" if invocation.get("only") else "")
                                                + f" --jobs {invocation.get('jobs')}")
            w(f"- `{text}`, started {invocation.get('started')}" + (f" — {invocation['note']}" if invocation.get("note") else ""))
        if setup.get("lrt_binary"):
            b = setup["lrt_binary"]
            w(f"- binary `{b['path']}`, SHA-256 `{b['sha256'][:16]}…`, built from {b['built_from']}")
        w("")
    reused = [r for r in all_runs if r.get("reused_from")]
    if reused:
        w(f"{len(reused)} tuning runs were copied from the `--quick` study instead of being run again: the same command on "
          "the same data (built the same way), seed and binary, whose metrics lrt reproduces bit for bit (checked on one "
          "run before copying); each copied file names its source in `reused_from`.")
        w("")
    if unfinished:
        w("**Not finished** (the study is resumable: `Tools/reproduce` skips every finished run and continues): " +
          "; ".join(f"{name} ({done} of {planned} seeded runs)" for name, done, planned in unfinished) +
          ". Rows below with fewer seeds than planned, or missing, are incomplete, not negative results.")
        w("")
    # ---------------------------------------------------------------- load and time
    loads = [r["load_average_at_start"][0] for r in all_runs if r.get("load_average_at_start")]
    if loads:
        w("### Load and time")
        w("")
        jobs = max((i.get("jobs") or 1 for i in setup.get("invocations", [])), default=setup.get("jobs", 1))
        shared = statistics.median(loads) > jobs + 0.5
        w(f"The 1-minute load average when a run started was median {statistics.median(loads):.1f} "
          f"(min {min(loads):.1f}, max {max(loads):.1f}) on {setup.get('cores', '?')} cores, the study's own {jobs} "
          f"run{'s' if jobs > 1 else ''} at a time included. " +
          ("The host was shared with other work, so wall-clock and training seconds are inflated and noisy" if shared else
           "Other work on the host (builds) still made wall-clock and training seconds noisy") +
          ": they differ between runs for reasons unrelated to the optimizer. They are recorded (seconds to target, mean wall time per run), "
          "but **epochs to a target accuracy is the primary time measure**: the rule costs one extra norm per layer per step, so "
          "an epoch costs the same with and without it up to that (negligible) overhead, and epochs are immune to the load.")
        w("")
        starts = [datetime.datetime.fromisoformat(r["started"]) for r in all_runs if r.get("started") and not r.get("reused_from")]
        ends = [datetime.datetime.fromisoformat(r["finished"]) for r in all_runs if r.get("finished") and not r.get("reused_from")]
        if starts and ends:
            span = (max(ends) - min(starts)).total_seconds()
            total = sum(r["wall_seconds"] for r in all_runs if not r.get("reused_from"))
            # The time during which at least one run was going: the span less the gaps between invocations.
            intervals = sorted((datetime.datetime.fromisoformat(r["started"]), datetime.datetime.fromisoformat(r["finished"]))
                               for r in all_runs if r.get("started") and r.get("finished") and not r.get("reused_from"))
            busy, current_start, current_end = 0.0, None, None
            for start, end in intervals:
                if current_end is None or start > current_end:
                    if current_end is not None:
                        busy += (current_end - current_start).total_seconds()
                    current_start, current_end = start, end
                else:
                    current_end = max(current_end, end)
            busy += (current_end - current_start).total_seconds() if current_end is not None else 0
            invocations = len(setup.get("invocations", [])) or 1
            w(f"The {len(starts)} runs made here started at {min(starts).strftime('%H:%M')} UTC and the last finished at "
              f"{max(ends).strftime('%H:%M')} UTC ({span / 60:.0f} minutes"
              + (f"; runs were going during {busy / 60:.0f} of them, the rest being the pauses between the {invocations} "
                 f"invocations" if span - busy > 60 else "") +
              f"); their wall times add up to {total / 60:.0f} minutes "
              f"(several ran at a time). Under the same load one MLP epoch on the 10,000-image subset took "
              + fmt_seconds(all_runs, "mnist-mlp") + ". " +
              ("How long it takes depends on the image folder." if args.data else
               ("The quick grid is sized for at most ten minutes" if args.quick else
                "The grid (the MNIST subset, the epochs, ResNet-20's reduced grid) was sized for about two hours") +
               " on 2 cores with nothing else running; on a shared host it takes longer."))
            w("")
    # ---------------------------------------------------------------- results per study
    verdicts = []
    for s in loaded:
        st = s.study
        target_list = targets.get(st["data"], [0.9])
        w(f"## {st['label']} (`{st['name']}`)")
        w("")
        if s.source == "test":
            w("Curves and epochs to target use the **test** accuracy measured after every epoch (reporting only).")
        else:
            w("Curves and epochs to target use the **validation** accuracy after every epoch (the test split is measured "
              "once, after the last epoch, as lrt does; the validation split chose only the rate, on the tuning seed 0).")
        w("")
        header = "| pair | tuned lr | val acc (tuning) | seeds | test acc % (final epoch) | test loss | " + \
                 " | ".join(f"epochs to {100 * t:g}% {'test' if s.source == 'test' else 'val'} (reached)" for t in target_list) + \
                 f" | train s to {100 * target_list[0]:g}% | wall s per run |"
        w(header)
        w("|" + "---|" * (header.count("|") - 1))
        for rule, rates in st["pairs"]:
            best, tune_runs, finished, edge = s.tuned(rule, rates)
            finals = s.finals(rule, rates)
            if best is None:
                w(f"| {pair_label(rule, rates)} | not run | | | | |" + " |" * len(target_list) + " | |")
                continue
            lr_text = f"{best['learning_rate']:.3g}" + (" (edge)" if edge and finished else "") + ("" if finished else " (tuning)")
            val = best["history"][-1]["val_accuracy"] if best["history"] else float("nan")
            cells = [pair_label(rule, rates), lr_text, f"{100 * val:.2f}", str(len(finals)),
                     fmt_pm([final_accuracy(r) for r in finals]), fmt_pm([final_loss(r) for r in finals], scale=1, digits=3)]
            for target in target_list:
                reached = [to_target(r, target, s.source) for r in finals]
                hits = [h[0] for h in reached if h]
                cells.append((f"{statistics.mean(hits):.2f}" if hits else "–") + f" ({len(hits)}/{len(finals)})")
            reached = [to_target(r, target_list[0], s.source) for r in finals]
            hits = [h[1] for h in reached if h]
            cells.append(f"{statistics.mean(hits):.1f}" if hits else "–")
            cells.append(f"{statistics.mean(r['wall_seconds'] for r in finals):.1f}" if finals else "–")
            w("| " + " | ".join(cells) + " |")
        w("")
        w("Tuning curves (validation accuracy % after the tuning epochs, by learning rate; * = chosen, d = diverged):")
        w("")
        for rule, rates in st["pairs"]:
            best, tune_runs, finished, edge = s.tuned(rule, rates)
            if not tune_runs:
                continue
            parts = []
            for r in tune_runs:
                mark = "*" if r is best and finished else ""
                value = "d" if r["status"] == "diverged" else ("f" if r["status"] != "ok" else f"{100 * r['history'][-1]['val_accuracy']:.1f}")
                parts.append(f"{r['learning_rate']:.3g}: {value}{mark}")
            w(f"- {pair_label(rule, rates)}: " + ", ".join(parts))
        w("")
        # paired comparisons
        rows = []
        for rule in dict.fromkeys(rule for rule, rates in st["pairs"] if rates == "paper"):
            off, paper, seeds = s.paired_finals(rule)
            if not seeds:
                continue
            diffs = [final_accuracy(paper[sd]) - final_accuracy(off[sd]) for sd in seeds]
            p = paired(diffs)
            noise = mean_std([final_accuracy(off[sd]) for sd in seeds])[1], mean_std([final_accuracy(paper[sd]) for sd in seeds])[1]
            pooled = math.sqrt((noise[0] ** 2 + noise[1] ** 2) / 2)
            critical = T_CRITICAL.get(p["n"] - 1)
            if p["n"] >= 2 and p["mean"] == 0 and p["sd"] == 0:
                verdict = "identical (both at the same accuracy on every seed)"
            elif p["n"] < 2 or critical is None or math.isnan(p["t"]):
                verdict = "too few seeds"
            elif abs(p["t"]) > critical:
                verdict = "paper better" if p["mean"] > 0 else "paper worse"
            else:
                verdict = "no difference beyond seed noise"
            epochs_off = [to_target(off[sd], target_list[0], s.source) for sd in seeds]
            epochs_paper = [to_target(paper[sd], target_list[0], s.source) for sd in seeds]
            horizon = st["epochs"] + 1
            e_diffs = [((b[0] if b else horizon) - (a[0] if a else horizon)) for a, b in zip(epochs_off, epochs_paper)]
            multipliers = []
            for sd in seeds:
                for name, entry in (paper[sd].get("telemetry") or {}).items():
                    multipliers += [v for v in entry["multiplier"] if v is not None]
            rows.append((rule, p, pooled, verdict, critical, e_diffs, off[seeds[0]]["learning_rate"], paper[seeds[0]]["learning_rate"],
                         statistics.median(multipliers) if multipliers else None))
            verdicts.append((st["name"], rule, verdict, p["mean"], p["n"]))
        if rows:
            w(f"Paired comparison, paper − off, same seeds (test accuracy of the final epoch; t = mean/(sd/√n), "
              f"two-sided 5% critical value of t with n−1 degrees of freedom; epochs to {100 * target_list[0]:g}%, "
              f"a run that never reached it counted as {st['epochs'] + 1}):")
            w("")
            w("| rule | n | mean Δ acc (pp) | sd of Δ (pp) | t | critical t | paper wins / losses | seed sd (pp) | verdict | "
              f"mean Δ epochs to {100 * target_list[0]:g}% | tuned lr off → paper | median multiplier (paper) | effective rate ratio paper/off |")
            w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for rule, p, pooled, verdict, critical, e_diffs, lr_off, lr_paper, m in rows:
                t_text = "–" if math.isnan(p["t"]) else (f"{p['t']:.2f}" if math.isfinite(p["t"]) else ("+∞" if p["t"] > 0 else "−∞"))
                w(f"| {rule} | {p['n']} | {100 * p['mean']:+.2f} | {100 * p['sd']:.2f} | {t_text} | "
                  f"{critical if critical else '–'} | {p['wins']} / {p['losses']} | {100 * pooled:.2f} | {verdict} | "
                  f"{statistics.mean(e_diffs):+.2f} | {lr_off:.3g} → {lr_paper:.3g} | "
                  f"{m:.2f} | " .replace("None", "–") + (f"{lr_paper * m / lr_off:.2f}" if m else "–") + " |")
            w("")
        # figures
        made = []
        name = st["name"]
        if plot_accuracy(plt, s, os.path.join(figures, f"{name}-{s.source}-vs-epoch.png"), False):
            made.append((f"{name}-{s.source}-vs-epoch.png", f"{s.source} accuracy against epochs, per rule pair"))
        if plot_accuracy(plt, s, os.path.join(figures, f"{name}-{s.source}-vs-seconds.png"), True):
            made.append((f"{name}-{s.source}-vs-seconds.png", f"{s.source} accuracy against training seconds (load-inflated; see above)"))
        run = pick_run(s, ["sgd", "momentum", "adam", "nesterov", "adagrad", "rmsprop"], "paper")
        if run and plot_telemetry(plt, run, "multiplier", os.path.join(figures, f"{name}-multipliers.png"),
                                  f"{st['label']}: each layer's multiplier m_l, {run['rule']} + paper, lr {run['learning_rate']:.3g}, seed {run['seed']}",
                                  False):
            made.append((f"{name}-multipliers.png", f"each layer's multiplier over training ({run['rule']} + paper, seed {run['seed']})"))
        if "deep" in name:
            rules_drawn = plot_gradient_pairs(plt, s, os.path.join(figures, f"{name}-gradient-norms.png"))
            if rules_drawn:
                made.append((f"{name}-gradient-norms.png", "each layer's gradient norm without and with the rule (" + ", ".join(rules_drawn) + ")"))
            if plot_with_lrt(lrt, s, "sgd", os.path.join(figures, f"{name}-lrt-plot.png")):
                made.append((f"{name}-lrt-plot.png", "the same SGD runs drawn by `lrt plot` from their logs: training and validation "
                             "accuracy, each layer's multiplier and gradient norm"))
        for file, caption in made:
            w(f"![{caption}]({figure_folder}/{file})")
            w("")
            w(f"*{caption}.*")
            w("")
        # layer table for the multiplier run
        if run:
            summary = layer_summary(run)
            if summary:
                w(f"Per layer, {run['rule']} + paper, seed {run['seed']} (medians over the first and last quarter of the "
                  "telemetry records):")
                w("")
                w("| layer | ‖g‖ first quarter | ‖g‖ last quarter | multiplier median | min | max |")
                w("|---|---|---|---|---|---|")
                for row in summary:
                    w(f"| {row['name']} | {row['g_first']:.3g} | {row['g_last']:.3g} | {row['m_median']:.2f} | {row['m_min']:.2f} | {row['m_max']:.2f} |")
                w("")
        if "deep" in name:
            off_run = pick_run(s, [run["rule"]] if run else ["sgd"], "off")
            if off_run:
                summary = layer_summary(off_run)
                w(f"Same network, {off_run['rule']} + off, seed {off_run['seed']}:")
                w("")
                w("| layer | ‖g‖ first quarter | ‖g‖ last quarter |")
                w("|---|---|---|")
                for row in summary:
                    w(f"| {row['name']} | {row['g_first']:.3g} | {row['g_last']:.3g} |")
                w("")
    # ---------------------------------------------------------------- verdict summary
    w("## Verdict over all finished comparisons")
    w("")
    counts = {}
    for _, _, verdict, _, _ in verdicts:
        counts[verdict] = counts.get(verdict, 0) + 1
    if verdicts:
        w("Per (study, base rule): " + "; ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + ".")
        w("")
        w("| study | rule | verdict | mean Δ test acc (pp) | seeds |")
        w("|---|---|---|---|---|")
        for study, rule, verdict, mean, n in verdicts:
            w(f"| {study} | {rule} | {verdict} | {100 * mean:+.2f} | {n} |")
        w("")
    # ---------------------------------------------------------------- the guard, measured
    records = 0
    capped = zero = 0
    largest = None
    smallest_norm = None
    per_study_max = []
    for st in loaded:
        study_max = None
        for (rule, rates), runs in st.final.items():
            if rates != "paper":
                continue
            for r in runs:
                for name, entry in (r.get("telemetry") or {}).items():
                    for g, m in zip(entry["gradient_norm"], entry["multiplier"]):
                        if g is None or m is None:
                            continue
                        records += 1
                        if g == 0:
                            zero += 1
                        if g < 1e-12:
                            capped += 1
                        largest = m if largest is None else max(largest, m)
                        study_max = m if study_max is None else max(study_max, m)
                        if g > 0:
                            smallest_norm = g if smallest_norm is None else min(smallest_norm, g)
        if study_max is not None:
            per_study_max.append((st.study["name"], study_max))
    if records:
        w("## The guard, as measured")
        w("")
        w(f"Over the {records} telemetry records (layer × logged step) of all seeded `paper` runs: the largest multiplier was "
          f"{largest:.2f} (per study: " + ", ".join(f"{n} {m:.2f}" for n, m in per_study_max) + f"); the smallest non-zero "
          f"layer gradient norm {smallest_norm:.3g}; records at the cap (‖g‖ < 1e-12, m = 1 + log(1 + 1e12) ≈ 28.6): {capped}; "
          f"records with ‖g‖ = 0 (the guard's m = 1): {zero}.")
        w("")
    # ---------------------------------------------------------------- one base rate for every network
    for rule in ("momentum",):
        sweeps = common_sweeps(loaded, rule)
        for rates in ("off", "paper"):
            sweep, best = sweeps[rates]
            studies_here = [st.study["name"] for st in loaded if st.study["name"] in best]
            if len(studies_here) < 2:
                continue
            if rates == "off":
                w("## One base rate for every network: the default optimizer's tuning runs side by side")
                w("")
                w(f"A default rate must serve every network, not only the one it was tuned on. For lrt's default optimizer "
                  f"({rule} 0.9) the tables give each tuning run's validation accuracy (%, seed 0, the study's tuning epochs) "
                  "by learning rate, per study, and how far each rate falls below that study's best rate (pp): the mean "
                  "and the worst shortfall over the studies that ran it. A study where every rate gave the same accuracy (within "
                  "0.5 pp: a network at chance) is left out, since it cannot tell rates apart, and so is a study that has not "
                  "finished tuning both `off` and `paper`, so that the two tables cover the same networks.")
                w("")
            w(f"{rule} + {rates}:")
            w("")
            w("| lr | " + " | ".join(studies_here) + " | mean shortfall (pp) | worst shortfall (pp) | studies |")
            w("|---|" + "---|" * (len(studies_here) + 3))
            for learning_rate, row in sweep.items():
                gaps = shortfalls(sweep, best, learning_rate)
                cells = [f"{100 * row[n]:.1f}" if n in row else "" for n in studies_here]
                w(f"| {learning_rate:.3g} | " + " | ".join(cells) + f" | {100 * statistics.mean(gaps.values()):.1f} | "
                  f"{100 * max(gaps.values()):.1f} | {len(gaps)} of {len(studies_here)} |")
            w("")
    # ---------------------------------------------------------------- the defaults' candidates, seeded
    candidates = sorted({key for s in loaded for key in s.defaults})
    if candidates:
        w("## The defaults' candidates with seeds")
        w("")
        w("The untuned settings the defaults argument weighs, each run like a tuned configuration (the study's seeds and "
          "epochs, test accuracy after the last epoch, %, mean ± standard deviation over the seeds that finished), and "
          "the paired difference over the seeds both finished (pp).")
        w("")
        labels = [f"{pair_label(rule, rates)}, lr {lr:.3g}" for rule, rates, lr in candidates]
        rules = sorted({rule for rule, rates, _ in candidates if rates == "off"}
                       & {rule for rule, rates, _ in candidates if rates == "paper"})
        w("| study | " + " | ".join(labels) + " | " + " | ".join(f"{rule}: off − paper, seeds" for rule in rules) + " |")
        w("|---|" + "---|" * (len(candidates) + len(rules)))
        for s in loaded:
            runs = {key: {r["seed"]: r for r in s.defaults.get(key, []) if complete(r)} for key in candidates}
            if not any(runs.values()):
                continue
            cells = [f"{fmt_pm([final_accuracy(r) for r in runs[key].values()])} ({len(runs[key])})" if runs[key] else "–"
                     for key in candidates]
            for rule in rules:
                off = next(runs[key] for key in candidates if key[:2] == (rule, "off"))
                paper = next(runs[key] for key in candidates if key[:2] == (rule, "paper"))
                seeds = sorted(set(off) & set(paper))
                differences = [final_accuracy(off[k]) - final_accuracy(paper[k]) for k in seeds]
                cells.append(f"{100 * statistics.mean(differences):+.2f} ({len(seeds)})" if seeds else "–")
            w(f"| {s.study['name']} | " + " | ".join(cells) + " |")
        w("")
    # ---------------------------------------------------------------- best configurations
    w("## Best configurations per study (mean final test accuracy over seeds, complete pairs only)")
    w("")
    w("| study | 1st | 2nd | 3rd | momentum + paper (lrt's default optimizer and rule) |")
    w("|---|---|---|---|---|")
    for s in loaded:
        scored = []
        for rule, rates in s.study["pairs"]:
            finals = s.finals(rule, rates)
            if len(finals) == len(s.study["seeds"]):
                m, sd = mean_std([final_accuracy(r) for r in finals])
                scored.append((m, sd, rule, rates, finals[0]["learning_rate"]))
        if not scored:
            continue
        scored.sort(reverse=True)
        cells = [f"{pair_label(rule, rates)}, lr {lr:.3g}: {100 * m:.2f} ± {100 * sd:.2f}" for m, sd, rule, rates, lr in scored[:3]]
        cells += [""] * (3 - len(cells))
        default = [c for c in scored if c[2] == "momentum" and c[3] == "paper"]
        rank = f"{pair_label('momentum', 'paper')}, lr {default[0][4]:.3g}: {100 * default[0][0]:.2f} (rank {scored.index(default[0]) + 1} of {len(scored)})" if default else "–"
        w(f"| {s.study['name']} | " + " | ".join(cells) + f" | {rank} |")
    w("")
    discussion = os.path.join(root, "Tools", "study", "discussion.md")
    if args.quick or args.data:
        # The discussion reads the full grid's networks; on another grid its placeholders would stay unfilled.
        w("The discussion of the results is written for the full grid (`docs/REPRODUCTION.md`); this grid has only the "
          "tables and figures above.")
    elif os.path.exists(discussion):
        with open(discussion) as handle:
            text = handle.read()
        w(render_discussion(text, loaded, targets))
    with open(os.path.join(docs, report_name), "w") as handle:
        handle.write("\n".join(lines).rstrip() + "\n")
    print(f"wrote {os.path.join(docs, report_name)} and {figures}/")


def render_discussion(text, loaded, targets):
    """The discussion's prose with {{study:rule:rates:field}} placeholders filled from the results."""
    import re
    by_name = {s.study["name"]: s for s in loaded}

    def value(match):
        if match.group(1) == "summary:range":
            # the smallest and largest mean paper − off difference over the comparisons with all seeds finished
            means = []
            for st in loaded:
                for rule in dict.fromkeys(r for r, rates in st.study["pairs"] if rates == "paper"):
                    off = {r["seed"]: r for r in st.finals(rule, "off")}
                    paper = {r["seed"]: r for r in st.finals(rule, "paper")}
                    seeds = sorted(set(off) & set(paper))
                    if len(seeds) == len(st.study["seeds"]):
                        means.append(statistics.mean(final_accuracy(paper[sd]) - final_accuracy(off[sd]) for sd in seeds))
            return f"{100 * min(means):+.2f} to {100 * max(means):+.2f} pp" if means else "(not finished)"
        if match.group(1) == "summary:verdicts":
            counts = {}
            for st in loaded:
                for rule in dict.fromkeys(r for r, rates in st.study["pairs"] if rates == "paper"):
                    off = {r["seed"]: r for r in st.finals(rule, "off")}
                    paper = {r["seed"]: r for r in st.finals(rule, "paper")}
                    seeds = sorted(set(off) & set(paper))
                    if len(seeds) < len(st.study["seeds"]):
                        continue
                    p = paired([final_accuracy(paper[sd]) - final_accuracy(off[sd]) for sd in seeds])
                    critical = T_CRITICAL.get(p["n"] - 1)
                    if p["mean"] == 0 and p["sd"] == 0:
                        key = "identical"
                    elif critical and not math.isnan(p["t"]) and abs(p["t"]) > critical:
                        key = "paper better" if p["mean"] > 0 else "paper worse"
                    else:
                        key = "no difference beyond seed noise"
                    counts[key] = counts.get(key, 0) + 1
            total = sum(counts.values())
            return f"{total} comparisons with all seeds finished: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        parts = match.group(1).split(":")
        if parts[0] == "rates":
            # {{rates:rule:rates:lr:mean|worst|studies}}: shortfall of one rate below each study's best, over studies
            # (allmean, allworst, allstudies: over every network that tuned this pair, not only the common ones)
            _, rule, rates, learning_rate, measure = parts
            sweep, best = rate_sweep(loaded, rule, rates) if measure.startswith("all") else common_sweeps(loaded, rule)[rates]
            measure = measure[3:] if measure.startswith("all") else measure
            gaps = shortfalls(sweep, best, float(learning_rate))
            if not gaps:
                return "(not run)"
            if measure == "studies":
                return f"{len(gaps)} of {len(best)}"
            return f"{100 * (statistics.mean(gaps.values()) if measure == 'mean' else max(gaps.values())):.1f} pp"
        study, rule, rates, field = parts[:4]
        s = by_name.get(study)
        if s is not None and field in ("decay", "mmed"):
            runs = s.finals(rule, rates)
            if not runs:
                return "(not finished)"
            if field == "mmed":
                values = [v for entry in runs[0]["telemetry"].values() for v in entry["multiplier"] if v is not None]
                return f"{statistics.median(values):.1f}"
            rows = layer_summary(runs[0])
            ratio = rows[-1]["g_last"] / rows[0]["g_last"]
            return f"{ratio ** (1 / (len(rows) - 1)):.1f}"
        if s is not None and field in ("grad", "mult"):
            runs = s.finals(rule, rates)
            if not runs:
                return "(not finished)"
            rows = {row["name"]: row for row in layer_summary(runs[0])}
            row = rows.get(parts[4])
            if row is None:
                return "(no layer)"
            return f"{row['g_last']:.2g}" if field == "grad" else f"{row['m_median']:.1f}"
        if s is None:
            return "(not finished)"
        finals = s.finals(rule, rates)
        if field == "acc":
            return fmt_pm([final_accuracy(r) for r in finals]) + f" % (n={len(finals)})" if finals else "(not finished)"
        if field == "depochs":
            # mean paired difference paper − off in epochs to the study's first target (never reached = epochs + 1)
            off, paper, seeds = s.paired_finals(rule)
            if not seeds:
                return "(not finished)"
            target, horizon = targets.get(s.study["data"], [0.9])[0], s.study["epochs"] + 1
            reached = lambda run: (to_target(run, target, s.source) or (horizon,))[0]
            return f"{statistics.mean(reached(paper[sd]) - reached(off[sd]) for sd in seeds):+.2f} epochs to {100 * target:g}%"
        if field == "ratio":
            # effective rate of paper over off: tuned rate × median multiplier (seed runs of paper) / tuned rate of off
            off, paper = s.finals(rule, "off"), s.finals(rule, "paper")
            if not off or not paper:
                return "(not finished)"
            values = [v for r in paper for entry in (r.get("telemetry") or {}).values() for v in entry["multiplier"] if v is not None]
            return f"{paper[0]['learning_rate'] * statistics.median(values) / off[0]['learning_rate']:.2f}"
        if field == "tune":
            # {{study:rule:rates:tune:lr}}: validation accuracy of the tuning run at that rate
            for run in s.tune.get((rule, rates), []):
                if math.isclose(run["learning_rate"], float(parts[4]), rel_tol=0.01):
                    if run["status"] != "ok" or not run["history"]:
                        return run["status"]
                    return f"{100 * run['history'][-1]['val_accuracy']:.1f} %"
            return "(not run)"
        if field == "lr":
            best, _, finished, _ = s.tuned(rule, rates)
            return f"{best['learning_rate']:.3g}" if best else "(not run)"
        if field == "diff":
            off, paper, seeds = s.paired_finals(rule)
            if not seeds:
                return "(not finished)"
            p = paired([final_accuracy(paper[sd]) - final_accuracy(off[sd]) for sd in seeds])
            t = "–" if math.isnan(p["t"]) else f"{p['t']:.2f}"
            return f"{100 * p['mean']:+.2f} pp (t = {t}, n = {p['n']})"
        return "?"
    return re.sub(r"\{\{([^}]+)\}\}", value, text)

import LRTLayers

/// Reduce the rate by a factor when a validation metric stops improving
/// (`torch.optim.lr_scheduler.ReduceLROnPlateau`; Keras's `ReduceLROnPlateau` callback).
///
/// The trainer calls ``Optimizer/onEpochEnd(metrics:)`` after each epoch's validation with
/// that epoch's metrics; this schedule reads the one named ``monitor``:
///
///     better = a < best·(1 − threshold)   (min, rel)     a < best − threshold  (min, abs)
///              a > best·(1 + threshold)   (max, rel)     a > best + threshold  (max, abs)
///     better → best = a, badEpochs = 0;   otherwise badEpochs += 1
///     in cooldown (counter > 0) → counter −= 1, badEpochs = 0
///     badEpochs > patience → rate = max(rate·factor, minimum), counter = cooldown, badEpochs = 0
///
/// The first finite value is always better; a value that is not finite counts as a bad
/// epoch. Unlike PyTorch, a reduction smaller than 1e-8 is not skipped. The new rate takes
/// effect from the next update. ``state`` (rate, best, bad epochs, cooldown counter) is saved
/// in checkpoints, so a resumed run reduces exactly when the uninterrupted one would.
public struct ReduceOnPlateau: LearningRateSchedule {
    public enum Mode: String, Sendable, CaseIterable {
        /// Lower is better (losses).
        case min
        /// Higher is better (accuracies).
        case max
    }

    public enum ThresholdMode: String, Sendable, CaseIterable {
        /// Improvement relative to the best value.
        case relative = "rel"
        /// Improvement by an absolute amount (Keras's `min_delta`).
        case absolute = "abs"
    }

    public let learningRate: Double
    public let monitor: String
    public let mode: Mode
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    public let minimumLearningRate: Double

    /// The rate now in force.
    public private(set) var currentRate: Double
    /// The best value of the monitored metric so far, nil before the first finite one.
    public private(set) var best: Double?
    /// Epochs in a row without improvement.
    public private(set) var badEpochs = 0
    /// Epochs left in the cooldown after a reduction.
    public private(set) var cooldownCounter = 0

    /// - Parameters:
    ///   - learningRate: the starting rate, > 0.
    ///   - monitor: the metric's name in the epoch's metrics (default `val_loss`).
    ///   - mode: whether lower or higher is better (default min).
    ///   - factor: the rate is multiplied by it, in (0, 1) (default 0.1).
    ///   - patience: bad epochs tolerated before a reduction, ≥ 0 (default 10).
    ///   - threshold: the least improvement that counts, ≥ 0 (default 1e-4).
    ///   - thresholdMode: relative or absolute (default relative).
    ///   - cooldown: epochs after a reduction during which bad epochs are not counted, ≥ 0 (default 0).
    ///   - minimumLearningRate: the rate never goes below it, ≥ 0 (default 0).
    public init(learningRate: Double, monitor: String = "val_loss", mode: Mode = .min, factor: Double = 0.1,
                patience: Int = 10, threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative,
                cooldown: Int = 0, minimumLearningRate: Double = 0) throws {
        try Check.positive(learningRate, .learningRate, example: "0.01")
        guard !monitor.isEmpty else {
            throw OptimizerError(invalid: .monitor, value: "\"\"", hint: "name an epoch metric, e.g. val_loss")
        }
        guard factor.isFinite, factor > 0, factor < 1 else {
            throw OptimizerError(invalid: .factor, value: OptimizerError.format(factor), hint: "use a value in (0, 1), e.g. 0.1")
        }
        try Check.count(patience, .patience, minimum: 0, example: 10)
        try Check.nonNegative(threshold, .threshold, example: "0.0001")
        try Check.count(cooldown, .cooldown, minimum: 0, example: 0)
        try Check.nonNegative(minimumLearningRate, .minimumLearningRate, example: "0")
        self.learningRate = learningRate
        self.monitor = monitor
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minimumLearningRate = minimumLearningRate
        self.currentRate = learningRate
    }

    public func rate(step: Int, epoch: Int) -> Double { currentRate }

    /// Whether `value` improves on the best so far.
    public func isBetter(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        guard let best else { return true }
        switch (mode, thresholdMode) {
        case (.min, .relative): return value < best * (1 - threshold)
        case (.min, .absolute): return value < best - threshold
        case (.max, .relative): return value > best * (1 + threshold)
        case (.max, .absolute): return value > best + threshold
        }
    }

    /// Feeds the monitored metric of one finished epoch.
    /// - Throws: ``OptimizerError`` when `metrics` has no value named ``monitor``.
    public mutating func onEpochEnd(metrics: [(name: String, value: Double)]) throws {
        guard let value = metrics.first(where: { $0.name == monitor })?.value else {
            throw OptimizerError(invalid: .monitor, value: "'\(monitor)'",
                                 hint: "the epoch's metrics are \(metrics.map(\.name)); name one of them")
        }
        record(value)
    }

    /// The plateau logic for one epoch's value of the monitored metric.
    public mutating func record(_ value: Double) {
        if isBetter(value) {
            best = value
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            currentRate = Swift.max(currentRate * factor, minimumLearningRate)
            cooldownCounter = cooldown
            badEpochs = 0
        }
    }

    public var config: JSONValue {
        .object([("class_name", .string("ReduceOnPlateau")), ("config", .object([
            ("learning_rate", .number(learningRate)), ("monitor", .string(monitor)), ("mode", .string(mode.rawValue)),
            ("factor", .number(factor)), ("patience", .number(Double(patience))), ("threshold", .number(threshold)),
            ("threshold_mode", .string(thresholdMode.rawValue)), ("cooldown", .number(Double(cooldown))),
            ("minimum_learning_rate", .number(minimumLearningRate)),
        ]))])
    }

    /// `{"rate": t, "best": b or null, "bad_epochs": n, "cooldown_counter": c}`.
    public var state: JSONValue {
        .object([("rate", .number(currentRate)), ("best", best.map(JSONValue.number) ?? .null),
                 ("bad_epochs", .number(Double(badEpochs))), ("cooldown_counter", .number(Double(cooldownCounter)))])
    }

    public mutating func restore(state: JSONValue) throws {
        func bad(_ key: String) -> OptimizerError {
            OptimizerError(.state("invalid reduce-on-plateau state \(key) \(state[key]?.serialized ?? "(missing)"): the checkpoint's schedule state is damaged; it was \(state.serialized)"))
        }
        guard let rate = state["rate"]?.numberValue, rate.isFinite, rate >= 0 else { throw bad("rate") }
        let bestValue = state["best"] ?? .null
        guard bestValue.isNull || bestValue.numberValue?.isFinite == true else { throw bad("best") }
        guard let badCount = state["bad_epochs"]?.intValue, badCount >= 0 else { throw bad("bad_epochs") }
        guard let counter = state["cooldown_counter"]?.intValue, counter >= 0 else { throw bad("cooldown_counter") }
        currentRate = rate
        best = bestValue.numberValue
        badEpochs = badCount
        cooldownCounter = counter
    }
}

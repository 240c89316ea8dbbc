import Foundation
import LRTLayers

/// The global learning rate `t` as a function of training progress.
///
/// `step` is the 0-based number of the update about to be made (the optimizer's
/// ``Optimizer/step`` before it), `epoch` the 0-based epoch the trainer is in. Stateful
/// schedules (``ReduceOnPlateau``) also receive the epoch's metrics and keep a small state
/// that checkpoints save.
public protocol LearningRateSchedule: Sendable {
    /// The rate for the update numbered `step` (0-based) in epoch `epoch` (0-based).
    func rate(step: Int, epoch: Int) -> Double
    /// Keras-style description saved in checkpoints: `{"class_name": …, "config": {…}}`.
    var config: JSONValue { get }
    /// What changes as training goes, for checkpoints; `.null` for schedules that only compute.
    var state: JSONValue { get }
    /// Puts back a ``state`` saved from a schedule of the same config.
    mutating func restore(state: JSONValue) throws
    /// Called by the trainer (through ``Optimizer/onEpochEnd(metrics:)``) after each epoch's validation.
    mutating func onEpochEnd(metrics: [(name: String, value: Double)]) throws
}

extension LearningRateSchedule {
    public var state: JSONValue { .null }
    public mutating func restore(state: JSONValue) throws {
        guard state.isNull else {
            throw OptimizerError(.state("schedule \(config["class_name"]?.stringValue ?? "?") keeps no state, but the checkpoint has \(state.serialized)"))
        }
    }
    public mutating func onEpochEnd(metrics: [(name: String, value: Double)]) throws {}
}

/// What a schedule counts: epochs or optimizer steps.
public enum ScheduleUnit: String, Sendable, CaseIterable {
    case epoch
    case step

    func count(step: Int, epoch: Int) -> Int { self == .epoch ? epoch : step }
}

private func scheduleConfig(_ className: String, _ members: [(key: String, value: JSONValue)]) -> JSONValue {
    .object([("class_name", .string(className)), ("config", .object(members))])
}

/// The same rate at every step.
public struct ConstantSchedule: LearningRateSchedule {
    public let learningRate: Double

    /// - Parameter learningRate: a finite rate > 0.
    public init(learningRate: Double) throws {
        try Check.positive(learningRate, .learningRate, example: "0.01")
        self.learningRate = learningRate
    }

    public func rate(step: Int, epoch: Int) -> Double { learningRate }

    public var config: JSONValue { scheduleConfig("Constant", [("learning_rate", .number(learningRate))]) }
}

/// `t = t₀·γ^⌊n/N⌋` with `n` the epoch or step: multiply by γ every `N` epochs or steps
/// (`torch.optim.lr_scheduler.StepLR`).
public struct StepSchedule: LearningRateSchedule {
    public let learningRate: Double
    public let gamma: Double
    public let stepSize: Int
    public let unit: ScheduleUnit

    /// - Parameters:
    ///   - learningRate: t₀ > 0.
    ///   - gamma: γ > 0 (default 0.1).
    ///   - stepSize: N ≥ 1.
    ///   - unit: what N counts (default epochs).
    public init(learningRate: Double, gamma: Double = 0.1, stepSize: Int, unit: ScheduleUnit = .epoch) throws {
        try Check.positive(learningRate, .learningRate, example: "0.1")
        try Check.positive(gamma, .gamma, example: "0.1")
        try Check.count(stepSize, .stepSize, minimum: 1, example: 30)
        self.learningRate = learningRate
        self.gamma = gamma
        self.stepSize = stepSize
        self.unit = unit
    }

    public func rate(step: Int, epoch: Int) -> Double {
        learningRate * pow(gamma, Double(unit.count(step: step, epoch: epoch) / stepSize))
    }

    public var config: JSONValue {
        scheduleConfig("Step", [("learning_rate", .number(learningRate)), ("gamma", .number(gamma)),
                                ("step_size", .number(Double(stepSize))), ("unit", .string(unit.rawValue))])
    }
}

/// `t = t₀·γ^k` with `k` the number of milestones (epochs) reached: multiply by γ at each
/// milestone (`torch.optim.lr_scheduler.MultiStepLR`).
public struct MultiStepSchedule: LearningRateSchedule {
    public let learningRate: Double
    public let gamma: Double
    /// Strictly increasing epochs ≥ 1 from which the next factor applies.
    public let milestones: [Int]

    /// - Parameters:
    ///   - learningRate: t₀ > 0.
    ///   - gamma: γ > 0 (default 0.1).
    ///   - milestones: strictly increasing epochs ≥ 1, e.g. `[30, 80]`.
    public init(learningRate: Double, gamma: Double = 0.1, milestones: [Int]) throws {
        try Check.positive(learningRate, .learningRate, example: "0.1")
        try Check.positive(gamma, .gamma, example: "0.1")
        guard !milestones.isEmpty, milestones.allSatisfy({ $0 >= 1 }), zip(milestones, milestones.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw OptimizerError(invalid: .milestones, value: "\(milestones)", hint: "use strictly increasing epochs of at least 1, e.g. [30, 80]")
        }
        self.learningRate = learningRate
        self.gamma = gamma
        self.milestones = milestones
    }

    public func rate(step: Int, epoch: Int) -> Double {
        learningRate * pow(gamma, Double(milestones.count(where: { $0 <= epoch })))
    }

    public var config: JSONValue {
        scheduleConfig("MultiStep", [("learning_rate", .number(learningRate)), ("gamma", .number(gamma)),
                                     ("milestones", .array(milestones.map { .number(Double($0)) }))])
    }
}

/// `t = t₀·γ^e` per epoch `e` (`torch.optim.lr_scheduler.ExponentialLR`).
public struct ExponentialSchedule: LearningRateSchedule {
    public let learningRate: Double
    public let gamma: Double

    /// - Parameters:
    ///   - learningRate: t₀ > 0.
    ///   - gamma: γ > 0, e.g. 0.95.
    public init(learningRate: Double, gamma: Double) throws {
        try Check.positive(learningRate, .learningRate, example: "0.1")
        try Check.positive(gamma, .gamma, example: "0.95")
        self.learningRate = learningRate
        self.gamma = gamma
    }

    public func rate(step: Int, epoch: Int) -> Double { learningRate * pow(gamma, Double(epoch)) }

    public var config: JSONValue {
        scheduleConfig("Exponential", [("learning_rate", .number(learningRate)), ("gamma", .number(gamma))])
    }
}

/// Caffe's `inv` policy: `t = t₀·(1 + γ·k)^(−p)` with `k` the 0-based step.
public struct InverseSchedule: LearningRateSchedule {
    public let learningRate: Double
    public let gamma: Double
    public let power: Double

    /// - Parameters:
    ///   - learningRate: t₀ > 0.
    ///   - gamma: γ ≥ 0, e.g. 1e-4.
    ///   - power: p ≥ 0, e.g. 0.75.
    public init(learningRate: Double, gamma: Double, power: Double) throws {
        try Check.positive(learningRate, .learningRate, example: "0.01")
        try Check.nonNegative(gamma, .gamma, example: "0.0001")
        try Check.nonNegative(power, .power, example: "0.75")
        self.learningRate = learningRate
        self.gamma = gamma
        self.power = power
    }

    public func rate(step: Int, epoch: Int) -> Double { learningRate * pow(1 + gamma * Double(step), -power) }

    public var config: JSONValue {
        scheduleConfig("Inverse", [("learning_rate", .number(learningRate)), ("gamma", .number(gamma)),
                                   ("power", .number(power))])
    }
}

/// Cosine annealing from t₀ to a minimum over `T` epochs or steps, then the minimum:
/// `t = t_min + (t₀ − t_min)·(1 + cos(π·min(n, T)/T))/2` (`CosineAnnealingLR`'s closed form,
/// held at the minimum after `T` as Keras's `CosineDecay` does).
public struct CosineSchedule: LearningRateSchedule {
    public let learningRate: Double
    public let minimumLearningRate: Double
    public let period: Int
    public let unit: ScheduleUnit

    /// - Parameters:
    ///   - learningRate: t₀ > 0.
    ///   - minimumLearningRate: t_min in [0, t₀] (default 0).
    ///   - period: T ≥ 1.
    ///   - unit: what T counts (default epochs).
    public init(learningRate: Double, minimumLearningRate: Double = 0, period: Int, unit: ScheduleUnit = .epoch) throws {
        try Check.positive(learningRate, .learningRate, example: "0.1")
        try Check.nonNegative(minimumLearningRate, .minimumLearningRate, example: "0")
        guard minimumLearningRate <= learningRate else {
            throw OptimizerError(invalid: .minimumLearningRate, value: OptimizerError.format(minimumLearningRate),
                                 hint: "use a value of at most the learning rate \(OptimizerError.format(learningRate))")
        }
        try Check.count(period, .period, minimum: 1, example: 100)
        self.learningRate = learningRate
        self.minimumLearningRate = minimumLearningRate
        self.period = period
        self.unit = unit
    }

    public func rate(step: Int, epoch: Int) -> Double {
        let progress = Double(min(unit.count(step: step, epoch: epoch), period)) / Double(period)
        return minimumLearningRate + (learningRate - minimumLearningRate) * (1 + cos(Double.pi * progress)) / 2
    }

    public var config: JSONValue {
        scheduleConfig("Cosine", [("learning_rate", .number(learningRate)), ("minimum_learning_rate", .number(minimumLearningRate)),
                                  ("period", .number(Double(period))), ("unit", .string(unit.rawValue))])
    }
}

/// Linear warm-up in front of any schedule: for the first `N` steps the wrapped rate is
/// multiplied by `s + (1 − s)·k/N` (k the 0-based step), rising from the start factor `s`
/// to 1 (`torch.optim.lr_scheduler.LinearLR` with end factor 1, chained multiplicatively);
/// from step `N` on, the wrapped schedule alone. With `s = 0` the first update has rate 0.
public struct WarmupSchedule: LearningRateSchedule {
    public let steps: Int
    public let startFactor: Double
    public private(set) var schedule: any LearningRateSchedule

    /// - Parameters:
    ///   - steps: N ≥ 1.
    ///   - startFactor: s in [0, 1] (default 0).
    ///   - schedule: the schedule warmed up.
    public init(steps: Int, startFactor: Double = 0, schedule: any LearningRateSchedule) throws {
        try Check.count(steps, .steps, minimum: 1, example: 500)
        try Check.closedUnitInterval(startFactor, .startFactor, example: "0.1")
        self.steps = steps
        self.startFactor = startFactor
        self.schedule = schedule
    }

    /// The factor at `step`.
    public func factor(step: Int) -> Double {
        step >= steps ? 1 : startFactor + (1 - startFactor) * Double(step) / Double(steps)
    }

    public func rate(step: Int, epoch: Int) -> Double { factor(step: step) * schedule.rate(step: step, epoch: epoch) }

    public var config: JSONValue {
        scheduleConfig("Warmup", [("steps", .number(Double(steps))), ("start_factor", .number(startFactor)),
                                  ("schedule", schedule.config)])
    }

    public var state: JSONValue { schedule.state }
    public mutating func restore(state: JSONValue) throws { try schedule.restore(state: state) }
    public mutating func onEpochEnd(metrics: [(name: String, value: Double)]) throws { try schedule.onEpochEnd(metrics: metrics) }
}

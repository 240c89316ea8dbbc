import Foundation

/// The epoch metric a callback watches (`--monitor`): a training metric (`loss`, `accuracy`) or a
/// validation one (`val_loss`, `val_accuracy`), never the test split. A name with `accuracy` in it is
/// better when larger, any other when smaller (Keras's `mode="auto"`).
public struct MonitoredMetric: Sendable, Equatable {
    public let name: String
    /// Whether larger values are better.
    public let maximizes: Bool

    /// The metrics an epoch reports that may be watched.
    public static let names = ["loss", "accuracy", "val_loss", "val_accuracy"]

    /// - Throws: ``TrainingError/invalidSetting(_:value:hint:)`` for a test metric or an unknown name.
    public init(_ name: String) throws {
        if name.hasPrefix("test") {
            throw TrainingError.invalidSetting(.monitor, value: name, hint: "the test split is used once after training, never to steer it; monitor val_loss or val_accuracy (or loss, accuracy)")
        }
        guard Self.names.contains(name) else {
            throw TrainingError.invalidSetting(.monitor, value: name, hint: "use one of \(Self.names.joined(separator: ", "))")
        }
        self.name = name
        maximizes = name.contains("accuracy")
    }

    /// The starting best value: -∞ when maximizing, +∞ when minimizing.
    public var worst: Double { maximizes ? -.infinity : .infinity }

    /// Whether `value` beats `best` by more than `minimumDelta` (Keras's `_is_improvement`).
    public func improves(_ value: Double, on best: Double, minimumDelta: Double = 0) -> Bool {
        maximizes ? value - minimumDelta > best : value + minimumDelta < best
    }

    /// Checks that the trainer reports this metric: a `val_` metric needs a validation split.
    func check(for trainer: Trainer) throws {
        if name.hasPrefix("val_"), trainer.validationData == nil {
            throw TrainingError.invalidSetting(.monitor, value: name, hint: "this run has no validation split; use --validation-split 0.1 (or a val/ folder), or monitor \(name.dropFirst(4))")
        }
    }

    /// This epoch's value.
    func value(in metrics: [(name: String, value: Double)]) -> Double? {
        metrics.first { $0.name == name }?.value
    }
}

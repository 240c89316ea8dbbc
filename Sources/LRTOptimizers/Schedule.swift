import LRTLayers

/// The global learning rate as a function of training progress.
public protocol LearningRateSchedule: Sendable {
    /// The rate for the update numbered `step` (0-based) in epoch `epoch` (0-based).
    func rate(step: Int, epoch: Int) -> Double
    /// Keras-style description saved in checkpoints.
    var config: JSONValue { get }
}

/// The same rate at every step.
public struct ConstantSchedule: LearningRateSchedule {
    public let learningRate: Double

    /// - Parameter learningRate: a finite rate > 0.
    public init(learningRate: Double) throws {
        guard learningRate.isFinite, learningRate > 0 else {
            throw OptimizerError("invalid learning rate \(learningRate): use a finite value above 0, e.g. 0.01")
        }
        self.learningRate = learningRate
    }

    public func rate(step: Int, epoch: Int) -> Double { learningRate }

    public var config: JSONValue {
        .object([("class_name", .string("Constant")), ("config", .object([("learning_rate", .number(learningRate))]))])
    }
}

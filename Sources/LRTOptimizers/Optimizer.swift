import LRTLayers
import LRTTensor

/// A base update rule, composed with a layer-wise rate rule and a schedule,
/// holding the state of every parameter by its path.
///
/// Each step: the schedule gives the global rate `t`; for each layer with
/// parameters, ``LayerRates`` turns the L2 norm of that layer's raw gradients
/// into a multiplier `m_l`; the rule gives each parameter's direction `d`;
/// and the parameter moves by `−t·m_l·d`.
public final class Optimizer {
    public let rule: any UpdateRule
    public let layerRates: LayerRates
    public let schedule: any LearningRateSchedule
    /// The number of updates applied so far.
    public private(set) var step = 0
    /// Each parameter's slots (in `rule.slotNames` order), by parameter path; created on first use.
    public private(set) var slots: [String: [Tensor]] = [:]
    /// The multiplier each layer got at the last step, in layer order.
    public private(set) var multipliers: [(layerName: String, multiplier: Double)] = []
    /// The global rate of the last step.
    public private(set) var lastRate = 0.0
    private var direction: [Float] = []

    public init(rule: any UpdateRule, layerRates: LayerRates, schedule: any LearningRateSchedule) {
        self.rule = rule
        self.layerRates = layerRates
        self.schedule = schedule
    }

    /// Everything needed to rebuild this optimizer, Keras-style:
    /// `{"class_name": "SGD", "config": {…, "learning_rate": …, "layer_rates": "paper"}}`.
    public var config: JSONValue {
        let ruleConfig = rule.config
        var members: [(key: String, value: JSONValue)] = []
        if case .object(let existing)? = ruleConfig["config"] { members = existing }
        members.append(("learning_rate", schedule.config))
        members.append(("layer_rates", .string(layerRates.rawValue)))
        return .object([("class_name", ruleConfig["class_name"] ?? .string(rule.name)), ("config", .object(members))])
    }

    /// Applies one update to every parameter from its current gradient.
    /// - Parameters:
    ///   - groups: the model's layers with parameters (``Sequential/parameterGroups``).
    ///   - epoch: the 0-based epoch, for the schedule.
    public func apply(to groups: [(layerName: String, parameters: [Parameter])], epoch: Int) {
        let rate = schedule.rate(step: step, epoch: epoch)
        step += 1
        lastRate = rate
        multipliers.removeAll(keepingCapacity: true)
        for (layerName, parameters) in groups {
            let norm = parameters.reduce(0.0) { $0 + $1.gradient.sumOfSquares }.squareRoot()
            let multiplier = layerRates.multiplier(gradientNorm: norm)
            multipliers.append((layerName, multiplier))
            let scale = Float(rate * multiplier)
            for parameter in parameters { update(parameter, scale: scale) }
        }
    }

    private func update(_ parameter: Parameter, scale: Float) {
        var parameterSlots = slots.removeValue(forKey: parameter.path)
            ?? rule.slotNames.map { _ in Tensor(shape: parameter.value.shape) }
        if direction.count < parameter.value.count {
            direction = [Float](repeating: 0, count: parameter.value.count)
        }
        let count = parameter.value.count
        direction.withUnsafeMutableBufferPointer { directions in
            let directionSlice = UnsafeMutableBufferPointer(rebasing: directions[0..<count])
            parameter.gradient.withUnsafeBufferPointer { gradients in
                rule.direction(gradient: gradients, slots: &parameterSlots, step: step, into: directionSlice)
            }
            parameter.value.withUnsafeMutableBufferPointer { values in
                for index in 0..<count { values[index] -= scale * directionSlice[index] }
            }
        }
        slots[parameter.path] = parameterSlots
    }

    /// Restores the state saved from an optimizer of the same rule.
    /// - Parameters:
    ///   - step: updates done so far.
    ///   - slots: by parameter path, in `rule.slotNames` order; each must match its parameter's shape.
    ///   - multipliers: the last step's multipliers by layer.
    ///   - parameters: the model's parameters, to check paths and shapes against.
    public func restore(step: Int, slots: [String: [Tensor]], multipliers: [(layerName: String, multiplier: Double)],
                        parameters: [Parameter]) throws {
        guard step >= 0 else { throw OptimizerError("invalid optimizer step \(step)") }
        let byPath = Dictionary(uniqueKeysWithValues: parameters.map { ($0.path, $0) })
        for (path, tensors) in slots {
            guard let parameter = byPath[path] else {
                throw OptimizerError("optimizer state names parameter '\(path)', which the model does not have")
            }
            guard tensors.count == rule.slotNames.count else {
                throw OptimizerError("optimizer state for '\(path)' has \(tensors.count) slots; \(rule.name) keeps \(rule.slotNames)")
            }
            for (slotName, tensor) in zip(rule.slotNames, tensors) where tensor.shape != parameter.value.shape {
                throw OptimizerError("optimizer slot '\(slotName)' of '\(path)' has shape \(tensor.shape), the parameter \(parameter.value.shape)")
            }
        }
        self.step = step
        self.slots = slots
        self.multipliers = multipliers
    }
}

import LRTLayers

/// Stochastic gradient descent with optional momentum and Nesterov momentum, in PyTorch's
/// formulation (`torch.optim.SGD`, dampening 0), without the rate (the ``Optimizer`` applies `t·m_l`):
///
///     v ← μ·v + g                                   (when μ > 0; v₀ = 0, so v₁ = g)
///     d = g + μ·v  (Nesterov)   or   d = v  (classical)   or   d = g  (μ = 0)
///     θ ← θ − t·m_l·d
///
/// Sutskever, Martens, Dahl, Hinton 2013, "On the importance of initialization and momentum
/// in deep learning", for Nesterov momentum in this form.
public struct StochasticGradientDescent: UpdateRule {
    /// μ in [0, 1).
    public let momentum: Double
    public let nesterov: Bool

    /// - Parameters:
    ///   - momentum: μ in [0, 1) (default 0).
    ///   - nesterov: use Nesterov momentum; needs μ > 0 (default false).
    public init(momentum: Double = 0, nesterov: Bool = false) throws {
        try Check.unitInterval(momentum, .momentum, example: "0.9")
        guard !nesterov || momentum > 0 else {
            throw OptimizerError(invalid: .nesterov, value: "true",
                                 hint: "Nesterov momentum needs a momentum above 0, e.g. --momentum 0.9")
        }
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public var name: String { "sgd" }
    public var slotNames: [String] { momentum > 0 ? ["momentum"] : [] }
    public var config: JSONValue {
        .object([("class_name", .string("SGD")), ("config", .object([
            ("momentum", .number(momentum)), ("nesterov", .bool(nesterov)),
        ]))])
    }

    public func direction(gradient: UnsafeBufferPointer<Float>, parameter: UnsafeBufferPointer<Float>,
                          slots: SlotBuffers, step: Int, into direction: UnsafeMutableBufferPointer<Float>) {
        guard momentum > 0 else {
            _ = direction.update(fromContentsOf: gradient)
            return
        }
        let momentum = Lanes.Vector(repeating: Float(self.momentum))
        let velocity = slots[0]
        let nesterov = self.nesterov
        Lanes.forEach(gradient.count) { index, count in
            let value = Lanes.load(gradient, index, count)
            let updated = momentum * Lanes.load(velocity, index, count) + value
            Lanes.store(updated, velocity, index, count)
            Lanes.store(nesterov ? value + momentum * updated : updated, direction, index, count)
        }
    }
}

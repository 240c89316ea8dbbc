import LRTLayers
import LRTTensor

/// A hyperparameter or optimizer state that cannot be used, with the value named.
public struct OptimizerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A base update rule: from a parameter's gradient and its slots, the direction
/// `d` of its step, so that the optimizer applies `parameter −= rate · d`.
///
/// Rules are values with no hidden state: everything a rule remembers between
/// steps lives in its named slots (``slotNames``), which the ``Optimizer`` keeps
/// per parameter path and the checkpoint saves by that path.
public protocol UpdateRule: Sendable {
    /// The rule's name in files and on the command line (`sgd`).
    var name: String { get }
    /// The rule's hyperparameters, Keras-style: `{"class_name": "SGD", "config": {…}}`.
    var config: JSONValue { get }
    /// The per-parameter state it keeps, e.g. `["momentum"]`; each slot has the parameter's shape.
    var slotNames: [String] { get }

    /// Computes the step direction and advances the slots.
    /// - Parameters:
    ///   - gradient: the parameter's gradient for this mini-batch.
    ///   - slots: this parameter's slots, in ``slotNames`` order, updated in place.
    ///   - step: the 1-based number of this update.
    ///   - direction: receives `d`, the same length as `gradient`.
    func direction(gradient: UnsafeBufferPointer<Float>, slots: inout [Tensor], step: Int,
                   into direction: UnsafeMutableBufferPointer<Float>)
}

/// Stochastic gradient descent with optional momentum and Nesterov momentum,
/// in PyTorch's formulation (`torch.optim.SGD`, dampening 0):
///
///     v ← μ·v + g                         (when μ > 0)
///     d = g + μ·v   (Nesterov)   or   d = v   (classical)   or   d = g   (μ = 0)
///     θ ← θ − rate·d
///
/// Sutskever et al. 2013 for Nesterov momentum in this form.
public struct StochasticGradientDescent: UpdateRule {
    public let momentum: Float
    public let nesterov: Bool

    /// - Parameters:
    ///   - momentum: μ in [0, 1) (default 0).
    ///   - nesterov: use Nesterov momentum; needs μ > 0 (default false).
    public init(momentum: Float = 0, nesterov: Bool = false) throws {
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw OptimizerError("invalid momentum \(momentum): use a value in [0, 1), e.g. 0.9")
        }
        guard !nesterov || momentum > 0 else {
            throw OptimizerError("Nesterov momentum needs a momentum above 0, e.g. --momentum 0.9")
        }
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public var name: String { "sgd" }
    public var slotNames: [String] { momentum > 0 ? ["momentum"] : [] }
    public var config: JSONValue {
        .object([("class_name", .string("SGD")), ("config", .object([
            ("momentum", .number(Double(momentum))), ("nesterov", .bool(nesterov)),
        ]))])
    }

    public func direction(gradient: UnsafeBufferPointer<Float>, slots: inout [Tensor], step: Int,
                          into direction: UnsafeMutableBufferPointer<Float>) {
        guard momentum > 0 else {
            _ = direction.update(fromContentsOf: gradient)
            return
        }
        let momentum = self.momentum
        let nesterov = self.nesterov
        slots[0].withUnsafeMutableBufferPointer { velocity in
            for index in gradient.indices {
                let updated = momentum * velocity[index] + gradient[index]
                velocity[index] = updated
                direction[index] = nesterov ? gradient[index] + momentum * updated : updated
            }
        }
    }
}

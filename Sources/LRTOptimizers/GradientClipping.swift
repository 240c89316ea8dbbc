/// Gradient clipping before the rule (and before coupled weight decay), as
/// `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` are used before `optimizer.step()`.
public struct GradientClipping: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case none
        /// Scale every gradient by `c / ‖g‖` when the norm over all trained parameters
        /// `‖g‖ > c` (`tf.clip_by_global_norm`; PyTorch adds 1e-6 to the norm, we do not).
        case globalNorm(Double)
        /// Clamp every element to `[−c, c]`.
        case value(Double)
    }

    public let kind: Kind

    /// No clipping.
    public static let none = GradientClipping(kind: .none)

    private init(kind: Kind) { self.kind = kind }

    /// Clip by the global norm over all trained parameters.
    /// - Parameter globalNorm: the largest norm kept, > 0 (Keras's `global_clipnorm`).
    public init(globalNorm: Double) throws {
        try Check.positive(globalNorm, .globalClipnorm, example: "1.0")
        kind = .globalNorm(globalNorm)
    }

    /// Clip each element.
    /// - Parameter value: the largest magnitude kept, > 0 (Keras's `clipvalue`).
    public init(value: Double) throws {
        try Check.positive(value, .clipvalue, example: "0.5")
        kind = .value(value)
    }
}

/// Clipping as the first stage of the chain: by global norm, the scale `c / ‖g‖` over all trained
/// parameters is found at the start of the step; by value, each element is clamped.
public final class GradientClippingStage: OptimizerStage {
    public let clipping: GradientClipping
    private var scale: Float = 1

    public init(_ clipping: GradientClipping) { self.clipping = clipping }

    public func beginStep(_ step: StepGradients) {
        guard case .globalNorm(let maximum) = clipping.kind else { return }
        var squares = 0.0
        for group in step.groups {
            for tensor in group.tensors { squares += tensor.squares }
        }
        let norm = squares.squareRoot()
        scale = norm > maximum ? Float(maximum / norm) : 1
    }

    public func beforeRule(_ update: inout ParameterUpdate) {
        switch clipping.kind {
        case .none:
            return
        case .globalNorm:
            guard scale != 1 else { return }
            Kernels.scale(update.gradient, by: scale, into: update.work)
        case .value(let maximum):
            Kernels.clamp(update.gradient, limit: Float(maximum), into: update.work)
        }
        update.gradient = UnsafeBufferPointer(update.work)
    }
}

/// Weight decay with rate λ on every parameter whose path matches none of the exclusions.
public struct WeightDecay: Sendable, Equatable {
    /// Where the decay enters the step.
    public enum Mode: String, Sendable, CaseIterable {
        /// L2 regularization, PyTorch's `weight_decay` for SGD, Adagrad, RMSprop and Adam:
        /// `g ← g + λ·θ` before the rule (after clipping), so the rule's moments see it
        /// and the paper's multiplier scales it with the rest of the step.
        case coupled
        /// Loshchilov, Hutter 2019, "Decoupled Weight Decay Regularization" (AdamW):
        /// `θ ← θ − t·λ·θ` before the rule's step, as `torch.optim.AdamW` does. Scaled by
        /// the global rate `t` only, never by the paper's multiplier or a trust ratio.
        case decoupled
        /// LAMB's form (You et al. 2019): `u = d + λ·θ` added to the rule's direction, so
        /// the trust ratio and the paper's multiplier scale it together with `d`.
        case inUpdate = "in_update"
    }

    /// λ ≥ 0.
    public let rate: Double
    public let mode: Mode
    /// Parameters whose path matches one of these are not decayed.
    public let excluded: [PathPattern]

    /// - Parameters:
    ///   - rate: λ ≥ 0 (0 turns decay off).
    ///   - mode: where it enters (default coupled).
    ///   - excluding: path patterns of parameters not decayed (default none), e.g. `["*.bias"]`.
    public init(rate: Double, mode: Mode = .coupled, excluding: [String] = []) throws {
        try Check.nonNegative(rate, .weightDecay, example: "0.0005")
        self.rate = rate
        self.mode = mode
        self.excluded = excluding.map(PathPattern.init)
    }

    /// No decay.
    public static let none = WeightDecay(unchecked: 0, mode: .coupled)

    private init(unchecked rate: Double, mode: Mode) {
        self.rate = rate
        self.mode = mode
        self.excluded = []
    }

    /// λ for the parameter at `path`: 0 when excluded.
    public func rate(for path: String) -> Double {
        rate > 0 && !PathPattern.any(excluded, match: path) ? rate : 0
    }
}

/// Weight decay as a stage of the chain, in its ``WeightDecay/Mode-swift.enum``: coupled sets
/// ``ParameterUpdate/gradientDecay`` before the rule; in-update adds `λ·θ` to the direction after
/// it; decoupled sets ``ParameterUpdate/keep`` to `1 − t·λ`. Each path's λ is settled once.
public final class WeightDecayStage: OptimizerStage {
    public let weightDecay: WeightDecay
    private var rates: [String: Double] = [:]

    public init(_ weightDecay: WeightDecay) { self.weightDecay = weightDecay }

    /// λ for `path` (0 when excluded), remembered per path.
    func rate(for path: String) -> Double {
        if let rate = rates[path] { return rate }
        let rate = weightDecay.rate(for: path)
        rates[path] = rate
        return rate
    }

    public func beforeRule(_ update: inout ParameterUpdate) {
        guard weightDecay.mode == .coupled else { return }
        update.gradientDecay = rate(for: update.path)
    }

    public func afterRule(_ update: inout ParameterUpdate) {
        let decay = rate(for: update.path)
        guard decay > 0 else { return }
        switch weightDecay.mode {
        case .coupled:
            return
        case .inUpdate:
            Kernels.addScaled(update.value, by: Float(decay), to: update.direction, thenMultiplyBy: 1)
        case .decoupled:
            update.keep = Float(1 - update.rate * decay)
        }
    }
}

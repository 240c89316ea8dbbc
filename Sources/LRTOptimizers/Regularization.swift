/// A glob over parameter paths: `*` matches any run of characters (dots included), every
/// other character itself. `*.bias` matches `dense.bias` and `block1.conv.bias`.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let characters: [Unicode.Scalar]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern.unicodeScalars)
    }

    public var description: String { pattern }

    /// Whether `path` matches the whole pattern.
    public func matches(_ path: String) -> Bool {
        let text = Array(path.unicodeScalars)
        var textIndex = 0, patternIndex = 0
        var starIndex = -1, resumeIndex = 0
        while textIndex < text.count {
            if patternIndex < characters.count, characters[patternIndex] != "*", characters[patternIndex] == text[textIndex] {
                textIndex += 1
                patternIndex += 1
            } else if patternIndex < characters.count, characters[patternIndex] == "*" {
                starIndex = patternIndex
                resumeIndex = textIndex
                patternIndex += 1
            } else if starIndex >= 0 {
                patternIndex = starIndex + 1
                resumeIndex += 1
                textIndex = resumeIndex
            } else {
                return false
            }
        }
        while patternIndex < characters.count, characters[patternIndex] == "*" { patternIndex += 1 }
        return patternIndex == characters.count
    }

    /// Whether any of `patterns` matches `path`.
    static func any(_ patterns: [PathPattern], match path: String) -> Bool {
        patterns.contains { $0.matches(path) }
    }

    /// Biases and BatchNormalization's scale and offset, which LARS and LAMB leave alone by default.
    public static let biasesAndNormalization = ["*.bias", "*.gamma", "*.beta"]
}

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
        try Check.nonNegative(rate, "weight_decay", example: "0.0005")
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
        try Check.positive(globalNorm, "global_clipnorm", example: "1.0")
        kind = .globalNorm(globalNorm)
    }

    /// Clip each element.
    /// - Parameter value: the largest magnitude kept, > 0 (Keras's `clipvalue`).
    public init(value: Double) throws {
        try Check.positive(value, "clipvalue", example: "0.5")
        kind = .value(value)
    }
}

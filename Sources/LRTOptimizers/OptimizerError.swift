import LRTLayers

/// A hyperparameter or optimizer state that cannot be used, with the value named and a hint
/// (as PyTorch's `Invalid learning rate: -1`).
public struct OptimizerError: Error, CustomStringConvertible, Equatable {
    /// The whole message, e.g. `invalid beta_1 1.5: use a value in [0, 1), e.g. 0.9`.
    public let description: String
    /// The option at fault, spelled as in the JSON config (`beta_1`), when there is one.
    public let option: String?
    /// How to fix it, when known.
    public let hint: String?

    public init(_ description: String) {
        self.description = description
        self.option = nil
        self.hint = nil
    }

    /// `invalid <option> <value>: <hint>`.
    public init(invalid option: String, value: String, hint: String) {
        self.description = "invalid \(option) \(value): \(hint)"
        self.option = option
        self.hint = hint
    }

    /// Numbers as a user wrote them: `1` rather than `1.0`, `nan`, `-inf`.
    static func format(_ value: Double) -> String {
        if value.isFinite, value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// Checks applied where hyperparameters are set; each throws an ``OptimizerError`` naming the value.
enum Check {
    /// A finite value above 0.
    static func positive(_ value: Double, _ option: String, example: String) throws {
        guard value.isFinite, value > 0 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a finite value above 0, e.g. \(example)")
        }
    }

    /// A finite value of at least 0.
    static func nonNegative(_ value: Double, _ option: String, example: String) throws {
        guard value.isFinite, value >= 0 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a finite value of at least 0, e.g. \(example)")
        }
    }

    /// A value in [0, 1) (betas, momentum, smoothing constants).
    static func unitInterval(_ value: Double, _ option: String, example: String) throws {
        guard value.isFinite, value >= 0, value < 1 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a value in [0, 1), e.g. \(example)")
        }
    }

    /// A value in [0, 1].
    static func closedUnitInterval(_ value: Double, _ option: String, example: String) throws {
        guard value.isFinite, value >= 0, value <= 1 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a value in [0, 1], e.g. \(example)")
        }
    }

    /// A count of at least `minimum`.
    static func count(_ value: Int, _ option: String, minimum: Int, example: Int) throws {
        guard value >= minimum else {
            throw OptimizerError(invalid: option, value: String(value), hint: "use a whole number of at least \(minimum), e.g. \(example)")
        }
    }
}

import LRTLayers

/// A key of the Keras-style optimizer and schedule configs: how an error names the option at
/// fault, so that a caller (the command line) can name its own spelling of it, a flag.
public enum OptimizerKey: String, Sendable, CaseIterable {
    case className = "class_name"
    case learningRate = "learning_rate"
    case momentum, nesterov
    case beta1 = "beta_1", beta2 = "beta_2", epsilon, amsgrad
    case rho, alpha, centered
    case initialAccumulatorValue = "initial_accumulator_value"
    case learningRateDecay = "lr_decay"
    case trustCoefficient = "trust_coefficient"
    case layerAdaptation = "layer_adaptation"
    case excludeFromLayerAdaptation = "exclude_from_layer_adaptation"
    case weightDecay = "weight_decay"
    case weightDecayMode = "weight_decay_mode"
    case excludeFromWeightDecay = "exclude_from_weight_decay"
    case globalClipnorm = "global_clipnorm"
    case clipvalue, clipnorm
    case layerRates = "layer_rates"
    case layerRatesPerTensor = "layer_rates_per_tensor"
    // Schedules.
    case gamma
    case stepSize = "step_size"
    case unit, milestones, power
    case minimumLearningRate = "minimum_learning_rate"
    case period
    case steps
    case startFactor = "start_factor"
    case schedule
    case monitor, mode, factor, patience, threshold, cooldown
    case thresholdMode = "threshold_mode"
    // Keras keys lrt reads only to refuse a value other than "off".
    case lossScaleFactor = "loss_scale_factor"
    case gradientAccumulationSteps = "gradient_accumulation_steps"
    case decay
    case useEMA = "use_ema"

    /// How messages name the key: the JSON key, except `learning rate` and `warmup steps`.
    public var label: String {
        switch self {
        case .learningRate: return "learning rate"
        case .steps: return "warmup steps"
        default: return rawValue
        }
    }
}

/// A hyperparameter, config or optimizer state that cannot be used, with the value named and a
/// hint (as PyTorch's `Invalid learning rate: -1`).
public struct OptimizerError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, with the values that make it so.
    public enum Kind: Equatable, Sendable {
        /// `invalid <key> <value>: <hint>`: a value out of range or not one of the choices.
        case invalid(key: OptimizerKey, value: String, hint: String)
        /// Options that cannot be given together or need each other.
        case conflict(keys: [OptimizerKey], hint: String)
        /// A config object that is not an object, lacks a key, has a value of the wrong kind or an unknown key.
        case config(ConfigError)
        /// Saved optimizer state (a checkpoint's) that does not fit this optimizer or model; the
        /// message names the parameter path or state entry and the values found.
        case state(String)
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// `invalid <key> <value>: <hint>`.
    public init(invalid key: OptimizerKey, value: String, hint: String) {
        self.kind = .invalid(key: key, value: value, hint: hint)
    }

    /// The option at fault, when the error names exactly one.
    public var key: OptimizerKey? {
        switch kind {
        case .invalid(let key, _, _): return key
        case .conflict(let keys, _): return keys.first
        case .config(let error): return error.key.flatMap(OptimizerKey.init(rawValue:))
        case .state: return nil
        }
    }

    /// The option at fault, spelled as in the JSON config (`beta_1`), when there is one.
    public var option: String? { key?.rawValue }

    /// How to fix it, when known.
    public var hint: String? {
        switch kind {
        case .invalid(_, _, let hint), .conflict(_, let hint): return hint
        case .config, .state: return nil
        }
    }

    /// The whole message, e.g. `invalid beta_1 1.5: use a value in [0, 1), e.g. 0.9`.
    public var description: String { described(naming: { $0.label }) }

    /// The message with each key named by `name`, e.g. a command-line flag (`--beta1`).
    public func described(naming name: (OptimizerKey) -> String) -> String {
        switch kind {
        case .invalid(let key, let value, let hint):
            return "invalid \(name(key)) \(value): \(hint)"
        case .conflict(_, let hint):
            return hint
        case .config(let error):
            guard let key = error.key.flatMap(OptimizerKey.init(rawValue:)) else { return error.description }
            // A config error names the JSON key as written unless `name` spells it otherwise.
            let spelled = name(key) == key.label ? nil : name(key)
            switch error.reason {
            case .missing: return "\(error.context) needs \(spelled ?? "\"\(key.rawValue)\"")"
            case .wrongType(let found, let expected):
                return "invalid \(spelled ?? key.rawValue) \(found): \(error.context): \"\(key.rawValue)\" must be \(expected)"
            default: return error.description
            }
        case .state(let message):
            return message
        }
    }

    /// Numbers as a user wrote them: `1` rather than `1.0`, `nan`, `-inf`.
    static func format(_ value: Double) -> String {
        if value.isFinite, value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Runs `body`, turning a ``ConfigError`` of a config reader into an optimizer error.
    static func reading<Result>(_ body: () throws -> Result) throws -> Result {
        do { return try body() } catch let error as ConfigError { throw OptimizerError(.config(error)) }
    }
}

/// Checks applied where hyperparameters are set; each throws an ``OptimizerError`` naming the value.
enum Check {
    /// A finite value above 0.
    static func positive(_ value: Double, _ option: OptimizerKey, example: String) throws {
        guard value.isFinite, value > 0 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a finite value above 0, e.g. \(example)")
        }
    }

    /// A finite value of at least 0.
    static func nonNegative(_ value: Double, _ option: OptimizerKey, example: String) throws {
        guard value.isFinite, value >= 0 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a finite value of at least 0, e.g. \(example)")
        }
    }

    /// A value in [0, 1) (betas, momentum, smoothing constants).
    static func unitInterval(_ value: Double, _ option: OptimizerKey, example: String) throws {
        guard value.isFinite, value >= 0, value < 1 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a value in [0, 1), e.g. \(example)")
        }
    }

    /// A value in [0, 1].
    static func closedUnitInterval(_ value: Double, _ option: OptimizerKey, example: String) throws {
        guard value.isFinite, value >= 0, value <= 1 else {
            throw OptimizerError(invalid: option, value: OptimizerError.format(value),
                                 hint: "use a value in [0, 1], e.g. \(example)")
        }
    }

    /// A count of at least `minimum`.
    static func count(_ value: Int, _ option: OptimizerKey, minimum: Int, example: Int) throws {
        guard value >= minimum else {
            throw OptimizerError(invalid: option, value: String(value), hint: "use a whole number of at least \(minimum), e.g. \(example)")
        }
    }
}

import LRTLayers

/// A typed optimizer configuration: the Keras-style class and the validated parts it is built
/// from (rule, trust ratio, weight decay, clipping, schedule, layer rates). The command line
/// fills one directly; checkpoints store its ``json`` and read it back with ``init(json:)``,
/// the one reader and the one writer of that JSON. ``Optimizer/init(configuration:)`` builds it.
///
///     {"class_name": "Adam", "config": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-08, "amsgrad": false,
///      "weight_decay": 0, "weight_decay_mode": "coupled", "exclude_from_weight_decay": [],
///      "global_clipnorm": null, "clipvalue": null,
///      "learning_rate": {"class_name": "Constant", "config": {"learning_rate": 0.001}},
///      "layer_rates": "paper", "layer_rates_per_tensor": false}}
public struct OptimizerConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// The Keras-style class names, each a rule with its stages and defaults.
    public enum ClassName: String, Sendable, CaseIterable {
        case sgd = "SGD"
        case adagrad = "Adagrad"
        case rmsprop = "RMSprop"
        case adam = "Adam"
        /// Adam with decoupled weight decay.
        case adamW = "AdamW"
        /// SGD with a LARS trust ratio.
        case lars = "LARS"
        /// Adam with a LAMB trust ratio and in-update decay.
        case lamb = "LAMB"

        /// The class spelled `name`, case-insensitively.
        public init?(named name: String) {
            guard let match = ClassName.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else { return nil }
            self = match
        }

        /// The constant rate when `learning_rate` is omitted.
        public var defaultLearningRate: Double {
            switch self {
            case .sgd, .adagrad, .rmsprop: return 0.01
            case .adam, .adamW, .lamb: return 0.001
            case .lars: return 1
            }
        }

        /// λ when `weight_decay` is omitted.
        public var defaultWeightDecay: Double { self == .adamW || self == .lamb ? 0.01 : 0 }

        /// Where decay enters when `weight_decay_mode` is omitted.
        public var defaultWeightDecayMode: WeightDecay.Mode {
            switch self {
            case .adamW: return .decoupled
            case .lamb: return .inUpdate
            default: return .coupled
            }
        }

        /// Paths excluded from decay (and adaptation) when `exclude_from_weight_decay` is omitted.
        public var defaultExclusions: [String] { self == .lars || self == .lamb ? PathPattern.biasesAndNormalization : [] }

        /// The layer-wise rate rule when `layer_rates` is omitted.
        public var defaultLayerRates: LayerRates { self == .lars || self == .lamb ? .off : .paper }

        /// The class a set of parts describes: the rule's (`SGD`, `Adagrad`, `RMSprop`, `Adam`), `AdamW`
        /// for Adam with decoupled decay, `LARS` for SGD with a LARS stage, `LAMB` for Adam with a LAMB
        /// stage; for an optimizer built from parts rather than from a configuration.
        public static func describing(rule: any UpdateRule, trustRatio: TrustRatio?, weightDecay: WeightDecay) -> ClassName {
            switch trustRatio?.kind {
            case .lars? where rule is StochasticGradientDescent: return .lars
            case .lamb? where rule is Adam: return .lamb
            default:
                if rule is Adam, trustRatio == nil, weightDecay.mode == .decoupled { return .adamW }
                return rule.config["class_name"]?.stringValue.flatMap(ClassName.init(named:)) ?? .sgd
            }
        }
    }

    public let className: ClassName
    public let rule: any UpdateRule
    /// A LARS or LAMB stage around the rule, or nil.
    public let trustRatio: TrustRatio?
    public let weightDecay: WeightDecay
    public let clipping: GradientClipping
    /// The global rate (its state, for stateful schedules, starts fresh in each optimizer built).
    public let schedule: any LearningRateSchedule
    public let layerRates: LayerRates
    /// One paper multiplier per parameter tensor instead of per layer.
    public let perTensor: Bool

    /// A configuration from its parts, checked to be what `className` is.
    /// - Parameters:
    ///   - className: the class; `LARS` needs SGD with a LARS trust ratio, `LAMB` Adam with a LAMB one,
    ///     `AdamW` Adam with decoupled decay, the others their own rule.
    ///   - rule: the base rule.
    ///   - trustRatio: a LARS or LAMB stage (default none; for classes other than LARS and LAMB, written
    ///     as `layer_adaptation`).
    ///   - weightDecay: decay and where it enters (default none).
    ///   - clipping: gradient clipping (default none).
    ///   - schedule: the global rate.
    ///   - layerRates: the paper's rule or off (default paper).
    ///   - perTensor: one multiplier per tensor instead of per layer (default false).
    /// - Throws: ``OptimizerError`` when the parts are not that class.
    public init(className: ClassName, rule: any UpdateRule, trustRatio: TrustRatio? = nil, weightDecay: WeightDecay = .none,
                clipping: GradientClipping = .none, schedule: any LearningRateSchedule, layerRates: LayerRates = .paper,
                perTensor: Bool = false) throws {
        let ruleClass = rule.config["class_name"]?.stringValue ?? rule.name
        let fits: Bool
        switch className {
        case .sgd: fits = rule is StochasticGradientDescent
        case .adagrad: fits = rule is AdaGrad
        case .rmsprop: fits = rule is RMSProp
        case .adam: fits = rule is Adam
        case .adamW: fits = rule is Adam
        case .lars: fits = rule is StochasticGradientDescent && { if case .lars? = trustRatio?.kind { return true }; return false }()
        case .lamb: fits = rule is Adam && { if case .lamb? = trustRatio?.kind { return true }; return false }()
        }
        guard fits else {
            throw OptimizerError(invalid: .className, value: "'\(className.rawValue)'",
                                 hint: "its parts are a \(ruleClass) rule\(trustRatio.map { " with a \($0.kind.name) trust ratio" } ?? ""); use class \(ClassName.describing(rule: rule, trustRatio: trustRatio, weightDecay: weightDecay).rawValue)")
        }
        if className == .adamW, weightDecay.mode != .decoupled {
            throw OptimizerError(invalid: .weightDecayMode, value: "'\(weightDecay.mode.rawValue)'",
                                 hint: "AdamW's decay is decoupled; for L2 decay use class Adam")
        }
        self.init(unchecked: className, rule: rule, trustRatio: trustRatio, weightDecay: weightDecay, clipping: clipping,
                  schedule: schedule, layerRates: layerRates, perTensor: perTensor)
    }

    init(unchecked className: ClassName, rule: any UpdateRule, trustRatio: TrustRatio?, weightDecay: WeightDecay,
         clipping: GradientClipping, schedule: any LearningRateSchedule, layerRates: LayerRates, perTensor: Bool) {
        self.className = className
        self.rule = rule
        self.trustRatio = trustRatio
        self.weightDecay = weightDecay
        self.clipping = clipping
        self.schedule = schedule
        self.layerRates = layerRates
        self.perTensor = perTensor
    }

    /// The same configuration with another schedule (`lrt resume --learning-rate`).
    public func replacingSchedule(_ schedule: any LearningRateSchedule) -> OptimizerConfiguration {
        OptimizerConfiguration(unchecked: className, rule: rule, trustRatio: trustRatio, weightDecay: weightDecay,
                               clipping: clipping, schedule: schedule, layerRates: layerRates, perTensor: perTensor)
    }

    /// Two configurations are equal when they write the same JSON.
    public static func == (left: OptimizerConfiguration, right: OptimizerConfiguration) -> Bool { left.json == right.json }

    public var description: String { json.serialized }

    // MARK: - JSON

    /// The Keras-style JSON of this configuration, every option written out (see the type's example).
    ///
    /// LARS adds `trust_coefficient`, `epsilon` and `exclude_from_layer_adaptation` to SGD's
    /// options, LAMB adds `exclude_from_layer_adaptation` to Adam's; a trust-ratio stage around
    /// another rule is written as `"layer_adaptation": {"class_name": "LARS", "config": {…}}`.
    /// ``init(json:)`` reads exactly this configuration back.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if case .object(let ruleMembers)? = rule.config["config"] { members = ruleMembers }
        if let trustRatio {
            if className == .lars || className == .lamb {
                members += trustRatio.configMembers
            } else {
                members.append(("layer_adaptation", .object([("class_name", .string(trustRatio.kind.name)),
                                                             ("config", .object(trustRatio.configMembers))])))
            }
        }
        members += [
            ("weight_decay", .number(weightDecay.rate)),
            ("weight_decay_mode", .string(weightDecay.mode.rawValue)),
            ("exclude_from_weight_decay", .array(weightDecay.excluded.map { .string($0.pattern) })),
            ("global_clipnorm", { if case .globalNorm(let value) = clipping.kind { return .number(value) }; return .null }()),
            ("clipvalue", { if case .value(let value) = clipping.kind { return .number(value) }; return .null }()),
            ("learning_rate", schedule.config),
            ("layer_rates", .string(layerRates.rawValue)),
            ("layer_rates_per_tensor", .bool(perTensor)),
        ]
        return .object([("class_name", .string(className.rawValue)), ("config", .object(members))])
    }

    /// Reads a Keras-style optimizer config (`--optimizer-config FILE.json`, checkpoints).
    ///
    /// `class_name` is one of ``ClassName`` (case-insensitively). Omitted options take these
    /// defaults (PyTorch's where it has the rule):
    ///
    /// | class | learning_rate | rule options | weight decay | layer_rates |
    /// |---|---|---|---|---|
    /// | SGD | 0.01 | momentum 0, nesterov false | 0, coupled | paper |
    /// | Adagrad | 0.01 | initial_accumulator_value 0, epsilon 1e-10, lr_decay 0 | 0, coupled | paper |
    /// | RMSprop | 0.01 | rho (or alpha) 0.99, epsilon 1e-8, momentum 0, centered false | 0, coupled | paper |
    /// | Adam | 0.001 | beta_1 0.9, beta_2 0.999, epsilon 1e-8, amsgrad false | 0, coupled | paper |
    /// | AdamW | 0.001 | as Adam | 0.01, decoupled | paper |
    /// | LARS | 1 | momentum 0.9, nesterov false, trust_coefficient 0.001, epsilon 1e-8 | 0, coupled | off |
    /// | LAMB | 0.001 | beta_1 0.9, beta_2 0.999, epsilon 1e-6, amsgrad false | 0.01, in_update | off |
    ///
    /// Common options: `weight_decay`, `weight_decay_mode` (`coupled`, `decoupled`, `in_update`),
    /// `exclude_from_weight_decay` (path globs; default none, for LARS and LAMB `["*.bias",
    /// "*.gamma", "*.beta"]`), `exclude_from_layer_adaptation` (LARS, LAMB; default: the decay
    /// exclusions), `global_clipnorm`, `clipvalue` (at most one), `learning_rate` (a number or a
    /// schedule, see ``schedule(json:defaultLearningRate:)``), `layer_rates` (`paper`, `off`),
    /// `layer_rates_per_tensor`, and for other classes `layer_adaptation`. Keras's bookkeeping keys
    /// (`name`, `jit_compile`, …) are ignored when they ask for nothing; any other key is an error.
    /// - Throws: ``OptimizerError`` naming the class, key or value at fault.
    public init(json config: JSONValue) throws {
        guard case .object = config else {
            throw OptimizerError(invalid: .className, value: config.serialized,
                                 hint: "an optimizer config must be a JSON object like {\"class_name\": \"SGD\", \"config\": {…}}")
        }
        guard let name = config["class_name"]?.stringValue else {
            throw OptimizerError(.config(ConfigError(context: "optimizer config \(config.serialized)", key: "class_name", reason: .missing)))
        }
        guard let className = ClassName(named: name) else {
            throw OptimizerError(invalid: .className, value: "'\(name)'",
                                 hint: "supported: \(ClassName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = try OptimizerError.reading {
            var options = try ConfigReader(config["config"] ?? .object([]), context: className.rawValue)
            return try OptimizerConfiguration(className, reading: &options)
        }
    }

    private init(_ className: ClassName, reading options: inout ConfigReader) throws {
        let rule: any UpdateRule
        switch className {
        case .sgd:
            rule = try StochasticGradientDescent(momentum: try options.number("momentum", default: 0),
                                                 nesterov: try options.bool("nesterov", default: false))
        case .adagrad:
            rule = try AdaGrad(initialAccumulatorValue: try options.number("initial_accumulator_value", default: 0),
                               epsilon: try options.number("epsilon", default: 1e-10),
                               learningRateDecay: try options.number("lr_decay", default: 0))
        case .rmsprop:
            let rho = try options.number("rho", default: .nan)
            let alpha = try options.number("alpha", default: .nan)
            guard rho.isNaN || alpha.isNaN else {
                throw OptimizerError(.conflict(keys: [.rho, .alpha], hint: "RMSprop: give \"rho\" or its PyTorch name \"alpha\", not both"))
            }
            rule = try RMSProp(rho: rho.isNaN ? (alpha.isNaN ? 0.99 : alpha) : rho,
                               epsilon: try options.number("epsilon", default: 1e-8),
                               momentum: try options.number("momentum", default: 0),
                               centered: try options.bool("centered", default: false))
        case .adam, .adamW, .lamb:
            rule = try Adam(beta1: try options.number("beta_1", default: 0.9), beta2: try options.number("beta_2", default: 0.999),
                            epsilon: try options.number("epsilon", default: className == .lamb ? 1e-6 : 1e-8),
                            amsgrad: try options.bool("amsgrad", default: false))
        case .lars:
            rule = try StochasticGradientDescent(momentum: try options.number("momentum", default: 0.9),
                                                 nesterov: try options.bool("nesterov", default: false))
        }

        let decayExclusions = try options.patterns("exclude_from_weight_decay", default: className.defaultExclusions)
        var trustRatio: TrustRatio?
        switch className {
        case .lars, .lamb:
            trustRatio = try TrustRatio(className == .lars ? .lars : .lamb, reading: &options, defaultExclusions: decayExclusions)
        default:
            if let stage = options.take("layer_adaptation"), !stage.isNull {
                let name = stage["class_name"]?.stringValue.flatMap { TrustRatio.Name(rawValue: $0.uppercased()) }
                guard let name else {
                    throw OptimizerError(invalid: .layerAdaptation, value: stage.serialized,
                                         hint: "use {\"class_name\": \"LARS\" or \"LAMB\", \"config\": {…}} or null")
                }
                var stageOptions = try ConfigReader(stage["config"] ?? .object([]), context: "layer_adaptation \(name.rawValue)")
                trustRatio = try TrustRatio(name, reading: &stageOptions, defaultExclusions: decayExclusions)
                try stageOptions.finish()
            }
        }

        let modeName = try options.string("weight_decay_mode", default: className.defaultWeightDecayMode.rawValue)
        guard let mode = WeightDecay.Mode(rawValue: modeName) else {
            throw OptimizerError(invalid: .weightDecayMode, value: "'\(modeName)'",
                                 hint: "use one of \(WeightDecay.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let weightDecay = try WeightDecay(rate: try options.number("weight_decay", default: className.defaultWeightDecay),
                                          mode: mode, excluding: decayExclusions)

        let globalNorm = try options.optionalNumber("global_clipnorm")
        let clipValue = try options.optionalNumber("clipvalue")
        let clipping: GradientClipping
        switch (globalNorm, clipValue) {
        case (let norm?, nil): clipping = try GradientClipping(globalNorm: norm)
        case (nil, let value?): clipping = try GradientClipping(value: value)
        case (nil, nil): clipping = .none
        default:
            throw OptimizerError(.conflict(keys: [.globalClipnorm, .clipvalue],
                                           hint: "\(className.rawValue): set one of \"global_clipnorm\" and \"clipvalue\", not both"))
        }

        let schedule = try OptimizerConfiguration.schedule(json: options.take("learning_rate") ?? .null,
                                                           defaultLearningRate: className.defaultLearningRate)
        let layerRatesName = try options.string("layer_rates", default: className.defaultLayerRates.rawValue)
        guard let layerRates = LayerRates(rawValue: layerRatesName) else {
            throw OptimizerError(invalid: .layerRates, value: "'\(layerRatesName)'",
                                 hint: "use one of \(LayerRates.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let perTensor = try options.bool("layer_rates_per_tensor", default: false)
        try options.ignoreKerasBookkeeping()
        try options.finish()
        try self.init(className: className, rule: rule, trustRatio: trustRatio, weightDecay: weightDecay, clipping: clipping,
                      schedule: schedule, layerRates: layerRates, perTensor: perTensor)
    }

    /// Builds a schedule from its config (the optimizer's `learning_rate`):
    ///
    /// - a number, or `{"class_name": "Constant", "config": {"learning_rate": t}}`;
    /// - `Step`: `learning_rate`, `gamma` (0.1), `step_size`, `unit` (`epoch` or `step`; epoch);
    /// - `MultiStep`: `learning_rate`, `gamma` (0.1), `milestones` (epochs);
    /// - `Exponential`: `learning_rate`, `gamma` (per epoch);
    /// - `Inverse`: `learning_rate`, `gamma`, `power` (Caffe `inv`, per step);
    /// - `Cosine`: `learning_rate`, `minimum_learning_rate` (0), `period`, `unit` (epoch);
    /// - `Warmup`: `steps`, `start_factor` (0), `schedule` (any of these);
    /// - `ReduceOnPlateau`: `learning_rate`, `monitor` (val_loss), `mode` (min), `factor` (0.1),
    ///   `patience` (10), `threshold` (1e-4), `threshold_mode` (rel), `cooldown` (0),
    ///   `minimum_learning_rate` (0).
    ///
    /// - Parameters:
    ///   - config: the schedule's config; null gives a constant `defaultLearningRate`.
    ///   - defaultLearningRate: the rate when `learning_rate` is omitted (default 0.01).
    /// - Throws: ``OptimizerError`` naming the key or value at fault.
    public static func schedule(json config: JSONValue, defaultLearningRate: Double = 0.01) throws -> any LearningRateSchedule {
        try OptimizerError.reading { try readSchedule(config, defaultLearningRate: defaultLearningRate) }
    }

    private static func readSchedule(_ config: JSONValue, defaultLearningRate: Double) throws -> any LearningRateSchedule {
        if config.isNull { return try ConstantSchedule(learningRate: defaultLearningRate) }
        if let rate = config.numberValue { return try ConstantSchedule(learningRate: rate) }
        let names = ["Constant", "Step", "MultiStep", "Exponential", "Inverse", "Cosine", "Warmup", "ReduceOnPlateau"]
        guard let className = config["class_name"]?.stringValue,
              let canonical = names.first(where: { $0.lowercased() == className.lowercased() }) else {
            throw ConfigError(context: "optimizer", key: OptimizerKey.learningRate.rawValue, reason: .wrongType(
                found: config.serialized, expected: "a number or {\"class_name\": one of \(names.joined(separator: ", ")), \"config\": {…}}"))
        }
        var options = try ConfigReader(config["config"] ?? .object([]), context: "schedule \(canonical)")
        let rate = try options.number("learning_rate", default: defaultLearningRate)
        let schedule: any LearningRateSchedule
        switch canonical {
        case "Constant":
            schedule = try ConstantSchedule(learningRate: rate)
        case "Step":
            schedule = try StepSchedule(learningRate: rate, gamma: try options.number("gamma", default: 0.1),
                                        stepSize: try options.integer("step_size"), unit: try options.unit())
        case "MultiStep":
            schedule = try MultiStepSchedule(learningRate: rate, gamma: try options.number("gamma", default: 0.1),
                                             milestones: try options.integers("milestones"))
        case "Exponential":
            schedule = try ExponentialSchedule(learningRate: rate, gamma: try options.number("gamma"))
        case "Inverse":
            schedule = try InverseSchedule(learningRate: rate, gamma: try options.number("gamma"), power: try options.number("power"))
        case "Cosine":
            schedule = try CosineSchedule(learningRate: rate, minimumLearningRate: try options.number("minimum_learning_rate", default: 0),
                                          period: try options.integer("period"), unit: try options.unit())
        case "Warmup":
            guard let inner = options.take("schedule") else {
                throw OptimizerError(.conflict(keys: [.schedule], hint: "schedule Warmup needs \"schedule\", the schedule it warms up (a number for a constant rate)"))
            }
            options.forget("learning_rate")
            schedule = try WarmupSchedule(steps: try options.integer("steps"), startFactor: try options.number("start_factor", default: 0),
                                          schedule: try readSchedule(inner, defaultLearningRate: rate))
        default:  // ReduceOnPlateau
            let modeName = try options.string("mode", default: "min")
            guard let mode = ReduceOnPlateau.Mode(rawValue: modeName) else {
                throw OptimizerError(invalid: .mode, value: "'\(modeName)'", hint: "use min or max")
            }
            let thresholdName = try options.string("threshold_mode", default: "rel")
            guard let thresholdMode = ReduceOnPlateau.ThresholdMode(rawValue: thresholdName) else {
                throw OptimizerError(invalid: .thresholdMode, value: "'\(thresholdName)'", hint: "use rel or abs")
            }
            schedule = try ReduceOnPlateau(
                learningRate: rate, monitor: try options.string("monitor", default: "val_loss"), mode: mode,
                factor: try options.number("factor", default: 0.1), patience: try options.integer("patience", default: 10),
                threshold: try options.number("threshold", default: 1e-4), thresholdMode: thresholdMode,
                cooldown: try options.integer("cooldown", default: 0),
                minimumLearningRate: try options.number("minimum_learning_rate", default: 0))
        }
        try options.finish()
        return schedule
    }
}

extension TrustRatio {
    /// The class names of the two stages.
    enum Name: String {
        case lars = "LARS"
        case lamb = "LAMB"
    }

    /// The options of a LARS or LAMB stage, from its class's or `layer_adaptation`'s config.
    init(_ name: Name, reading options: inout ConfigReader, defaultExclusions: [String]) throws {
        switch name {
        case .lars:
            self = try .lars(trustCoefficient: try options.number("trust_coefficient", default: 0.001),
                             epsilon: try options.number("epsilon", default: 1e-8),
                             excluding: try options.patterns("exclude_from_layer_adaptation", default: defaultExclusions))
        case .lamb:
            self = .lamb(excluding: try options.patterns("exclude_from_layer_adaptation", default: defaultExclusions))
        }
    }

    /// The stage's options as its config writes them.
    var configMembers: [(key: String, value: JSONValue)] {
        let excluded: (key: String, value: JSONValue) = ("exclude_from_layer_adaptation", .array(self.excluded.map { .string($0.pattern) }))
        switch kind {
        case .lars(let coefficient, let epsilon):
            return [("trust_coefficient", .number(coefficient)), ("epsilon", .number(epsilon)), excluded]
        case .lamb:
            return [excluded]
        }
    }
}

extension TrustRatio.Kind {
    /// `LARS` or `LAMB`.
    public var name: String {
        if case .lars = self { return "LARS" }
        return "LAMB"
    }
}

extension ConfigReader {
    /// An array of parameter path globs.
    mutating func patterns(_ key: String, default fallback: [String]) throws -> [String] {
        try strings(key, default: fallback, expected: "an array of path patterns such as [\"*.bias\"]")
    }

    /// A schedule's `unit`: epoch (default) or step.
    mutating func unit() throws -> ScheduleUnit {
        let name = try string("unit", default: ScheduleUnit.epoch.rawValue)
        guard let unit = ScheduleUnit(rawValue: name) else {
            throw OptimizerError(invalid: .unit, value: "'\(name)'", hint: "\(context): use epoch or step")
        }
        return unit
    }

    /// Drops Keras's bookkeeping keys when they ask for nothing this optimizer lacks.
    mutating func ignoreKerasBookkeeping() throws {
        for key in ["name", "jit_compile", "is_legacy_optimizer", "ema_momentum", "ema_overwrite_frequency"] { forget(key) }
        let refused: [(OptimizerKey, String)] = [(.clipnorm, "; use global_clipnorm"), (.lossScaleFactor, ""),
                                                 (.gradientAccumulationSteps, ""), (.decay, "")]
        for (key, advice) in refused {
            if let value = take(key.rawValue), !value.isNull, value != .number(0) {
                throw OptimizerError(invalid: key, value: value.serialized, hint: "\(context): not supported\(advice)")
            }
        }
        if let value = take("use_ema"), value != .bool(false), !value.isNull {
            throw OptimizerError(invalid: .useEMA, value: value.serialized, hint: "\(context): not supported")
        }
    }
}

import LRTLayers

extension Optimizer {
    /// The class names ``make(config:)`` accepts (case-insensitively).
    public static let classNames = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "LARS", "LAMB"]

    /// The Keras-style class name: the rule's (`SGD`, `Adagrad`, `RMSprop`, `Adam`), `AdamW` for
    /// Adam with decoupled decay, `LARS` for SGD with a LARS stage, `LAMB` for Adam with a LAMB stage.
    public var className: String {
        switch trustRatio?.kind {
        case .lars? where rule is StochasticGradientDescent: return "LARS"
        case .lamb? where rule is Adam: return "LAMB"
        default:
            if rule is Adam, trustRatio == nil, weightDecay.mode == .decoupled { return "AdamW" }
            return rule.config["class_name"]?.stringValue ?? rule.name
        }
    }

    /// Everything needed to rebuild this optimizer, Keras-style, every option written out:
    ///
    ///     {"class_name": "Adam", "config": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-08, "amsgrad": false,
    ///      "weight_decay": 0, "weight_decay_mode": "coupled", "exclude_from_weight_decay": [],
    ///      "global_clipnorm": null, "clipvalue": null,
    ///      "learning_rate": {"class_name": "Constant", "config": {"learning_rate": 0.001}},
    ///      "layer_rates": "paper", "layer_rates_per_tensor": false}}
    ///
    /// LARS adds `trust_coefficient`, `epsilon` and `exclude_from_layer_adaptation` to SGD's
    /// options, LAMB adds `exclude_from_layer_adaptation` to Adam's; a trust-ratio stage around
    /// another rule is written as `"layer_adaptation": {"class_name": "LARS", "config": {…}}`.
    /// ``make(config:)`` rebuilds exactly this optimizer from it.
    public var config: JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if case .object(let ruleMembers)? = rule.config["config"] { members = ruleMembers }
        let name = className
        if let trustRatio {
            let stage = Optimizer.stageMembers(trustRatio)
            if name == "LARS" || name == "LAMB" {
                members += stage
            } else {
                members.append(("layer_adaptation", .object([("class_name", .string(Optimizer.stageName(trustRatio))),
                                                             ("config", .object(stage))])))
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
        return .object([("class_name", .string(name)), ("config", .object(members))])
    }

    private static func stageName(_ stage: TrustRatio) -> String {
        if case .lars = stage.kind { return "LARS" }
        return "LAMB"
    }

    private static func stageMembers(_ stage: TrustRatio) -> [(key: String, value: JSONValue)] {
        let excluded: (key: String, value: JSONValue) = ("exclude_from_layer_adaptation", .array(stage.excluded.map { .string($0.pattern) }))
        switch stage.kind {
        case .lars(let coefficient, let epsilon):
            return [("trust_coefficient", .number(coefficient)), ("epsilon", .number(epsilon)), excluded]
        case .lamb:
            return [excluded]
        }
    }

    /// Builds an optimizer from a Keras-style config (`--optimizer-config FILE.json`, checkpoints).
    ///
    /// `class_name` is one of ``classNames``. Omitted options take these defaults (PyTorch's
    /// where it has the rule):
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
    /// schedule, see ``makeSchedule(config:defaultLearningRate:)``), `layer_rates` (`paper`, `off`),
    /// `layer_rates_per_tensor`, and for other classes `layer_adaptation`. Keras's bookkeeping keys
    /// (`name`, `jit_compile`, …) are ignored when they ask for nothing; any other key is an error.
    /// - Throws: ``OptimizerError`` naming the class, key or value at fault.
    public static func make(config: JSONValue) throws -> Optimizer {
        guard case .object = config else {
            throw OptimizerError("optimizer config must be a JSON object like {\"class_name\": \"SGD\", \"config\": {…}}, got \(config.serialized)")
        }
        guard let className = config["class_name"]?.stringValue else {
            throw OptimizerError("optimizer config has no \"class_name\": \(config.serialized)")
        }
        guard let canonical = classNames.first(where: { $0.lowercased() == className.lowercased() }) else {
            throw OptimizerError(invalid: "optimizer", value: "'\(className)'", hint: "supported: \(classNames.joined(separator: ", "))")
        }
        var options = try OptionReader(config["config"] ?? .object([]), context: canonical)
        let rule: any UpdateRule
        var defaultRate = 0.01
        var defaultDecay = 0.0
        var defaultMode = WeightDecay.Mode.coupled
        var defaultExclusions: [String] = []
        var defaultLayerRates = LayerRates.paper
        switch canonical {
        case "SGD":
            rule = try StochasticGradientDescent(momentum: try options.number("momentum", default: 0),
                                                 nesterov: try options.bool("nesterov", default: false))
        case "Adagrad":
            rule = try AdaGrad(initialAccumulatorValue: try options.number("initial_accumulator_value", default: 0),
                               epsilon: try options.number("epsilon", default: 1e-10),
                               learningRateDecay: try options.number("lr_decay", default: 0))
        case "RMSprop":
            let rho = try options.number("rho", default: .nan)
            let alpha = try options.number("alpha", default: .nan)
            guard rho.isNaN || alpha.isNaN else {
                throw OptimizerError("RMSprop: give \"rho\" or its PyTorch name \"alpha\", not both")
            }
            rule = try RMSProp(rho: rho.isNaN ? (alpha.isNaN ? 0.99 : alpha) : rho,
                               epsilon: try options.number("epsilon", default: 1e-8),
                               momentum: try options.number("momentum", default: 0),
                               centered: try options.bool("centered", default: false))
        case "Adam", "AdamW", "LAMB":
            rule = try Adam(beta1: try options.number("beta_1", default: 0.9), beta2: try options.number("beta_2", default: 0.999),
                            epsilon: try options.number("epsilon", default: canonical == "LAMB" ? 1e-6 : 1e-8),
                            amsgrad: try options.bool("amsgrad", default: false))
            defaultRate = 0.001
            if canonical == "AdamW" { (defaultDecay, defaultMode) = (0.01, .decoupled) }
            if canonical == "LAMB" {
                (defaultDecay, defaultMode) = (0.01, .inUpdate)
                defaultExclusions = PathPattern.biasesAndNormalization
                defaultLayerRates = .off
            }
        default:  // LARS
            rule = try StochasticGradientDescent(momentum: try options.number("momentum", default: 0.9),
                                                 nesterov: try options.bool("nesterov", default: false))
            defaultRate = 1
            defaultExclusions = PathPattern.biasesAndNormalization
            defaultLayerRates = .off
        }

        let decayExclusions = try options.strings("exclude_from_weight_decay", default: defaultExclusions)
        var trustRatio: TrustRatio?
        switch canonical {
        case "LARS":
            trustRatio = try .lars(trustCoefficient: try options.number("trust_coefficient", default: 0.001),
                                   epsilon: try options.number("epsilon", default: 1e-8),
                                   excluding: try options.strings("exclude_from_layer_adaptation", default: decayExclusions))
        case "LAMB":
            trustRatio = .lamb(excluding: try options.strings("exclude_from_layer_adaptation", default: decayExclusions))
        default:
            if let stage = options.take("layer_adaptation"), !stage.isNull {
                trustRatio = try layerAdaptation(stage, defaultExclusions: decayExclusions)
            }
        }

        let modeName = try options.string("weight_decay_mode", default: defaultMode.rawValue)
        guard let mode = WeightDecay.Mode(rawValue: modeName) else {
            throw OptimizerError(invalid: "weight_decay_mode", value: "'\(modeName)'",
                                 hint: "use one of \(WeightDecay.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if canonical == "AdamW", mode != .decoupled {
            throw OptimizerError(invalid: "weight_decay_mode", value: "'\(modeName)'",
                                 hint: "AdamW's decay is decoupled; for L2 decay use class Adam")
        }
        let weightDecay = try WeightDecay(rate: try options.number("weight_decay", default: defaultDecay), mode: mode,
                                          excluding: decayExclusions)

        let globalNorm = try options.optionalNumber("global_clipnorm")
        let clipValue = try options.optionalNumber("clipvalue")
        let clipping: GradientClipping
        switch (globalNorm, clipValue) {
        case (let norm?, nil): clipping = try GradientClipping(globalNorm: norm)
        case (nil, let value?): clipping = try GradientClipping(value: value)
        case (nil, nil): clipping = .none
        default: throw OptimizerError("\(canonical): set one of \"global_clipnorm\" and \"clipvalue\", not both")
        }

        let schedule = try makeSchedule(config: options.take("learning_rate") ?? .null, defaultLearningRate: defaultRate)
        let layerRatesName = try options.string("layer_rates", default: defaultLayerRates.rawValue)
        guard let layerRates = LayerRates(rawValue: layerRatesName) else {
            throw OptimizerError(invalid: "layer_rates", value: "'\(layerRatesName)'",
                                 hint: "use one of \(LayerRates.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let perTensor = try options.bool("layer_rates_per_tensor", default: false)
        try options.ignoreKerasBookkeeping()
        try options.finish()
        return Optimizer(rule: rule, layerRates: layerRates, perTensor: perTensor, trustRatio: trustRatio,
                         weightDecay: weightDecay, clipping: clipping, schedule: schedule)
    }

    private static func layerAdaptation(_ value: JSONValue, defaultExclusions: [String]) throws -> TrustRatio {
        let name = value["class_name"]?.stringValue?.uppercased()
        var options = try OptionReader(value["config"] ?? .object([]), context: "layer_adaptation \(name ?? "?")")
        let stage: TrustRatio
        switch name {
        case "LARS":
            stage = try .lars(trustCoefficient: try options.number("trust_coefficient", default: 0.001),
                              epsilon: try options.number("epsilon", default: 1e-8),
                              excluding: try options.strings("exclude_from_layer_adaptation", default: defaultExclusions))
        case "LAMB":
            stage = .lamb(excluding: try options.strings("exclude_from_layer_adaptation", default: defaultExclusions))
        default:
            throw OptimizerError(invalid: "layer_adaptation", value: value.serialized,
                                 hint: "use {\"class_name\": \"LARS\" or \"LAMB\", \"config\": {…}} or null")
        }
        try options.finish()
        return stage
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
    public static func makeSchedule(config: JSONValue, defaultLearningRate: Double = 0.01) throws -> any LearningRateSchedule {
        if config.isNull { return try ConstantSchedule(learningRate: defaultLearningRate) }
        if let rate = config.numberValue { return try ConstantSchedule(learningRate: rate) }
        let names = ["Constant", "Step", "MultiStep", "Exponential", "Inverse", "Cosine", "Warmup", "ReduceOnPlateau"]
        guard let className = config["class_name"]?.stringValue,
              let canonical = names.first(where: { $0.lowercased() == className.lowercased() }) else {
            throw OptimizerError(invalid: "learning_rate", value: config.serialized,
                                 hint: "use a number or {\"class_name\": one of \(names.joined(separator: ", ")), \"config\": {…}}")
        }
        var options = try OptionReader(config["config"] ?? .object([]), context: "schedule \(canonical)")
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
                throw OptimizerError("schedule Warmup needs \"schedule\", the schedule it warms up (a number for a constant rate)")
            }
            options.forget("learning_rate")
            schedule = try WarmupSchedule(steps: try options.integer("steps"), startFactor: try options.number("start_factor", default: 0),
                                          schedule: try makeSchedule(config: inner, defaultLearningRate: rate))
        default:  // ReduceOnPlateau
            let modeName = try options.string("mode", default: "min")
            guard let mode = ReduceOnPlateau.Mode(rawValue: modeName) else {
                throw OptimizerError(invalid: "mode", value: "'\(modeName)'", hint: "use min or max")
            }
            let thresholdName = try options.string("threshold_mode", default: "rel")
            guard let thresholdMode = ReduceOnPlateau.ThresholdMode(rawValue: thresholdName) else {
                throw OptimizerError(invalid: "threshold_mode", value: "'\(thresholdName)'", hint: "use rel or abs")
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

/// Reads the members of one config object, remembering which were used, so that a
/// misspelled key is reported instead of silently taking a default.
struct OptionReader {
    let context: String
    private var members: [(key: String, value: JSONValue)]

    init(_ value: JSONValue, context: String) throws {
        guard case .object(let members) = value else {
            throw OptimizerError("\(context): \"config\" must be an object, got \(value.serialized)")
        }
        self.context = context
        self.members = members
    }

    /// Removes and returns the member `key` (nil when absent).
    mutating func take(_ key: String) -> JSONValue? {
        guard let index = members.firstIndex(where: { $0.key == key }) else { return nil }
        return members.remove(at: index).value
    }

    mutating func forget(_ key: String) { _ = take(key) }

    private func typeError(_ key: String, _ value: JSONValue, _ expected: String) -> OptimizerError {
        OptimizerError(invalid: key, value: value.serialized, hint: "\(context): \"\(key)\" must be \(expected)")
    }

    /// A number; `null` or absent gives `fallback` (required when nil).
    mutating func number(_ key: String, default fallback: Double? = nil) throws -> Double {
        guard let value = take(key), !value.isNull else {
            guard let fallback else { throw OptimizerError("\(context) needs \"\(key)\"") }
            return fallback
        }
        guard let number = value.numberValue else { throw typeError(key, value, "a number") }
        return number
    }

    mutating func optionalNumber(_ key: String) throws -> Double? {
        guard let value = take(key), !value.isNull else { return nil }
        guard let number = value.numberValue else { throw typeError(key, value, "a number or null") }
        return number
    }

    mutating func integer(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = take(key), !value.isNull else {
            guard let fallback else { throw OptimizerError("\(context) needs \"\(key)\"") }
            return fallback
        }
        guard let integer = value.intValue else { throw typeError(key, value, "a whole number") }
        return integer
    }

    mutating func integers(_ key: String) throws -> [Int] {
        guard let value = take(key), !value.isNull else { throw OptimizerError("\(context) needs \"\(key)\"") }
        guard let items = value.arrayValue else { throw typeError(key, value, "an array of whole numbers") }
        return try items.map { item in
            guard let integer = item.intValue else { throw typeError(key, value, "an array of whole numbers") }
            return integer
        }
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = take(key), !value.isNull else { return fallback }
        guard let flag = value.boolValue else { throw typeError(key, value, "true or false") }
        return flag
    }

    mutating func string(_ key: String, default fallback: String) throws -> String {
        guard let value = take(key), !value.isNull else { return fallback }
        guard let text = value.stringValue else { throw typeError(key, value, "a string") }
        return text
    }

    mutating func strings(_ key: String, default fallback: [String]) throws -> [String] {
        guard let value = take(key), !value.isNull else { return fallback }
        guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
            throw typeError(key, value, "an array of path patterns such as [\"*.bias\"]")
        }
        return items.compactMap(\.stringValue)
    }

    mutating func unit() throws -> ScheduleUnit {
        let name = try string("unit", default: ScheduleUnit.epoch.rawValue)
        guard let unit = ScheduleUnit(rawValue: name) else {
            throw OptimizerError(invalid: "unit", value: "'\(name)'", hint: "\(context): use epoch or step")
        }
        return unit
    }

    /// Drops Keras's bookkeeping keys when they ask for nothing this optimizer lacks.
    mutating func ignoreKerasBookkeeping() throws {
        for key in ["name", "jit_compile", "is_legacy_optimizer", "ema_momentum", "ema_overwrite_frequency"] { forget(key) }
        for key in ["clipnorm", "loss_scale_factor", "gradient_accumulation_steps", "decay"] {
            if let value = take(key), !value.isNull, value != .number(0) {
                throw OptimizerError(invalid: key, value: value.serialized,
                                     hint: "\(context): not supported\(key == "clipnorm" ? "; use global_clipnorm" : "")")
            }
        }
        if let value = take("use_ema"), value != .bool(false), !value.isNull {
            throw OptimizerError(invalid: "use_ema", value: value.serialized, hint: "\(context): not supported")
        }
    }

    /// Throws when keys remain that nothing read.
    func finish() throws {
        guard members.isEmpty else {
            throw OptimizerError("\(context): unknown option\(members.count == 1 ? "" : "s") \(members.map { "\"\($0.key)\"" }.joined(separator: ", "))")
        }
    }
}

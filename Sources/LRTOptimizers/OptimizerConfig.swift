import LRTLayers

extension Optimizer {
    /// Rebuilds an optimizer from its ``config`` (as saved in checkpoints).
    ///
    /// Accepts `{"class_name": "SGD", "config": {"learning_rate": 0.01, "momentum": 0.9,
    /// "nesterov": false, "layer_rates": "paper"}}`; `learning_rate` is a number or a
    /// schedule object. Omitted keys take the defaults of ``StochasticGradientDescent``
    /// and `layer_rates` defaults to `paper`.
    public static func make(config: JSONValue) throws -> Optimizer {
        guard let className = config["class_name"]?.stringValue else {
            throw OptimizerError("optimizer config has no \"class_name\": \(config.serialized)")
        }
        let options = config["config"] ?? .object([])
        let rule: any UpdateRule
        switch className.lowercased() {
        case "sgd":
            rule = try StochasticGradientDescent(
                momentum: Float(try number(options, "momentum", default: 0)),
                nesterov: options["nesterov"]?.boolValue ?? false)
        default:
            throw OptimizerError("optimizer '\(className)' is not supported; supported: SGD")
        }
        let layerRatesName = options["layer_rates"]?.stringValue ?? LayerRates.paper.rawValue
        guard let layerRates = LayerRates(rawValue: layerRatesName) else {
            throw OptimizerError("layer_rates '\(layerRatesName)' is not one of \(LayerRates.allCases.map(\.rawValue))")
        }
        return Optimizer(rule: rule, layerRates: layerRates, schedule: try schedule(options["learning_rate"]))
    }

    private static func number(_ options: JSONValue, _ key: String, default fallback: Double) throws -> Double {
        guard let value = options[key], !value.isNull else { return fallback }
        guard let number = value.numberValue else {
            throw OptimizerError("optimizer option \"\(key)\" must be a number, got \(value.serialized)")
        }
        return number
    }

    private static func schedule(_ value: JSONValue?) throws -> any LearningRateSchedule {
        guard let value, !value.isNull else { return try ConstantSchedule(learningRate: 0.01) }
        if let rate = value.numberValue { return try ConstantSchedule(learningRate: rate) }
        switch value["class_name"]?.stringValue {
        case "Constant":
            return try ConstantSchedule(learningRate: try number(value["config"] ?? .object([]), "learning_rate", default: 0.01))
        default:
            throw OptimizerError("learning rate schedule \(value.serialized) is not supported; use a number or {\"class_name\": \"Constant\", …}")
        }
    }
}

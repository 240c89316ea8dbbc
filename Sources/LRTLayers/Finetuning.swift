import LRTTensor

/// Changes to a trained model before finetuning it: a new output layer, frozen layers.
public enum Finetuning {
    /// The last layer that has parameters (the model's head), in layer order.
    public static func head(of model: any Model) -> Layer? {
        model.layers.last { !$0.weights.isEmpty }
    }

    /// A copy of `model` whose head (its last layer with parameters, which must be a `Dense`) has `units`
    /// outputs, freshly initialized by its own Keras initializers (`kernel_initializer`, `bias_initializer`)
    /// from `generator`; same name, activation and options. Every other weight is copied; the frozen layers
    /// stay frozen, the new head is trained. Works for Sequential and Functional models.
    /// - Parameters:
    ///   - units: the new head's width, e.g. the class count of the data finetuned on.
    ///   - generator: draws the new weights (`--seed`).
    /// - Throws: ``ModelConfigError`` naming the head when it is not a Dense layer, or when the layers after
    ///   it cannot take the new width.
    public static func replacingHead(of model: any Model, units: Int, generator: inout SeededGenerator) throws -> any Model {
        guard let head = head(of: model) else {
            throw ModelConfigError("model '\(model.name)' has no layer with parameters to replace")
        }
        guard head is Dense else {
            throw ModelConfigError("the last layer with parameters, \(head.className) layer '\(head.name)', is not a Dense layer; a new head replaces a Dense layer only: end the model in a Dense layer")
        }
        guard units >= 1 else { throw ModelConfigError("a new head needs at least 1 unit, got \(units)") }
        var found = false
        let config = model.config.updatingLayer(named: head.name) { layerConfig in
            found = true
            return layerConfig.setting("units", to: .number(Double(units))).setting("trainable", to: .bool(true))
        }
        precondition(found, "the config of model '\(model.name)' has no layer '\(head.name)'")
        var frozen = model.frozenLayers
        frozen.remove(head.name)
        let replaced = try ModelConfig.build(json: config, generator: &generator)
        let oldLayers = Dictionary(model.layers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for layer in replaced.layers where layer.name != head.name {
            guard let old = oldLayers[layer.name] else { continue }
            for (new, previous) in zip(layer.weights, old.weights) {
                precondition(new.path == previous.path && new.value.shape == previous.value.shape,
                             "weight \(new.path) changed shape with the head")
                new.value = previous.value
            }
        }
        replaced.frozenLayers = frozen
        return replaced
    }

    /// The layers with weights whose names match any of `patterns` (globs: `*` matches any run of
    /// characters); weightless layers have nothing to freeze and are left out.
    /// - Parameter match: whether a pattern matches a name (``LRTOptimizers``' `PathPattern`, passed in
    ///   so that this target does not depend on it).
    /// - Throws: ``ModelConfigError`` naming the first pattern that matches no layer, with the layer names.
    public static func layers(of model: any Model, matching patterns: [String],
                              match: (_ pattern: String, _ name: String) -> Bool) throws -> Set<String> {
        var chosen = Set<String>()
        let withWeights = model.layers.filter { !$0.weights.isEmpty }.map(\.name)
        for pattern in patterns {
            let names = model.layers.map(\.name).filter { match(pattern, $0) }
            guard !names.isEmpty else {
                throw ModelConfigError("--freeze '\(pattern)' matches no layer; the layers are \(model.layers.map(\.name).joined(separator: ", "))")
            }
            let frozen = names.filter(withWeights.contains)
            guard !frozen.isEmpty else {
                throw ModelConfigError("--freeze '\(pattern)' matches only layers without weights (\(names.joined(separator: ", "))); the layers with weights are \(withWeights.joined(separator: ", "))")
            }
            chosen.formUnion(frozen)
        }
        return chosen
    }
}

extension JSONValue {
    /// This object with `key` set to `value` (replaced in place, or added at the end).
    func setting(_ key: String, to value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key: key, value: value))
        }
        return .object(members)
    }

    /// This model config with the `config` of the layer named `name` (in `config.layers`) replaced by `update`'s result.
    func updatingLayer(named name: String, _ update: (JSONValue) -> JSONValue) -> JSONValue {
        guard let modelConfig = self["config"], let layers = modelConfig["layers"]?.arrayValue else { return self }
        let updated = layers.map { entry -> JSONValue in
            guard let layerConfig = entry["config"], (entry["name"] ?? layerConfig["name"])?.stringValue == name else { return entry }
            return entry.setting("config", to: update(layerConfig))
        }
        return setting("config", to: modelConfig.setting("layers", to: .array(updated)))
    }
}

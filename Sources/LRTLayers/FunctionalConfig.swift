import LRTTensor

/// Reading Keras Functional model configs: Keras 3's node format
/// (`"inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, index]}}], "kwargs": {}}]`)
/// and Keras 2's (`"inbound_nodes": [[["layer", 0, 0, {}]]]`).
extension ModelConfig {
    /// One reference to a layer's output in a config: `[layer, node index, tensor index]`.
    private struct TensorReference {
        let layer: String
        let node: Int
        let tensor: Int
    }

    static func buildFunctional(config: JSONValue, builder: inout LayerBuilder, generator: inout SeededGenerator) throws -> Functional {
        guard let entries = config["layers"]?.arrayValue, !entries.isEmpty else {
            throw ModelConfigError("the Functional config has no \"layers\" list")
        }
        let modelName = config["name"]?.stringValue ?? "functional"
        let input = try singleEndpoint(config["input_layers"], key: "input_layers")
        let output = try singleEndpoint(config["output_layers"], key: "output_layers")

        // Each entry: its name, class and the tensors its one call takes.
        var pending: [(index: Int, name: String, className: String, entry: JSONValue, inputs: [TensorReference])] = []
        var inputShape: [Int]?
        var seen = Set<String>()
        for (index, entry) in entries.enumerated() {
            guard let className = entry["class_name"]?.stringValue else {
                throw ModelConfigError("layer \(index) of the Functional config has no \"class_name\"")
            }
            guard let name = entry["name"]?.stringValue ?? entry["config"]?["name"]?.stringValue else {
                throw ModelConfigError("\(className) layer \(index) of the Functional config has no \"name\"")
            }
            guard seen.insert(name).inserted else {
                throw ModelConfigError("two layers are named '\(name)'; layer names must be unique")
            }
            if className == "InputLayer" {
                guard name == input.layer else {
                    throw ModelConfigError("InputLayer '\(name)' is not the model's input ('\(input.layer)'); lrt supports models with one input")
                }
                inputShape = try ModelConfig.inputShape(layers: [entry], modelConfig: .object([]))
                continue
            }
            pending.append((index, name, className, entry, try inboundTensors(entry, layer: name)))
        }
        guard let inputShape else {
            throw ModelConfigError("the Functional config has no InputLayer named '\(input.layer)' (its \"input_layers\")")
        }

        // Build the layers once all their inputs exist, whatever order the config lists them in.
        var tensorIndex = [input.layer: 0]
        var nodes: [Functional.Node] = []
        while !pending.isEmpty {
            guard let ready = pending.firstIndex(where: { $0.inputs.allSatisfy { tensorIndex[$0.layer] != nil } }) else {
                let stuck = pending[0]
                let missing = stuck.inputs.first { tensorIndex[$0.layer] == nil }!.layer
                let known = seen.contains(missing) || missing == input.layer
                throw ModelConfigError(known
                    ? "layer '\(stuck.name)' and layer '\(missing)' depend on each other; a model must be a graph without cycles"
                    : "layer '\(stuck.name)' takes the output of '\(missing)', which the config does not define")
            }
            let (_, name, className, entry, inputs) = pending.remove(at: ready)
            let inputIndices = inputs.map { tensorIndex[$0.layer]! }
            let inputShapes = inputIndices.map { $0 == 0 ? inputShape : nodes[$0 - 1].layer.outputShape }
            let layer = try builder.build(entry, className: className, name: name, inputShapes: inputShapes, generator: &generator)
            if inputs.count > 1 && !(layer is MergeLayer) {
                throw ModelConfigError("\(className) layer '\(name)' takes one input but is called on \(inputs.count)")
            }
            nodes.append(Functional.Node(layer: layer, inputs: inputIndices))
            tensorIndex[name] = nodes.count
        }

        guard let outputIndex = tensorIndex[output.layer] else {
            throw ModelConfigError("the model's output layer '\(output.layer)' (its \"output_layers\") is not one of its layers")
        }
        guard outputIndex > 0 else { throw ModelConfigError("the model's output is its input; add layers between them") }
        try checkEveryNodeLeads(to: outputIndex, nodes)
        let model = Functional(name: modelName, inputName: input.layer, inputShape: inputShape, nodes: nodes)
        model.frozenLayers = frozenLayers(builder: builder, modelConfig: config, layers: model.layers)
        return model
    }

    /// Refuses a layer the output does not depend on (Keras would not have saved it either) and an
    /// output that other layers take.
    private static func checkEveryNodeLeads(to output: Int, _ nodes: [Functional.Node]) throws {
        var used = [Bool](repeating: false, count: nodes.count + 1)
        used[output] = true
        for index in stride(from: output, through: 1, by: -1) where used[index] {
            for input in nodes[index - 1].inputs { used[input] = true }
        }
        if let unused = (1...nodes.count).first(where: { !used[$0] }) {
            let layer = nodes[unused - 1].layer
            throw ModelConfigError("\(layer.className) layer '\(layer.name)' does not lead to the model's output; remove it")
        }
        guard output == nodes.count else {  // every node leads to the output, so only a consumer of it can follow it
            let layer = nodes[output - 1].layer
            throw ModelConfigError("layer '\(layer.name)' is the output but other layers take its output; lrt supports models with one output")
        }
    }

    /// The one `[layer, 0, 0]` of `input_layers` or `output_layers` (Keras 3 writes it flat for a
    /// single tensor, Keras 2 as a list of such lists).
    private static func singleEndpoint(_ value: JSONValue?, key: String) throws -> TensorReference {
        guard let items = value?.arrayValue, !items.isEmpty else {
            throw ModelConfigError("the Functional config has no \"\(key)\" list, e.g. [[\"input_layer\", 0, 0]]")
        }
        let endpoints = items.first?.stringValue != nil ? [value!] : items
        guard endpoints.count == 1 else {
            let names = endpoints.compactMap { $0.arrayValue?.first?.stringValue }
            throw ModelConfigError("the model has \(endpoints.count) \(key == "input_layers" ? "inputs" : "outputs") (\(names.joined(separator: ", "))); lrt supports models with one input and one output")
        }
        return try reference(endpoints[0], context: "\"\(key)\"")
    }

    /// `[layer, node, tensor]` (Keras 2 adds a kwargs object) into a reference; only node 0 and
    /// tensor 0 exist when every layer is called once and has one output.
    private static func reference(_ value: JSONValue, context: String) throws -> TensorReference {
        guard let items = value.arrayValue, items.count >= 3, let layer = items[0].stringValue,
              let node = items[1].intValue, let tensor = items[2].intValue
        else {
            throw ModelConfigError("\(context): \(value.serialized.prefix(200)) is not a [layer, node, tensor] reference")
        }
        guard node == 0 else {
            throw ModelConfigError("\(context) uses call \(node + 1) of layer '\(layer)'; a layer called more than once (shared weights) is not supported: give each call its own layer")
        }
        guard tensor == 0 else {
            throw ModelConfigError("\(context) uses output \(tensor + 1) of layer '\(layer)'; lrt's layers have one output")
        }
        if items.count > 3, let key = items[3].keys.first(where: { items[3][$0]?.isNull == false }) {
            throw ModelConfigError("\(context): the call argument \"\(key)\" of layer '\(layer)' is not supported")
        }
        return TensorReference(layer: layer, node: node, tensor: tensor)
    }

    /// The tensors the entry's single call takes, from Keras 3's or Keras 2's `inbound_nodes`.
    private static func inboundTensors(_ entry: JSONValue, layer: String) throws -> [TensorReference] {
        guard let calls = entry["inbound_nodes"]?.arrayValue else {
            throw ModelConfigError("layer '\(layer)' has no \"inbound_nodes\"; a Functional config lists the tensors each layer takes")
        }
        guard calls.count == 1 else {
            throw ModelConfigError(calls.isEmpty
                ? "layer '\(layer)' is never called (its \"inbound_nodes\" is empty); remove it or connect it"
                : "layer '\(layer)' is called \(calls.count) times (shared weights), which is not supported; give each call its own layer")
        }
        let call = calls[0]
        let context = "layer '\(layer)'"
        if let keras2 = call.arrayValue {  // Keras 2: [["layer", 0, 0, {}], …]
            return try keras2.map { try reference($0, context: context) }
        }
        guard let arguments = call["args"]?.arrayValue else {
            throw ModelConfigError("\(context): its inbound node \(call.serialized.prefix(200)) has no \"args\"")
        }
        if let kwargs = call["kwargs"], let key = kwargs.keys.first(where: { kwargs[$0]?.isNull == false }) {
            throw ModelConfigError("\(context): the call argument \"\(key)\" is not supported; remove it")
        }
        guard arguments.count == 1 else {
            throw ModelConfigError("\(context) is called with \(arguments.count) positional arguments; lrt's layers take one tensor or one list of tensors")
        }
        let tensors = arguments[0].arrayValue ?? [arguments[0]]
        return try tensors.map { tensor in
            guard tensor["class_name"]?.stringValue == "__keras_tensor__", let history = tensor["config"]?["keras_history"] else {
                throw ModelConfigError("\(context): argument \(tensor.serialized.prefix(200)) is not a Keras tensor")
            }
            return try reference(history, context: context)
        }
    }
}

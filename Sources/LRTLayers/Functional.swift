import LRTTensor

/// A directed acyclic graph of layers with one input and one output (Keras's Functional API):
/// residual blocks, branches and their merges.
///
/// Tensors are numbered: 0 is the model's input, `k + 1` the output of ``nodes``[k]. Every layer
/// is called once (Keras's shared layers, one layer called on several tensors, are refused when
/// the config is read), so each layer keeps what its backward pass needs on itself, as in
/// ``Sequential``. A tensor consumed by several layers receives the sum of their gradients.
public final class Functional: Model {
    /// One call of a layer on earlier tensors.
    public struct Node {
        public let layer: Layer
        /// The tensors the layer takes, in call order (0: the model's input; `k + 1`: node k's output).
        public let inputs: [Int]

        public init(layer: Layer, inputs: [Int]) {
            self.layer = layer
            self.inputs = inputs
        }
    }

    public let name: String
    public var className: String { "Functional" }
    public let inputShape: [Int]
    /// The name of the model's `InputLayer`.
    public let inputName: String
    /// The calls in an order in which every tensor is made before it is used; the last one makes the output.
    public let nodes: [Node]
    public let layers: [Layer]
    public private(set) var parameters: [Parameter] = []
    public let weights: [Parameter]
    public let inferenceReplicas = InferenceReplicas()
    public private(set) var parameterGroups: [(layerName: String, parameters: [Parameter])] = []
    public var frozenLayers: Set<String> = [] {
        didSet { prepareTraining() }
    }
    public let outputsProbabilities: Bool
    public var weightScope: String? { nil }
    public var layerInputs: [[String]]? { nodes.map { $0.inputs.map(layerName(ofTensor:)) } }

    /// The merge layers by node (nil for single-input layers), cast once.
    private let mergeLayers: [MergeLayer?]
    /// How many calls take each tensor: forward releases a tensor after its last use.
    private let consumerCounts: [Int]
    /// Whether the gradient at each tensor is needed: a trained layer made it or precedes it.
    private var needsGradient: [Bool] = []
    /// Sums for tensors that several layers consume, kept between steps so that backward allocates nothing.
    private var gradientSums: [Tensor]

    /// - Parameters:
    ///   - name: the model's name.
    ///   - inputName: the name of its `InputLayer`.
    ///   - inputShape: one example's input shape.
    ///   - nodes: the calls, each taking only earlier tensors; the last one's output is the model's.
    /// - Precondition: layer names are unique, each layer is called once, inputs refer to earlier
    ///   tensors, every tensor leads to the output and shapes agree (``ModelConfig`` checks all of it).
    public init(name: String, inputName: String = "input_layer", inputShape: [Int], nodes: [Node]) {
        precondition(!nodes.isEmpty, "a Functional model needs at least one layer")
        for (index, node) in nodes.enumerated() {
            precondition(node.inputs.allSatisfy { $0 >= 0 && $0 <= index }, "node \(index) takes a tensor made after it")
        }
        let nodes = Self.inKerasOrder(nodes)
        self.name = name
        self.inputName = inputName
        self.inputShape = inputShape
        self.nodes = nodes
        self.layers = nodes.map(\.layer)
        self.weights = layers.flatMap(\.weights)
        self.mergeLayers = layers.map { $0 as? MergeLayer }

        var consumers = [Int](repeating: 0, count: nodes.count + 1)
        for node in nodes {
            for input in node.inputs { consumers[input] += 1 }
        }
        consumers[nodes.count] += 1  // the model's output
        self.consumerCounts = consumers
        self.gradientSums = Array(repeating: .empty, count: nodes.count + 1)

        if let last = nodes.last?.layer as? SoftmaxEndingLayer, last.endsInSoftmax {
            last.emitsLogits = true
            outputsProbabilities = true
        } else {
            outputsProbabilities = false
        }
        prepareTraining()
    }

    /// Sets what training touches from ``frozenLayers``: the trained parameters, and the tensors whose
    /// gradient is needed (a trained layer made them or precedes them).
    private func prepareTraining() {
        Self.markFrozen(layers, frozenLayers)
        parameters = layers.filter(isTrained).flatMap(\.parameters)
        parameterGroups = Self.parameterGroups(of: layers, frozen: frozenLayers)
        var needsGradient = [false]
        for node in nodes {
            let upstreamTrains = node.inputs.contains { needsGradient[$0] }
            // Nobody needs the gradient at the input of a layer that no trained layer precedes.
            (node.layer as? InputGradientSkipping)?.computesInputGradient = upstreamTrains
            needsGradient.append(upstreamTrains || isTrained(node.layer))
        }
        self.needsGradient = needsGradient
    }

    public var outputShape: [Int] { nodes.last!.layer.outputShape }

    /// The nodes in the order Keras 3 gives a Functional model's layers (`model.layers`, and so the
    /// order of `model_config` and of the weights Keras loads from `.h5` files by position):
    /// farthest from the output first, ties in the order a depth-first walk from the output,
    /// inputs in call order, first reaches them.
    /// - Parameter nodes: in any order in which inputs come first; the last one makes the output.
    private static func inKerasOrder(_ nodes: [Node]) -> [Node] {
        // Depth: the longest path to the output. The order is topological, so walking it backwards
        // finishes each node's depth before passing it on.
        var depth = [Int](repeating: 0, count: nodes.count + 1)
        for index in stride(from: nodes.count, through: 1, by: -1) {
            for input in nodes[index - 1].inputs where input > 0 { depth[input] = max(depth[input], depth[index] + 1) }
        }
        var visitOrder = [Int](repeating: -1, count: nodes.count + 1)
        var visited = 0
        func visit(_ tensor: Int) {
            guard tensor > 0, visitOrder[tensor] < 0 else { return }
            visitOrder[tensor] = visited
            visited += 1
            for input in nodes[tensor - 1].inputs { visit(input) }
        }
        visit(nodes.count)
        let order = (1...nodes.count).sorted { (depth[$0], -visitOrder[$0]) > (depth[$1], -visitOrder[$1]) }
        var newIndex = [Int](repeating: 0, count: nodes.count + 1)  // old tensor → new tensor; the input stays 0
        for (position, tensor) in order.enumerated() { newIndex[tensor] = position + 1 }
        return order.map { Node(layer: nodes[$0 - 1].layer, inputs: nodes[$0 - 1].inputs.map { newIndex[$0] }) }
    }

    /// The shape of tensor `index` for one example.
    func shape(ofTensor index: Int) -> [Int] { index == 0 ? inputShape : nodes[index - 1].layer.outputShape }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        var tensors = [Tensor?](repeating: nil, count: nodes.count + 1)
        var remaining = consumerCounts
        tensors[0] = input
        // Release inputs nobody else takes, so that their layers can reuse the buffers next step.
        func release(_ inputs: [Int]) {
            for tensor in inputs {
                remaining[tensor] -= 1
                if remaining[tensor] == 0 { tensors[tensor] = nil }
            }
        }
        var index = 0
        while index < nodes.count {
            let node = nodes[index]
            // Node index's output (tensor index + 1) going to node index + 1 alone: the two may run as one.
            if mergeLayers[index] == nil, index + 1 < nodes.count, mergeLayers[index + 1] == nil,
               consumerCounts[index + 1] == 1, nodes[index + 1].inputs == [index + 1],
               let fused = InferenceFusion.forward(node.layer, then: nodes[index + 1].layer, tensors[node.inputs[0]]!, context: &context) {
                release(node.inputs)
                tensors[index + 2] = fused
                index += 2
                continue
            }
            let output = mergeLayers[index].map { $0.forward(node.inputs.map { tensors[$0]! }, context: &context) }
                ?? node.layer.forward(tensors[node.inputs[0]]!, context: &context)
            release(node.inputs)
            tensors[index + 1] = output
            index += 1
        }
        return tensors[nodes.count]!
    }

    public func backward(_ logitsGradient: Tensor) {
        var gradients = [Tensor?](repeating: nil, count: nodes.count + 1)
        var summed = [Bool](repeating: false, count: nodes.count + 1)
        gradients[nodes.count] = logitsGradient
        for index in nodes.indices.reversed() {
            let node = nodes[index]
            guard needsGradient[index + 1], let outputGradient = gradients[index + 1] else { continue }
            gradients[index + 1] = nil
            let inputGradients = mergeLayers[index].map { $0.backward(outputGradient) } ?? [node.layer.backward(outputGradient)]
            for (position, tensor) in node.inputs.enumerated() where needsGradient[tensor] {
                accumulate(inputGradients[position], at: tensor, gradients: &gradients, summed: &summed)
            }
        }
    }

    /// Elements of a gradient sum per shard: a few tens of microseconds of work.
    private let minimumShardElements = Parallel.minimumShardSize(workPerItem: 2)

    /// Adds `gradient` to the gradient collected for `tensor`: the first one is kept as it is, a
    /// second one starts a sum in ``gradientSums``.
    private func accumulate(_ gradient: Tensor, at tensor: Int, gradients: inout [Tensor?], summed: inout [Bool]) {
        guard let existing = gradients[tensor] else {
            gradients[tensor] = gradient
            return
        }
        gradients[tensor] = nil  // so that the sum's storage is not shared while it is written
        if !summed[tensor] {
            if gradientSums[tensor].count != existing.count { gradientSums[tensor] = Tensor(shape: existing.shape) }
            gradientSums[tensor].reshape(existing.shape)
            gradientSums[tensor].withUnsafeMutableBufferPointer { sums in
                existing.withUnsafeBufferPointer { first in
                    gradient.withUnsafeBufferPointer { second in
                        let sums = sums.baseAddress!, first = first.baseAddress!, second = second.baseAddress!
                        Parallel.forEachShard(count: existing.count, minimumSize: minimumShardElements) { _, elements in
                            for element in elements { sums[element] = first[element] + second[element] }
                        }
                    }
                }
            }
            summed[tensor] = true
        } else {
            gradientSums[tensor].withUnsafeMutableBufferPointer { sums in
                gradient.withUnsafeBufferPointer { gradients in
                    let sums = sums.baseAddress!, gradients = gradients.baseAddress!
                    Parallel.forEachShard(count: gradient.count, minimumSize: minimumShardElements) { _, elements in
                        addElements(gradients + elements.lowerBound, into: sums + elements.lowerBound, count: elements.count)
                    }
                }
            }
        }
        gradients[tensor] = gradientSums[tensor]
    }

    /// The tensor names Keras uses in `inbound_nodes`: the input layer's, or the producing layer's.
    private func layerName(ofTensor index: Int) -> String { index == 0 ? inputName : nodes[index - 1].layer.name }

    /// Keras 3's reference to a tensor: `{"class_name": "__keras_tensor__", "config": {shape, dtype, keras_history}}`.
    private func kerasTensor(_ index: Int) -> JSONValue {
        .object([
            ("class_name", .string("__keras_tensor__")),
            ("config", .object([
                ("shape", .array([.null] + shape(ofTensor: index).map { .number(Double($0)) })),
                ("dtype", .string("float32")),
                ("keras_history", .array([.string(layerName(ofTensor: index)), .number(0), .number(0)])),
            ])),
        ])
    }

    /// The Keras 3 `model_config` of this model (the node format of `model.to_json()`).
    public var config: JSONValue {
        let inputLayer: JSONValue = .object([
            ("class_name", .string("InputLayer")), ("config", inputLayerConfig(name: inputName, shape: inputShape)),
            ("name", .string(inputName)), ("inbound_nodes", .array([])),
        ])
        let layerEntries = nodes.enumerated().map { index, node -> JSONValue in
            let arguments = mergeLayers[index] == nil ? kerasTensor(node.inputs[0]) : .array(node.inputs.map(kerasTensor))
            let inputShapes = node.inputs.map { JSONValue.array([.null] + shape(ofTensor: $0).map { .number(Double($0)) }) }
            return .object([
                ("class_name", .string(node.layer.className)),
                ("config", layerConfig(of: node.layer, frozen: frozenLayers.contains(node.layer.name))),
                ("build_config", .object([("input_shape", inputShapes.count == 1 ? inputShapes[0] : .array(inputShapes))])),
                ("name", .string(node.layer.name)),
                ("inbound_nodes", .array([.object([("args", .array([arguments])), ("kwargs", .object([]))])])),
            ])
        }
        return .object([
            ("class_name", .string("Functional")),
            ("config", .object([
                ("name", .string(name)), ("trainable", .bool(true)),
                ("layers", .array([inputLayer] + layerEntries)),
                ("input_layers", .array([.string(inputName), .number(0), .number(0)])),
                ("output_layers", .array([.string(layerName(ofTensor: nodes.count)), .number(0), .number(0)])),
            ])),
        ])
    }
}

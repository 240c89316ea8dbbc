import LRTTensor

/// A layer that can leave out the gradient at its input, which costs as much as
/// its kernel gradient and is wasted when no trainable layer precedes it.
public protocol InputGradientSkipping: Layer {
    /// When false, `backward` sets the parameter gradients only and returns an empty tensor.
    var computesInputGradient: Bool { get set }
}

/// A stack of layers applied in order (Keras `Sequential`).
public final class Sequential: Model {
    public let name: String
    public var className: String { "Sequential" }
    public let inputShape: [Int]
    public let layers: [Layer]
    public private(set) var parameters: [Parameter] = []
    public let weights: [Parameter]
    public let outputsProbabilities: Bool
    public let inferenceReplicas = InferenceReplicas()
    /// Made once per ``frozenLayers``: the optimizer asks for them at every step.
    public private(set) var parameterGroups: [(layerName: String, parameters: [Parameter])] = []
    public var frozenLayers: Set<String> = [] {
        didSet { prepareTraining() }
    }
    /// Backpropagation stops at this layer: every layer before it is weightless or frozen.
    private var firstTrainableIndex = 0

    /// - Precondition: layer names are unique and shapes chain (``ModelConfig`` checks both).
    public init(name: String, inputShape: [Int], layers: [Layer]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.weights = layers.flatMap(\.weights)
        if let last = layers.last as? SoftmaxEndingLayer, last.endsInSoftmax {
            last.emitsLogits = true
            outputsProbabilities = true
        } else {
            outputsProbabilities = false
        }
        prepareTraining()
    }

    /// Sets what training touches from ``frozenLayers``: the trained parameters, and where backpropagation stops.
    private func prepareTraining() {
        Self.markFrozen(layers, frozenLayers)
        parameters = layers.filter(isTrained).flatMap(\.parameters)
        parameterGroups = Self.parameterGroups(of: layers, frozen: frozenLayers)
        firstTrainableIndex = layers.firstIndex(where: isTrained) ?? layers.count
        for (index, layer) in layers.enumerated() {
            // Nobody needs the gradient at the input of the first trained layer.
            (layer as? InputGradientSkipping)?.computesInputGradient = index != firstTrainableIndex
        }
    }

    public var outputShape: [Int] { layers.last?.outputShape ?? inputShape }
    public var weightScope: String? { name }
    public var layerInputs: [[String]]? { nil }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        var activations = input
        var index = layers.startIndex
        while index < layers.endIndex {
            if index + 1 < layers.endIndex,
               let fused = InferenceFusion.forward(layers[index], then: layers[index + 1], activations, context: &context) {
                activations = fused
                index += 2
            } else {
                activations = layers[index].forward(activations, context: &context)
                index += 1
            }
        }
        return activations
    }

    public func backward(_ logitsGradient: Tensor) {
        var gradient = logitsGradient
        for layer in layers[firstTrainableIndex...].reversed() {
            gradient = layer.backward(gradient)
        }
    }

    public var config: JSONValue {
        let inputLayer: JSONValue = .object([
            ("class_name", .string("InputLayer")), ("config", inputLayerConfig(name: "input_layer", shape: inputShape)),
        ])
        let layerConfigs = layers.map { layer -> JSONValue in
            .object([("class_name", .string(layer.className)), ("config", layerConfig(of: layer, frozen: frozenLayers.contains(layer.name)))])
        }
        // The shape of Keras 3's legacy `model_config` (no "module" keys, as `model.save("x.h5")` writes).
        return .object([
            ("class_name", .string("Sequential")),
            ("config", .object([
                ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                ("layers", .array([inputLayer] + layerConfigs)),
                ("build_input_shape", .array([.null] + inputShape.map { .number(Double($0)) })),
            ])),
        ])
    }
}

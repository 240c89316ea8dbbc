import Foundation
import LRTTensor

/// A layer that can leave out the gradient at its input, which costs as much as
/// its kernel gradient and is wasted when no trainable layer precedes it.
public protocol InputGradientSkipping: Layer {
    /// When false, `backward` sets the parameter gradients only and returns an empty tensor.
    var computesInputGradient: Bool { get set }
}

/// A stack of layers applied in order (Keras `Sequential`).
///
/// When the last layer ends in a softmax, training runs the stack up to the
/// logits and uses the fused ``SoftmaxCrossEntropy``; ``predict(_:)`` applies
/// the softmax. Otherwise the output is taken as logits.
public final class Sequential {
    /// The model name (`mlp`); Keras uses it in weight paths (`mlp/dense/kernel`).
    public let name: String
    /// One example's input shape, without the batch axis (`[8, 8, 1]`).
    public let inputShape: [Int]
    public let layers: [Layer]
    /// Every trainable weight, in layer order, each named by its path.
    public let parameters: [Parameter]
    /// Every stored weight (trainable or not), in layer order: what files hold.
    public let weights: [Parameter]
    /// Whether ``predict(_:)`` applies a softmax that ``forward(_:context:)`` leaves out.
    public let outputsProbabilities: Bool
    /// Backpropagation stops at this layer: every layer before it is weightless.
    private let firstTrainableIndex: Int
    /// Examples per slice in ``infer(_:)``: the largest activation of a slice is about 2 MB per core.
    private let inferenceSlice: Int
    private var sliceInput = Tensor(shape: [0])  // [inferenceSlice, …inputShape]

    /// Floats of one layer's output per core in an ``infer(_:)`` slice: small enough to stay
    /// in cache, large enough that waking the cores for each layer costs little (measured
    /// on cnn-mnist: 2^19 beats both 2^17 and no slicing by about 10%).
    static let inferenceSliceElements = 1 << 19

    /// - Precondition: layer names are unique and shapes chain (``ModelConfig`` checks both).
    public init(name: String, inputShape: [Int], layers: [Layer]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.parameters = layers.flatMap(\.parameters)
        self.weights = layers.flatMap(\.weights)
        self.parameterGroups = layers.filter { !$0.parameters.isEmpty }.map { ($0.name, $0.parameters) }
        firstTrainableIndex = layers.firstIndex { !$0.parameters.isEmpty } ?? layers.count
        let largestActivation = ([inputShape] + layers.map(\.outputShape)).map { $0.reduce(1, *) }.max() ?? 1
        inferenceSlice = max(8, Parallel.shardCount * Sequential.inferenceSliceElements / max(largestActivation, 1))
        if firstTrainableIndex < layers.count, let first = layers[firstTrainableIndex] as? InputGradientSkipping {
            first.computesInputGradient = false  // nobody needs the gradient at the input
        }
        if let last = layers.last as? SoftmaxEndingLayer, last.endsInSoftmax {
            last.emitsLogits = true
            outputsProbabilities = true
        } else {
            outputsProbabilities = false
        }
    }

    /// One example's output shape (`[classes]`).
    public var outputShape: [Int] { layers.last?.outputShape ?? inputShape }

    /// The layers that have parameters, with them: the paper's layer-wise rate gives each one multiplier.
    /// (Made once: the optimizer asks for them at every step.)
    public let parameterGroups: [(layerName: String, parameters: [Parameter])]

    /// The total number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// The parameter at `path`, or nil.
    public func parameter(at path: String) -> Parameter? { parameters.first { $0.path == path } }

    /// - Parameters:
    ///   - input: `[batch, …inputShape]`.
    ///   - context: training or inference, and the run's generator (advanced by layers that draw from it).
    /// - Returns: `[batch, …outputShape]` logits.
    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        var activations = input
        for layer in layers { activations = layer.forward(activations, context: &context) }
        return activations
    }

    /// Inference-mode logits: `[batch, …inputShape]` → `[batch, …outputShape]`.
    ///
    /// A large batch goes through the whole stack a slice at a time, so that each
    /// slice's activations are still in cache when the next layer reads them (a
    /// batch of 1000 MNIST images makes 86 MB of first-layer activations). In
    /// inference every example is computed on its own, so the result is the same.
    public func infer(_ input: Tensor) -> Tensor {
        let exampleSize = inputShape.reduce(1, *), outputSize = outputShape.reduce(1, *)
        let batch = input.count / max(exampleSize, 1)
        var context = ForwardContext.inference
        context.weightsVersion = InferenceCalls.shared.next()  // nothing changes the weights during this call
        guard batch > 2 * inferenceSlice else { return forward(input, context: &context) }
        var result = Tensor(shape: [batch] + outputShape)
        if sliceInput.count != inferenceSlice * exampleSize { sliceInput = Tensor(shape: [inferenceSlice] + inputShape) }
        for start in stride(from: 0, to: batch, by: inferenceSlice) {
            // The last slice is padded with zeros to the full size, so that no layer resizes its buffers.
            let count = min(inferenceSlice, batch - start)
            sliceInput.storage.withUnsafeMutableBufferPointer { slice in
                let filled = slice.update(fromContentsOf: input.storage[start * exampleSize..<(start + count) * exampleSize])
                UnsafeMutableBufferPointer(rebasing: slice[filled...]).update(repeating: 0)
            }
            let output = forward(sliceInput, context: &context)  // [inferenceSlice, …outputShape]
            result.storage.withUnsafeMutableBufferPointer { results in
                _ = UnsafeMutableBufferPointer(rebasing: results[start * outputSize..<(start + count) * outputSize])
                    .update(fromContentsOf: output.storage[0..<count * outputSize])
            }
        }
        return result
    }

    /// Backpropagates the loss gradient at the logits, setting every parameter's gradient.
    /// - Parameter logitsGradient: `[batch, …outputShape]`.
    public func backward(_ logitsGradient: Tensor) {
        var gradient = logitsGradient
        for layer in layers[firstTrainableIndex...].reversed() {
            gradient = layer.backward(gradient)
        }
    }

    /// Class probabilities (or raw outputs when the model does not end in a softmax).
    /// - Parameter input: `[batch, …inputShape]`.
    /// - Returns: `[batch, …outputShape]`.
    public func predict(_ input: Tensor) -> Tensor {
        var output = infer(input)
        if outputsProbabilities { Activation.softmax.apply(&output, width: outputShape.last ?? 1) }
        return output
    }

    /// The Keras `model_config` of this model.
    public var config: JSONValue {
        let inputLayer: JSONValue = .object([
            ("class_name", .string("InputLayer")),
            ("config", .object([
                ("batch_shape", .array([.null] + inputShape.map { .number(Double($0)) })),
                ("dtype", .string("float32")), ("sparse", .bool(false)), ("ragged", .bool(false)),
                ("name", .string("input_layer")),
            ])),
        ])
        let layerConfigs = layers.map { layer -> JSONValue in
            .object([("class_name", .string(layer.className)), ("config", layer.config)])
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

/// Numbers ``Sequential/infer(_:)`` calls across the process, for ``ForwardContext/weightsVersion``:
/// unique even when models share a layer.
private final class InferenceCalls: @unchecked Sendable {  // the count is guarded by the lock
    static let shared = InferenceCalls()
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
}

import Foundation
import LRTTensor

/// A network of layers over named parameters (Keras `Model`): ``Sequential`` (a stack) and
/// ``Functional`` (a directed acyclic graph) conform. The trainer, evaluation, checkpoints and
/// prediction see only this protocol.
///
/// When the output layer ends in a softmax, ``forward(_:context:)`` stops before it and returns
/// logits, so that training can use the fused ``SoftmaxCrossEntropy``; ``predict(_:)`` applies it.
public protocol Model: AnyObject {
    /// The model name (`mlp`).
    var name: String { get }
    /// The Keras class name written in `model_config` (`Sequential`, `Functional`).
    var className: String { get }
    /// One example's input shape, without the batch axis (`[8, 8, 1]`).
    var inputShape: [Int] { get }
    /// One example's output shape (`[classes]`).
    var outputShape: [Int] { get }
    /// Every layer, in an order in which each one's inputs come before it (Keras's `model.layers`).
    var layers: [Layer] { get }
    /// Every weight the optimizer trains, in layer order, each named by its path: the trainable
    /// weights of the layers that are not frozen.
    var parameters: [Parameter] { get }
    /// Every stored weight (trainable or not), in layer order: what files hold.
    var weights: [Parameter] { get }
    /// The layers that are trained (not frozen) and have parameters, with them: the paper's layer-wise rate
    /// gives each one multiplier; weight decay and telemetry see only these.
    var parameterGroups: [(layerName: String, parameters: [Parameter])] { get }
    /// The names of the frozen layers (Keras's `"trainable": false`): their weights get no update and, where
    /// the layer allows (``Freezable``), no gradient; a frozen BatchNormalization runs in inference mode.
    /// Written as `"trainable": false` in ``config``. Setting it recomputes ``parameters`` and ``parameterGroups``.
    /// - Precondition: every name is one of ``layers``.
    var frozenLayers: Set<String> { get set }
    /// Whether ``predict(_:)`` applies a softmax that ``forward(_:context:)`` leaves out.
    var outputsProbabilities: Bool { get }
    /// The Keras `model_config` of this model.
    var config: JSONValue { get }
    /// What Keras 3 puts before a layer's name in the paths of its weights in `.h5` files: the
    /// model's name for a Sequential model (`mlp/dense/kernel`), nothing for a Functional one.
    var weightScope: String? { get }
    /// For each layer, the names of the layers (or the input) whose outputs it takes (Keras's
    /// "Connected to"); nil for a Sequential model, where each layer takes the previous one's.
    var layerInputs: [[String]]? { get }
    /// The copies of this model that ``infer(_:)`` runs on the other cores, made when first needed.
    var inferenceReplicas: InferenceReplicas { get }

    /// - Parameters:
    ///   - input: `[batch, …inputShape]`.
    ///   - context: training or inference, and the run's generator (advanced by layers that draw from it).
    /// - Returns: `[batch, …outputShape]` logits.
    func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor

    /// Backpropagates the loss gradient at the logits of the last training forward, adding every
    /// parameter's gradient into ``Parameter/gradient`` (``zeroGradients()`` clears them first).
    /// - Parameter logitsGradient: `[batch, …outputShape]`.
    func backward(_ logitsGradient: Tensor)
}

extension Model {
    /// The total number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Makes every gradient zero, frozen layers' too; the training step calls it once before ``backward(_:)``.
    public func zeroGradients() {
        for layer in layers { for parameter in layer.parameters { parameter.zeroGradient() } }
    }

    /// Inference-mode logits: `[batch, …inputShape]` → `[batch, …outputShape]`.
    ///
    /// A large batch is split into one contiguous part per core, and each core takes its part through
    /// the whole network on a copy of the model of its own (``InferenceReplicas``, the same weights),
    /// a slice at a time, so that each slice's activations are still in that core's cache when the next
    /// layer reads them (a batch of 1000 MNIST images makes 86 MB of first-layer activations) and the
    /// cores never wait for each other between layers. In inference every example is computed on its
    /// own, so the result is the same.
    public func infer(_ input: Tensor) -> Tensor {
        let batch = input.count / max(inputShape.reduce(1, *), 1)
        var context = ForwardContext.inference
        context.weightsVersion = InferenceCalls.shared.next()  // nothing changes the weights during this call
        let largestActivation = ([inputShape] + layers.map(\.outputShape)).map { $0.reduce(1, *) }.max() ?? 1
        let slice = max(8, inferenceSliceElements / max(largestActivation, 1))  // examples per core and slice
        guard batch > 2 * slice else { return forward(input, context: &context) }
        let models = inferenceReplicas.models(count: Parallel.shardCount(for: batch, minimumSize: slice), of: self)
        var result = Tensor(shape: [batch] + outputShape)
        input.withUnsafeBufferPointer { inputs in
            result.withUnsafeMutableBufferPointer { results in
                guard models.count > 1 else {
                    // One model: every layer splits each slice across the cores, so a slice holds each core's share.
                    infer(inputs, 0..<batch, slice: Parallel.shardCount * slice, context: &context, into: results)
                    return
                }
                Parallel.forEachShard(count: batch, minimumSize: slice) { shard, examples in  // one shard per model
                    var shardContext = context
                    models[shard].infer(inputs, examples, slice: slice, context: &shardContext, into: results)
                }
            }
        }
        return result
    }

    /// Inference of `examples` of `inputs`, a slice of `slice` examples at a time, into the same examples of `results`.
    /// - Parameters:
    ///   - inputs: `[batch, …inputShape]`.
    ///   - results: `[batch, …outputShape]`.
    private func infer(_ inputs: UnsafeBufferPointer<Float>, _ examples: Range<Int>, slice: Int,
                       context: inout ForwardContext, into results: UnsafeMutableBufferPointer<Float>) {
        let exampleSize = inputShape.reduce(1, *), outputSize = outputShape.reduce(1, *)
        var sliceInput = Tensor(shape: [slice] + inputShape)
        for start in stride(from: examples.lowerBound, to: examples.upperBound, by: slice) {
            // The last slice is padded with zeros to the full size, so that no layer resizes its buffers.
            let count = min(slice, examples.upperBound - start)
            sliceInput.storage.withUnsafeMutableBufferPointer { sliceValues in
                let filled = sliceValues.update(fromContentsOf: inputs[start * exampleSize..<(start + count) * exampleSize])
                UnsafeMutableBufferPointer(rebasing: sliceValues[filled...]).update(repeating: 0)
            }
            let output = forward(sliceInput, context: &context)  // [slice, …outputShape]
            _ = UnsafeMutableBufferPointer(rebasing: results[start * outputSize..<(start + count) * outputSize])
                .update(fromContentsOf: output.storage[0..<count * outputSize])
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

    /// The layers that have trainable parameters and are not in `frozen`, with them, in layer order.
    static func parameterGroups(of layers: [Layer], frozen: Set<String>) -> [(layerName: String, parameters: [Parameter])] {
        layers.filter { !$0.parameters.isEmpty && !frozen.contains($0.name) }.map { ($0.name, $0.parameters) }
    }

    /// Tells each ``Freezable`` layer whether it is in `frozen`.
    /// - Precondition: every name in `frozen` is a layer's.
    static func markFrozen(_ layers: [Layer], _ frozen: Set<String>) {
        let names = Set(layers.map(\.name))
        precondition(frozen.isSubset(of: names), "frozen layers \(frozen.subtracting(names).sorted()) are not in the model")
        for case let layer as Freezable in layers { layer.frozen = frozen.contains(layer.name) }
    }

    /// Whether `layer` is trained: it has parameters and is not frozen.
    func isTrained(_ layer: Layer) -> Bool { !layer.parameters.isEmpty && !frozenLayers.contains(layer.name) }
}

/// Floats of one layer's output per core in an ``Model/infer(_:)`` slice: small enough to stay in
/// cache, large enough that each layer's call costs little beside its work (measured on cnn-mnist:
/// 2^19 beats both 2^17 and no slicing by about 10%).
let inferenceSliceElements = 1 << 19

/// Copies of a model for ``Model/infer(_:)``'s cores: layers keep their buffers on themselves, so two
/// cores cannot run one model at once. Each copy is built from the model's config and shares its
/// weights' storage (copied only if written); the weights are shared again at every call, so a copy
/// always computes with the model's current weights. A model whose copy cannot be built (its config
/// does not rebuild it exactly), or every model with `LRT_INFERENCE_COPIES=off`, runs on one model,
/// each layer split across the cores.
public final class InferenceReplicas {
    /// The environment variable that keeps inference on one model (`LRT_INFERENCE_COPIES=off`), to compare the two.
    public static let environmentVariable = "LRT_INFERENCE_COPIES"
    /// Whether ``Model/infer(_:)`` runs copies of the model on the other cores: unless `LRT_INFERENCE_COPIES` is `off`.
    public static let isEnabled = ProcessInfo.processInfo.environment[environmentVariable]?.lowercased() != "off"

    private var copies: [any Model] = []
    /// Whether this model's inference may run on copies: ``isEnabled`` unless a copy could not be built.
    var usesCopies = InferenceReplicas.isEnabled

    public init() {}

    /// `model` and `count - 1` copies of it, with its current weights; `model` alone when it runs on one model.
    func models(count: Int, of model: any Model) -> [any Model] {
        guard count > 1, usesCopies else { return [model] }
        while copies.count < count - 1 {
            var generator = SeededGenerator(seed: 0)  // the initial weights are replaced below
            guard let copy = try? ModelConfig.build(json: model.config, generator: &generator),
                  copy.weights.map(\.value.shape) == model.weights.map(\.value.shape) else {
                usesCopies = false
                return [model]
            }
            copies.append(copy)
        }
        for copy in copies.prefix(count - 1) {
            for (copied, original) in zip(copy.weights, model.weights) { copied.value = original.value }
        }
        return [model] + copies.prefix(count - 1)
    }
}

/// A layer's config as a model writes it: `"trainable": false` for a frozen layer, so Keras loads it frozen too.
func layerConfig(of layer: Layer, frozen: Bool) -> JSONValue {
    let config = layer.config
    guard frozen, case .object(var members) = config else { return config }
    if let index = members.firstIndex(where: { $0.key == "trainable" }) {
        members[index].value = .bool(false)
    } else {
        members.insert((key: "trainable", value: .bool(false)), at: min(1, members.count))
    }
    return .object(members)
}

/// The Keras `InputLayer` entry of a model config, for one example of `shape`.
func inputLayerConfig(name: String, shape: [Int]) -> JSONValue {
    .object([
        ("batch_shape", .array([.null] + shape.map { .number(Double($0)) })),
        ("dtype", .string("float32")), ("sparse", .bool(false)), ("ragged", .bool(false)),
        ("name", .string(name)),
    ])
}

/// Numbers ``Model/infer(_:)`` calls across the process, for ``ForwardContext/weightsVersion``:
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

import LRTTensor

/// One trainable weight of a model, named by its dotted path (`dense.kernel`).
///
/// The path is the parameter's name everywhere: in HDF5 files, optimizer state,
/// logs and error messages.
public final class Parameter {
    /// `<layer>.<weight>`, e.g. `dense.kernel`.
    public let path: String
    /// The Keras name of the layer that owns it, e.g. `dense`.
    public let layerName: String
    /// The weight's own name, e.g. `kernel`.
    public let weightName: String
    /// The current value.
    public var value: Tensor
    /// The loss gradient summed over every `backward` since the last ``zeroGradient()``; same shape
    /// as ``value`` (empty for weights that are not trained, such as BatchNormalization's moving
    /// statistics). Layers add into it, so a weight used twice receives both contributions.
    public var gradient: Tensor {
        _read {
            materializeZeroGradient()
            yield storedGradient
        }
        _modify {
            materializeZeroGradient()
            yield &storedGradient
        }
    }
    /// Whether the optimizer updates it (Keras's trainable vs. non-trainable weights).
    public let trainable: Bool

    private var storedGradient: Tensor
    /// Set by ``zeroGradient()``: the gradient is zero, but its storage has not been cleared yet, so
    /// that the first contribution of a step can be written instead of added (no extra pass).
    private var gradientIsPendingZero = false

    public init(layerName: String, weightName: String, value: Tensor, trainable: Bool = true) {
        self.path = "\(layerName).\(weightName)"
        self.layerName = layerName
        self.weightName = weightName
        self.value = value
        self.trainable = trainable
        self.storedGradient = Tensor(shape: trainable ? value.shape : [0])
    }

    /// Makes the gradient zero (the training step calls it once, before `backward`); costs nothing
    /// until the gradient is next used.
    public func zeroGradient() { gradientIsPendingZero = true }

    /// Adds a contribution computed by a kernel that can either write or add its result:
    /// `body(gradient, overwrite)` must write the contribution when `overwrite` is true (the
    /// gradient is zero, its storage stale) and add it otherwise.
    /// - Parameter body: receives the gradient's storage, shaped like ``value``.
    public func accumulateGradient<Result>(_ body: (_ gradient: UnsafeMutableBufferPointer<Float>, _ overwrite: Bool) -> Result) -> Result {
        let overwrite = gradientIsPendingZero
        gradientIsPendingZero = false
        return storedGradient.withUnsafeMutableBufferPointer { body($0, overwrite) }
    }

    private func materializeZeroGradient() {
        guard gradientIsPendingZero else { return }
        gradientIsPendingZero = false
        storedGradient.zero()
    }
}

/// What a forward pass needs besides its input: the mode, and the run's seeded
/// generator for layers that draw random numbers (Dropout).
public struct ForwardContext {
    /// True when the pass is followed by `backward` (batch statistics, dropout on).
    public var training: Bool
    /// The run's generator; layers draw from it in layer order, so runs are reproducible.
    public var generator: SeededGenerator
    /// Set by ``Model/infer(_:)`` for the slices of one call, during which nothing changes
    /// the weights: a number unique in the process to that call, so that a layer may reuse
    /// weights it converted for the previous slice. Nil otherwise: the weights may have changed.
    public internal(set) var weightsVersion: Int?
    /// Training: adds BatchNormalization's per-feature sums up over the shards of a global batch (the ranks of a
    /// data-parallel run, `--sync-batch-norm`); nil (the default): each batch is normalized by its own statistics.
    public var batchStatistics: (any BatchStatisticsReducer)?
    /// Training: random streams keyed by example, from which Dropout draws each example's mask, so that an
    /// example gets the same mask whichever rank holds it; nil (the default): layers draw from ``generator``.
    public var exampleStreams: ExampleStreams?

    public init(training: Bool, generator: SeededGenerator = SeededGenerator(seed: 0)) {
        self.training = training
        self.generator = generator
    }

    /// Inference: no randomness, moving statistics.
    public static var inference: ForwardContext { ForwardContext(training: false) }
}

/// Random streams keyed by example for one training step: the generator of a layer for an example depends only on
/// the step's seed, the layer's name and the example's position in the global batch, so a data-parallel run on any
/// number of ranks draws what one process draws (as JAX folds an index into a key).
public struct ExampleStreams: Sendable, Equatable {
    /// One draw of the run's dropout stream for this step, the same on every rank.
    public var step: UInt64
    /// The position in the global batch of the batch's first example (a rank's shard starts after the others').
    public var firstExample: Int

    public init(step: UInt64, firstExample: Int) {
        self.step = step
        self.firstExample = firstExample
    }

    /// The seed of layer `layer`'s streams in this step; a layer computes it once per step.
    public func layerSeed(_ layer: String) -> UInt64 {
        SeededGenerator.derivedSeed(step, stream: layer)
    }

    /// The generator for row `row` of the batch (the global batch's example `firstExample + row`) of the layer
    /// whose ``layerSeed(_:)`` is `layerSeed`.
    public func generator(layerSeed: UInt64, row: Int) -> SeededGenerator {
        SeededGenerator(seed: SeededGenerator.derivedSeed(layerSeed, index: firstExample + row))
    }
}

/// A layer with a hand-written forward and backward pass.
///
/// `forward` caches what `backward` needs; `backward` adds the loss gradient of the layer's
/// parameters into their ``Parameter/gradient`` and returns the gradient with respect to its input.
public protocol Layer: AnyObject {
    /// The Keras layer name (`dense`, `dense_1`, …).
    var name: String { get }
    /// The Keras class name (`Dense`, `Flatten`, …).
    var className: String { get }
    /// The trainable weights in Keras's order (`kernel`, then `bias`).
    var parameters: [Parameter] { get }
    /// Every stored weight in Keras's order, trainable or not (what files hold);
    /// by default the same as ``parameters``.
    var weights: [Parameter] { get }
    /// The output shape for one example (no batch axis).
    var outputShape: [Int] { get }
    /// The layer's Keras config (the `config` object of its `model_config` entry).
    var config: JSONValue { get }

    /// - Parameters:
    ///   - input: `[batch, …inputShape]`.
    ///   - context: the mode (`training`: followed by `backward`, so cache what it needs) and the run's generator.
    /// - Returns: `[batch, …outputShape]`.
    func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor

    /// - Parameter outputGradient: `[batch, …outputShape]`, the loss gradient at this layer's output.
    /// - Returns: `[batch, …inputShape]`, the loss gradient at its input.
    func backward(_ outputGradient: Tensor) -> Tensor
}

extension Layer {
    public var weights: [Parameter] { parameters }
}

/// A layer whose output ends in a softmax that training can leave out, so the
/// loss is computed from logits by the fused, stable softmax cross-entropy.
public protocol SoftmaxEndingLayer: Layer {
    /// True when the last step of `forward` is a softmax over the last axis.
    var endsInSoftmax: Bool { get }
    /// When true, `forward` stops before the softmax and returns logits.
    var emitsLogits: Bool { get set }
}

/// A layer with several inputs (Keras's merge layers: `Add`, `Concatenate`, …).
///
/// The single-input ``Layer/forward(_:context:)`` and ``Layer/backward(_:)`` do not apply to it;
/// a ``Functional`` model calls the forms below.
public protocol MergeLayer: Layer {
    /// One example's shape for each input, in call order.
    var inputShapes: [[Int]] { get }

    /// - Parameter inputs: `[batch, …inputShapes[i]]` each, in call order.
    /// - Returns: `[batch, …outputShape]`.
    func forward(_ inputs: [Tensor], context: inout ForwardContext) -> Tensor

    /// - Parameter outputGradient: `[batch, …outputShape]`.
    /// - Returns: the loss gradient at each input, `[batch, …inputShapes[i]]`, in call order.
    func backward(_ outputGradient: Tensor) -> [Tensor]
}

extension MergeLayer {
    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        preconditionFailure("\(className) '\(name)' takes \(inputShapes.count) inputs; call forward(_ inputs:context:)")
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        preconditionFailure("\(className) '\(name)' takes \(inputShapes.count) inputs; call backward(_:) -> [Tensor]")
    }
}

/// A layer that behaves differently when frozen (Keras's `trainable = False`, `lrt finetune --freeze`).
///
/// A model sets ``frozen`` for each layer it freezes (``Model/frozenLayers``). A frozen layer's weights
/// get no update in any case (the model leaves them out of ``Model/parameters``); a layer conforming
/// here also does less work or changes its mode.
public protocol Freezable: Layer {
    /// Frozen: `backward` returns the input gradient only, leaving the parameter gradients alone;
    /// a BatchNormalization also runs in inference mode in training (moving statistics, not updated), as in Keras.
    var frozen: Bool { get set }
}

/// A layer class that can be built from its Keras config (Keras's `from_config`); its writer is
/// the layer's ``Layer/config``, in the same file. ``LayerRegistry`` lists every such class once.
protocol KerasLayer: Layer {
    /// The Keras class names this type reads (`["MaxPooling2D"]`); ``LayerOptions/className`` says which one.
    static var kerasClassNames: [String] { get }

    /// Builds the layer from its config.
    /// - Parameters:
    ///   - options: the layer's config; every key read is marked, so that unknown ones can be refused.
    ///   - inputShapes: one example's shape for each input (one entry for single-input layers).
    ///   - generator: the run's generator, for initial weights.
    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer
}

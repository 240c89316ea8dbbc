import LRTTensor

/// Calls `body` with a pointer to the elements of each tensor, in order.
func withPointers<Result>(to tensors: [Tensor], _ body: ([UnsafePointer<Float>]) -> Result) -> Result {
    func nest(_ index: Int, _ pointers: [UnsafePointer<Float>]) -> Result {
        guard index < tensors.count else { return body(pointers) }
        return tensors[index].withUnsafeBufferPointer { nest(index + 1, pointers + [$0.baseAddress!]) }
    }
    return nest(0, [])
}

/// Calls `body` with a mutable pointer to the elements of each tensor, in order.
func withMutablePointers<Result>(to tensors: inout [Tensor], _ body: ([UnsafeMutablePointer<Float>]) -> Result) -> Result {
    tensors.withUnsafeMutableBufferPointer { elements in
        func nest(_ index: Int, _ pointers: [UnsafeMutablePointer<Float>]) -> Result {
            guard index < elements.count else { return body(pointers) }
            return elements[index].withUnsafeMutableBufferPointer { nest(index + 1, pointers + [$0.baseAddress!]) }
        }
        return nest(0, [])
    }
}

/// An elementwise combination of inputs of one shape (Keras's `Add`, `Subtract`, `Multiply`,
/// `Average`, `Maximum` and `Minimum`): `[batch, …shape]` each → `[batch, …shape]`.
///
/// Keras broadcasts inputs of different shapes; lrt refuses them when the model is built.
/// The gradient of `Maximum` and `Minimum` goes to the first input that holds the extreme.
public final class ElementwiseMerge: MergeLayer, KerasLayer {
    /// The combination, by its Keras class name.
    public enum Operation: String, CaseIterable, Sendable {
        /// `x₀ + x₁ + …`.
        case add = "Add"
        /// `x₀ − x₁` (exactly two inputs).
        case subtract = "Subtract"
        /// `x₀ · x₁ · …`.
        case multiply = "Multiply"
        /// `(x₀ + x₁ + …) / n`.
        case average = "Average"
        /// `max(x₀, x₁, …)`.
        case maximum = "Maximum"
        /// `min(x₀, x₁, …)`.
        case minimum = "Minimum"
    }

    static let kerasClassNames = Operation.allCases.map(\.rawValue)

    public let name: String
    public let operation: Operation
    public let inputShapes: [[Int]]
    public var className: String { operation.rawValue }
    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { inputShapes[0] }
    public var config: JSONValue { .object(baseLayerConfig(name: name)) }

    private var output = Tensor(shape: [0])  // [batch, …shape]
    private var inputs: [Tensor] = []        // [batch, …shape] each, kept for backward by multiply, maximum, minimum
    private var inputGradients: [Tensor] = []  // [batch, …shape] each
    private var recordedCount = 0            // elements of each input at the last training forward

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - operation: how the inputs combine.
    ///   - inputShapes: one example's shape for each input, all equal; two for `subtract`, at least two otherwise.
    public init(name: String, operation: Operation, inputShapes: [[Int]]) {
        precondition(operation == .subtract ? inputShapes.count == 2 : inputShapes.count >= 2,
                     "\(operation.rawValue) '\(name)': wrong number of inputs, \(inputShapes.count)")
        precondition(inputShapes.allSatisfy { $0 == inputShapes[0] }, "\(operation.rawValue) '\(name)': unequal input shapes \(inputShapes)")
        self.name = name
        self.operation = operation
        self.inputShapes = inputShapes
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let operation = Operation(rawValue: options.className)!
        let layer = options.layerDescription
        if operation == .subtract {
            guard inputShapes.count == 2 else {
                throw ModelConfigError("\(layer) takes exactly 2 inputs, got \(inputShapes.count); subtract one tensor from another")
            }
        } else {
            guard inputShapes.count >= 2 else {
                throw ModelConfigError("\(layer) takes at least 2 inputs, got \(inputShapes.count); call it on a list of tensors")
            }
        }
        if let different = inputShapes.first(where: { $0 != inputShapes[0] }) {
            throw ModelConfigError("\(layer) needs inputs of one shape, got \(inputShapes[0]) and \(different); Keras's broadcasting is not supported, so make the branches agree (for example with a 1×1 Conv2D or a Reshape)")
        }
        return ElementwiseMerge(name: options.name, operation: operation, inputShapes: inputShapes)
    }

    /// Elements per shard: a few tens of microseconds of work.
    private var minimumShardElements: Int { Parallel.minimumShardSize(workPerItem: inputShapes.count) }

    public func forward(_ inputs: [Tensor], context: inout ForwardContext) -> Tensor {
        precondition(inputs.count == inputShapes.count, "\(className) '\(name)' takes \(inputShapes.count) inputs, got \(inputs.count)")
        let count = inputs[0].count, operation = operation
        precondition(inputs.allSatisfy { $0.count == count }, "\(className) '\(name)': inputs of different sizes")
        if output.count != count || output.shape != inputs[0].shape { output = Tensor(shape: inputs[0].shape) }
        if context.training {
            recordedCount = count
            if operation == .multiply || operation == .maximum || operation == .minimum { self.inputs = inputs }
        }
        guard count > 0 else { return output }
        withPointers(to: inputs) { sources in
            output.withUnsafeMutableBufferPointer { outputs in
                let outputs = outputs.baseAddress!
                Parallel.forEachShard(count: count, minimumSize: minimumShardElements) { _, elements in
                    let first = sources[0], rest = sources.dropFirst()
                    switch operation {
                    case .add, .average:
                        for index in elements { outputs[index] = first[index] }
                        for source in rest { for index in elements { outputs[index] += source[index] } }
                        if operation == .average {
                            let scale = 1 / Float(sources.count)
                            for index in elements { outputs[index] *= scale }
                        }
                    case .subtract:
                        let second = sources[1]
                        for index in elements { outputs[index] = first[index] - second[index] }
                    case .multiply:
                        for index in elements { outputs[index] = first[index] }
                        for source in rest { for index in elements { outputs[index] *= source[index] } }
                    case .maximum:
                        for index in elements { outputs[index] = first[index] }
                        for source in rest {
                            for index in elements { outputs[index] = source[index] > outputs[index] ? source[index] : outputs[index] }
                        }
                    case .minimum:
                        for index in elements { outputs[index] = first[index] }
                        for source in rest {
                            for index in elements { outputs[index] = source[index] < outputs[index] ? source[index] : outputs[index] }
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> [Tensor] {
        let count = outputGradient.count, inputCount = inputShapes.count
        precondition(count == recordedCount, "\(className) '\(name)': backward needs the training forward of the same batch")
        switch operation {
        case .add:
            return Array(repeating: outputGradient, count: inputCount)  // shared storage, copied only if written
        case .subtract:
            prepareInputGradients(count: 1, shape: outputGradient.shape)
            transform(outputGradient, into: 0) { -$0 }
            return [outputGradient, inputGradients[0]]
        case .average:
            prepareInputGradients(count: 1, shape: outputGradient.shape)
            let scale = 1 / Float(inputCount)
            transform(outputGradient, into: 0) { $0 * scale }
            return Array(repeating: inputGradients[0], count: inputCount)
        case .multiply, .maximum, .minimum:
            prepareInputGradients(count: inputCount, shape: outputGradient.shape)
            let operation = operation
            guard count > 0 else { return inputGradients }
            withPointers(to: inputs) { sources in
                outputGradient.withUnsafeBufferPointer { outputGradients in
                    withMutablePointers(to: &inputGradients) { targets in
                        let outputGradients = outputGradients.baseAddress!
                        Parallel.forEachShard(count: count, minimumSize: minimumShardElements) { _, elements in
                            if operation == .multiply {
                                // ∂/∂xᵢ = g · Π_{j≠i} xⱼ, without dividing (inputs may be zero).
                                for (input, target) in targets.enumerated() {
                                    for index in elements { target[index] = outputGradients[index] }
                                    for (other, source) in sources.enumerated() where other != input {
                                        for index in elements { target[index] *= source[index] }
                                    }
                                }
                                return
                            }
                            for target in targets { for index in elements { target[index] = 0 } }
                            for index in elements {
                                var best = 0, bestValue = sources[0][index]
                                for input in 1..<sources.count {
                                    let value = sources[input][index]
                                    if operation == .maximum ? value > bestValue : value < bestValue { (best, bestValue) = (input, value) }
                                }
                                targets[best][index] = outputGradients[index]
                            }
                        }
                    }
                }
            }
            inputs = []
            return inputGradients
        }
    }

    /// Sizes the first `count` input gradient buffers for `shape`.
    private func prepareInputGradients(count: Int, shape: [Int]) {
        if inputGradients.count != count { inputGradients = Array(repeating: Tensor(shape: [0]), count: count) }
        for index in 0..<count where inputGradients[index].shape != shape { inputGradients[index] = Tensor(shape: shape) }
    }

    /// `inputGradients[target][i] = transform(gradient[i])` for every element.
    private func transform(_ gradient: Tensor, into target: Int, _ transform: (Float) -> Float) {
        gradient.withUnsafeBufferPointer { gradients in
            inputGradients[target].withUnsafeMutableBufferPointer { targets in
                for index in targets.indices { targets[index] = transform(gradients[index]) }
            }
        }
    }
}

/// Joins inputs along one axis (Keras `Concatenate`): `[batch, …, sizeᵢ, …]` each → `[batch, …, Σ sizeᵢ, …]`.
///
/// The inputs agree on every other axis. ``axis`` counts as Keras does, the batch axis being 0:
/// -1 is the last axis, 1 the first axis of an example; the batch axis itself is refused.
public final class Concatenate: MergeLayer, KerasLayer {
    static let kerasClassNames = ["Concatenate"]

    public let name: String
    public let className = "Concatenate"
    /// The axis as the config gives it (Keras's count: the batch axis is 0, -1 the last).
    public let axis: Int
    /// The axis within one example (0 is the first axis after the batch).
    public let exampleAxis: Int
    public let inputShapes: [[Int]]
    public let outputShape: [Int]
    public var parameters: [Parameter] { [] }
    public var config: JSONValue { .object(baseLayerConfig(name: name) + [("axis", .number(Double(axis)))]) }

    /// Elements of each input from the concatenation axis inwards (one "block" per outer index).
    private let blockSizes: [Int]
    /// Each input's offset within one output block.
    private let blockOffsets: [Int]
    /// Elements of one output block: the sum of ``blockSizes``.
    private let outputBlockSize: Int
    /// Blocks per example: the product of the axes before the concatenation axis.
    private let blocksPerExample: Int

    private var output = Tensor(shape: [0])      // [batch, …outputShape]
    private var inputGradients: [Tensor] = []    // [batch, …inputShapes[i]] each

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - axis: Keras's axis (default -1); not the batch axis.
    ///   - inputShapes: one example's shape for each input (at least one), equal but along `axis`.
    /// - Precondition: the shapes and axis are valid (``make(_:inputShapes:generator:)`` checks them and names the layer).
    public init(name: String, axis: Int = -1, inputShapes: [[Int]]) {
        let rank = inputShapes.first?.count ?? 0
        guard let exampleAxis = Concatenate.exampleAxis(axis, rank: rank), inputShapes.allSatisfy({ $0.count == rank }) else {
            preconditionFailure("Concatenate '\(name)': axis \(axis) does not fit input shapes \(inputShapes)")
        }
        var outputShape = inputShapes[0]
        outputShape[exampleAxis] = inputShapes.reduce(0) { $0 + $1[exampleAxis] }
        precondition(inputShapes.allSatisfy { shape in shape.indices.allSatisfy { $0 == exampleAxis || shape[$0] == outputShape[$0] } },
                     "Concatenate '\(name)': input shapes \(inputShapes) differ on an axis but \(axis)")
        let blockSizes = inputShapes.map { $0[exampleAxis...].reduce(1, *) }
        self.name = name
        self.axis = axis
        self.exampleAxis = exampleAxis
        self.inputShapes = inputShapes
        self.outputShape = outputShape
        self.blockSizes = blockSizes
        blockOffsets = blockSizes.indices.map { blockSizes[..<$0].reduce(0, +) }
        outputBlockSize = blockSizes.reduce(0, +)
        blocksPerExample = outputShape[..<exampleAxis].reduce(1, *)
    }

    /// Keras's `axis` for inputs of `rank` axes per example, as an axis within one example; nil for the
    /// batch axis or an axis out of range.
    static func exampleAxis(_ axis: Int, rank: Int) -> Int? {
        let exampleAxis = axis < 0 ? rank + axis : axis - 1
        return axis != 0 && exampleAxis >= 0 && exampleAxis < rank ? exampleAxis : nil
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let layer = options.layerDescription
        let axis = try options.integer("axis", default: -1, range: -(1 << 10)...(1 << 10))
        guard !inputShapes.isEmpty else { throw ModelConfigError("\(layer) needs at least one input") }
        let rank = inputShapes[0].count
        if let other = inputShapes.first(where: { $0.count != rank }) {
            throw ModelConfigError("\(layer) needs inputs with the same number of axes, got \(inputShapes[0]) and \(other)")
        }
        guard let exampleAxis = exampleAxis(axis, rank: rank) else {
            throw ModelConfigError(axis == 0 || axis == -(rank + 1)
                ? "\(layer): axis \(axis) is the batch axis, which cannot be concatenated; use an axis in 1...\(rank) or -\(rank)...-1"
                : "\(layer): axis \(axis) does not exist for inputs of shape \(inputShapes[0]); use an axis in 1...\(rank) or -\(rank)...-1")
        }
        for shape in inputShapes.dropFirst() {
            guard shape.indices.allSatisfy({ $0 == exampleAxis || shape[$0] == inputShapes[0][$0] }) else {
                throw ModelConfigError("\(layer) needs inputs that agree on every axis but axis \(axis), got \(inputShapes[0]) and \(shape)")
            }
        }
        return Concatenate(name: options.name, axis: axis, inputShapes: inputShapes)
    }

    /// Calls `body(block, input, offset)` for every block of every input in `blocks` (a range of batch · blocksPerExample):
    /// input `input`'s block starts at `block · blockSizes[input]` of that input and at `offset` of the output.
    private func forEachBlock(_ blocks: Range<Int>, _ body: (_ block: Int, _ input: Int, _ outputOffset: Int) -> Void) {
        for block in blocks {
            for input in blockSizes.indices { body(block, input, block * outputBlockSize + blockOffsets[input]) }
        }
    }

    public func forward(_ inputs: [Tensor], context: inout ForwardContext) -> Tensor {
        precondition(inputs.count == inputShapes.count, "Concatenate '\(name)' takes \(inputShapes.count) inputs, got \(inputs.count)")
        let batch = inputs[0].count / max(blockSizes[0] * blocksPerExample, 1)
        for (input, shape) in zip(inputs, inputShapes) {
            precondition(input.count == batch * shape.reduce(1, *), "Concatenate '\(name)' expects \(shape) inputs per example")
        }
        if output.count != batch * outputShape.reduce(1, *) { output = Tensor(shape: [batch] + outputShape) }
        let blockSizes = blockSizes, blocks = batch * blocksPerExample
        guard blocks > 0, output.count > 0 else { return output }
        withPointers(to: inputs) { sources in
            output.withUnsafeMutableBufferPointer { outputs in
                let outputs = outputs.baseAddress!
                Parallel.forEachShard(count: blocks, minimumSize: Parallel.minimumShardSize(workPerItem: outputBlockSize)) { _, range in
                    forEachBlock(range) { block, input, offset in
                        let size = blockSizes[input]
                        (outputs + offset).update(from: sources[input] + block * size, count: size)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> [Tensor] {
        let batch = outputGradient.count / max(outputShape.reduce(1, *), 1)
        precondition(outputGradient.count == batch * outputShape.reduce(1, *), "Concatenate '\(name)': gradient of the wrong size")
        if inputGradients.count != inputShapes.count { inputGradients = inputShapes.map { _ in Tensor(shape: [0]) } }
        for (index, shape) in inputShapes.enumerated() where inputGradients[index].shape != [batch] + shape {
            inputGradients[index] = Tensor(shape: [batch] + shape)
        }
        let blockSizes = blockSizes, blocks = batch * blocksPerExample
        guard blocks > 0, outputGradient.count > 0 else { return inputGradients }
        outputGradient.withUnsafeBufferPointer { outputGradients in
            withMutablePointers(to: &inputGradients) { targets in
                let outputGradients = outputGradients.baseAddress!
                Parallel.forEachShard(count: blocks, minimumSize: Parallel.minimumShardSize(workPerItem: outputBlockSize)) { _, range in
                    forEachBlock(range) { block, input, offset in
                        let size = blockSizes[input]
                        (targets[input] + block * size).update(from: outputGradients + offset, count: size)
                    }
                }
            }
        }
        return inputGradients
    }
}

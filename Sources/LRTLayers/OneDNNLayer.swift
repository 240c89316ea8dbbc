import Foundation
import LRTTensor

/// The oneDNN side of a layer with a kernel and an optional bias (``Conv2D``, ``Dense``): its
/// primitives by batch size and mode, built on first use, and the forward and backward passes
/// around them. A ReLU is fused into the forward primitive; other activations run after it.
final class OneDNNLayer {
    /// The layer's name, for warnings.
    let name: String
    let operation: OneDNNKernels.Operation
    /// Output channels (filters or units): the width activations are applied over.
    let width: Int
    private let plans = PlanCache<PlanKey, OneDNNKernels>()
    private struct PlanKey: Hashable { let batch: Int, training: Bool }
    private let preActivationGradient = ScratchBuffer<Float>()  // the output's shape
    /// The kernel's and bias's gradients of one backward, when they must be added to earlier ones.
    private let parameterGradients = ScratchBuffer<Float>()  // [kernel count + bias count]

    init(name: String, _ operation: OneDNNKernels.Operation, width: Int) {
        self.name = name
        self.operation = operation
        self.width = width
    }

    /// Why oneDNN could not build the primitives, if it could not; the layer's own kernels run instead.
    var failure: String? { plans.failure }

    /// The primitives for `batch` examples, or nil when oneDNN cannot build them (then ``failure`` says why).
    private func plan(batch: Int, training: Bool, hasBias: Bool, activation: Activation) -> OneDNNKernels? {
        plans.plan(for: PlanKey(batch: batch, training: training), layer: name) {
            try OneDNNKernels(operation, batch: batch, hasBias: hasBias, fusesReLU: activation == .relu, training: training)
        }
    }

    /// `output = activation(input ⊛ kernel + bias)` by oneDNN, unless `backend` is lrt's own or the
    /// primitives do not build.
    /// - Returns: whether it ran (and wrote `output`).
    func forward(backend: KernelBackend, batch: Int, input: Tensor, kernel: Parameter, bias: Parameter?, activation: Activation,
                 context: ForwardContext, into output: inout Tensor) -> Bool {
        guard backend == .oneDNN,
              let plan = plan(batch: batch, training: context.training, hasBias: bias != nil, activation: activation)
        else { return false }
        let width = width, weightsVersion = context.weightsVersion
        input.withUnsafeBufferPointer { inputs in
            kernel.value.withUnsafeBufferPointer { kernelValues in
                output.withUnsafeMutableBufferPointer { outputs in
                    withOptionalPointer(to: bias?.value) { biases in
                        plan.forward(input: inputs.baseAddress!, kernel: kernelValues.baseAddress!, kernelVersion: weightsVersion,
                                     bias: biases, output: outputs.baseAddress!)
                    }
                    guard activation != .linear && activation != .relu else { return }  // ReLU is fused
                    let rows = outputs.count / width
                    Parallel.forEachShard(count: rows, minimumSize: Parallel.minimumShardSize(workPerItem: 8 * width)) { _, items in
                        activation.apply(UnsafeMutableBufferPointer(rebasing: outputs[items.lowerBound * width..<items.upperBound * width]),
                                         width: width)
                    }
                }
            }
        }
        return true
    }

    /// Sets the kernel's and bias's gradients and, when `inputGradient` is not empty, the gradient at
    /// the input, by oneDNN, unless `backend` is lrt's own or the primitives do not build.
    /// - Parameters:
    ///   - input, output: the training forward pass's.
    ///   - outputGradient: the gradient at the output (after the activation).
    /// - Returns: whether it ran.
    func backward(backend: KernelBackend, batch: Int, input: Tensor, output: Tensor, outputGradient: Tensor, kernel: Parameter,
                  bias: Parameter?, activation: Activation, inputGradient: inout Tensor) -> Bool {
        guard backend == .oneDNN, let plan = plan(batch: batch, training: true, hasBias: bias != nil, activation: activation)
        else { return false }
        let width = width, computesInputGradient = !inputGradient.storage.isEmpty
        let preActivation = activation == .linear ? nil : preActivationGradient.pointer(count: outputGradient.count)
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeBufferPointer { outputs in
                outputGradient.withUnsafeBufferPointer { outputGradients in
                    kernel.value.withUnsafeBufferPointer { kernelValues in
                        inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                            kernel.accumulateGradient { kernelGradients, overwrite in
                                withAccumulatedBiasGradient(bias, overwrite: overwrite) { biasGradients in
                                    // dZ = activation'(output) ⊙ dY, the output's shape
                                    if let preActivation {
                                        let rows = outputGradients.count / width
                                        Parallel.forEachShard(count: rows, minimumSize: Parallel.minimumShardSize(workPerItem: 4 * width)) { _, items in
                                            let elements = items.lowerBound * width..<items.upperBound * width
                                            activation.backward(UnsafeBufferPointer(rebasing: outputGradients[elements]),
                                                                output: UnsafeBufferPointer(rebasing: outputs[elements]),
                                                                into: UnsafeMutableBufferPointer(start: preActivation + elements.lowerBound,
                                                                                                 count: elements.count),
                                                                width: width)
                                        }
                                    }
                                    // oneDNN writes the parameter gradients: into them when they are zero, else
                                    // into scratch memory that is then added to them.
                                    let kernelCount = kernelGradients.count, biasCount = bias?.value.count ?? 0
                                    let scratch = overwrite ? nil : parameterGradients.pointer(count: kernelCount + biasCount)
                                    plan.backward(input: inputs.baseAddress!,
                                                  outputGradient: preActivation.map { UnsafePointer($0) } ?? outputGradients.baseAddress!,
                                                  kernel: kernelValues.baseAddress!,
                                                  inputGradient: computesInputGradient ? inputGradients.baseAddress : nil,
                                                  kernelGradient: scratch ?? kernelGradients.baseAddress!,
                                                  biasGradient: biasGradients.map { scratch.map { $0 + kernelCount } ?? $0 })
                                    if let scratch {
                                        addElements(UnsafePointer(scratch), into: kernelGradients.baseAddress!, count: kernelCount)
                                        if let biasGradients { addElements(UnsafePointer(scratch + kernelCount), into: biasGradients, count: biasCount) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return true
    }
}

/// Calls `body` with the bias's gradient storage, or nil without a bias. `overwrite` is the kernel's:
/// both gradients are zeroed together, so the bias's first contribution may be written too.
private func withAccumulatedBiasGradient<Result>(_ bias: Parameter?, overwrite: Bool,
                                                 _ body: (UnsafeMutablePointer<Float>?) -> Result) -> Result {
    guard let bias else { return body(nil) }
    return bias.accumulateGradient { gradient, biasOverwrite in
        precondition(biasOverwrite == overwrite, "a kernel's and its bias's gradients are zeroed together")
        return body(gradient.baseAddress)
    }
}

/// oneDNN primitives built on first use for each key (a batch size, a mode), the eight used most
/// recently kept; after one fails to build, none is tried again and ``failure`` says why.
final class PlanCache<Key: Hashable, Plan> {
    static var capacity: Int { 8 }
    private(set) var failure: String?
    private var plans: [Key: Plan] = [:]
    private var recent: [Key] = []  // least recently used first

    /// - Parameters:
    ///   - key: what the plan is for.
    ///   - layer: the layer's name, for the warning printed when oneDNN cannot build the plan.
    ///   - make: builds the plan.
    func plan(for key: Key, layer: String, make: () throws -> Plan) -> Plan? {
        guard failure == nil else { return nil }
        if let plan = plans[key] {
            if recent.last != key { recent.removeAll { $0 == key }; recent.append(key) }
            return plan
        }
        do {
            let plan = try make()
            if plans.count >= Self.capacity { plans[recent.removeFirst()] = nil }
            plans[key] = plan
            recent.append(key)
            return plan
        } catch {
            failure = "\(error)"
            FileHandle.standardError.write(Data("warning: layer '\(layer)': \(error); it runs on lrt's own kernels\n".utf8))
            return nil
        }
    }
}

/// A pooling layer's oneDNN primitives for inference, by batch size (training keeps lrt's own
/// loops, which record where each maximum came from for the backward pass).
final class OneDNNPoolingLayer {
    /// The layer's name, for warnings.
    let name: String
    let kind: OneDNNPooling.Kind
    let geometry: WindowGeometry
    private let plans = PlanCache<Int, OneDNNPooling>()

    init(name: String, _ kind: OneDNNPooling.Kind, geometry: WindowGeometry) {
        self.name = name
        self.kind = kind
        self.geometry = geometry
    }

    /// Why oneDNN could not build the primitive, if it could not; the layer's own loops run instead.
    var failure: String? { plans.failure }

    /// Pools `input` into `output` by oneDNN; false when it cannot (then nothing was written).
    func forward(_ input: Tensor, into output: inout Tensor) -> Bool {
        let batch = input.count / geometry.inputSize
        guard let plan = plans.plan(for: batch, layer: name, make: { try OneDNNPooling(kind, geometry: geometry, batch: batch) }) else {
            return false
        }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { plan.forward(input: inputs.baseAddress!, output: $0.baseAddress!) }
        }
        return true
    }
}

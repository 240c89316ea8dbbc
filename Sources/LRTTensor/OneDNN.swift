import CDNNL
import Foundation

/// Which kernels compute `Conv2D`, `Dense` and (in inference) pooling: oneDNN's, or lrt's own
/// loops around OpenBLAS's sgemm (im2col for convolutions) and SIMD pooling loops.
///
/// Measured here (2 cores, AVX-512; see the README): oneDNN's inner product runs the MLP's
/// products at about 540 GFLOP/s whatever core OpenBLAS chose, and its convolution the 3×3×32→64
/// layer of cnn-mnist at about 470 GFLOP/s against 370 for im2col + sgemm, so it is the default.
/// lrt's own kernels stay as the fallback where oneDNN cannot build a primitive, and as the
/// second implementation the tests hold oneDNN against.
public enum KernelBackend: String, Sendable, CaseIterable {
    case oneDNN = "onednn"
    case blas

    /// The environment variable that picks the backend (`onednn` or `blas`).
    public static let environmentVariable = "LRT_KERNELS"

    /// The process's backend: `LRT_KERNELS` when set to a valid name, else oneDNN when it
    /// runs on this machine, else lrt's own.
    public static let preferred: KernelBackend = {
        if let name = ProcessInfo.processInfo.environment[environmentVariable],
           let backend = KernelBackend(rawValue: name.lowercased()) {
            return backend
        }
        return OneDNN.runtime != nil ? .oneDNN : .blas
    }()

    /// A value of `LRT_KERNELS` that names no backend, for `lrt doctor` to report.
    public static var invalidSetting: String? {
        guard let name = ProcessInfo.processInfo.environment[environmentVariable], !name.isEmpty else { return nil }
        return KernelBackend(rawValue: name.lowercased()) == nil ? name : nil
    }
}

/// oneDNN for this process: its CPU engine, made on first use.
public enum OneDNN {
    /// The CPU engine, or nil when oneDNN cannot create one here.
    static let runtime: Engine? = Engine()

    /// "2.6.3", or nil when oneDNN is unavailable.
    public static var version: String? {
        guard runtime != nil, let version = dnnl_version()?.pointee else { return nil }
        return "\(version.major).\(version.minor).\(version.patch)"
    }

    /// `c = a · b` for row-major matrices by oneDNN's `dnnl_sgemm`: `[rows, inner] · [inner, columns]`.
    /// - Returns: false, having done nothing, when oneDNN is unavailable or refuses the call.
    /// Inside a parallel loop it runs on the calling thread.
    public static func gemm(_ a: UnsafePointer<Float>, leadingA: Int, _ b: UnsafePointer<Float>, leadingB: Int,
                            into c: UnsafeMutablePointer<Float>, leadingC: Int, rows: Int, columns: Int, inner: Int) -> Bool {
        guard runtime != nil else { return false }
        let noTranspose = CChar(UInt8(ascii: "N"))
        return dnnl_sgemm(noTranspose, noTranspose, dnnl_dim_t(rows), dnnl_dim_t(columns), dnnl_dim_t(inner), 1,
                          a, dnnl_dim_t(leadingA), b, dnnl_dim_t(leadingB), 0, c, dnnl_dim_t(leadingC)) == dnnl_success
    }

    final class Engine: @unchecked Sendable {  // oneDNN engines are thread-safe
        let handle: dnnl_engine_t

        init?() {
            var engine: dnnl_engine_t?
            guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
            handle = engine
        }

        deinit { dnnl_engine_destroy(handle) }
    }
}

/// Why oneDNN could not build or run a primitive (lrt then uses its own kernels).
public struct OneDNNError: Error, CustomStringConvertible {
    public let description: String
}

/// The oneDNN primitives of one layer for one batch size: the forward pass (with the bias and an
/// optional ReLU fused in) and, for training, the input and kernel gradients. oneDNN picks
/// `brgconv:avx512_core` and `brgemm:avx512_core` on this machine, its own AVX-512 code whatever
/// kernels OpenBLAS chose.
///
/// Tensors stay in lrt's layouts, which are Keras's: a convolution's images
/// `[batch, height, width, channels]` and kernel `[kernelHeight, kernelWidth, channels, filters]`
/// (oneDNN's `nhwc` and `hwio`); a dense layer's rows `[batch, units]` and kernel
/// `[inputUnits, units]` (`nc` and `io`). oneDNN wants the kernel in a blocked layout of its
/// own choice; it is reordered on every call (one pass over the small kernel), except while the
/// caller vouches that it has not changed (`kernelVersion`).
public final class OneDNNKernels {
    /// What the primitives compute.
    public enum Operation: Equatable, Sendable {
        /// A 2-D convolution over NHWC images (Keras `Conv2D`).
        case convolution(WindowGeometry, filters: Int)
        /// `input · kernel` over rows (Keras `Dense`; oneDNN's inner product).
        case innerProduct(inputUnits: Int, units: Int)
    }

    public let operation: Operation
    public let batch: Int
    /// Whether ``backward(input:outputGradient:kernel:inputGradient:kernelGradient:biasGradient:)`` is available.
    public let training: Bool

    private let stream: Stream
    private let source: Memory, destination: Memory, userKernel: Memory, bias: Memory?
    private let forwardPrimitive: Primitive
    private let forwardKernel: ReorderedKernel
    private let backwardData: (primitive: Primitive, kernel: ReorderedKernel)?
    private let backwardWeights: (primitive: Primitive, kernelGradient: ReorderedKernel, biasGradient: Memory?)?

    /// - Parameters:
    ///   - operation: a convolution (input image, kernel size, strides, padding, filters) or an inner product.
    ///   - batch: examples per call.
    ///   - hasBias: whether a bias, one value per output channel, is added.
    ///   - fusesReLU: whether `max(0, ·)` is applied to the output.
    ///   - training: also build the backward primitives.
    /// - Throws: ``OneDNNError`` when oneDNN is unavailable or cannot build the primitives.
    public init(_ operation: Operation, batch: Int, hasBias: Bool, fusesReLU: Bool, training: Bool) throws {
        guard let engine = OneDNN.runtime else { throw OneDNNError(description: "oneDNN has no CPU engine on this machine") }
        self.operation = operation
        self.batch = batch
        self.training = training
        stream = try Stream(engine)

        let layout = try Layout(operation, batch: batch)
        var sourceDescriptor = layout.source, destinationDescriptor = layout.destination, anyKernel = layout.anyKernel
        let kernelDescriptor = layout.kernel, biasDescriptor = layout.bias
        var forwardDescriptor = OperationDescriptor(operation)
        try withUnsafePointer(to: biasDescriptor) { biasPointer in
            try check(forwardDescriptor.initializeForward(training: training, source: &sourceDescriptor, kernel: &anyKernel,
                                                          bias: hasBias ? biasPointer : nil, destination: &destinationDescriptor),
                      "describing the forward \(operation.name)")
        }
        var attributes: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attributes), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if fusesReLU {
            var postOperations: dnnl_post_ops_t?
            try check(dnnl_post_ops_create(&postOperations), "creating post-ops")
            defer { dnnl_post_ops_destroy(postOperations) }
            try check(dnnl_post_ops_append_eltwise(postOperations, 1, dnnl_eltwise_relu, 0, 0), "adding the ReLU")
            try check(dnnl_primitive_attr_set_post_ops(attributes, postOperations), "setting post-ops")
        }
        let forwardDescription = try forwardDescriptor.description(attributes: attributes, engine: engine, hint: nil,
                                                                   "the forward \(operation.name)")
        source = try Memory(sourceDescriptor, engine)
        destination = try Memory(destinationDescriptor, engine)
        userKernel = try Memory(kernelDescriptor, engine)
        bias = hasBias ? try Memory(biasDescriptor, engine) : nil
        forwardPrimitive = try forwardDescription.primitive("the forward \(operation.name)")
        forwardKernel = try ReorderedKernel(user: kernelDescriptor, chosen: forwardDescription.memory(dnnl_query_weights_md),
                                            engine: engine, toChosen: true)
        guard training else {
            backwardData = nil
            backwardWeights = nil
            return
        }

        var dataDescriptor = OperationDescriptor(operation)
        try check(dataDescriptor.initializeBackwardData(sourceGradient: &sourceDescriptor, kernel: &anyKernel,
                                                        destinationGradient: &destinationDescriptor),
                  "describing the \(operation.name)'s input gradient")
        let dataDescription = try dataDescriptor.description(attributes: nil, engine: engine, hint: forwardDescription.handle,
                                                             "the \(operation.name)'s input gradient")
        backwardData = (try dataDescription.primitive("the \(operation.name)'s input gradient"),
                        try ReorderedKernel(user: kernelDescriptor, chosen: dataDescription.memory(dnnl_query_weights_md),
                                            engine: engine, toChosen: true))

        var weightsDescriptor = OperationDescriptor(operation)
        try withUnsafePointer(to: biasDescriptor) { biasPointer in
            try check(weightsDescriptor.initializeBackwardWeights(source: &sourceDescriptor, kernelGradient: &anyKernel,
                                                                  biasGradient: hasBias ? biasPointer : nil,
                                                                  destinationGradient: &destinationDescriptor),
                      "describing the \(operation.name)'s kernel gradient")
        }
        let weightsDescription = try weightsDescriptor.description(attributes: nil, engine: engine, hint: forwardDescription.handle,
                                                                   "the \(operation.name)'s kernel gradient")
        backwardWeights = (try weightsDescription.primitive("the \(operation.name)'s kernel gradient"),
                           try ReorderedKernel(user: kernelDescriptor, chosen: weightsDescription.memory(dnnl_query_diff_weights_md),
                                               engine: engine, toChosen: false),
                           hasBias ? try Memory(biasDescriptor, engine) : nil)
    }

    /// `output = relu?(input ⊛ kernel + bias)`, with `⊛` the convolution or the matrix product.
    /// - Parameters:
    ///   - input: `[batch, inputHeight, inputWidth, channels]` or `[batch, inputUnits]`.
    ///   - kernel: `[windowHeight, windowWidth, channels, filters]` or `[inputUnits, units]`.
    ///   - bias: `[filters]` or `[units]`, when there is one.
    ///   - output: `[batch, outputHeight, outputWidth, filters]` or `[batch, units]`.
    ///   - kernelVersion: the same number as the previous call's while the kernel has not changed
    ///     since, so that the kernel already in oneDNN's layout is reused (nil: always convert it).
    public func forward(input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, kernelVersion: Int? = nil,
                        bias biasValues: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        userKernel.bind(kernel)
        let internalKernel = forwardKernel.convert(userKernel, version: kernelVersion, stream: stream)
        source.bind(input)
        destination.bind(output)
        var arguments = [(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, internalKernel), (DNNL_ARG_DST, destination)]
        if let bias {
            bias.bind(biasValues)
            arguments.append((DNNL_ARG_BIAS, bias))
        }
        forwardPrimitive.run(arguments, on: stream)
    }

    /// The gradients of a training layer, from the gradient at its output before any activation
    /// (shapes as in ``forward(input:kernel:kernelVersion:bias:output:)``).
    /// - Parameters:
    ///   - input: the forward pass's input.
    ///   - outputGradient: the gradient at the output, before any activation.
    ///   - kernel: the kernel.
    ///   - inputGradient: receives the gradient at the input; nil to skip it.
    ///   - kernelGradient: receives the kernel's gradient.
    ///   - biasGradient: receives the bias's gradient, when there is a bias.
    public func backward(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, kernelGradient: UnsafeMutablePointer<Float>,
                         biasGradient: UnsafeMutablePointer<Float>?) {
        guard let backwardData, let backwardWeights else { preconditionFailure("backward of inference-only oneDNN primitives") }
        destination.bind(outputGradient)
        if let inputGradient {
            userKernel.bind(kernel)
            let internalKernel = backwardData.kernel.convert(userKernel, version: nil, stream: stream)
            source.bind(inputGradient)
            backwardData.primitive.run([(DNNL_ARG_DIFF_DST, destination), (DNNL_ARG_WEIGHTS, internalKernel),
                                        (DNNL_ARG_DIFF_SRC, source)], on: stream)
        }
        source.bind(input)
        userKernel.bind(kernelGradient)
        let gradientTarget = backwardWeights.kernelGradient.internalMemory ?? userKernel
        var arguments = [(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, destination), (DNNL_ARG_DIFF_WEIGHTS, gradientTarget)]
        if let biasMemory = backwardWeights.biasGradient {
            biasMemory.bind(biasGradient)
            arguments.append((DNNL_ARG_DIFF_BIAS, biasMemory))
        }
        backwardWeights.primitive.run(arguments, on: stream)
        backwardWeights.kernelGradient.convertBack(into: userKernel, stream: stream)
    }
}

// MARK: - Descriptors

extension OneDNNKernels.Operation {
    var name: String {
        switch self {
        case .convolution: "convolution"
        case .innerProduct: "inner product"
        }
    }
}

/// The memory descriptors of an operation, in lrt's layouts (kernel also "any", for oneDNN to choose).
private struct Layout {
    var source, destination, kernel, anyKernel, bias: dnnl_memory_desc_t

    init(_ operation: OneDNNKernels.Operation, batch: Int) throws {
        switch operation {
        case .convolution(let g, let filters):
            source = try descriptor([batch, g.channels, g.inputHeight, g.inputWidth], dnnl_nhwc)
            destination = try descriptor([batch, filters, g.outputHeight, g.outputWidth], dnnl_nhwc)
            kernel = try descriptor([filters, g.channels, g.windowHeight, g.windowWidth], dnnl_hwio)
            anyKernel = try descriptor([filters, g.channels, g.windowHeight, g.windowWidth], dnnl_format_tag_any)
            bias = try descriptor([filters], dnnl_x)
        case .innerProduct(let inputUnits, let units):
            source = try descriptor([batch, inputUnits], dnnl_nc)
            destination = try descriptor([batch, units], dnnl_nc)
            kernel = try descriptor([units, inputUnits], dnnl_io)
            anyKernel = try descriptor([units, inputUnits], dnnl_format_tag_any)
            bias = try descriptor([units], dnnl_x)
        }
    }
}

/// A oneDNN operation descriptor: a convolution's or an inner product's.
private enum OperationDescriptor {
    case convolution(dnnl_convolution_desc_t, strides: [Int64], before: [Int64], after: [Int64])
    case innerProduct(dnnl_inner_product_desc_t)

    init(_ operation: OneDNNKernels.Operation) {
        switch operation {
        case .convolution(let geometry, _):
            let window = geometry.oneDNNWindow
            self = .convolution(dnnl_convolution_desc_t(), strides: window.strides, before: window.before, after: window.after)
        case .innerProduct:
            self = .innerProduct(dnnl_inner_product_desc_t())
        }
    }

    mutating func initializeForward(training: Bool, source: UnsafePointer<dnnl_memory_desc_t>,
                                    kernel: UnsafePointer<dnnl_memory_desc_t>, bias: UnsafePointer<dnnl_memory_desc_t>?,
                                    destination: UnsafePointer<dnnl_memory_desc_t>) -> dnnl_status_t {
        let kind = training ? dnnl_forward_training : dnnl_forward_inference
        switch self {
        case .convolution(var descriptor, let strides, let before, let after):
            defer { self = .convolution(descriptor, strides: strides, before: before, after: after) }
            return dnnl_convolution_forward_desc_init(&descriptor, kind, dnnl_convolution_direct, source, kernel, bias, destination,
                                                      strides, before, after)
        case .innerProduct(var descriptor):
            defer { self = .innerProduct(descriptor) }
            return dnnl_inner_product_forward_desc_init(&descriptor, kind, source, kernel, bias, destination)
        }
    }

    mutating func initializeBackwardData(sourceGradient: UnsafePointer<dnnl_memory_desc_t>, kernel: UnsafePointer<dnnl_memory_desc_t>,
                                         destinationGradient: UnsafePointer<dnnl_memory_desc_t>) -> dnnl_status_t {
        switch self {
        case .convolution(var descriptor, let strides, let before, let after):
            defer { self = .convolution(descriptor, strides: strides, before: before, after: after) }
            return dnnl_convolution_backward_data_desc_init(&descriptor, dnnl_convolution_direct, sourceGradient, kernel,
                                                            destinationGradient, strides, before, after)
        case .innerProduct(var descriptor):
            defer { self = .innerProduct(descriptor) }
            return dnnl_inner_product_backward_data_desc_init(&descriptor, sourceGradient, kernel, destinationGradient)
        }
    }

    mutating func initializeBackwardWeights(source: UnsafePointer<dnnl_memory_desc_t>, kernelGradient: UnsafePointer<dnnl_memory_desc_t>,
                                            biasGradient: UnsafePointer<dnnl_memory_desc_t>?,
                                            destinationGradient: UnsafePointer<dnnl_memory_desc_t>) -> dnnl_status_t {
        switch self {
        case .convolution(var descriptor, let strides, let before, let after):
            defer { self = .convolution(descriptor, strides: strides, before: before, after: after) }
            return dnnl_convolution_backward_weights_desc_init(&descriptor, dnnl_convolution_direct, source, kernelGradient,
                                                               biasGradient, destinationGradient, strides, before, after)
        case .innerProduct(var descriptor):
            defer { self = .innerProduct(descriptor) }
            return dnnl_inner_product_backward_weights_desc_init(&descriptor, source, kernelGradient, biasGradient, destinationGradient)
        }
    }

    /// The implementation oneDNN picks for this operation.
    func description(attributes: dnnl_primitive_attr_t?, engine: OneDNN.Engine, hint: dnnl_primitive_desc_t?,
                     _ what: String) throws -> PrimitiveDescription {
        try withUnsafePointer { try PrimitiveDescription($0, attributes: attributes, engine: engine, hint: hint, what) }
    }

    /// Calls `body` with a pointer to the C descriptor (`const_dnnl_op_desc_t`).
    func withUnsafePointer<Result>(_ body: (UnsafeRawPointer) throws -> Result) rethrows -> Result {
        switch self {
        case .convolution(let descriptor, _, _, _): try Swift.withUnsafePointer(to: descriptor) { try body($0) }
        case .innerProduct(let descriptor): try Swift.withUnsafePointer(to: descriptor) { try body($0) }
        }
    }
}

extension WindowGeometry {
    /// oneDNN's strides and padding before and after (TensorFlow's "same" puts the odd element after).
    var oneDNNWindow: (strides: [Int64], before: [Int64], after: [Int64]) {
        ([Int64(strideHeight), Int64(strideWidth)],
         [Int64(padTop), Int64(padLeft)],
         [Int64(max((outputHeight - 1) * strideHeight + windowHeight - inputHeight, 0) - padTop),
          Int64(max((outputWidth - 1) * strideWidth + windowWidth - inputWidth, 0) - padLeft)])
    }
}

// MARK: - Pooling

/// Max or average pooling of NHWC float images for one batch size, in inference, by oneDNN's
/// `pooling_forward` primitive (`jit:avx512_core` here). Padded positions are left out, of the
/// maximum and of the average's count, as TensorFlow does.
public final class OneDNNPooling {
    public enum Kind: Sendable {
        case maximum, average
    }

    public let kind: Kind
    public let geometry: WindowGeometry
    public let batch: Int
    private let stream: Stream
    private let source: Memory, destination: Memory
    private let primitive: Primitive

    /// - Throws: ``OneDNNError`` when oneDNN is unavailable or cannot build the primitive.
    public init(_ kind: Kind, geometry: WindowGeometry, batch: Int) throws {
        guard let engine = OneDNN.runtime else { throw OneDNNError(description: "oneDNN has no CPU engine on this machine") }
        self.kind = kind
        self.geometry = geometry
        self.batch = batch
        stream = try Stream(engine)
        var sourceDescriptor = try descriptor([batch, geometry.channels, geometry.inputHeight, geometry.inputWidth], dnnl_nhwc)
        var destinationDescriptor = try descriptor([batch, geometry.channels, geometry.outputHeight, geometry.outputWidth], dnnl_nhwc)
        let window = geometry.oneDNNWindow
        let size: [Int64] = [Int64(geometry.windowHeight), Int64(geometry.windowWidth)]
        var operation = dnnl_pooling_desc_t()
        try check(dnnl_pooling_forward_desc_init(
            &operation, dnnl_forward_inference, kind == .maximum ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding,
            &sourceDescriptor, &destinationDescriptor, window.strides, size, window.before, window.after),
            "describing the pooling")
        let description = try withUnsafePointer(to: operation) {
            try PrimitiveDescription($0, attributes: nil, engine: engine, hint: nil, "the pooling")
        }
        source = try Memory(sourceDescriptor, engine)
        destination = try Memory(destinationDescriptor, engine)
        primitive = try description.primitive("the pooling")
    }

    /// - Parameters:
    ///   - input: `[batch, inputHeight, inputWidth, channels]`.
    ///   - output: `[batch, outputHeight, outputWidth, channels]`.
    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        source.bind(input)
        destination.bind(output)
        primitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_DST, destination)], on: stream)
    }
}

// MARK: - Wrappers of oneDNN handles

private func check(_ status: dnnl_status_t, _ what: String) throws {
    guard status == dnnl_success else { throw OneDNNError(description: "oneDNN failed \(what) (status \(status.rawValue))") }
}

/// A float memory descriptor of `dimensions` (oneDNN's logical order: NCHW, OIHW) in layout `tag`.
private func descriptor(_ dimensions: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var result = dnnl_memory_desc_t()
    let sizes = dimensions.map(Int64.init)
    try check(dnnl_memory_desc_init_by_tag(&result, Int32(sizes.count), sizes, dnnl_f32, tag), "describing a \(dimensions) tensor")
    return result
}

/// A primitive descriptor: the implementation oneDNN picked for an operation.
private final class PrimitiveDescription {
    let handle: dnnl_primitive_desc_t

    /// - Parameter descriptor: an operation descriptor (`dnnl_convolution_desc_t`, …).
    init(_ descriptor: UnsafeRawPointer, attributes: dnnl_primitive_attr_t?, engine: OneDNN.Engine,
         hint: dnnl_primitive_desc_t?, _ what: String) throws {
        var description: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&description, descriptor, attributes, engine.handle, hint), "building \(what)")
        handle = description!
    }

    deinit { dnnl_primitive_desc_destroy(handle) }

    func memory(_ query: dnnl_query_t) -> dnnl_memory_desc_t { dnnl_primitive_desc_query_md(handle, query, 0)!.pointee }

    func primitive(_ what: String) throws -> Primitive { try Primitive(handle, what) }
}

/// Where primitives run, one call at a time (each layer's primitives have their own).
private final class Stream {
    let handle: dnnl_stream_t

    init(_ engine: OneDNN.Engine) throws {
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, engine.handle, dnnl_stream_default_flags.rawValue), "creating a stream")
        handle = stream!
    }

    deinit { dnnl_stream_destroy(handle) }
}

/// A primitive built for fixed shapes, ready to run.
private final class Primitive {
    let handle: dnnl_primitive_t
    let what: String

    init(_ description: dnnl_primitive_desc_t, _ what: String) throws {
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, description), "creating \(what)")
        handle = primitive!
        self.what = what
    }

    deinit { dnnl_primitive_destroy(handle) }

    /// Runs the primitive on `arguments` (oneDNN's argument names, with the memory bound to each) and waits for it.
    func run(_ arguments: [(name: Int32, memory: Memory)], on stream: Stream) {
        let arguments = arguments.map { dnnl_exec_arg_t(arg: $0.name, memory: $0.memory.handle) }
        let status = dnnl_primitive_execute(handle, stream.handle, Int32(arguments.count), arguments)
        // Shapes were fixed when the primitive was built, so this fails only on an internal error.
        precondition(status == dnnl_success && dnnl_stream_wait(stream.handle) == dnnl_success,
                     "oneDNN failed to run \(what) (status \(status.rawValue))")
    }
}

/// A oneDNN memory object over a buffer that is bound before each use (or owned, for internal layouts).
private final class Memory {
    let handle: dnnl_memory_t
    private var owned: UnsafeMutableRawPointer?

    /// - Parameter owning: allocate a buffer of the descriptor's size instead of binding one later.
    init(_ descriptor: dnnl_memory_desc_t, _ engine: OneDNN.Engine, owning: Bool = false) throws {
        var descriptor = descriptor
        if owning { owned = UnsafeMutableRawPointer.allocate(byteCount: max(dnnl_memory_desc_get_size(&descriptor), 1), alignment: 64) }
        var memory: dnnl_memory_t?
        let status = dnnl_memory_create(&memory, &descriptor, engine.handle, owned)
        guard status == dnnl_success, let memory else {
            owned?.deallocate()  // deinit does not run for an object whose init throws
            throw OneDNNError(description: "oneDNN failed creating a memory object (status \(status.rawValue))")
        }
        handle = memory
    }

    /// Points the memory object at `pointer`'s buffer for the next primitive run.
    func bind(_ pointer: UnsafeRawPointer?) {
        precondition(dnnl_memory_set_data_handle(handle, UnsafeMutableRawPointer(mutating: pointer)) == dnnl_success)
    }

    deinit {
        dnnl_memory_destroy(handle)
        owned?.deallocate()
    }
}

/// A kernel in the layout a primitive chose, with the reorder to it from lrt's `hwio` (or back).
/// When the two layouts are the same there is no copy and no reorder.
private final class ReorderedKernel {
    /// The kernel in the primitive's layout, or nil when that is lrt's own.
    let internalMemory: Memory?
    private let reorder: Primitive?
    /// The version of the kernel last converted to the chosen layout.
    private var convertedVersion: Int?

    init(user: dnnl_memory_desc_t, chosen: dnnl_memory_desc_t, engine: OneDNN.Engine, toChosen: Bool) throws {
        var user = user, chosen = chosen
        guard dnnl_memory_desc_equal(&user, &chosen) == 0 else {
            internalMemory = nil
            reorder = nil
            return
        }
        internalMemory = try Memory(chosen, engine, owning: true)
        var description: dnnl_primitive_desc_t?
        try check(toChosen
                  ? dnnl_reorder_primitive_desc_create(&description, &user, engine.handle, &chosen, engine.handle, nil)
                  : dnnl_reorder_primitive_desc_create(&description, &chosen, engine.handle, &user, engine.handle, nil),
                  "building a kernel reorder")
        defer { dnnl_primitive_desc_destroy(description) }
        reorder = try Primitive(description!, "a kernel reorder")
    }

    /// The kernel in the primitive's layout, reordered from `user` when they differ, unless `version`
    /// is that of the last kernel converted.
    func convert(_ user: Memory, version: Int?, stream: Stream) -> Memory {
        guard let internalMemory, let reorder else { return user }
        if version == nil || version != convertedVersion {
            reorder.run([(DNNL_ARG_FROM, user), (DNNL_ARG_TO, internalMemory)], on: stream)
            convertedVersion = version
        }
        return internalMemory
    }

    /// Copies the primitive's result back into `user`'s layout, when they differ.
    func convertBack(into user: Memory, stream: Stream) {
        guard let internalMemory, let reorder else { return }
        reorder.run([(DNNL_ARG_FROM, internalMemory), (DNNL_ARG_TO, user)], on: stream)
    }
}

extension OneDNNKernels {
    /// Checks oneDNN's forward, input-gradient and kernel-gradient results, for a convolution and
    /// an inner product, against naive Double-accumulated products: the convolution's over im2col,
    /// with odd sizes, stride 2, "same" padding and a bias; the inner product's with the fused ReLU,
    /// and again after its kernel changed (a new kernel version).
    /// - Returns: the largest error relative to the largest reference entry (NaN when a result
    ///   is NaN), or nil when oneDNN has no engine here.
    /// - Throws: ``OneDNNError`` when oneDNN runs here but cannot build the primitives.
    public static func selfCheck() throws -> Double? {
        guard OneDNN.runtime != nil else { return nil }
        return worst([try convolutionError(), try innerProductError()])
    }

    /// The largest of `errors`, or NaN when one is NaN.
    private static func worst(_ errors: [Double]) -> Double {
        errors.contains { $0.isNaN } ? .nan : errors.max() ?? 0
    }

    private static func relativeError(_ values: [Float], _ expected: [Float]) -> Double {
        let scale = Double(expected.map(abs).max() ?? 1)
        return worst(zip(values, expected).map { Double(abs($0 - $1)) / scale })
    }

    private static func innerProductError() throws -> Double {
        let (batch, inputUnits, units) = (7, 37, 19)
        let product = try OneDNNKernels(.innerProduct(inputUnits: inputUnits, units: units), batch: batch, hasBias: true,
                                        fusesReLU: true, training: true)
        var generator = SeededGenerator(seed: 2)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in generator.nextFloat(in: -1, 1) } }
        let input = random(batch * inputUnits), kernel = random(inputUnits * units), bias = random(units)
        let outputGradient = random(batch * units)
        var output = [Float](repeating: 0, count: batch * units), inputGradient = [Float](repeating: 0, count: input.count)
        var kernelGradient = [Float](repeating: 0, count: kernel.count), biasGradient = [Float](repeating: 0, count: units)
        /// `max(0, input · kernel + bias)`, naively.
        func expectedOutput(_ kernel: [Float]) -> [Float] {
            MatrixMultiply.reference(input, kernel, rows: batch, columns: units, inner: inputUnits)
                .enumerated().map { max(0, $0.element + bias[$0.offset % units]) }
        }
        // The same kernel version twice, then a changed kernel under a new version.
        let changedKernel = kernel.map { -0.5 * $0 }
        var reused = output, changed = output
        product.forward(input: input, kernel: kernel, kernelVersion: 1, bias: bias, output: &output)
        product.forward(input: input, kernel: kernel, kernelVersion: 1, bias: bias, output: &reused)
        product.forward(input: input, kernel: changedKernel, kernelVersion: 2, bias: bias, output: &changed)
        product.backward(input: input, outputGradient: outputGradient, kernel: kernel, inputGradient: &inputGradient,
                         kernelGradient: &kernelGradient, biasGradient: &biasGradient)
        let expectedBiasGradient = (0..<units).map { unit in
            stride(from: unit, to: outputGradient.count, by: units).reduce(Float(0)) { $0 + outputGradient[$1] }
        }
        return worst([relativeError(output, expectedOutput(kernel)), relativeError(reused, expectedOutput(kernel)),
                relativeError(changed, expectedOutput(changedKernel)),
                relativeError(inputGradient, MatrixMultiply.reference(outputGradient, kernel, transposeB: true,
                                                                      rows: batch, columns: inputUnits, inner: units)),
                relativeError(kernelGradient, MatrixMultiply.reference(input, transposeA: true, outputGradient,
                                                                       rows: inputUnits, columns: units, inner: batch)),
                relativeError(biasGradient, expectedBiasGradient)])
    }

    private static func convolutionError() throws -> Double {
        let geometry = WindowGeometry(inputHeight: 9, inputWidth: 7, channels: 3, windowHeight: 3, windowWidth: 3,
                                      strideHeight: 2, strideWidth: 2, padding: .same)!  // fits: "same" padding
        let (batch, filters) = (5, 6)
        let convolution = try OneDNNKernels(.convolution(geometry, filters: filters), batch: batch, hasBias: true,
                                            fusesReLU: false, training: true)
        var generator = SeededGenerator(seed: 1)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in generator.nextFloat(in: -1, 1) } }
        let input = random(batch * geometry.inputSize), kernel = random(geometry.patchSize * filters), bias = random(filters)
        let rows = batch * geometry.outputPositions
        let outputGradient = random(rows * filters)
        var columns = [Float](repeating: 0, count: rows * geometry.patchSize)
        columns.withUnsafeMutableBufferPointer { geometry.im2col(input, images: batch, into: $0.baseAddress!) }

        var output = [Float](repeating: 0, count: rows * filters)
        var inputGradient = [Float](repeating: 0, count: input.count)
        var kernelGradient = [Float](repeating: 0, count: kernel.count), biasGradient = [Float](repeating: 0, count: filters)
        convolution.forward(input: input, kernel: kernel, bias: bias, output: &output)
        convolution.backward(input: input, outputGradient: outputGradient, kernel: kernel, inputGradient: &inputGradient,
                             kernelGradient: &kernelGradient, biasGradient: &biasGradient)

        let product = MatrixMultiply.reference(columns, kernel, rows: rows, columns: filters, inner: geometry.patchSize)
        let expectedOutput = product.indices.map { product[$0] + bias[$0 % filters] }
        let expectedKernelGradient = MatrixMultiply.reference(columns, transposeA: true, outputGradient,
                                                              rows: geometry.patchSize, columns: filters, inner: rows)
        let expectedBiasGradient = (0..<filters).map { filter in
            stride(from: filter, to: outputGradient.count, by: filters).reduce(Float(0)) { $0 + outputGradient[$1] }
        }
        var patchGradients = MatrixMultiply.reference(outputGradient, kernel, transposeB: true,
                                                      rows: rows, columns: geometry.patchSize, inner: filters)
        var expectedInputGradient = [Float](repeating: 0, count: input.count)
        patchGradients.withUnsafeMutableBufferPointer { patches in
            expectedInputGradient.withUnsafeMutableBufferPointer { geometry.col2im(patches.baseAddress!, images: batch, into: $0.baseAddress!) }
        }
        return worst([relativeError(output, expectedOutput), relativeError(inputGradient, expectedInputGradient),
                      relativeError(kernelGradient, expectedKernelGradient), relativeError(biasGradient, expectedBiasGradient)])
    }
}

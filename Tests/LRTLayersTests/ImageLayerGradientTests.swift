import XCTest
import LRTTensor
@testable import LRTLayers

/// Finite-difference checks of Conv2D, pooling, BatchNormalization and Dropout
/// (``GradientTests/checkLayer(_:inputShape:batch:seed:input:trainingObjective:file:line:)``).
extension GradientTests {
    /// A Conv2D with weights uniform in ±0.5, so that every kernel entry matters, computed by `backend`.
    func convolution(inputShape: [Int], filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                     padding: Padding = .valid, activation: Activation = .linear, useBias: Bool = true,
                     seed: UInt64 = 3, backend: KernelBackend) -> Conv2D {
        var generator = SeededGenerator(seed: seed)
        let uniform = Initializer.randomUniform(minimum: -0.5, maximum: 0.5)
        let layer = Conv2D(name: "conv2d", inputShape: inputShape, filters: filters, kernelSize: kernelSize, strides: strides,
                           padding: padding, activation: activation,
                           kernel: uniform.make(shape: [kernelSize.0, kernelSize.1, inputShape[2], filters], generator: &generator),
                           bias: useBias ? uniform.make(shape: [filters], generator: &generator) : nil)
        layer.backend = backend
        return layer
    }

    /// Finite-difference checks of a Conv2D under each backend; oneDNN must not fall back.
    func checkConvolution(inputShape: [Int], filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                          padding: Padding = .valid, activation: Activation = .linear, useBias: Bool = true,
                          input: Tensor? = nil, file: StaticString = #filePath, line: UInt = #line) {
        for backend in KernelBackend.allCases {
            let layer = convolution(inputShape: inputShape, filters: filters, kernelSize: kernelSize, strides: strides,
                                    padding: padding, activation: activation, useBias: useBias, backend: backend)
            checkLayer(layer, inputShape: inputShape, batch: 2, input: input, file: file, line: line)
            XCTAssertNil(layer.oneDNNFailure, "\(backend)", file: file, line: line)
        }
    }

    /// Values 0.01 apart in random order: no two inputs of a max-pooling window are
    /// within a finite-difference step of each other, so the arg-max never flips.
    func distinctInput(_ shape: [Int], seed: UInt64 = 7) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        let order = generator.permutation(of: count)
        return Tensor(shape: shape, storage: order.map { Float($0 - count / 2) * 0.01 })
    }

    func testConv2DBackwardValidStrideOne() {
        checkConvolution(inputShape: [5, 6, 2], filters: 3, kernelSize: (3, 3))
    }

    /// Odd sizes with stride 2 and same padding: the padding is uneven (none above, one below).
    func testConv2DBackwardSamePaddingStrideTwoOddSizes() {
        checkConvolution(inputShape: [7, 5, 2], filters: 3, kernelSize: (3, 3), strides: (2, 2), padding: .same)
        checkConvolution(inputShape: [6, 6, 1], filters: 2, kernelSize: (3, 3), strides: (2, 2), padding: .same)
    }

    func testConv2DBackwardNonSquareKernelsAndStrides() {
        checkConvolution(inputShape: [6, 7, 3], filters: 2, kernelSize: (2, 3), strides: (2, 1), padding: .same)
        checkConvolution(inputShape: [7, 6, 2], filters: 2, kernelSize: (3, 2), strides: (1, 3))
        checkConvolution(inputShape: [4, 9, 1], filters: 4, kernelSize: (1, 5), padding: .same)
        // Valid padding whose last stride leaves a column unused (oneDNN: no padding after).
        checkConvolution(inputShape: [7, 8, 2], filters: 2, kernelSize: (3, 3), strides: (2, 2))
    }

    /// Four or more channels take the im2col layout (fewer take the transposed one).
    func testConv2DBackwardManyChannels() {
        XCTAssertEqual(convolution(inputShape: [5, 5, 4], filters: 3, kernelSize: (3, 3), backend: .blas).patchLayout, .rows)
        checkConvolution(inputShape: [5, 5, 4], filters: 3, kernelSize: (3, 3), strides: (2, 2), padding: .same)
        checkConvolution(inputShape: [6, 5, 5], filters: 2, kernelSize: (2, 3), strides: (1, 2))
        XCTAssertEqual(convolution(inputShape: [6, 5, 3], filters: 2, kernelSize: (2, 3), backend: .blas).patchLayout, .transposed)
    }

    /// A 1×1 kernel with stride 1 skips im2col; with stride 2 it does not.
    func testConv2DBackwardPointwise() {
        XCTAssertEqual(convolution(inputShape: [3, 4, 5], filters: 3, kernelSize: (1, 1), backend: .blas).patchLayout, .input)
        checkConvolution(inputShape: [3, 4, 5], filters: 3, kernelSize: (1, 1))
        checkConvolution(inputShape: [5, 4, 3], filters: 2, kernelSize: (1, 1), strides: (2, 2))
    }

    func testConv2DBackwardThroughActivationsWithoutBias() throws {
        for activation in [Activation.tanh, .softmax, .elu] {
            checkConvolution(inputShape: [5, 5, 2], filters: 3, kernelSize: (3, 3), padding: .same, activation: activation, useBias: false)
        }
        // ReLU's kink: a kernel step of 1e-3 moves every pre-activation of its filter by up
        // to 1e-3, so take an input whose pre-activations all stay 0.005 away from zero.
        let linear = convolution(inputShape: [5, 5, 2], filters: 3, kernelSize: (3, 3), padding: .same, useBias: false, backend: .blas)
        let input = (1...50).lazy.map { seed -> Tensor in
            var generator = SeededGenerator(seed: UInt64(seed))
            return Tensor(shape: [2, 5, 5, 2], storage: (0..<100).map { _ in generator.nextFloat(in: -1, 1) })
        }.first { input in
            var context = ForwardContext.inference
            return linear.forward(input, context: &context).storage.allSatisfy { abs($0) > 0.005 }
        }
        checkConvolution(inputShape: [5, 5, 2], filters: 3, kernelSize: (3, 3), padding: .same, activation: .relu, useBias: false,
                         input: try XCTUnwrap(input))
    }

    /// As the first trainable layer, Conv2D skips its input gradient but still sets the kernel gradient.
    func testConv2DWithoutInputGradientKeepsParameterGradients() {
        for backend in KernelBackend.allCases {
            let full = convolution(inputShape: [6, 5, 2], filters: 3, kernelSize: (3, 3), strides: (2, 2), padding: .same, backend: backend)
            let skipping = convolution(inputShape: [6, 5, 2], filters: 3, kernelSize: (3, 3), strides: (2, 2), padding: .same, backend: backend)
            skipping.computesInputGradient = false
            let input = distinctInput([2, 6, 5, 2])
            for layer in [full, skipping] {
                var context = ForwardContext(training: true)
                let output = layer.forward(input, context: &context)
                let gradient = layer.backward(Tensor(shape: output.shape, repeating: 1))
                XCTAssertEqual(gradient.count, layer === full ? input.count : 0)
            }
            XCTAssertEqual(full.kernel.gradient, skipping.kernel.gradient)
            XCTAssertEqual(full.bias!.gradient, skipping.bias!.gradient)
        }
    }

    func testMaxPoolingBackward() {
        let cases: [(shape: [Int], pool: (Int, Int), strides: (Int, Int)?, padding: Padding)] = [
            ([4, 6, 3], (2, 2), nil, .valid),
            ([7, 5, 2], (3, 3), (2, 2), .same),
            ([5, 6, 2], (2, 3), (1, 2), .same),
            ([5, 5, 1], (2, 2), nil, .same),  // the last window holds one row and column
        ]
        for (shape, pool, strides, padding) in cases {
            let layer = MaxPooling2D(name: "max_pooling2d", inputShape: shape, poolSize: pool, strides: strides, padding: padding)
            checkLayer(layer, inputShape: shape, batch: 2, input: distinctInput([2] + shape))
        }
    }

    func testAveragePoolingBackward() {
        let cases: [(shape: [Int], pool: (Int, Int), strides: (Int, Int)?, padding: Padding)] = [
            ([4, 6, 3], (2, 2), nil, .valid),
            ([7, 5, 2], (3, 3), (2, 2), .same),
            ([5, 6, 2], (2, 3), (1, 2), .same),
        ]
        for (shape, pool, strides, padding) in cases {
            let layer = AveragePooling2D(name: "average_pooling2d", inputShape: shape, poolSize: pool, strides: strides, padding: padding)
            checkLayer(layer, inputShape: shape, batch: 2)
        }
    }

    func testGlobalAveragePoolingBackward() {
        checkLayer(GlobalAveragePooling2D(name: "global_average_pooling2d", inputShape: [3, 4, 5]), inputShape: [3, 4, 5])
    }

    /// A BatchNormalization with gamma and beta away from their initial 1 and 0, so their gradients matter.
    func batchNormalization(shape: [Int], center: Bool = true, scale: Bool = true) -> BatchNormalization {
        var generator = SeededGenerator(seed: 11)
        let features = [shape.last!]
        return BatchNormalization(
            name: "batch_normalization", inputShape: shape,
            gamma: scale ? Initializer.randomUniform(minimum: 0.5, maximum: 1.5).make(shape: features, generator: &generator) : nil,
            beta: center ? Initializer.randomUniform(minimum: -0.5, maximum: 0.5).make(shape: features, generator: &generator) : nil,
            movingMean: Tensor(shape: features), movingVariance: Tensor(shape: features, repeating: 1))
    }

    /// Training mode (batch statistics) after a Dense layer: one mean and variance per feature over the batch.
    func testBatchNormalizationBackwardAfterDense() {
        checkLayer(batchNormalization(shape: [5]), inputShape: [5], batch: 4, trainingObjective: true)
    }

    /// After a convolution: one mean and variance per channel over batch · height · width.
    func testBatchNormalizationBackwardAfterConv2D() {
        checkLayer(batchNormalization(shape: [3, 2, 4]), inputShape: [3, 2, 4], batch: 2, trainingObjective: true)
    }

    func testBatchNormalizationBackwardWithoutScaleOrCenter() {
        checkLayer(batchNormalization(shape: [3], center: false), inputShape: [3], batch: 5, trainingObjective: true)
        checkLayer(batchNormalization(shape: [3], scale: false), inputShape: [3], batch: 5, trainingObjective: true)
        checkLayer(batchNormalization(shape: [2, 3], center: false, scale: false), inputShape: [2, 3], batch: 3, trainingObjective: true)
    }

    /// With the generator in the same state for every pass the mask is fixed, and the layer is linear.
    func testDropoutBackwardWithFixedMask() {
        checkLayer(Dropout(name: "dropout", shape: [4, 3], rate: 0.4), inputShape: [4, 3], batch: 3, trainingObjective: true)
    }
}

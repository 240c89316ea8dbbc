import XCTest
import LRTTensor
import LRTTensorAVX2
@testable import LRTLayers

/// A convolution and the `MaxPooling2D()` after it computed in one pass in inference (``InferenceFusing``): the same
/// values as the two layers one by one, and as direct loops; taken only where it applies.
final class InferenceFusionTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        var tensor = Tensor(shape: shape)
        for index in 0..<tensor.count { tensor.storage[index] = generator.nextFloat(in: -1, 1) }
        return tensor
    }

    /// `maxpool₂ₓ₂(activation(convolve(input) + bias))` by direct loops, Double sums.
    private func naive(_ input: Tensor, kernel: Tensor, bias: Tensor?, strides: Int, padding: Padding, relu: Bool) -> Tensor {
        let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (window, filters) = (kernel.shape[0], kernel.shape[3])
        let geometry = WindowGeometry(inputHeight: height, inputWidth: width, channels: channels, windowHeight: window,
                                      windowWidth: window, strideHeight: strides, strideWidth: strides, padding: padding)!
        func convolution(_ image: Int, _ y: Int, _ x: Int, _ filter: Int) -> Float {
            var sum = 0.0
            for kernelY in 0..<window {
                for kernelX in 0..<window {
                    let row = y * strides - geometry.padTop + kernelY, column = x * strides - geometry.padLeft + kernelX
                    guard row >= 0, row < height, column >= 0, column < width else { continue }
                    for channel in 0..<channels {
                        sum += Double(input.storage[((image * height + row) * width + column) * channels + channel])
                            * Double(kernel.storage[((kernelY * window + kernelX) * channels + channel) * filters + filter])
                    }
                }
            }
            let value = Float(sum) + (bias?.storage[filter] ?? 0)
            return relu ? max(value, 0) : value
        }
        let (pooledHeight, pooledWidth) = (geometry.outputHeight / 2, geometry.outputWidth / 2)
        var output = Tensor(shape: [batch, pooledHeight, pooledWidth, filters])
        for image in 0..<batch {
            for y in 0..<pooledHeight {
                for x in 0..<pooledWidth {
                    for filter in 0..<filters {
                        output.storage[((image * pooledHeight + y) * pooledWidth + x) * filters + filter] = max(
                            max(convolution(image, 2 * y, 2 * x, filter), convolution(image, 2 * y, 2 * x + 1, filter)),
                            max(convolution(image, 2 * y + 1, 2 * x, filter), convolution(image, 2 * y + 1, 2 * x + 1, filter)))
                    }
                }
            }
        }
        return output
    }

    private func worstDifference(_ actual: Tensor, _ expected: Tensor) -> Float {
        zip(actual.storage, expected.storage).map { abs($0 - $1) }.max() ?? .nan
    }

    /// The largest difference relative to the largest expected value: the rounding of long sums grows with them.
    private func relativeDifference(_ actual: Tensor, _ expected: Tensor) -> Float {
        worstDifference(actual, expected) / max(expected.storage.map(abs).max() ?? 0, 1e-30)
    }

    /// Few input channels: ``PooledConvolution``, against direct loops, with every window, stride and padding.
    func testFewChannelsMatchDirectLoops() throws {
        let cases: [(shape: [Int], filters: Int, window: Int, strides: Int, padding: Padding, relu: Bool, bias: Bool)] = [
            ([28, 28, 1], 32, 3, 1, .valid, true, true),    // cnn-mnist's first layer: 26×26 → 13×13
            ([9, 11, 3], 40, 3, 1, .same, true, true),      // four vectors, then one; odd sizes drop a row and a column
            ([12, 10, 2], 5, 5, 2, .same, false, false),    // a tail of filters only, stride 2, linear, no bias
            ([7, 7, 1], 12, 2, 1, .valid, true, false),     // 6×6 → 3×3, a 2×2 window
        ]
        for (index, test) in cases.enumerated() {
            let kernel = random([test.window, test.window, test.shape[2], test.filters], seed: UInt64(index) + 10)
            let bias = test.bias ? random([test.filters], seed: UInt64(index) + 20) : nil
            let input = random([3] + test.shape, seed: UInt64(index))
            let layer = Conv2D(name: "conv2d", inputShape: test.shape, filters: test.filters, kernelSize: (test.window, test.window),
                               strides: (test.strides, test.strides), padding: test.padding,
                               activation: test.relu ? .relu : .linear, kernel: kernel, bias: bias)
            let pooling = MaxPooling2D(name: "max_pooling2d", inputShape: layer.outputShape, poolSize: (2, 2))
            var context = ForwardContext.inference
            let fused = try XCTUnwrap(layer.forward(input, fusing: pooling, context: &context), "case \(index)")
            let expected = naive(input, kernel: kernel, bias: bias, strides: test.strides, padding: test.padding, relu: test.relu)
            XCTAssertEqual(fused.shape, expected.shape, "case \(index)")
            XCTAssertLessThan(worstDifference(fused, expected), 1e-5, "case \(index): \(test)")
            // And as the two layers one by one.
            var separate = ForwardContext.inference
            let layered = pooling.forward(layer.forward(input, context: &separate), context: &separate)
            XCTAssertLessThan(worstDifference(fused, layered), 1e-5, "case \(index): \(test)")
        }
    }

    /// ``PooledConvolution``'s two paths, windows inside the image and windows clipped at its border, give the same
    /// values: `same` padding over an image (border windows clipped) equals `valid` over the image with its zero border
    /// written out (every window inside), to the bit, since the clipped taps would only have added zeros.
    func testWindowsInsideAndClippedAtTheBorderAgree() throws {
        // 5×4 pooled outputs; those of the first row and column (and of the last row) have windows on the padding.
        let (height, width, channels, filters) = (10, 9, 2, 21)  // two vectors, then one with a tail
        let same = try XCTUnwrap(WindowGeometry(inputHeight: height, inputWidth: width, channels: channels, windowHeight: 3,
                                                windowWidth: 3, strideHeight: 1, strideWidth: 1, padding: .same))
        let valid = try XCTUnwrap(WindowGeometry(inputHeight: height + 2, inputWidth: width + 2, channels: channels, windowHeight: 3,
                                                 windowWidth: 3, strideHeight: 1, strideWidth: 1, padding: .valid))
        let clipped = LRTTensor.PooledConvolution(geometry: same, filters: filters)
        let inside = LRTTensor.PooledConvolution(geometry: valid, filters: filters)
        let images = 2, input = random([images, height, width, channels], seed: 90).storage
        var padded = [Float](repeating: 0, count: images * valid.inputSize)
        for image in 0..<images {
            for row in 0..<height {
                for column in 0..<width {
                    for channel in 0..<channels {
                        padded[((image * (height + 2) + row + 1) * (width + 2) + column + 1) * channels + channel]
                            = input[((image * height + row) * width + column) * channels + channel]
                    }
                }
            }
        }
        let kernel = random([3, 3, channels, filters], seed: 91).storage, bias = random([filters], seed: 92).storage
        var packed = [Float](repeating: 0, count: clipped.packedCount)
        clipped.pack(kernel: kernel, bias: bias, into: &packed)
        XCTAssertEqual([clipped.pooledHeight, clipped.pooledWidth], [inside.pooledHeight, inside.pooledWidth])
        var scratch = [Float](repeating: 0, count: LRTTensor.PooledConvolution.scratchCount)
        let count = images * clipped.pooledHeight * clipped.pooledWidth * filters
        var expected = [Float](repeating: .nan, count: count), actual = expected
        for rectifies in [true, false] {
            clipped.convolve(input, images: images, packed: packed, rectifies: rectifies, into: &expected, scratch: &scratch)
            inside.convolve(padded, images: images, packed: packed, rectifies: rectifies, into: &actual, scratch: &scratch)
            XCTAssertEqual(actual, expected, "rectifies: \(rectifies)")
            XCTAssertFalse(expected.contains(where: \.isNaN))
        }
    }

    /// The AVX2 build of ``PooledConvolution`` gives exactly the baseline build's values (no fused multiply-adds).
    func testTheAVX2BuildGivesTheBaselineValues() throws {
        try XCTSkipUnless(CPUFeatures.hasAVX2, "this CPU has no AVX2, so only the baseline build can run")
        for (index, (shape, filters)) in [([28, 28, 1], 32), ([9, 11, 3], 44)].enumerated() {
            let geometry = try XCTUnwrap(WindowGeometry(inputHeight: shape[0], inputWidth: shape[1], channels: shape[2], windowHeight: 3,
                                                        windowWidth: 3, strideHeight: 1, strideWidth: 1, padding: .same))
            let baseline = LRTTensor.PooledConvolution(geometry: geometry, filters: filters)
            let wide = LRTTensorAVX2.PooledConvolution(geometry: geometry, filters: filters)
            let kernel = random([3, 3, shape[2], filters], seed: UInt64(index) + 60).storage
            let bias = random([filters], seed: UInt64(index) + 70).storage
            let input = random([4] + shape, seed: UInt64(index) + 80).storage
            var packed = [Float](repeating: 0, count: baseline.packedCount)
            baseline.pack(kernel: kernel, bias: bias, into: &packed)
            let count = 4 * baseline.pooledHeight * baseline.pooledWidth * filters
            var scratch = [Float](repeating: 0, count: LRTTensor.PooledConvolution.scratchCount)
            var expected = [Float](repeating: .nan, count: count), actual = expected
            baseline.convolve(input, images: 4, packed: packed, rectifies: true, into: &expected, scratch: &scratch)
            wide.convolve(input, images: 4, packed: packed, rectifies: true, into: &actual, scratch: &scratch)
            XCTAssertEqual(actual, expected, "case \(index)")
            XCTAssertFalse(expected.contains(where: \.isNaN), "case \(index): every output written")
        }
    }

    /// The AVX2 build of ``WinogradConvolution`` gives exactly the baseline build's values, with and without the pooling.
    func testTheAVX2BuildOfWinogradGivesTheBaselineValues() throws {
        try XCTSkipUnless(CPUFeatures.hasAVX2, "this CPU has no AVX2, so only the baseline build can run")
        let geometry = try XCTUnwrap(WindowGeometry(inputHeight: 13, inputWidth: 13, channels: 32, windowHeight: 3, windowWidth: 3,
                                                    strideHeight: 1, strideWidth: 1, padding: .valid))
        let kernel = random([3, 3, 32, 60], seed: 90).storage, bias = random([60], seed: 91).storage
        let input = random([3, 13, 13, 32], seed: 92).storage
        for pools in [false, true] {  // F(4×4) tiles, then F(5×5)'s for the pooling
            let baseline = try XCTUnwrap(LRTTensor.WinogradConvolution(geometry: geometry, filters: 60, pooled: pools))
            let wide = try XCTUnwrap(LRTTensorAVX2.WinogradConvolution(geometry: geometry, filters: 60, pooled: pools))
            XCTAssertEqual(baseline.tileSize, pools ? 5 : 4)
            var transformed = [Float](repeating: 0, count: baseline.transformedKernelCount)
            baseline.transformKernel(kernel, into: &transformed)
            var scratch = [Float](repeating: 0, count: baseline.scratchCount(images: 3))
            bias.withUnsafeBufferPointer { biases in
                let count = 3 * (pools ? 5 * 5 : 11 * 11) * 60
                var expected = [Float](repeating: .nan, count: count), actual = expected
                baseline.convolve(input, images: 3, transformedKernel: transformed, into: &expected, scratch: &scratch,
                                  pooling: pools ? WinogradPooling(bias: biases.baseAddress, rectifies: true) : nil)
                wide.convolve(input, images: 3, transformedKernel: transformed, into: &actual, scratch: &scratch,
                              pooling: pools ? WinogradPooling(bias: biases.baseAddress, rectifies: true) : nil)
                XCTAssertEqual(actual, expected, "pools \(pools)")
                XCTAssertFalse(expected.contains(where: \.isNaN), "pools \(pools): every output written")
            }
        }
    }

    /// Winograd's algorithm with the bias, ReLU and pooling in its output transform: with the tiles of the layers one by
    /// one, exactly their values (the same sums, then the same maximum of the same four values); with F(5×5) tiles where
    /// those take fewer products, their values within rounding; for both backends' pooling.
    func testWinogradEqualsTheLayersOneByOne() throws {
        let cases: [(shape: [Int], filters: Int, padding: Padding, relu: Bool, bias: Bool, sameTiles: Bool)] = [
            ([13, 13, 32], 64, .valid, true, true, false),  // cnn-mnist's second layer: 11×11 → 5×5 by 2×2 tiles of 5×5
            ([10, 12, 40], 36, .same, true, true, true),    // filters not a multiple of 8; 10×12 by 2×3 tiles of 5×5 either way
            ([9, 9, 32], 32, .same, false, false, false),   // linear, no bias, 9×9 → 4×4 by 2×2 tiles of 4×4 (alone: of 5×5)
            ([12, 12, 32], 40, .same, true, true, true),    // 12×12 → 6×6 by 3×3 tiles of 4×4 either way
        ]
        for (index, test) in cases.enumerated() {
            let kernel = random([3, 3, test.shape[2], test.filters], seed: UInt64(index) + 30)
            let bias = test.bias ? random([test.filters], seed: UInt64(index) + 40) : nil
            let input = random([5] + test.shape, seed: UInt64(index) + 50)
            for backend in KernelBackend.allCases {
                let layer = Conv2D(name: "conv2d", inputShape: test.shape, filters: test.filters, kernelSize: (3, 3),
                                   padding: test.padding, activation: test.relu ? .relu : .linear, kernel: kernel, bias: bias)
                let pooling = MaxPooling2D(name: "max_pooling2d", inputShape: layer.outputShape, poolSize: (2, 2))
                layer.backend = backend
                pooling.backend = backend
                XCTAssertTrue(layer.infersWithWinograd)
                var context = ForwardContext.inference
                let fused = try XCTUnwrap(layer.forward(input, fusing: pooling, context: &context), "case \(index)")
                var separate = ForwardContext.inference
                let layered = pooling.forward(layer.forward(input, context: &separate), context: &separate)
                XCTAssertEqual(fused.shape, layered.shape, "case \(index)")
                if test.sameTiles {
                    XCTAssertEqual(fused.storage, layered.storage, "case \(index), \(backend)")
                } else {
                    XCTAssertTrue(fused.storage != layered.storage, "case \(index), \(backend): other tiles, other rounding")
                    XCTAssertLessThan(relativeDifference(fused, layered), 2e-5, "case \(index), \(backend)")
                }
                let expected = naive(input, kernel: kernel, bias: bias, strides: 1, padding: test.padding, relu: test.relu)
                XCTAssertLessThan(relativeDifference(fused, expected), 2e-5, "case \(index), \(backend)")
            }
        }
    }

    func testTakenOnlyWhereItApplies() {
        func convolution(channels: Int, activation: Activation = .relu) -> Conv2D {
            Conv2D(name: "conv2d", inputShape: [12, 12, channels], filters: 32, kernelSize: (3, 3), activation: activation,
                   kernel: random([3, 3, channels, 32], seed: 1), bias: nil)
        }
        let input = random([2, 12, 12, 1], seed: 2)
        let halving = MaxPooling2D(name: "max_pooling2d", inputShape: [10, 10, 32], poolSize: (2, 2))
        var inference = ForwardContext.inference, training = ForwardContext(training: true)
        XCTAssertNotNil(convolution(channels: 1).forward(input, fusing: halving, context: &inference))
        XCTAssertNil(convolution(channels: 1).forward(input, fusing: halving, context: &training), "training")
        let others: [(Layer, String)] = [
            (MaxPooling2D(name: "p", inputShape: [10, 10, 32], poolSize: (3, 3), strides: (2, 2)), "3×3 window"),
            (MaxPooling2D(name: "p", inputShape: [10, 10, 32], poolSize: (2, 2), strides: (1, 1)), "stride 1"),
            (MaxPooling2D(name: "p", inputShape: [10, 10, 32], poolSize: (2, 2), padding: .same), "same padding"),
            (AveragePooling2D(name: "p", inputShape: [10, 10, 32], poolSize: (2, 2)), "average pooling"),
            (Flatten(name: "f", inputShape: [10, 10, 32]), "not a pooling"),
        ]
        for (next, what) in others {
            XCTAssertNil(convolution(channels: 1).forward(input, fusing: next, context: &inference), what)
        }
        XCTAssertNil(convolution(channels: 1, activation: .sigmoid).forward(input, fusing: halving, context: &inference), "sigmoid")
        // Eight channels and Winograd's algorithm off (too few channels for it): neither fused kernel applies.
        XCTAssertNil(convolution(channels: 8).forward(random([2, 12, 12, 8], seed: 3), fusing: halving, context: &inference))
        let switchedOff = convolution(channels: 1)
        switchedOff.fusesInference = false
        XCTAssertNil(switchedOff.forward(input, fusing: halving, context: &inference), "fusesInference false")
    }

    /// A Sequential and a Functional model infer the same with the fused pairs as one by one; a convolution whose
    /// output also feeds a second branch is not fused.
    func testModelsInferTheSameFusedAndOneByOne() throws {
        func layers() -> [Layer] {
            let first = Conv2D(name: "conv2d", inputShape: [16, 16, 1], filters: 32, kernelSize: (3, 3), activation: .relu,
                               kernel: random([3, 3, 1, 32], seed: 4), bias: random([32], seed: 5))
            let second = Conv2D(name: "conv2d_1", inputShape: [7, 7, 32], filters: 32, kernelSize: (3, 3), padding: .same,
                                activation: .relu, kernel: random([3, 3, 32, 32], seed: 6), bias: random([32], seed: 7))
            return [first, MaxPooling2D(name: "max_pooling2d", inputShape: [14, 14, 32], poolSize: (2, 2)),
                    second, MaxPooling2D(name: "max_pooling2d_1", inputShape: [7, 7, 32], poolSize: (2, 2)),
                    Flatten(name: "flatten", inputShape: [3, 3, 32]),
                    Dense(name: "dense", inputUnits: 288, units: 10, kernel: random([288, 10], seed: 8), bias: nil)]
        }
        let input = random([70, 16, 16, 1], seed: 9)  // more than two inference slices
        func infer(_ model: Model, fusing: Bool) -> Tensor {
            for case let convolution as Conv2D in model.layers { convolution.fusesInference = fusing }
            return model.infer(input)
        }
        let sequential = Sequential(name: "sequential", inputShape: [16, 16, 1], layers: layers())
        let fused = infer(sequential, fusing: true), separate = infer(sequential, fusing: false)
        XCTAssertLessThan(relativeDifference(fused, separate), 1e-5)
        // The fused first layer sums in another order than oneDNN's convolution: were nothing fused, they would be equal.
        XCTAssertNotEqual(fused.storage, separate.storage)

        let stack = layers()
        let chain = Functional(name: "functional", inputShape: [16, 16, 1],
                               nodes: stack.enumerated().map { Functional.Node(layer: $1, inputs: [$0]) })
        XCTAssertLessThan(relativeDifference(infer(chain, fusing: true), separate), 1e-5)

        // The first convolution's output goes to two poolings, added: it cannot be fused away.
        let branched = layers()
        let extra = MaxPooling2D(name: "max_pooling2d_2", inputShape: [14, 14, 32], poolSize: (2, 2))
        let add = ElementwiseMerge(name: "add", operation: .add, inputShapes: [[7, 7, 32], [7, 7, 32]])
        let graph = Functional(name: "branched", inputShape: [16, 16, 1], nodes: [
            .init(layer: branched[0], inputs: [0]), .init(layer: branched[1], inputs: [1]), .init(layer: extra, inputs: [1]),
            .init(layer: add, inputs: [2, 3]), .init(layer: branched[2], inputs: [4]), .init(layer: branched[3], inputs: [5]),
            .init(layer: branched[4], inputs: [6]), .init(layer: branched[5], inputs: [7]),
        ])
        let doubled = infer(graph, fusing: true), doubledSeparately = infer(graph, fusing: false)
        XCTAssertLessThan(relativeDifference(doubled, doubledSeparately), 1e-5)
        XCTAssertGreaterThan(relativeDifference(doubled, separate), 1e-2, "the branch changes the result, so the check can fail")
    }
}

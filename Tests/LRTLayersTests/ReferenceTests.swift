import XCTest
import LRTTensor
@testable import LRTLayers

/// Forward passes against direct loop implementations written from the Keras/TensorFlow
/// definitions, and batched (sharded, chunked) passes against one example at a time.
final class ReferenceTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        var tensor = Tensor(shape: shape)
        for index in 0..<tensor.count { tensor.storage[index] = generator.nextFloat(in: range.lowerBound, range.upperBound) }
        return tensor
    }

    /// Output size and padding before, from the TensorFlow definitions.
    private func outputSize(input: Int, window: Int, stride: Int, padding: Padding) -> (size: Int, padBefore: Int) {
        switch padding {
        case .valid: return ((input - window) / stride + 1, 0)
        case .same:
            let size = (input + stride - 1) / stride
            return (size, max((size - 1) * stride + window - input, 0) / 2)
        }
    }

    /// Direct convolution: every output as a sum over its window, Double accumulation.
    private func naiveConvolution(_ input: Tensor, kernel: Tensor, bias: Tensor?, strides: (Int, Int), padding: Padding) -> Tensor {
        let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (kernelHeight, kernelWidth, filters) = (kernel.shape[0], kernel.shape[1], kernel.shape[3])
        let (outputHeight, padTop) = outputSize(input: height, window: kernelHeight, stride: strides.0, padding: padding)
        let (outputWidth, padLeft) = outputSize(input: width, window: kernelWidth, stride: strides.1, padding: padding)
        var output = Tensor(shape: [batch, outputHeight, outputWidth, filters])
        for image in 0..<batch {
            for outputY in 0..<outputHeight {
                for outputX in 0..<outputWidth {
                    for filter in 0..<filters {
                        var sum = Double(bias?.storage[filter] ?? 0)
                        for kernelY in 0..<kernelHeight {
                            for kernelX in 0..<kernelWidth {
                                let y = outputY * strides.0 - padTop + kernelY
                                let x = outputX * strides.1 - padLeft + kernelX
                                guard y >= 0 && y < height && x >= 0 && x < width else { continue }
                                for channel in 0..<channels {
                                    let value = input.storage[((image * height + y) * width + x) * channels + channel]
                                    let weight = kernel.storage[((kernelY * kernelWidth + kernelX) * channels + channel) * filters + filter]
                                    sum += Double(value) * Double(weight)
                                }
                            }
                        }
                        output.storage[((image * outputHeight + outputY) * outputWidth + outputX) * filters + filter] = Float(sum)
                    }
                }
            }
        }
        return output
    }

    /// Direct pooling over the positions of each window that lie inside the image.
    private func naivePooling(_ input: Tensor, pool: (Int, Int), strides: (Int, Int), padding: Padding, maximum: Bool) -> Tensor {
        let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (outputHeight, padTop) = outputSize(input: height, window: pool.0, stride: strides.0, padding: padding)
        let (outputWidth, padLeft) = outputSize(input: width, window: pool.1, stride: strides.1, padding: padding)
        var output = Tensor(shape: [batch, outputHeight, outputWidth, channels])
        for image in 0..<batch {
            for outputY in 0..<outputHeight {
                for outputX in 0..<outputWidth {
                    for channel in 0..<channels {
                        var values: [Double] = []
                        for poolY in 0..<pool.0 {
                            for poolX in 0..<pool.1 {
                                let y = outputY * strides.0 - padTop + poolY
                                let x = outputX * strides.1 - padLeft + poolX
                                guard y >= 0 && y < height && x >= 0 && x < width else { continue }
                                values.append(Double(input.storage[((image * height + y) * width + x) * channels + channel]))
                            }
                        }
                        let result = maximum ? values.max()! : values.reduce(0, +) / Double(values.count)
                        output.storage[((image * outputHeight + outputY) * outputWidth + outputX) * channels + channel] = Float(result)
                    }
                }
            }
        }
        return output
    }

    private func assertClose(_ actual: Tensor, _ expected: Tensor, accuracy: Float = 1e-4, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let worst = zip(actual.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, accuracy, "\(message): largest difference \(worst)", file: file, line: line)
    }

    /// TensorFlow's "same" padding: out = ⌈in / stride⌉, the odd padding element after.
    func testWindowGeometryMatchesTensorFlowPadding() throws {
        let odd = try XCTUnwrap(WindowGeometry(inputHeight: 7, inputWidth: 5, channels: 1, windowHeight: 3, windowWidth: 3,
                                               strideHeight: 2, strideWidth: 2, padding: .same))
        XCTAssertEqual([odd.outputHeight, odd.outputWidth, odd.padTop, odd.padLeft], [4, 3, 1, 1])
        let even = try XCTUnwrap(WindowGeometry(inputHeight: 6, inputWidth: 28, channels: 1, windowHeight: 3, windowWidth: 5,
                                                strideHeight: 2, strideWidth: 1, padding: .same))
        XCTAssertEqual([even.outputHeight, even.outputWidth, even.padTop, even.padLeft], [3, 28, 0, 2])
        let valid = try XCTUnwrap(WindowGeometry(inputHeight: 28, inputWidth: 26, channels: 1, windowHeight: 5, windowWidth: 3,
                                                 strideHeight: 1, strideWidth: 2, padding: .valid))
        XCTAssertEqual([valid.outputHeight, valid.outputWidth, valid.padTop, valid.padLeft], [24, 12, 0, 0])
        XCTAssertNil(WindowGeometry(inputHeight: 2, inputWidth: 8, channels: 1, windowHeight: 3, windowWidth: 3,
                                    strideHeight: 1, strideWidth: 1, padding: .valid))
    }

    func testConv2DForwardMatchesDirectConvolution() {
        let cases: [(shape: [Int], filters: Int, kernel: (Int, Int), strides: (Int, Int), padding: Padding)] = [
            ([7, 5, 2], 3, (3, 3), (2, 2), .same),
            ([8, 8, 3], 4, (5, 5), (1, 1), .same),
            ([6, 9, 2], 3, (2, 3), (1, 2), .valid),
            ([9, 6, 1], 5, (3, 2), (3, 1), .same),
            ([5, 5, 4], 6, (1, 1), (1, 1), .valid),
            ([6, 6, 3], 2, (1, 1), (2, 2), .same),
            ([28, 28, 1], 8, (3, 3), (1, 1), .valid),
            ([7, 6, 5], 4, (3, 3), (2, 2), .same),
            ([6, 9, 4], 3, (2, 3), (1, 2), .valid),
            ([13, 13, 32], 16, (3, 3), (1, 1), .valid),
            // Winograd's F(4×4, 3×3) in inference: cnn-mnist's second convolution (a 9×9 output, partial tiles);
            // filters not a multiple of 8 (padded products) with "same" borders; channels not a multiple of 8.
            ([11, 11, 32], 64, (3, 3), (1, 1), .valid),
            ([10, 9, 40], 36, (3, 3), (1, 1), .same),
            ([6, 7, 33], 32, (3, 3), (1, 1), .same),
        ]
        for (index, (shape, filters, kernelSize, strides, padding)) in cases.enumerated() {
            let kernel = random([kernelSize.0, kernelSize.1, shape[2], filters], seed: UInt64(index) + 100)
            let bias = random([filters], seed: UInt64(index) + 200)
            let input = random([3] + shape, seed: UInt64(index))
            let expected = naiveConvolution(input, kernel: kernel, bias: bias, strides: strides, padding: padding)
            for backend in KernelBackend.allCases {
                let layer = Conv2D(name: "conv2d", inputShape: shape, filters: filters, kernelSize: kernelSize, strides: strides,
                                   padding: padding, kernel: kernel, bias: bias)
                layer.backend = backend
                for training in [false, true] {
                    var context = ForwardContext(training: training)
                    assertClose(layer.forward(input, context: &context), expected, accuracy: 2e-4,
                                "case \(index): \(shape) kernel \(kernelSize) strides \(strides) \(padding), \(backend), training \(training)")
                }
                XCTAssertNil(layer.oneDNNFailure)
                XCTAssertEqual(layer.infersWithWinograd, index >= 10, "case \(index)")
            }
        }
    }

    func testPoolingForwardMatchesDirectPooling() {
        let cases: [(shape: [Int], pool: (Int, Int), strides: (Int, Int), padding: Padding)] = [
            ([4, 6, 3], (2, 2), (2, 2), .valid),
            ([7, 5, 2], (3, 3), (2, 2), .same),
            ([5, 6, 2], (2, 3), (1, 2), .same),
            ([32, 32, 2], (3, 3), (2, 2), .same),
            ([9, 7, 1], (3, 2), (3, 3), .valid),
        ]
        for (index, (shape, pool, strides, padding)) in cases.enumerated() {
            let input = random([3] + shape, seed: UInt64(index))
            for backend in KernelBackend.allCases {
                let maximum = MaxPooling2D(name: "max_pooling2d", inputShape: shape, poolSize: pool, strides: strides, padding: padding)
                let average = AveragePooling2D(name: "average_pooling2d", inputShape: shape, poolSize: pool, strides: strides,
                                               padding: padding)
                maximum.backend = backend
                average.backend = backend
                for training in [false, true] {
                    var context = ForwardContext(training: training)
                    assertClose(maximum.forward(input, context: &context),
                                naivePooling(input, pool: pool, strides: strides, padding: padding, maximum: true),
                                "max case \(index), \(backend), training \(training)")
                    assertClose(average.forward(input, context: &context),
                                naivePooling(input, pool: pool, strides: strides, padding: padding, maximum: false),
                                "average case \(index), \(backend), training \(training)")
                }
                XCTAssertNil(maximum.oneDNNFailure)
                XCTAssertNil(average.oneDNNFailure)
            }
        }
        let input = random([2, 3, 4, 5], seed: 9)
        var context = ForwardContext.inference
        assertClose(GlobalAveragePooling2D(name: "g", inputShape: [3, 4, 5]).forward(input, context: &context),
                    naivePooling(input, pool: (3, 4), strides: (1, 1), padding: .valid, maximum: false).reshaped([2, 5]),
                    "global average")
    }

    /// Equal maxima (a window of zeros after a ReLU): the whole gradient goes to the first
    /// of them in scan order, as in TensorFlow, for SIMD-width channel groups and the rest.
    func testMaxPoolingGivesTiesToTheFirstMaximum() {
        let layer = MaxPooling2D(name: "max_pooling2d", inputShape: [2, 2, 5], poolSize: (2, 2))
        var input = Tensor(shape: [1, 2, 2, 5])
        input.storage[3 * 5 + 4] = -1  // the last channel: one smaller value, the rest tied at zero
        var context = ForwardContext(training: true)
        XCTAssertEqual(layer.forward(input, context: &context).storage, [0, 0, 0, 0, 0])
        let gradient = layer.backward(Tensor(shape: [1, 1, 1, 5], storage: [1, 2, 3, 4, 5]))
        XCTAssertEqual(Array(gradient.storage[0..<5]), [1, 2, 3, 4, 5])
        XCTAssert(gradient.storage[5...].allSatisfy { $0 == 0 })
    }

    /// A batch large enough to be split across cores, with several im2col chunks per
    /// shard, gives what one example at a time gives: outputs, input gradients, and
    /// parameter gradients that are the sums of the per-example ones.
    func testConv2DBatchEqualsOneExampleAtATime() {
        for backend in KernelBackend.allCases {
            let shape = [20, 20, 4]
            let layer = Conv2D(name: "conv2d", inputShape: shape, filters: 8, kernelSize: (3, 3), padding: .same,
                               activation: .relu, kernel: random([3, 3, 4, 8], seed: 1), bias: random([8], seed: 2))
            layer.backend = backend
            assertBatchEqualsOneExampleAtATime(layer, shape: shape, batch: 40)
            // The transposed layout (few channels), with stride 2.
            let few = Conv2D(name: "conv2d", inputShape: [30, 30, 2], filters: 8, kernelSize: (3, 3), strides: (2, 2), padding: .same,
                             kernel: random([3, 3, 2, 8], seed: 3), bias: random([8], seed: 4))
            few.backend = backend
            XCTAssertEqual(few.patchLayout, .transposed)
            assertBatchEqualsOneExampleAtATime(few, shape: [30, 30, 2], batch: 100)
            XCTAssertNil(layer.oneDNNFailure)
            XCTAssertNil(few.oneDNNFailure)
        }
        XCTAssertEqual(Parallel.shardCount(for: 40, minimumSize: max(1, (1 << 20) / (400 * 36 * 8))), min(Parallel.shardCount, 40))
    }

    func testDenseBatchEqualsOneExampleAtATime() {
        for backend in KernelBackend.allCases {
            for activation in [Activation.tanh, .relu] {
                let layer = Dense(name: "dense", inputUnits: 256, units: 256, activation: activation,
                                  kernel: random([256, 256], seed: 1, range: -0.1...0.1), bias: random([256], seed: 2))
                layer.backend = backend
                assertBatchEqualsOneExampleAtATime(layer, shape: [256], batch: 40)
                XCTAssertNil(layer.oneDNNFailure)
            }
        }
    }

    /// Both backends give the same outputs and gradients, within float rounding, on the layers of cnn-mnist.
    func testBackendsAgree() throws {
        func layers() -> [(Layer, [Int])] {
            [(Conv2D(name: "conv2d", inputShape: [28, 28, 1], filters: 32, kernelSize: (3, 3), activation: .relu,
                     kernel: random([3, 3, 1, 32], seed: 1), bias: random([32], seed: 2)), [28, 28, 1]),
             (Conv2D(name: "conv2d_1", inputShape: [13, 13, 32], filters: 64, kernelSize: (3, 3), activation: .relu,
                     kernel: random([3, 3, 32, 64], seed: 3, range: -0.1...0.1), bias: random([64], seed: 4)), [13, 13, 32]),
             (Dense(name: "dense", inputUnits: 1600, units: 128, activation: .relu,
                    kernel: random([1600, 128], seed: 5, range: -0.05...0.05), bias: random([128], seed: 6)), [1600])]
        }
        /// Within 1e-5 of the largest magnitude (kernel gradients sum thousands of products).
        func assertAgree(_ actual: Tensor, _ expected: Tensor, _ message: String) {
            assertClose(actual, expected, accuracy: 1e-5 * max(1, expected.storage.map(abs).max() ?? 0), message)
        }
        let oneDNN = layers(), own = layers()
        for ((fast, shape), (reference, _)) in zip(oneDNN, own) {
            (fast as? Conv2D)?.backend = .oneDNN
            (fast as? Dense)?.backend = .oneDNN
            (reference as? Conv2D)?.backend = .blas
            (reference as? Dense)?.backend = .blas
            let input = random([37] + shape, seed: 7)
            var context = ForwardContext(training: true)
            let output = fast.forward(input, context: &context)
            var referenceContext = ForwardContext(training: true)
            assertAgree(output, reference.forward(input, context: &referenceContext), fast.name)
            let gradient = random(output.shape, seed: 8)
            assertAgree(fast.backward(gradient), reference.backward(gradient), "\(fast.name) input gradient")
            for (parameter, expected) in zip(fast.parameters, reference.parameters) {
                assertAgree(parameter.gradient, expected.gradient, parameter.path)
            }
        }
        XCTAssertNil((oneDNN[0].0 as? Conv2D)?.oneDNNFailure)
        XCTAssertNil((oneDNN[2].0 as? Dense)?.oneDNNFailure)
    }

    func testPoolingBatchEqualsOneExampleAtATime() {
        let shape = [20, 20, 4]
        assertBatchEqualsOneExampleAtATime(MaxPooling2D(name: "max_pooling2d", inputShape: shape, poolSize: (3, 3),
                                                        strides: (2, 2), padding: .same), shape: shape, batch: 100)
        assertBatchEqualsOneExampleAtATime(AveragePooling2D(name: "average_pooling2d", inputShape: shape, poolSize: (3, 3),
                                                            strides: (2, 2), padding: .same), shape: shape, batch: 100)
    }

    private func assertBatchEqualsOneExampleAtATime(_ layer: Layer, shape: [Int], batch: Int,
                                                    file: StaticString = #filePath, line: UInt = #line) {
        let size = shape.reduce(1, *)
        let input = random([batch] + shape, seed: 5)
        var context = ForwardContext(training: true)
        let output = layer.forward(input, context: &context)
        let outputGradient = random(output.shape, seed: 6)
        let inputGradient = layer.backward(outputGradient)
        let batchGradients = layer.parameters.map(\.gradient)
        let outputSize = output.count / batch
        var summedGradients = layer.parameters.map { Tensor(shape: $0.value.shape) }
        for example in 0..<batch {
            let single = Tensor(shape: [1] + shape, storage: Array(input.storage[example * size..<(example + 1) * size]))
            var context = ForwardContext(training: true)
            let singleOutput = layer.forward(single, context: &context)
            for (index, value) in singleOutput.storage.enumerated() {
                XCTAssertEqual(value, output.storage[example * outputSize + index], accuracy: 1e-5,
                               "output of example \(example)", file: file, line: line)
            }
            layer.parameters.forEach { $0.zeroGradient() }  // each example's own gradient
            let singleGradient = layer.backward(Tensor(shape: singleOutput.shape,
                                                       storage: Array(outputGradient.storage[example * outputSize..<(example + 1) * outputSize])))
            for (index, value) in singleGradient.storage.enumerated() {
                XCTAssertEqual(value, inputGradient.storage[example * size + index], accuracy: 1e-5,
                               "input gradient of example \(example)", file: file, line: line)
            }
            for (index, parameter) in layer.parameters.enumerated() {
                for element in 0..<parameter.gradient.count { summedGradients[index].storage[element] += parameter.gradient.storage[element] }
            }
        }
        for (parameter, (batched, summed)) in zip(layer.parameters, zip(batchGradients, summedGradients)) {
            assertClose(batched, summed, accuracy: 1e-3, "\(parameter.path) of the batch vs summed per example", file: file, line: line)
        }
    }

    /// `infer` runs a large batch a slice at a time (the last one padded), one part of the batch per
    /// core, each on a copy of the model of its own; the result is what one pass over the whole batch
    /// gives, in example order, and after the weights change the copies compute with the new ones.
    func testSlicedInferenceEqualsOnePass() throws {
        var generator = SeededGenerator(seed: 1)
        let sequential = try ModelConfig.build(text: """
            {"class_name": "Sequential", "config": {"layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 28, 28, 1]}},
              {"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": 3, "activation": "relu"}},
              {"class_name": "MaxPooling2D"},
              {"class_name": "BatchNormalization", "config": {"moving_mean_initializer": {"class_name": "Constant", "config": {"value": 0.1}}}},
              {"class_name": "Flatten"},
              {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]}}
            """, generator: &generator)
        // More than two slices per core (24 images each: 2^19 floats of the 26×26×32 convolution), the last one
        // partly padding.
        checkSlicedInference(sequential, input: random([150, 28, 28, 1], seed: 2, range: 0...1))
        // A Functional model: ResNet-20 (slices of 32 images: 2^19 floats of 32×32×16 activations), its
        // BatchNormalization moved off its initial statistics first.
        let resnet = try ModelConfig.build(json: Architectures.config(named: "resnet20", inputShape: [32, 32, 3], classCount: 10),
                                           generator: &generator)
        var training = ForwardContext(training: true)
        _ = resnet.forward(random([16, 32, 32, 3], seed: 3), context: &training)
        // Its 32- and 64-channel layers run Winograd's products through sgemm on the slices' rows or the whole batch's,
        // which AVX2's kernels round differently (up to 1.6e-5 on an AVX2 EPYC; within 1e-5 with LRT_WINOGRAD=off); the order of
        // examples and the copies' weights are what this checks, which would be off by far more.
        checkSlicedInference(resnet, input: random([70, 32, 32, 3], seed: 4), accuracy: 5e-5)
    }

    func checkSlicedInference(_ model: any Model, input: Tensor, accuracy: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        var context = ForwardContext.inference
        let whole = model.forward(input, context: &context)
        let sliced = model.infer(input)
        XCTAssertEqual(sliced.shape, whole.shape, file: file, line: line)
        assertClose(sliced, whole, accuracy: accuracy, "sliced inference", file: file, line: line)
        XCTAssertEqual(model.infer(input), sliced, "a second call gives the same", file: file, line: line)
        if InferenceReplicas.isEnabled {  // not with LRT_INFERENCE_COPIES=off in the environment
            XCTAssertTrue(model.inferenceReplicas.usesCopies, "the model's copy could not be built", file: file, line: line)
        }
        // On one model (LRT_INFERENCE_COPIES=off, or a model that cannot be copied), each layer split across the cores.
        let usesCopies = model.inferenceReplicas.usesCopies
        model.inferenceReplicas.usesCopies = false
        assertClose(model.infer(input), whole, accuracy: accuracy, "sliced inference on one model", file: file, line: line)
        model.inferenceReplicas.usesCopies = usesCopies
        // Every weight changes (each kernel's sign, each moving variance doubles): the copies see it.
        for parameter in model.weights {
            parameter.value.withUnsafeMutableBufferPointer { values in
                for index in values.indices { values[index] *= parameter.weightName == "moving_variance" ? 2 : -1 }
            }
        }
        let changed = model.forward(input, context: &context)
        XCTAssertNotEqual(changed, whole, file: file, line: line)
        assertClose(model.infer(input), changed, accuracy: accuracy, "sliced inference after the weights changed", file: file, line: line)
    }

    /// A layer shared by two models: after its kernel changes, the other model's inference sees the
    /// change (oneDNN's converted kernel is reused only within one `infer` call).
    func testSharedLayerSeesChangedWeightsInEitherModel() {
        let dense = Dense(name: "dense", inputUnits: 64, units: 8, activation: .relu,
                          kernel: random([64, 8], seed: 1), bias: random([8], seed: 2))
        let first = Sequential(name: "first", inputShape: [64], layers: [dense])
        let second = Sequential(name: "second", inputShape: [64], layers: [dense])
        let input = random([4, 64], seed: 3)
        let before = first.infer(input)
        dense.kernel.value.withUnsafeMutableBufferPointer { values in
            for index in values.indices { values[index] *= -1 }
        }
        var context = ForwardContext.inference
        let expected = Sequential(name: "reference", inputShape: [64], layers: [
            Dense(name: "dense", inputUnits: 64, units: 8, activation: .relu, kernel: dense.kernel.value, bias: dense.bias!.value),
        ]).forward(input, context: &context)
        let after = second.infer(input)
        assertClose(after, expected, "the second model after the change")
        XCTAssertNotEqual(after, before)
    }

    /// Training normalizes by the batch's mean and biased variance and moves the moving
    /// statistics by Keras 3's rule; inference uses the moving statistics. The batch is
    /// large enough to be split across cores. The kernels take eight features at a time: 4 features
    /// fill part of one group, 12 one whole group and part of a second.
    func testBatchNormalizationMatchesDefinition() {
        for features in [4, 12] { checkBatchNormalizationDefinition(features: features) }
    }

    func checkBatchNormalizationDefinition(features: Int) {
        let shape = [60, 60, features]
        let layer = BatchNormalization(name: "batch_normalization", inputShape: shape, momentum: 0.9, epsilon: 1e-3,
                                       gamma: random([features], seed: 1, range: 0.5...1.5), beta: random([features], seed: 2),
                                       movingMean: Tensor(shape: [features], repeating: 0.5), movingVariance: Tensor(shape: [features], repeating: 2))
        var input = random([10] + shape, seed: 3)
        for index in 0..<input.count { input.storage[index] = input.storage[index] * Float(index % features + 1) + Float(index % features) }
        let rows = input.count / features
        var mean = [Double](repeating: 0, count: features), variance = [Double](repeating: 0, count: features)
        for index in 0..<input.count { mean[index % features] += Double(input.storage[index]) / Double(rows) }
        for index in 0..<input.count { variance[index % features] += pow(Double(input.storage[index]) - mean[index % features], 2) / Double(rows) }
        let gamma = layer.gamma!.value.storage, beta = layer.beta!.value.storage

        var context = ForwardContext(training: true)
        let output = layer.forward(input, context: &context)
        var expected = Tensor(shape: input.shape)
        for index in 0..<input.count {
            let feature = index % features
            expected.storage[index] = Float((Double(input.storage[index]) - mean[feature]) / (variance[feature] + 1e-3).squareRoot()
                                            * Double(gamma[feature]) + Double(beta[feature]))
        }
        assertClose(output, expected, "training output, \(features) features")
        for feature in 0..<features {
            XCTAssertEqual(Double(layer.movingMean.value.storage[feature]), 0.5 * 0.9 + mean[feature] * 0.1, accuracy: 1e-5)
            XCTAssertEqual(Double(layer.movingVariance.value.storage[feature]), 2 * 0.9 + variance[feature] * 0.1, accuracy: 1e-4)
        }
        // The backward pass, from its closed form in Double.
        let outputGradient = random(output.shape, seed: 4)
        let inputGradient = layer.backward(outputGradient)
        var betaGradient = [Double](repeating: 0, count: features), gammaGradient = [Double](repeating: 0, count: features)
        func normalized(_ index: Int) -> Double {
            (Double(input.storage[index]) - mean[index % features]) / (variance[index % features] + 1e-3).squareRoot()
        }
        for index in 0..<input.count {
            betaGradient[index % features] += Double(outputGradient.storage[index])
            gammaGradient[index % features] += Double(outputGradient.storage[index]) * normalized(index)
        }
        for feature in 0..<features {
            XCTAssertEqual(Double(layer.beta!.gradient.storage[feature]), betaGradient[feature], accuracy: 1e-2)
            XCTAssertEqual(Double(layer.gamma!.gradient.storage[feature]), gammaGradient[feature], accuracy: 1e-2)
        }
        var worst = 0.0
        for index in stride(from: 0, to: input.count, by: 7) {
            let feature = index % features
            let expected = Double(gamma[feature]) / (variance[feature] + 1e-3).squareRoot() / Double(rows)
                * (Double(rows) * Double(outputGradient.storage[index]) - betaGradient[feature] - normalized(index) * gammaGradient[feature])
            worst = max(worst, abs(Double(inputGradient.storage[index]) - expected))
        }
        XCTAssertLessThan(worst, 1e-5)

        // Inference: the moving statistics, and nothing moves.
        let moving = (layer.movingMean.value, layer.movingVariance.value)
        var inference = ForwardContext.inference
        let inferred = layer.forward(input, context: &inference)
        for index in stride(from: 0, to: input.count, by: 13) {
            let feature = index % features
            let expected = (input.storage[index] - moving.0.storage[feature]) / (moving.1.storage[feature] + 1e-3).squareRoot()
                * gamma[feature] + beta[feature]
            XCTAssertEqual(inferred.storage[index], expected, accuracy: 1e-4)
        }
        XCTAssertEqual(layer.movingMean.value, moving.0)
        XCTAssertEqual(layer.movingVariance.value, moving.1)
    }

    /// Inverted dropout: about `rate` of the values zeroed, the rest scaled by 1 / (1 − rate),
    /// drawn from the context's generator (same state, same mask); identity in inference.
    func testDropoutMaskComesFromTheGenerator() {
        let layer = Dropout(name: "dropout", shape: [100], rate: 0.25)
        let input = Tensor(shape: [50, 100], repeating: 2)
        var first = ForwardContext(training: true, generator: SeededGenerator(seed: 3))
        let output = layer.forward(input, context: &first)
        XCTAssertNotEqual(first.generator, SeededGenerator(seed: 3), "the mask advances the run's generator")
        let dropped = output.storage.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(output.count), 0.25, accuracy: 0.02)
        XCTAssert(output.storage.allSatisfy { $0 == 0 || abs($0 - 2 / 0.75) < 1e-6 })
        let firstOutput = output.storage
        var again = ForwardContext(training: true, generator: SeededGenerator(seed: 3))
        XCTAssertEqual(layer.forward(input, context: &again).storage, firstOutput)
        var other = ForwardContext(training: true, generator: SeededGenerator(seed: 4))
        XCTAssertNotEqual(layer.forward(input, context: &other).storage, firstOutput)
        var inference = ForwardContext.inference
        XCTAssertEqual(layer.forward(input, context: &inference), input)
        XCTAssertEqual(inference.generator, ForwardContext.inference.generator, "inference draws nothing")
    }

    /// With per-example streams (as the trainer sets them) an example's mask depends on its position in the global
    /// batch, not on the batch it is in: two shards of 3 and 5 rows draw the rows one batch of 8 draws, and at the
    /// rate; another step's seed or another layer's name draws other masks.
    func testDropoutMasksPerExampleAreTheSameInAnyShard() {
        func masks(_ layer: Dropout, rows: Int, streams: ExampleStreams) -> [Float] {
            var context = ForwardContext(training: true)
            context.exampleStreams = streams
            return layer.forward(Tensor(shape: [rows, 40], repeating: 1), context: &context).storage
        }
        let layer = Dropout(name: "dropout", shape: [40], rate: 0.3)
        let whole = masks(layer, rows: 8, streams: ExampleStreams(step: 7, firstExample: 0))
        let shards = masks(layer, rows: 3, streams: ExampleStreams(step: 7, firstExample: 0))
            + masks(layer, rows: 5, streams: ExampleStreams(step: 7, firstExample: 3))
        XCTAssertEqual(shards, whole)
        XCTAssertEqual(Double(whole.filter { $0 == 0 }.count) / Double(whole.count), 0.3, accuracy: 0.08)
        XCTAssertNotEqual(masks(layer, rows: 8, streams: ExampleStreams(step: 8, firstExample: 0)), whole)
        XCTAssertNotEqual(masks(Dropout(name: "dropout_1", shape: [40], rate: 0.3), rows: 8,
                                streams: ExampleStreams(step: 7, firstExample: 0)), whole)
    }
}

import XCTest
import LRTTensor
@testable import LRTLayers

/// ZeroPadding2D, GlobalMaxPooling2D, Rescaling, Reshape, ReLU, DepthwiseConv2D and SeparableConv2D:
/// gradients by finite differences, forward against naive loops, accumulation, configs, errors.
final class NewLayerTests: XCTestCase {
    // MARK: - Builders

    private func depthwise(_ inputShape: [Int], kernel: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                           depthMultiplier: Int = 1, activation: Activation = .linear, useBias: Bool = true) -> DepthwiseConv2D {
        var generator = SeededGenerator(seed: 5)
        let uniform = Initializer.randomUniform(minimum: -0.5, maximum: 0.5)
        return DepthwiseConv2D(name: "depthwise_conv2d", inputShape: inputShape, kernelSize: kernel, strides: strides, padding: padding,
                               depthMultiplier: depthMultiplier, activation: activation,
                               kernel: uniform.make(shape: [kernel.0, kernel.1, inputShape[2], depthMultiplier], generator: &generator),
                               bias: useBias ? uniform.make(shape: [inputShape[2] * depthMultiplier], generator: &generator) : nil)
    }

    private func separable(_ inputShape: [Int], filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                           depthMultiplier: Int = 1, activation: Activation = .linear, useBias: Bool = true) -> SeparableConv2D {
        var generator = SeededGenerator(seed: 6)
        let uniform = Initializer.randomUniform(minimum: -0.5, maximum: 0.5)
        let middle = inputShape[2] * depthMultiplier
        return SeparableConv2D(name: "separable_conv2d", inputShape: inputShape, filters: filters, kernelSize: kernel, strides: strides,
                               padding: padding, depthMultiplier: depthMultiplier, activation: activation,
                               depthwiseKernel: uniform.make(shape: [kernel.0, kernel.1, inputShape[2], depthMultiplier], generator: &generator),
                               pointwiseKernel: uniform.make(shape: [1, 1, middle, filters], generator: &generator),
                               bias: useBias ? uniform.make(shape: [filters], generator: &generator) : nil)
    }

    // MARK: - Naive references

    /// TensorFlow's padding along one axis: the output size and the padding before.
    private func tensorFlowPadding(input: Int, window: Int, stride: Int, padding: Padding) -> (output: Int, before: Int) {
        if padding == .valid { return ((input - window) / stride + 1, 0) }
        let output = (input + stride - 1) / stride
        return (output, max((output - 1) * stride + window - input, 0) / 2)
    }

    /// The depthwise convolution by its definition, in Double: output channel `c · multiplier + m`.
    private func naiveDepthwise(_ input: Tensor, kernel: Tensor, bias: Tensor?, strides: (Int, Int), padding: Padding) -> Tensor {
        let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (kernelHeight, kernelWidth, multiplier) = (kernel.shape[0], kernel.shape[1], kernel.shape[3])
        let vertical = tensorFlowPadding(input: height, window: kernelHeight, stride: strides.0, padding: padding)
        let horizontal = tensorFlowPadding(input: width, window: kernelWidth, stride: strides.1, padding: padding)
        var output = Tensor(shape: [batch, vertical.output, horizontal.output, channels * multiplier])
        for image in 0..<batch {
            for outputY in 0..<vertical.output {
                for outputX in 0..<horizontal.output {
                    for channel in 0..<channels {
                        for m in 0..<multiplier {
                            var sum = Double(bias?.storage[channel * multiplier + m] ?? 0)
                            for kernelY in 0..<kernelHeight {
                                for kernelX in 0..<kernelWidth {
                                    let y = outputY * strides.0 - vertical.before + kernelY
                                    let x = outputX * strides.1 - horizontal.before + kernelX
                                    guard y >= 0, y < height, x >= 0, x < width else { continue }
                                    sum += Double(input.storage[((image * height + y) * width + x) * channels + channel])
                                        * Double(kernel.storage[((kernelY * kernelWidth + kernelX) * channels + channel) * multiplier + m])
                                }
                            }
                            output.storage[((image * vertical.output + outputY) * horizontal.output + outputX) * channels * multiplier
                                           + channel * multiplier + m] = Float(sum)
                        }
                    }
                }
            }
        }
        return output
    }

    /// `[rows, inner] · [inner, columns] + bias` by a naive loop in Double.
    private func naivePointwise(_ input: Tensor, kernel: Tensor, bias: Tensor?) -> Tensor {
        let inner = input.shape.last!, columns = kernel.shape.last!, rows = input.count / inner
        var output = Tensor(shape: Array(input.shape.dropLast()) + [columns])
        for row in 0..<rows {
            for column in 0..<columns {
                var sum = Double(bias?.storage[column] ?? 0)
                for index in 0..<inner { sum += Double(input.storage[row * inner + index]) * Double(kernel.storage[index * columns + column]) }
                output.storage[row * columns + column] = Float(sum)
            }
        }
        return output
    }

    private func applied(_ activation: Activation, _ tensor: Tensor) -> Tensor {
        var result = tensor
        activation.apply(&result, width: tensor.shape.last!)
        return result
    }

    // MARK: - DepthwiseConv2D and SeparableConv2D

    func testDepthwiseConv2DGradients() {
        LayerChecks.checkGradients(depthwise([5, 6, 2], kernel: (3, 3)), inputs: [LayerChecks.random([2, 5, 6, 2], seed: 1)])
        LayerChecks.checkGradients(depthwise([7, 5, 3], kernel: (3, 3), strides: (2, 2), padding: .same, depthMultiplier: 2, activation: .elu),
                                   inputs: [LayerChecks.random([2, 7, 5, 3], seed: 2)])
        // Even kernel with same padding: the odd padding row and column go after (TensorFlow).
        LayerChecks.checkGradients(depthwise([4, 5, 2], kernel: (2, 4), strides: (1, 2), padding: .same, depthMultiplier: 3, useBias: false),
                                   inputs: [LayerChecks.random([2, 4, 5, 2], seed: 3)])
        LayerChecks.checkGradients(depthwise([6, 6, 9], kernel: (3, 1), padding: .same, activation: .tanh),
                                   inputs: [LayerChecks.random([3, 6, 6, 9], seed: 4)])
    }

    func testSeparableConv2DGradients() {
        LayerChecks.checkGradients(separable([5, 6, 2], filters: 3, kernel: (3, 3)), inputs: [LayerChecks.random([2, 5, 6, 2], seed: 1)])
        LayerChecks.checkGradients(separable([7, 5, 3], filters: 4, kernel: (3, 3), strides: (2, 2), padding: .same, depthMultiplier: 2,
                                             activation: .tanh),
                                   inputs: [LayerChecks.random([2, 7, 5, 3], seed: 2)])
        LayerChecks.checkGradients(separable([4, 5, 2], filters: 2, kernel: (2, 2), padding: .same, depthMultiplier: 3, useBias: false),
                                   inputs: [LayerChecks.random([2, 4, 5, 2], seed: 3)])
    }

    func testDepthwiseAndSeparableForwardMatchNaiveLoops() {
        let cases: [([Int], (Int, Int), (Int, Int), Padding, Int, Activation)] = [
            ([6, 7, 3], (3, 3), (1, 1), .same, 1, .linear), ([6, 7, 3], (3, 3), (2, 2), .same, 2, .relu),
            ([5, 8, 4], (2, 3), (2, 1), .valid, 1, .tanh), ([8, 8, 16], (3, 3), (2, 2), .same, 1, .linear),
            ([4, 4, 2], (4, 4), (3, 3), .same, 4, .linear),
        ]
        for (shape, kernel, strides, padding, multiplier, activation) in cases {
            let input = LayerChecks.random([3] + shape, seed: 8)
            let layer = depthwise(shape, kernel: kernel, strides: strides, padding: padding, depthMultiplier: multiplier, activation: activation)
            let expected = applied(activation, naiveDepthwise(input, kernel: layer.kernel.value, bias: layer.bias?.value,
                                                              strides: strides, padding: padding))
            LayerChecks.assertClose(LayerChecks.forward(layer, [input], training: false), expected, relative: 1e-5,
                                    "DepthwiseConv2D \(shape) \(kernel) \(strides) \(padding) ×\(multiplier)")
            XCTAssertEqual(layer.outputShape, Array(expected.shape.dropFirst()))

            let separableLayer = separable(shape, filters: 5, kernel: kernel, strides: strides, padding: padding,
                                           depthMultiplier: multiplier, activation: activation)
            let middle = naiveDepthwise(input, kernel: separableLayer.depthwiseKernel.value, bias: nil, strides: strides, padding: padding)
            let separableExpected = applied(activation, naivePointwise(middle, kernel: separableLayer.pointwiseKernel.value,
                                                                       bias: separableLayer.bias?.value))
            LayerChecks.assertClose(LayerChecks.forward(separableLayer, [input], training: false), separableExpected, relative: 1e-5,
                                    "SeparableConv2D \(shape) \(kernel) \(strides) \(padding) ×\(multiplier)")
        }
    }

    /// A batch large enough to split across cores gives what each image gives alone.
    func testDepthwiseAndSeparableBatchEqualsOneImageAtATime() {
        for layer in [depthwise([9, 9, 8], kernel: (3, 3), padding: .same, depthMultiplier: 2) as Layer,
                      separable([9, 9, 8], filters: 6, kernel: (3, 3), strides: (2, 2), padding: .same)] {
            let batch = LayerChecks.random([64, 9, 9, 8], seed: 3)
            let whole = LayerChecks.forward(layer, [batch], training: false).storage
            let size = whole.count / 64
            for image in [0, 31, 63] {
                let one = Tensor(shape: [1, 9, 9, 8], storage: Array(batch.storage[(image * 648)..<((image + 1) * 648)]))
                XCTAssertEqual(LayerChecks.forward(layer, [one], training: false).storage, Array(whole[(image * size)..<((image + 1) * size)]),
                               "\(layer.className) image \(image)")
            }
        }
    }

    func testDepthwiseAndSeparableBackwardAccumulate() {
        LayerChecks.checkAccumulates(depthwise([5, 5, 3], kernel: (3, 3), padding: .same, depthMultiplier: 2, activation: .tanh),
                                     inputs: [LayerChecks.random([40, 5, 5, 3], seed: 1)])
        LayerChecks.checkAccumulates(separable([5, 5, 3], filters: 4, kernel: (3, 3), strides: (2, 2), padding: .same, activation: .elu),
                                     inputs: [LayerChecks.random([40, 5, 5, 3], seed: 2)])
    }

    // MARK: - ZeroPadding2D, GlobalMaxPooling2D, Rescaling, Reshape

    func testZeroPadding2DGradientsAndForward() throws {
        let layer = ZeroPadding2D(name: "zero_padding2d", inputShape: [3, 4, 2], padding: ((1, 2), (0, 3)))
        XCTAssertEqual(layer.outputShape, [6, 7, 2])
        let input = LayerChecks.random([2, 3, 4, 2], seed: 1)
        LayerChecks.checkGradients(layer, inputs: [input])
        let output = LayerChecks.forward(layer, [input], training: false)
        for image in 0..<2 {
            for y in 0..<6 {
                for x in 0..<7 {
                    for channel in 0..<2 {
                        let inside = y >= 1 && y < 4 && x < 4
                        let expected = inside ? input.storage[((image * 3 + y - 1) * 4 + x) * 2 + channel] : 0
                        XCTAssertEqual(output.storage[((image * 6 + y) * 7 + x) * 2 + channel], expected, "[\(image), \(y), \(x), \(channel)]")
                    }
                }
            }
        }
    }

    func testGlobalMaxPooling2DGradientsAndForward() {
        for keepsDimensions in [false, true] {
            let layer = GlobalMaxPooling2D(name: "global_max_pooling2d", inputShape: [3, 4, 5], keepsDimensions: keepsDimensions)
            XCTAssertEqual(layer.outputShape, keepsDimensions ? [1, 1, 5] : [5])
            let input = LayerChecks.distinct([2, 3, 4, 5], seed: 4)
            LayerChecks.checkGradients(layer, inputs: [input])
            let output = LayerChecks.forward(layer, [input], training: false)
            XCTAssertEqual(output.shape, [2] + layer.outputShape)
            for image in 0..<2 {
                for channel in 0..<5 {
                    let values = (0..<12).map { input.storage[(image * 12 + $0) * 5 + channel] }
                    XCTAssertEqual(output.storage[image * 5 + channel], values.max()!)
                }
            }
        }
    }

    func testRescalingAndReshapeGradientsAndForward() throws {
        let rescaling = Rescaling(name: "rescaling", shape: [2, 3], scale: 1.0 / 255, offset: -0.5)
        let input = LayerChecks.random([2, 2, 3], seed: 1)
        LayerChecks.checkGradients(Rescaling(name: "rescaling", shape: [2, 3], scale: 2.5, offset: -0.5), inputs: [input])
        let output = LayerChecks.forward(rescaling, [input], training: false)
        XCTAssertEqual(output.storage, input.storage.map { $0 * Float(1.0 / 255) + Float(-0.5) })

        let reshape = try XCTUnwrap(try LayerChecks.make("Reshape", #"{"target_shape": [3, -1]}"#, inputShapes: [[2, 3, 2]]) as? Reshape)
        XCTAssertEqual(reshape.outputShape, [3, 4])
        XCTAssertEqual(reshape.targetShape, [3, -1])
        let reshaped = LayerChecks.forward(reshape, [LayerChecks.random([2, 2, 3, 2], seed: 2)])
        XCTAssertEqual(reshaped.shape, [2, 3, 4])
        XCTAssertEqual(reshaped.storage, LayerChecks.random([2, 2, 3, 2], seed: 2).storage, "the values keep their order")
        LayerChecks.checkGradients(reshape, inputs: [LayerChecks.random([2, 2, 3, 2], seed: 2)])
    }

    // MARK: - ReLU

    /// Keras 3's ReLU by its definition (keras.activations.relu).
    private func naiveReLU(_ value: Float, maxValue: Float?, slope: Float, threshold: Float) -> Float {
        value > threshold ? min(value, maxValue ?? .infinity) : slope * (value - threshold)
    }

    func testReLUOptionsGradientsAndForward() {
        let options: [(Double?, Double, Double)] = [(nil, 0, 0), (nil, 0.2, 0), (6, 0, 0), (1.5, 0.1, 0.5), (nil, 0, 0.7), (0.8, 0.3, 0)]
        for (maxValue, slope, threshold) in options {
            let layer = ReLU(name: "re_lu", shape: [4, 5], maxValue: maxValue, negativeSlope: slope, threshold: threshold)
            // Inputs in ±3 that stay clear of every kink (0, the threshold, the clip) by more than a step.
            let input = Tensor(shape: [2, 4, 5], storage: LayerChecks.distinct([2, 4, 5], seed: 3, spacing: 0.15).storage.map { $0 + 0.0625 })
            let output = LayerChecks.forward(layer, [input], training: false)
            let expected = input.storage.map {
                naiveReLU($0, maxValue: maxValue.map(Float.init), slope: Float(slope), threshold: Float(threshold))
            }
            XCTAssertEqual(output.storage, expected, "ReLU max \(String(describing: maxValue)) slope \(slope) threshold \(threshold)")
            LayerChecks.checkGradients(layer, inputs: [input])
        }
    }

    /// Plain and leaky ReLU run the same code as the activation layers: identical values.
    func testPlainReLUMatchesActivationLayer() {
        let input = LayerChecks.random([3, 7], seed: 5)
        for (slope, activation) in [(0.0, Activation.relu), (0.25, .leakyRelu(negativeSlope: 0.25))] {
            let layer = ReLU(name: "re_lu", shape: [7], negativeSlope: slope)
            let reference = ActivationLayer(name: "re_lu", className: "ReLU", activation: activation, shape: [7])
            XCTAssertEqual(LayerChecks.forward(layer, [input]).storage, LayerChecks.forward(reference, [input]).storage)
            XCTAssertEqual(layer.backward(input).storage, reference.backward(input).storage)
        }
    }

    // MARK: - Configs

    /// A Sequential of every new single-input layer: Keras's default names, weight paths, and a config that builds it again.
    func testNewLayersBuildInSequentialAndRoundTrip() throws {
        var generator = SeededGenerator(seed: 1)
        let model = try ModelConfig.build(text: """
            {"class_name": "Sequential", "config": {"name": "net", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3]}},
              {"class_name": "Rescaling", "config": {"scale": 0.00392156862745098, "offset": -0.5}},
              {"class_name": "ZeroPadding2D", "config": {"padding": [1, 2]}},
              {"class_name": "DepthwiseConv2D", "config": {"kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 2, "activation": "relu"}},
              {"class_name": "SeparableConv2D", "config": {"filters": 4, "kernel_size": [3, 2], "use_bias": false, "pointwise_initializer": "he_uniform"}},
              {"class_name": "ReLU", "config": {"max_value": 6.0}},
              {"class_name": "GlobalMaxPooling2D", "config": {"keepdims": true}},
              {"class_name": "Reshape", "config": {"target_shape": [-1]}},
              {"class_name": "Dense", "config": {"units": 2}}
            ]}}
            """, generator: &generator)
        XCTAssertEqual(model.layers.map(\.name), ["rescaling", "zero_padding2d", "depthwise_conv2d", "separable_conv2d", "re_lu",
                                                  "global_max_pooling2d", "reshape", "dense"])
        XCTAssertEqual(model.layers.map(\.outputShape), [[8, 8, 3], [10, 12, 3], [5, 6, 6], [3, 5, 4], [3, 5, 4], [1, 1, 4], [4], [2]])
        XCTAssertEqual(model.weights.map(\.path), ["depthwise_conv2d.kernel", "depthwise_conv2d.bias",
                                                   "separable_conv2d.depthwise_kernel", "separable_conv2d.pointwise_kernel",
                                                   "dense.kernel", "dense.bias"])
        XCTAssertEqual(model.weights.map(\.value.shape), [[3, 3, 3, 2], [6], [3, 2, 6, 1], [1, 1, 6, 4], [4, 2], [2]])
        var rebuiltGenerator = SeededGenerator(seed: 2)
        let rebuilt = try ModelConfig.build(text: model.config.serialized, generator: &rebuiltGenerator)
        XCTAssertEqual(rebuilt.config, model.config)
        XCTAssertEqual(model.layers[2].config["depthwise_initializer"]?["class_name"], .string("GlorotUniform"))
        XCTAssertEqual(model.layers[3].config["pointwise_initializer"]?["class_name"], .string("HeUniform"))
        XCTAssertEqual(model.layers[1].config["padding"], try JSONValue.parse("[[1, 1], [2, 2]]"))
        XCTAssertEqual(model.layers[4].config["max_value"], .number(6))
        // Glorot uniform with Keras's fans for a depthwise kernel [3, 3, 3, 2]: ±√(6 / (9·3 + 9·2)).
        let limit = Float((6.0 / (27 + 18)).squareRoot())
        XCTAssert(model.weights[0].value.storage.allSatisfy { abs($0) <= limit })
        XCTAssertGreaterThan(model.weights[0].value.storage.map(abs).max()!, limit * 0.8)
        XCTAssertEqual(model.infer(LayerChecks.random([2, 8, 8, 3], seed: 1)).shape, [2, 2])
    }

    func testEachNewLayerConfigRoundTrips() throws {
        let cases: [(String, String, [Int])] = [
            ("ZeroPadding2D", #"{"padding": [[0, 1], [2, 3]]}"#, [4, 4, 2]),
            ("GlobalMaxPooling2D", #"{"keepdims": false}"#, [4, 4, 2]),
            ("Rescaling", #"{"scale": 2, "offset": 0.25}"#, [3]),
            ("Reshape", #"{"target_shape": [2, -1, 2]}"#, [4, 4, 2]),
            ("ReLU", #"{"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.5}"#, [3]),
            ("DepthwiseConv2D", #"{"kernel_size": [2, 3], "strides": [1, 2], "padding": "same", "depth_multiplier": 3, "use_bias": false, "activation": "tanh", "depthwise_initializer": "he_uniform"}"#, [5, 6, 2]),
            ("SeparableConv2D", #"{"filters": 7, "kernel_size": 3, "depth_multiplier": 2, "bias_initializer": "ones"}"#, [5, 6, 2]),
        ]
        for (className, config, shape) in cases {
            LayerChecks.checkConfigRoundTrip(try LayerChecks.make(className, config, inputShapes: [shape]), inputShapes: [shape])
        }
    }

    func testBadNewLayerOptionsNameTheProblem() {
        let image = [[8, 8, 3]]
        LayerChecks.assertError("ZeroPadding2D", #"{"name": "z", "padding": [1, 2, 3]}"#, inputShapes: image, mentions: ["'z'", "padding", "[1, 2, 3]"])
        LayerChecks.assertError("ZeroPadding2D", #"{"name": "z", "padding": -1}"#, inputShapes: image, mentions: ["'z'", "padding", "-1"])
        LayerChecks.assertError("ZeroPadding2D", #"{"name": "z", "data_format": "channels_first"}"#, inputShapes: image, mentions: ["'z'", "channels_first"])
        LayerChecks.assertError("ZeroPadding2D", #"{"name": "z"}"#, inputShapes: [[64]], mentions: ["'z'", "[64]", "height, width, channels"])
        LayerChecks.assertError("GlobalMaxPooling2D", #"{"name": "g", "keepdims": 1}"#, inputShapes: image, mentions: ["'g'", "keepdims"])
        LayerChecks.assertError("Rescaling", #"{"name": "r"}"#, inputShapes: image, mentions: ["'r'", "scale"])
        LayerChecks.assertError("Rescaling", #"{"name": "r", "scale": [0.5, 0.5, 0.5]}"#, inputShapes: image, mentions: ["'r'", "scale", "number", "0.5"])
        LayerChecks.assertError("Reshape", #"{"name": "s", "target_shape": [5, -1]}"#, inputShapes: image, mentions: ["'s'", "[5, -1]", "192"])
        LayerChecks.assertError("Reshape", #"{"name": "s", "target_shape": [-1, -1]}"#, inputShapes: image, mentions: ["'s'", "only one -1"])
        LayerChecks.assertError("Reshape", #"{"name": "s", "target_shape": [0, 3]}"#, inputShapes: image, mentions: ["'s'", "target_shape"])
        LayerChecks.assertError("Reshape", #"{"name": "s"}"#, inputShapes: image, mentions: ["'s'", "target_shape"])
        LayerChecks.assertError("ReLU", #"{"name": "u", "max_value": -1}"#, inputShapes: image, mentions: ["'u'", "max_value", "-1"])
        LayerChecks.assertError("ReLU", #"{"name": "u", "negative_slope": -0.5}"#, inputShapes: image, mentions: ["'u'", "negative_slope", "-0.5"])
        LayerChecks.assertError("ReLU", #"{"name": "u", "threshold": -2}"#, inputShapes: image, mentions: ["'u'", "threshold", "-2"])
        LayerChecks.assertError("ReLU", #"{"name": "u", "threshold": "high"}"#, inputShapes: image, mentions: ["'u'", "threshold", "high"])
        let depthwise = #"{"name": "d", "kernel_size": 3"#
        LayerChecks.assertError("DepthwiseConv2D", #"{"name": "d"}"#, inputShapes: image, mentions: ["'d'", "kernel_size"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "dilation_rate": 2}"#, inputShapes: image, mentions: ["'d'", "dilation_rate"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "depth_multiplier": 0}"#, inputShapes: image, mentions: ["'d'", "depth_multiplier", "0"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "depthwise_regularizer": "l2"}"#, inputShapes: image, mentions: ["'d'", "depthwise_regularizer"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "kernel_initializer": "zeros"}"#, inputShapes: image, mentions: ["'d'", "kernel_initializer"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "padding": "causal"}"#, inputShapes: image, mentions: ["'d'", "causal"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "activation": "gelu"}"#, inputShapes: image, mentions: ["'d'", "gelu"])
        LayerChecks.assertError("DepthwiseConv2D", #"{"name": "d", "kernel_size": 9}"#, inputShapes: image, mentions: ["'d'", "kernel_size", "8×8", "same"])
        LayerChecks.assertError("DepthwiseConv2D", depthwise + #", "depth_multiplier": 65536}"#, inputShapes: [[8, 8, 1 << 20]],
                                mentions: ["'d'", "more than"])
        LayerChecks.assertError("SeparableConv2D", depthwise + "}", inputShapes: image, mentions: ["'d'", "filters"])
        LayerChecks.assertError("SeparableConv2D", depthwise + #", "filters": 4, "pointwise_constraint": "max_norm"}"#, inputShapes: image,
                                mentions: ["'d'", "pointwise_constraint"])
        LayerChecks.assertError("SeparableConv2D", depthwise + #", "filters": 4, "groups": 2}"#, inputShapes: image, mentions: ["'d'", "groups 2"])
        LayerChecks.assertError("SeparableConv2D", depthwise + #", "filters": 4}"#, inputShapes: [[8, 8, 3], [8, 8, 3]],
                                mentions: ["'d'", "one input", "got 2"])
    }
}

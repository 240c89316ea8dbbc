import LRTTensor

/// A network that can be asked for by name (`lrt train --model resnet20`), built for any input
/// shape and class count as the Keras model config `model.to_json()` would write for it.
public struct Architecture: Sendable {
    /// The name on the command line, e.g. `resnet20`.
    public let name: String
    /// One line for `lrt models`.
    public let summary: String
    /// The input `[height, width, channels]` it was designed for (and `lrt models` counts parameters at).
    public let defaultInputShape: [Int]
    /// The class count it was designed for.
    public let defaultClassCount: Int
    /// The smallest height and width it accepts.
    public let minimumSide: Int
    /// Adds the layers to a builder whose input is in place, returning the output (softmax probabilities).
    let body: @Sendable (_ network: inout NetworkBuilder, _ classCount: Int) -> NetworkBuilder.KerasTensor
    /// True when the network is a plain stack, written as a Keras `Sequential` config; otherwise `Functional`.
    let isSequential: Bool
    /// The model name inside the config.
    let modelName: String

    /// The Keras model config for `inputShape` and `classCount`.
    /// - Parameters:
    ///   - inputShape: one example, `[height, width, channels]` (default: ``defaultInputShape``).
    ///   - classCount: the units of the softmax layer (default: ``defaultClassCount``).
    /// - Throws: ``ArchitectureError`` when the shape is not an image this network accepts or the class count is below 2.
    public func config(inputShape: [Int]? = nil, classCount: Int? = nil) throws -> JSONValue {
        try network(inputShape: inputShape ?? defaultInputShape, classCount: classCount ?? defaultClassCount).config
    }

    /// The number of weights (trainable and not, as Keras's `count_params`) for `inputShape` and `classCount`.
    public func parameterCount(inputShape: [Int]? = nil, classCount: Int? = nil) throws -> Int {
        try network(inputShape: inputShape ?? defaultInputShape, classCount: classCount ?? defaultClassCount).parameterCount
    }

    /// The built network: its config and parameter count.
    func network(inputShape: [Int], classCount: Int) throws -> (config: JSONValue, parameterCount: Int) {
        try check(inputShape: inputShape, classCount: classCount)
        var network = NetworkBuilder(inputShape: inputShape)
        let output = body(&network, classCount)
        let config = isSequential ? network.sequentialConfig(modelName: modelName, output: output)
            : network.functionalConfig(modelName: modelName, output: output)
        return (config, network.parameterCount)
    }

    /// The largest image height or width accepted (larger ones would not fit lrt's size limits anyway).
    public static let maximumSide = 4096
    /// The most input channels accepted.
    public static let maximumChannels = 4096
    /// The most classes accepted.
    public static let maximumClassCount = 1 << 20

    private func check(inputShape: [Int], classCount: Int) throws {
        let shapeText = "[" + inputShape.map(String.init).joined(separator: ", ") + "]"
        guard inputShape.count == 3 else {
            throw ArchitectureError("\(name) takes images [height, width, channels], got the input shape \(shapeText); pass e.g. --input 32,32,3")
        }
        let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
        guard (1...Self.maximumSide).contains(height), (1...Self.maximumSide).contains(width),
              (1...Self.maximumChannels).contains(channels) else {
            throw ArchitectureError("\(name): input shape \(shapeText) needs a height and width from 1 to \(Self.maximumSide) and 1 to \(Self.maximumChannels) channels")
        }
        guard height >= minimumSide, width >= minimumSide else {
            throw ArchitectureError("\(name) needs images of at least \(minimumSide)×\(minimumSide) pixels, got \(height)×\(width); resize the images or pick a network for small inputs (`lrt models` lists them)")
        }
        guard (2...Self.maximumClassCount).contains(classCount) else {
            throw ArchitectureError("\(name): \(classCount) classes is not a classification problem; use 2 to \(Self.maximumClassCount) classes")
        }
    }
}

/// A built-in architecture that cannot be made as asked: the name, shape or count at fault, with a fix.
public struct ArchitectureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The networks lrt builds by name, for any input shape and class count.
///
/// Plain stacks are written as Keras `Sequential` configs, exactly as the samples in
/// `Samples/models/` at their default input; residual networks as Keras 3 `Functional` configs
/// (the node format `model.to_json()` writes), with descriptive layer names
/// (`stage2_block1_conv1`, `stage2_block1_shortcut_bn`, …).
public enum Architectures {
    /// Every built-in architecture, in the order `lrt models` lists them.
    public static let all: [Architecture] = [mlp, lenet, cnn, digitsCNN, cifar10Quick, resnet20, resnet56, resnet18]

    /// The architecture called `name`.
    /// - Throws: ``ArchitectureError`` listing the names when there is none.
    public static func named(_ name: String) throws -> Architecture {
        guard let architecture = all.first(where: { $0.name == name }) else {
            throw ArchitectureError("no built-in architecture is named '\(name)'; choose one of \(all.map(\.name).joined(separator: ", ")) (`lrt models` describes them), or pass a Keras model config file ending in .json")
        }
        return architecture
    }

    /// The Keras model config of the architecture `name` for `inputShape` (`[height, width, channels]`) and `classCount`.
    public static func config(named name: String, inputShape: [Int], classCount: Int) throws -> JSONValue {
        try named(name).config(inputShape: inputShape, classCount: classCount)
    }

    // MARK: - Plain stacks (Samples/models/*.json at their default input)

    /// Flatten, Dense 512 ReLU, Dense 256 ReLU, Dense softmax (Samples/models/mnist-mlp.json).
    public static let mlp = Architecture(
        name: "mlp", summary: "multilayer perceptron: Flatten, Dense 512, Dense 256, Dense softmax",
        defaultInputShape: [28, 28, 1], defaultClassCount: 10, minimumSide: 1,
        body: { network, classCount in
            var x = network.flatten(network.input)
            x = network.dense(x, units: 512, activation: "relu")
            x = network.dense(x, units: 256, activation: "relu")
            return network.dense(x, units: classCount, activation: "softmax")
        }, isSequential: true, modelName: "mnist_mlp")

    /// LeNet-5 with ReLU and max pooling (LeCun et al. 1998), as Samples/models/lenet-mnist.json.
    public static let lenet = Architecture(
        name: "lenet", summary: "LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: conv 6, conv 16, Dense 120, 84",
        defaultInputShape: [28, 28, 1], defaultClassCount: 10, minimumSide: 12,
        body: { network, classCount in
            var x = network.conv2D(network.input, filters: 6, kernelSize: 5, padding: .same, activation: "relu")
            x = network.maxPooling2D(x, poolSize: 2)
            x = network.conv2D(x, filters: 16, kernelSize: 5, activation: "relu")
            x = network.maxPooling2D(x, poolSize: 2)
            x = network.flatten(x)
            x = network.dense(x, units: 120, activation: "relu")
            x = network.dense(x, units: 84, activation: "relu")
            return network.dense(x, units: classCount, activation: "softmax")
        }, isSequential: true, modelName: "lenet_mnist")

    /// The Keras MNIST example CNN (Samples/models/cnn-mnist.json): two 3×3 convolutions with pooling, Dense 128.
    public static let cnn = Architecture(
        name: "cnn", summary: "Keras's MNIST CNN: conv 32, pool, conv 64, pool, Dense 128, Dense softmax",
        defaultInputShape: [28, 28, 1], defaultClassCount: 10, minimumSide: 10,
        body: { network, classCount in
            var x = network.conv2D(network.input, filters: 32, kernelSize: 3, activation: "relu")
            x = network.maxPooling2D(x, poolSize: 2)
            x = network.conv2D(x, filters: 64, kernelSize: 3, activation: "relu")
            x = network.maxPooling2D(x, poolSize: 2)
            x = network.flatten(x)
            x = network.dense(x, units: 128, activation: "relu")
            return network.dense(x, units: classCount, activation: "softmax")
        }, isSequential: true, modelName: "cnn_mnist")

    /// The default sample (Samples/models/digits-cnn.json): for the bundled 8×8 digits, with dropout.
    public static let digitsCNN = Architecture(
        name: "digits-cnn", summary: "small CNN for 8×8 digits (the default sample): conv 64, conv 128, dropout",
        defaultInputShape: [8, 8, 1], defaultClassCount: 10, minimumSide: 4,
        body: { network, classCount in
            var x = network.conv2D(network.input, filters: 64, kernelSize: 3, padding: .same, activation: "relu")
            x = network.maxPooling2D(x, poolSize: 2)
            x = network.dropout(x, rate: 0.25)
            x = network.conv2D(x, filters: 128, kernelSize: 3, padding: .same, activation: "relu")
            x = network.maxPooling2D(x, poolSize: 2)
            x = network.flatten(x)
            x = network.dropout(x, rate: 0.5)
            return network.dense(x, units: classCount, activation: "softmax")
        }, isSequential: true, modelName: "digits_cnn")

    /// Caffe's CIFAR-10 "quick" network (Samples/models/cifar10-quick.json): three 5×5 convolutions, Dense 64.
    public static let cifar10Quick = Architecture(
        name: "cifar10-quick", summary: "Caffe's CIFAR-10 quick net: conv 32, 32, 64 (5×5) with pooling, Dense 64",
        defaultInputShape: [32, 32, 3], defaultClassCount: 10, minimumSide: 8,
        body: { network, classCount in
            var x = network.conv2D(network.input, filters: 32, kernelSize: 5, padding: .same)
            x = network.maxPooling2D(x, poolSize: 3, strides: 2, padding: .same)
            x = network.relu(x)
            x = network.conv2D(x, filters: 32, kernelSize: 5, padding: .same, activation: "relu")
            x = network.averagePooling2D(x, poolSize: 3, strides: 2, padding: .same)
            x = network.conv2D(x, filters: 64, kernelSize: 5, padding: .same, activation: "relu")
            x = network.averagePooling2D(x, poolSize: 3, strides: 2, padding: .same)
            x = network.flatten(x)
            x = network.dense(x, units: 64)
            return network.dense(x, units: classCount, activation: "softmax")
        }, isSequential: true, modelName: "cifar10_quick")

    // MARK: - Residual networks (He et al. 2016, "Deep Residual Learning for Image Recognition")

    /// ResNet-20, the CIFAR ResNet with n = 3 (He et al. 2016, section 4.2): see ``cifarResNet(depth:)``.
    public static let resnet20 = cifarResNet(depth: 20)
    /// ResNet-56, the CIFAR ResNet with n = 9 (He et al. 2016, section 4.2): see ``cifarResNet(depth:)``.
    public static let resnet56 = cifarResNet(depth: 56)

    /// He et al.'s CIFAR ResNet of `depth` = 6n + 2 layers: a 3×3 convolution with 16 filters, BN and ReLU;
    /// three stages of n basic blocks (two 3×3 convolutions with BN) with 16, 32 and 64 filters, the first
    /// block of stages 2 and 3 with stride 2; global average pooling; Dense softmax.
    ///
    /// Shortcuts are option B of the paper: a projection (1×1 convolution with stride 2, then BN) where the
    /// shape changes (the first block of stages 2 and 3), identity elsewhere. Convolutions use `he_normal`
    /// kernels (He et al. 2015, as the paper) and no bias (BN follows each); BN has momentum 0.9 and
    /// epsilon 1e-5, as the Torch and PyTorch implementations. Weight decay (1e-4 in the paper) is the optimizer's.
    public static func cifarResNet(depth: Int) -> Architecture {
        precondition(depth >= 8 && (depth - 2) % 6 == 0, "a CIFAR ResNet has 6n + 2 layers, not \(depth)")
        let blocks = (depth - 2) / 6
        return Architecture(
            name: "resnet\(depth)",
            summary: "ResNet-\(depth) for CIFAR (He et al. 2016): 3 stages of \(blocks) basic blocks, 16/32/64 filters, option B shortcuts",
            defaultInputShape: [32, 32, 3], defaultClassCount: 10, minimumSide: 8,
            body: { network, classCount in
                var x = network.convolutionBatchNormalization(network.input, filters: 16, kernelSize: 3, strides: 1,
                                                              names: ("conv1", "conv1_bn"))
                x = network.activation(x, "relu", name: "conv1_relu")
                for (stage, filters) in [16, 32, 64].enumerated() {
                    for block in 0..<blocks {
                        x = network.basicBlock(x, filters: filters, strides: stage > 0 && block == 0 ? 2 : 1,
                                               prefix: "stage\(stage + 1)_block\(block + 1)")
                    }
                }
                x = network.globalAveragePooling2D(x, name: "pool")
                return network.dense(x, units: classCount, activation: "softmax", name: "predictions")
            }, isSequential: false, modelName: "resnet\(depth)")
    }

    /// ResNet-18, He et al.'s ImageNet network (2016, table 1), for inputs of about 64 to 224 pixels.
    ///
    /// A 7×7 convolution with 64 filters and stride 2 (after a 3-pixel ZeroPadding2D), BN and ReLU; a 3×3
    /// max pool with stride 2 (after a 1-pixel ZeroPadding2D); four stages of two basic blocks with 64, 128,
    /// 256 and 512 filters, the first block of stages 2 to 4 with stride 2; global average pooling; Dense
    /// softmax. Shortcuts are projections (1×1 convolution with stride 2, then BN) where the shape changes,
    /// identity elsewhere (option B, as torchvision's `resnet18`). Inputs below 32×32 are refused: the last
    /// stage would see less than one pixel of the original grid per position.
    public static let resnet18 = Architecture(
        name: "resnet18",
        summary: "ResNet-18 (He et al. 2016, ImageNet): 7×7 stem, 4 stages of 2 basic blocks, 64-512 filters; inputs 64-224 px",
        defaultInputShape: [224, 224, 3], defaultClassCount: 1000, minimumSide: 32,
        body: { network, classCount in
            var x = network.zeroPadding2D(network.input, padding: 3, name: "conv1_pad")
            x = network.convolutionBatchNormalization(x, filters: 64, kernelSize: 7, strides: 2, padding: .valid,
                                                      names: ("conv1_conv", "conv1_bn"))
            x = network.activation(x, "relu", name: "conv1_relu")
            x = network.zeroPadding2D(x, padding: 1, name: "pool1_pad")
            x = network.maxPooling2D(x, poolSize: 3, strides: 2, name: "pool1_pool")
            for (stage, filters) in [64, 128, 256, 512].enumerated() {
                for block in 0..<2 {
                    x = network.basicBlock(x, filters: filters, strides: stage > 0 && block == 0 ? 2 : 1,
                                           prefix: "stage\(stage + 1)_block\(block + 1)")
                }
            }
            x = network.globalAveragePooling2D(x, name: "pool")
            return network.dense(x, units: classCount, activation: "softmax", name: "predictions")
        }, isSequential: false, modelName: "resnet18")
}

// MARK: - Building configs

/// Writes a Keras model config layer by layer, tracking each tensor's shape and the parameter count.
///
/// Layer configs list only what differs from Keras's defaults (Keras and lrt fill in the rest), in the
/// order Keras writes the keys.
struct NetworkBuilder {
    /// A layer's output: the layer's name and one example's shape (`[height, width, channels]` or `[units]`).
    struct KerasTensor {
        let layer: String
        let shape: [Int]
    }

    /// One layer and the tensors it reads.
    struct Node {
        let className: String
        let name: String
        let options: [(key: String, value: JSONValue)]
        let inputs: [KerasTensor]
    }

    /// The model input, `[height, width, channels]`.
    let input: KerasTensor
    private(set) var nodes: [Node] = []
    /// Weights of every layer so far, trainable or not (BatchNormalization's moving statistics included).
    private(set) var parameterCount = 0
    private var names = LayerNamer()

    init(inputShape: [Int]) {
        input = KerasTensor(layer: "input_layer", shape: inputShape)
        _ = try? names.claim("input_layer", className: "InputLayer")
    }

    /// Appends a layer reading `inputs`; `name` nil makes one as Keras does (`conv2d`, `conv2d_1`, …).
    mutating func append(_ className: String, name: String?, _ options: [(key: String, value: JSONValue)],
                         inputs: [KerasTensor], outputShape: [Int], parameters: Int = 0) -> KerasTensor {
        precondition(outputShape.allSatisfy { $0 >= 1 }, "\(className) outputs \(outputShape): the architecture's minimum side is too small")
        let layerName: String
        do { layerName = try names.claim(name, className: className) } catch {
            preconditionFailure("built-in architecture: \(error)")
        }
        nodes.append(Node(className: className, name: layerName, options: options, inputs: inputs))
        parameterCount += parameters
        return KerasTensor(layer: layerName, shape: outputShape)
    }

    // MARK: Layers

    /// `Conv2D` with `filters` square `kernelSize` kernels: `[h, w, c]` → `[h', w', filters]`.
    mutating func conv2D(_ x: KerasTensor, filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
                         activation: String? = nil, useBias: Bool = true, kernelInitializer: String? = nil,
                         name: String? = nil) -> KerasTensor {
        var options: [(key: String, value: JSONValue)] = [("filters", number(filters)), ("kernel_size", number(kernelSize))]
        if strides != 1 { options.append(("strides", number(strides))) }
        if padding != .valid { options.append(("padding", .string(padding.rawValue))) }
        if let activation { options.append(("activation", .string(activation))) }
        if !useBias { options.append(("use_bias", .bool(false))) }
        if let kernelInitializer { options.append(("kernel_initializer", .string(kernelInitializer))) }
        let (height, width) = windowOutput(x, window: kernelSize, strides: strides, padding: padding)
        let parameters = kernelSize * kernelSize * x.shape[2] * filters + (useBias ? filters : 0)
        return append("Conv2D", name: name, options, inputs: [x], outputShape: [height, width, filters], parameters: parameters)
    }

    /// `BatchNormalization` over the last axis, momentum 0.9 and epsilon 1e-5 (PyTorch's defaults): shape kept.
    mutating func batchNormalization(_ x: KerasTensor, name: String? = nil) -> KerasTensor {
        append("BatchNormalization", name: name, [("momentum", .number(0.9)), ("epsilon", .number(1e-5))],
               inputs: [x], outputShape: x.shape, parameters: 4 * (x.shape.last ?? 0))
    }

    /// A bias-free `he_normal` convolution with "same" padding (unless given), then BatchNormalization.
    mutating func convolutionBatchNormalization(_ x: KerasTensor, filters: Int, kernelSize: Int, strides: Int,
                                                padding: Padding = .same, names: (convolution: String, normalization: String))
    -> KerasTensor {
        let convolved = conv2D(x, filters: filters, kernelSize: kernelSize, strides: strides, padding: padding,
                               useBias: false, kernelInitializer: "he_normal", name: names.convolution)
        return batchNormalization(convolved, name: names.normalization)
    }

    /// He et al.'s basic block: conv 3×3 (stride `strides`) – BN – ReLU – conv 3×3 – BN, plus the shortcut,
    /// then ReLU. The shortcut is the identity, or a 1×1 convolution with stride `strides` and BN where the
    /// shape changes (option B). `[h, w, c]` → `[h / strides, w / strides, filters]`.
    mutating func basicBlock(_ x: KerasTensor, filters: Int, strides: Int, prefix: String) -> KerasTensor {
        var y = convolutionBatchNormalization(x, filters: filters, kernelSize: 3, strides: strides,
                                              names: ("\(prefix)_conv1", "\(prefix)_bn1"))
        y = activation(y, "relu", name: "\(prefix)_relu1")
        y = convolutionBatchNormalization(y, filters: filters, kernelSize: 3, strides: 1,
                                          names: ("\(prefix)_conv2", "\(prefix)_bn2"))
        var shortcut = x
        if strides != 1 || x.shape.last != filters {
            shortcut = convolutionBatchNormalization(x, filters: filters, kernelSize: 1, strides: strides, padding: .valid,
                                                     names: ("\(prefix)_shortcut_conv", "\(prefix)_shortcut_bn"))
        }
        let sum = add(y, shortcut, name: "\(prefix)_add")
        return activation(sum, "relu", name: "\(prefix)_out")
    }

    /// `Add` of two tensors of one shape.
    mutating func add(_ first: KerasTensor, _ second: KerasTensor, name: String? = nil) -> KerasTensor {
        precondition(first.shape == second.shape, "Add of \(first.shape) and \(second.shape)")
        return append("Add", name: name, [], inputs: [first, second], outputShape: first.shape)
    }

    /// `Activation` (e.g. "relu"): shape kept.
    mutating func activation(_ x: KerasTensor, _ function: String, name: String? = nil) -> KerasTensor {
        append("Activation", name: name, [("activation", .string(function))], inputs: [x], outputShape: x.shape)
    }

    /// `ReLU`: shape kept.
    mutating func relu(_ x: KerasTensor, name: String? = nil) -> KerasTensor {
        append("ReLU", name: name, [], inputs: [x], outputShape: x.shape)
    }

    /// `MaxPooling2D` (strides default to the pool size): `[h, w, c]` → `[h', w', c]`.
    mutating func maxPooling2D(_ x: KerasTensor, poolSize: Int, strides: Int? = nil, padding: Padding = .valid,
                               name: String? = nil) -> KerasTensor {
        pooling("MaxPooling2D", x, poolSize: poolSize, strides: strides, padding: padding, name: name)
    }

    /// `AveragePooling2D` (strides default to the pool size): `[h, w, c]` → `[h', w', c]`.
    mutating func averagePooling2D(_ x: KerasTensor, poolSize: Int, strides: Int? = nil, padding: Padding = .valid,
                                   name: String? = nil) -> KerasTensor {
        pooling("AveragePooling2D", x, poolSize: poolSize, strides: strides, padding: padding, name: name)
    }

    private mutating func pooling(_ className: String, _ x: KerasTensor, poolSize: Int, strides: Int?, padding: Padding,
                                  name: String?) -> KerasTensor {
        var options: [(key: String, value: JSONValue)] = [("pool_size", number(poolSize))]
        if let strides { options.append(("strides", number(strides))) }
        if padding != .valid { options.append(("padding", .string(padding.rawValue))) }
        let (height, width) = windowOutput(x, window: poolSize, strides: strides ?? poolSize, padding: padding)
        return append(className, name: name, options, inputs: [x], outputShape: [height, width, x.shape[2]])
    }

    /// `GlobalAveragePooling2D`: `[h, w, c]` → `[c]`.
    mutating func globalAveragePooling2D(_ x: KerasTensor, name: String? = nil) -> KerasTensor {
        append("GlobalAveragePooling2D", name: name, [], inputs: [x], outputShape: [x.shape[2]])
    }

    /// `ZeroPadding2D` of `padding` pixels on every side: `[h, w, c]` → `[h + 2p, w + 2p, c]`.
    mutating func zeroPadding2D(_ x: KerasTensor, padding: Int, name: String? = nil) -> KerasTensor {
        append("ZeroPadding2D", name: name, [("padding", number(padding))], inputs: [x],
               outputShape: [x.shape[0] + 2 * padding, x.shape[1] + 2 * padding, x.shape[2]])
    }

    /// `Flatten`: any shape → `[product]`.
    mutating func flatten(_ x: KerasTensor, name: String? = nil) -> KerasTensor {
        append("Flatten", name: name, [], inputs: [x], outputShape: [x.shape.reduce(1, *)])
    }

    /// `Dropout` at `rate`: shape kept.
    mutating func dropout(_ x: KerasTensor, rate: Double, name: String? = nil) -> KerasTensor {
        append("Dropout", name: name, [("rate", .number(rate))], inputs: [x], outputShape: x.shape)
    }

    /// `Dense` with `units` outputs: `[n]` → `[units]`.
    mutating func dense(_ x: KerasTensor, units: Int, activation: String? = nil, name: String? = nil) -> KerasTensor {
        precondition(x.shape.count == 1, "Dense after \(x.shape): flatten first")
        var options: [(key: String, value: JSONValue)] = [("units", number(units))]
        if let activation { options.append(("activation", .string(activation))) }
        return append("Dense", name: name, options, inputs: [x], outputShape: [units],
                      parameters: x.shape[0] * units + units)
    }

    /// The output height and width of a square window sliding over `x` (`[h, w, c]`), as Keras computes them.
    private func windowOutput(_ x: KerasTensor, window: Int, strides: Int, padding: Padding) -> (Int, Int) {
        guard x.shape.count == 3, let geometry = WindowGeometry(
            inputHeight: x.shape[0], inputWidth: x.shape[1], channels: x.shape[2], windowHeight: window,
            windowWidth: window, strideHeight: strides, strideWidth: strides, padding: padding)
        else { preconditionFailure("a \(window)×\(window) window does not fit \(x.shape): the architecture's minimum side is too small") }
        return (geometry.outputHeight, geometry.outputWidth)
    }

    private func number(_ value: Int) -> JSONValue { .number(Double(value)) }

    private func batchShape(_ shape: [Int]) -> JSONValue { .array([.null] + shape.map(number)) }

    // MARK: Configs

    /// A Keras `Sequential` config, as the samples in `Samples/models/` are written (no layer names).
    func sequentialConfig(modelName: String, output: KerasTensor) -> JSONValue {
        var previous = input.layer
        var layers: [JSONValue] = [.object([("class_name", .string("InputLayer")),
                                            ("config", .object([("batch_shape", batchShape(input.shape))]))])]
        for node in nodes {
            precondition(node.inputs.count == 1 && node.inputs[0].layer == previous, "\(node.name) does not follow \(previous)")
            layers.append(.object([("class_name", .string(node.className)), ("config", .object(node.options))]))
            previous = node.name
        }
        precondition(output.layer == previous, "the output is not the last layer")
        return .object([("class_name", .string("Sequential")),
                        ("config", .object([("name", .string(modelName)), ("layers", .array(layers))]))])
    }

    /// A Keras 3 `Functional` config as `model.to_json()` writes it: every layer with its `inbound_nodes`
    /// (`{"args": [keras tensor], "kwargs": {}}`; a merge layer's one argument is the list of its inputs),
    /// and `input_layers` / `output_layers` as `[layer, node, tensor]`.
    func functionalConfig(modelName: String, output: KerasTensor) -> JSONValue {
        func history(_ layer: String) -> JSONValue { .array([.string(layer), .number(0), .number(0)]) }
        func kerasTensor(_ tensor: KerasTensor) -> JSONValue {
            .object([("class_name", .string("__keras_tensor__")),
                     ("config", .object([("shape", batchShape(tensor.shape)), ("dtype", .string("float32")),
                                         ("keras_history", history(tensor.layer))]))])
        }
        func layer(_ className: String, _ name: String, config: [(key: String, value: JSONValue)],
                   inboundNodes: [JSONValue]) -> JSONValue {
            .object([("module", .string("keras.layers")), ("class_name", .string(className)), ("config", .object(config)),
                     ("registered_name", .null), ("name", .string(name)), ("inbound_nodes", .array(inboundNodes))])
        }
        var layers = [layer("InputLayer", input.layer, config: [
            ("batch_shape", batchShape(input.shape)), ("dtype", .string("float32")), ("sparse", .bool(false)),
            ("name", .string(input.layer)),
        ], inboundNodes: [])]
        for node in nodes {
            let argument = node.inputs.count == 1 ? kerasTensor(node.inputs[0]) : .array(node.inputs.map(kerasTensor))
            layers.append(layer(node.className, node.name, config: [("name", .string(node.name))] + node.options,
                                inboundNodes: [.object([("args", .array([argument])), ("kwargs", .object([]))])]))
        }
        return .object([
            ("module", .string("keras.src.models.functional")), ("class_name", .string("Functional")),
            ("config", .object([("name", .string(modelName)), ("trainable", .bool(true)), ("layers", .array(layers)),
                                ("input_layers", history(input.layer)), ("output_layers", history(output.layer))])),
            ("registered_name", .string("Functional")),
        ])
    }
}

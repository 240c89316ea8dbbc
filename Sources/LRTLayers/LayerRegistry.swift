/// Every layer class lrt reads from Keras configs: a new layer type conforms to ``KerasLayer`` in
/// its own file and adds one line here.
enum LayerRegistry {
    /// The types, in the order their class names are listed in errors.
    nonisolated(unsafe) static let types: [any KerasLayer.Type] = [  // immutable: safe to share
        Dense.self, Conv2D.self, DepthwiseConv2D.self, SeparableConv2D.self,
        MaxPooling2D.self, AveragePooling2D.self, GlobalAveragePooling2D.self, GlobalMaxPooling2D.self,
        BatchNormalization.self, Dropout.self, Flatten.self, Reshape.self, ZeroPadding2D.self, Rescaling.self,
        ReLU.self, ActivationLayer.self, ElementwiseMerge.self, Concatenate.self,
    ]

    /// The type that reads `className`, or nil.
    static func type(named className: String) -> (any KerasLayer.Type)? { byClassName[className] }

    /// Every class name the registry reads.
    static var classNames: [String] { types.flatMap { $0.kerasClassNames } }

    nonisolated(unsafe) private static let byClassName: [String: any KerasLayer.Type] = {  // immutable
        var table: [String: any KerasLayer.Type] = [:]
        for type in types {
            for name in type.kerasClassNames {
                precondition(table.updateValue(type, forKey: name) == nil, "two layer types read \(name)")
            }
        }
        return table
    }()
}

extension LayerOptions {
    /// The one input shape of a single-input layer, or an error naming the layer.
    func singleInput(_ inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 else {
            throw ModelConfigError("\(className) layer '\(name)' takes one input, got \(inputShapes.count)")
        }
        return inputShapes[0]
    }
}

import XCTest
import LRTTensor
@testable import LRTLayers

/// The merge layers called directly: gradients, forward against naive loops, configs, errors.
final class MergeLayerTests: XCTestCase {
    private func merge(_ operation: ElementwiseMerge.Operation, inputs: Int, shape: [Int]) -> ElementwiseMerge {
        ElementwiseMerge(name: operation.rawValue.lowercased(), operation: operation, inputShapes: Array(repeating: shape, count: inputs))
    }

    func testElementwiseMergeGradients() {
        for operation in ElementwiseMerge.Operation.allCases {
            for count in operation == .subtract ? [2] : [2, 3] {
                let layer = merge(operation, inputs: count, shape: [2, 3])
                // Distinct values, interleaved between inputs: a maximum never changes hands within a step.
                let values = LayerChecks.distinct([count, 3, 2, 3], seed: UInt64(count), spacing: 0.05)
                let inputs = (0..<count).map { Tensor(shape: [3, 2, 3], storage: Array(values.storage[($0 * 18)..<($0 + 1) * 18])) }
                LayerChecks.checkGradients(layer, inputs: inputs)
            }
        }
    }

    /// Each operation against its definition, element by element, in Double.
    func testElementwiseMergeForwardMatchesNaiveLoop() {
        let inputs = (0..<3).map { LayerChecks.random([4, 5], seed: UInt64(10 + $0)) }
        let definitions: [(ElementwiseMerge.Operation, ([Double]) -> Double)] = [
            (.add, { $0.reduce(0, +) }), (.multiply, { $0.reduce(1, *) }), (.average, { $0.reduce(0, +) / Double($0.count) }),
            (.maximum, { $0.max()! }), (.minimum, { $0.min()! }),
        ]
        for (operation, definition) in definitions {
            let output = LayerChecks.forward(merge(operation, inputs: 3, shape: [5]), inputs, training: false)
            let expected = (0..<20).map { index in Float(definition(inputs.map { Double($0.storage[index]) })) }
            LayerChecks.assertClose(output, Tensor(shape: [4, 5], storage: expected), relative: 1e-6, operation.rawValue)
        }
        let difference = LayerChecks.forward(merge(.subtract, inputs: 2, shape: [5]), Array(inputs[..<2]), training: false)
        XCTAssertEqual(difference.storage, zip(inputs[0].storage, inputs[1].storage).map { $0 - $1 })
    }

    /// Ties: the whole gradient goes to the first input holding the extreme, none is lost or doubled.
    func testMaximumAndMinimumGiveTiesToTheFirstInput() {
        let first = Tensor(shape: [1, 3], storage: [1, 2, 3]), second = Tensor(shape: [1, 3], storage: [1, 5, 3])
        for operation in [ElementwiseMerge.Operation.maximum, .minimum] {
            let layer = merge(operation, inputs: 2, shape: [3])
            _ = LayerChecks.forward(layer, [first, second])
            let gradients = LayerChecks.backward(layer, Tensor(shape: [1, 3], storage: [10, 20, 30]))
            XCTAssertEqual(gradients[0].storage, operation == .maximum ? [10, 0, 30] : [10, 20, 30], operation.rawValue)
            XCTAssertEqual(gradients[1].storage, operation == .maximum ? [0, 20, 0] : [0, 0, 0], operation.rawValue)
        }
    }

    /// `Multiply`'s gradient where an input is zero: the product of the others, not a division by zero.
    func testMultiplyGradientAtZero() {
        let layer = merge(.multiply, inputs: 3, shape: [2])
        let inputs = [Tensor(shape: [1, 2], storage: [0, 2]), Tensor(shape: [1, 2], storage: [3, 0]), Tensor(shape: [1, 2], storage: [5, 7])]
        _ = LayerChecks.forward(layer, inputs)
        let gradients = LayerChecks.backward(layer, Tensor(shape: [1, 2], storage: [1, 1]))
        XCTAssertEqual(gradients.map(\.storage), [[15, 0], [0, 14], [0, 0]])
    }

    private func concatenate(axis: Int, _ shapes: [[Int]]) throws -> Layer {
        try LayerChecks.make("Concatenate", config: .object([("name", .string("concatenate")), ("axis", .number(Double(axis)))]),
                             inputShapes: shapes)
    }

    func testConcatenateGradientsOnEveryAxis() throws {
        let cases: [(axis: Int, shapes: [[Int]])] = [
            (-1, [[2, 3, 2], [2, 3, 1], [2, 3, 3]]), (3, [[2, 3, 2], [2, 3, 1]]),
            (-2, [[2, 1, 2], [2, 3, 2]]), (2, [[2, 1, 2], [2, 3, 2]]),
            (1, [[1, 3, 2], [2, 3, 2]]), (-3, [[1, 3, 2], [2, 3, 2]]),
            (-1, [[4], [1]]),
        ]
        for (axis, shapes) in cases {
            let layer = try concatenate(axis: axis, shapes)
            LayerChecks.checkGradients(layer, inputs: shapes.enumerated().map { LayerChecks.random([2] + $1, seed: UInt64($0 + 1)) })
        }
    }

    /// Every output element against its multi-index: which input, and where in it.
    func testConcatenateForwardMatchesNaiveIndexing() throws {
        let batch = 2
        for (axis, shapes) in [(-1, [[2, 3, 2], [2, 3, 4]]), (2, [[2, 1, 2], [2, 3, 2], [2, 2, 2]]), (1, [[3, 2, 1], [1, 2, 1]])] {
            let layer = try concatenate(axis: axis, shapes)
            let inputs = shapes.enumerated().map { LayerChecks.random([batch] + $1, seed: UInt64(20 + $0)) }
            let output = LayerChecks.forward(layer, inputs, training: false)
            let exampleAxis = axis < 0 ? 3 + axis : axis - 1
            let outputShape = [batch] + layer.outputShape
            XCTAssertEqual(output.shape, outputShape)
            for index in 0..<output.count {
                // The multi-index of `index` in the output, with the batch axis first.
                var coordinates = [Int](repeating: 0, count: 4), rest = index
                for axisIndex in (0..<4).reversed() { (coordinates[axisIndex], rest) = (rest % outputShape[axisIndex], rest / outputShape[axisIndex]) }
                var along = coordinates[exampleAxis + 1], input = 0
                while along >= shapes[input][exampleAxis] { along -= shapes[input][exampleAxis]; input += 1 }
                coordinates[exampleAxis + 1] = along
                let shape = [batch] + shapes[input]
                let offset = coordinates.indices.reduce(0) { $0 * shape[$1] + coordinates[$1] }
                XCTAssertEqual(output.storage[index], inputs[input].storage[offset], "axis \(axis) [\(index)]")
            }
        }
    }

    func testMergeConfigsRoundTripAndFollowKeras() throws {
        for operation in ElementwiseMerge.Operation.allCases {
            let shapes = Array(repeating: [4, 3], count: operation == .subtract ? 2 : 3)
            let layer = try LayerChecks.make(operation.rawValue, #"{"name": "m"}"#, inputShapes: shapes)
            XCTAssertEqual(layer.className, operation.rawValue)
            XCTAssertEqual(layer.config.keys, ["name", "trainable", "dtype"])
            XCTAssertEqual(layer.outputShape, [4, 3])
            LayerChecks.checkConfigRoundTrip(layer, inputShapes: shapes)
        }
        let layer = try concatenate(axis: 2, [[4, 3], [4, 1]])
        XCTAssertEqual(layer.config.keys, ["name", "trainable", "dtype", "axis"])
        XCTAssertEqual(layer.config["axis"], .number(2), "written as given, not as -1")
        XCTAssertEqual(layer.outputShape, [4, 4])
        LayerChecks.checkConfigRoundTrip(layer, inputShapes: [[4, 3], [4, 1]])
        let byDefault = try LayerChecks.make("Concatenate", "{}", inputShapes: [[2, 3], [2, 5]])
        XCTAssertEqual(byDefault.name, "concatenate")
        XCTAssertEqual(byDefault.outputShape, [2, 8])
    }

    func testBadMergeInputsNameTheLayerAndShapes() {
        LayerChecks.assertError("Add", #"{"name": "sum"}"#, inputShapes: [[4, 4, 8], [4, 4, 16]],
                                mentions: ["Add layer 'sum'", "[4, 4, 8]", "[4, 4, 16]", "broadcasting"])
        LayerChecks.assertError("Maximum", #"{"name": "m"}"#, inputShapes: [[3]], mentions: ["Maximum layer 'm'", "at least 2 inputs", "got 1"])
        LayerChecks.assertError("Subtract", #"{"name": "s"}"#, inputShapes: [[3], [3], [3]], mentions: ["'s'", "exactly 2 inputs", "got 3"])
        LayerChecks.assertError("Average", #"{"name": "a", "colour": 1}"#, inputShapes: [[3], [3]], mentions: ["'a'", "colour"])
        let concatenate = #"{"name": "c", "axis": AXIS}"#
        LayerChecks.assertError("Concatenate", concatenate.replacingOccurrences(of: "AXIS", with: "0"), inputShapes: [[2, 3], [2, 3]],
                                mentions: ["'c'", "axis 0", "batch axis", "1...2"])
        LayerChecks.assertError("Concatenate", concatenate.replacingOccurrences(of: "AXIS", with: "-3"), inputShapes: [[2, 3], [2, 3]],
                                mentions: ["'c'", "axis -3", "batch axis"])
        LayerChecks.assertError("Concatenate", concatenate.replacingOccurrences(of: "AXIS", with: "3"), inputShapes: [[2, 3], [2, 3]],
                                mentions: ["'c'", "axis 3", "does not exist", "[2, 3]"])
        LayerChecks.assertError("Concatenate", concatenate.replacingOccurrences(of: "AXIS", with: "-1"), inputShapes: [[2, 3], [3, 3]],
                                mentions: ["'c'", "every axis but axis -1", "[2, 3]", "[3, 3]"])
        LayerChecks.assertError("Concatenate", concatenate.replacingOccurrences(of: "AXIS", with: "-1"), inputShapes: [[2, 3], [6]],
                                mentions: ["'c'", "same number of axes"])
        LayerChecks.assertError("Concatenate", concatenate.replacingOccurrences(of: "AXIS", with: "\"last\""), inputShapes: [[2], [2]],
                                mentions: ["'c'", "axis", "\"last\""])
    }
}

/// The members every Keras 3 layer config starts with: `name`, `trainable`, `dtype`.
func baseLayerConfig(name: String) -> [(key: String, value: JSONValue)] {
    [("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32"))]
}

/// Integers as a JSON array (`[3, 3]`, a `target_shape`).
func jsonIntegers(_ values: [Int]) -> JSONValue {
    .array(values.map { .number(Double($0)) })
}

extension LayerOptions {
    /// A non-empty list of integers (`target_shape`), each in `range` or -1 (the caller decides what -1 means).
    mutating func integers(_ key: String, range: ClosedRange<Int>) throws -> [Int] {
        guard let value = raw(key) else { throw ModelConfigError("\(layerDescription) needs \"\(key)\"") }
        let items = value.arrayValue ?? []
        let numbers = items.compactMap(\.intValue)
        guard !items.isEmpty, numbers.count == items.count, numbers.allSatisfy({ range.contains($0) || $0 == -1 }) else {
            throw ModelConfigError("\(layerDescription): \"\(key)\" must be a non-empty list of integers in \(range.lowerBound)...\(range.upperBound) (or -1), got \(value.serialized)")
        }
        return numbers
    }
}

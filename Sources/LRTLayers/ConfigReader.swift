/// A config object that is wrong in one place: the object, key and what was found.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong.
    public enum Reason: Equatable, Sendable {
        /// The config is not a JSON object; carries what it is.
        case notAnObject(found: String)
        /// A required key is absent (or null).
        case missing
        /// The key holds a value of the wrong kind; carries the value and what was expected.
        case wrongType(found: String, expected: String)
        /// Keys that nothing read (misspelled or unsupported).
        case unknown(keys: [String])
    }

    /// The object being read, e.g. `Adam` or `schedule Step`.
    public let context: String
    /// The key at fault; nil for ``Reason/notAnObject(found:)`` and ``Reason/unknown(keys:)``.
    public let key: String?
    public let reason: Reason

    public init(context: String, key: String?, reason: Reason) {
        self.context = context
        self.key = key
        self.reason = reason
    }

    /// One line, e.g. `invalid momentum "high": Adam: "momentum" must be a number`.
    public var description: String {
        switch reason {
        case .notAnObject(let found):
            return "\(context): \"config\" must be an object, got \(found)"
        case .missing:
            return "\(context) needs \"\(key ?? "?")\""
        case .wrongType(let found, let expected):
            return "invalid \(key ?? "?") \(found): \(context): \"\(key ?? "?")\" must be \(expected)"
        case .unknown(let keys):
            return "\(context): unknown option\(keys.count == 1 ? "" : "s") \(keys.map { "\"\($0)\"" }.joined(separator: ", "))"
        }
    }
}

/// Reads the members of one Keras-style config object, consuming each key it reads, so that
/// a key nothing read (a misspelling, an unsupported option) is reported by ``finish()``
/// instead of silently taking a default. Model and optimizer configs share it.
///
///     var reader = try ConfigReader(json["config"] ?? .object([]), context: "Adam")
///     let beta1 = try reader.number("beta_1", default: 0.9)
///     try reader.finish()   // throws on {"beta_1": 0.9, "beta1": 0.8}: unknown option "beta1"
public struct ConfigReader {
    /// Names the object in errors (`Adam`, `schedule Step`, `Dense layer 'dense'`).
    public let context: String
    private var members: [(key: String, value: JSONValue)]

    /// - Throws: ``ConfigError`` when `value` is not a JSON object.
    public init(_ value: JSONValue, context: String) throws {
        guard case .object(let members) = value else {
            throw ConfigError(context: context, key: nil, reason: .notAnObject(found: value.serialized))
        }
        self.context = context
        self.members = members
    }

    /// The keys not read yet, in the object's order.
    public var remainingKeys: [String] { members.map(\.key) }

    /// Removes and returns the member `key` (nil when absent).
    public mutating func take(_ key: String) -> JSONValue? {
        guard let index = members.firstIndex(where: { $0.key == key }) else { return nil }
        return members.remove(at: index).value
    }

    /// Drops `key` whatever it holds.
    public mutating func forget(_ key: String) { _ = take(key) }

    /// The error for `key` holding `value` where `expected` was wanted.
    public func wrongType(_ key: String, _ value: JSONValue, expected: String) -> ConfigError {
        ConfigError(context: context, key: key, reason: .wrongType(found: value.serialized, expected: expected))
    }

    /// The error for a required `key` that is absent.
    public func missing(_ key: String) -> ConfigError {
        ConfigError(context: context, key: key, reason: .missing)
    }

    /// The member `key` unless absent or null; with no `fallback`, absence is an error.
    private mutating func present(_ key: String, required: Bool) throws -> JSONValue? {
        guard let value = take(key), !value.isNull else {
            if required { throw missing(key) }
            return nil
        }
        return value
    }

    /// A number; `null` or absent gives `fallback` (required when nil).
    public mutating func number(_ key: String, default fallback: Double? = nil) throws -> Double {
        guard let value = try present(key, required: fallback == nil) else { return fallback! }
        guard let number = value.numberValue else { throw wrongType(key, value, expected: "a number") }
        return number
    }

    /// A number, or nil when absent or null.
    public mutating func optionalNumber(_ key: String) throws -> Double? {
        guard let value = try present(key, required: false) else { return nil }
        guard let number = value.numberValue else { throw wrongType(key, value, expected: "a number or null") }
        return number
    }

    /// A whole number; `null` or absent gives `fallback` (required when nil).
    public mutating func integer(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = try present(key, required: fallback == nil) else { return fallback! }
        guard let integer = value.intValue else { throw wrongType(key, value, expected: "a whole number") }
        return integer
    }

    /// A required array of whole numbers.
    public mutating func integers(_ key: String) throws -> [Int] {
        guard let value = try present(key, required: true) else { throw missing(key) }
        guard let items = value.arrayValue else { throw wrongType(key, value, expected: "an array of whole numbers") }
        return try items.map { item in
            guard let integer = item.intValue else { throw wrongType(key, value, expected: "an array of whole numbers") }
            return integer
        }
    }

    /// `true` or `false`; `null` or absent gives `fallback`.
    public mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = try present(key, required: false) else { return fallback }
        guard let flag = value.boolValue else { throw wrongType(key, value, expected: "true or false") }
        return flag
    }

    /// A string; `null` or absent gives `fallback`.
    public mutating func string(_ key: String, default fallback: String) throws -> String {
        guard let value = try present(key, required: false) else { return fallback }
        guard let text = value.stringValue else { throw wrongType(key, value, expected: "a string") }
        return text
    }

    /// An array of strings; `null` or absent gives `fallback`.
    /// - Parameter expected: how the error describes the wanted value.
    public mutating func strings(_ key: String, default fallback: [String],
                                 expected: String = "an array of strings") throws -> [String] {
        guard let value = try present(key, required: false) else { return fallback }
        guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
            throw wrongType(key, value, expected: expected)
        }
        return items.compactMap(\.stringValue)
    }

    /// Throws when keys remain that nothing read.
    public func finish() throws {
        guard members.isEmpty else {
            throw ConfigError(context: context, key: nil, reason: .unknown(keys: members.map(\.key)))
        }
    }
}
